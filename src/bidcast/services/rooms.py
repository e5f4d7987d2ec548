"""Live rooms and their lineup of lots; starting a lot hands it to the auction writer."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.auction import AuctionRules, Format, RulesError, Status
from ..domain.increments import LadderError, ladder_from_list
from ..errors import AppError, conflict, forbidden, not_found
from ..storage.auction_store import state_of, to_dt
from ..storage.models import Auction, Product, Room, Shop, utcnow
from .accounts import Principal
from .auction_engine import AuctionEngine
from .lot_view import lot_public
from .room_views import RoomViews


@dataclass(frozen=True, slots=True)
class LotSettings:
    product_id: int
    starting_price: int
    format: str = "standard"
    reserve_price: int | None = None
    buy_now_price: int | None = None
    duration_seconds: int = 30
    soft_close_seconds: int = 10
    increments: list | None = None
    final_sale: bool = False  # no returns (copied to the order at close)


class Rooms:
    def __init__(self, sessions: async_sessionmaker, engine: AuctionEngine) -> None:
        self._sessions = sessions
        self._engine = engine

    async def schedule(self, who: Principal, title: str, scheduled_at: datetime,
                       cover_url: str | None, playback_url: str | None,
                       payment_window_seconds: int | None = None) -> Room:
        if not (who.has("host") or who.has("seller")):
            raise forbidden("Only hosts and sellers schedule live rooms.")
        room = Room(host_id=who.id, title=title, scheduled_at=scheduled_at, cover_url=cover_url,
                    playback_url=playback_url, payment_window_seconds=payment_window_seconds)
        async with self._sessions.begin() as s:
            s.add(room)
        return room

    async def get(self, room_id: int) -> Room:
        async with self._sessions() as s:
            room = await s.get(Room, room_id)
        if room is None:
            raise not_found("Room")
        return room

    async def list(self, status: str | None = None, limit: int = 50) -> list[Room]:
        q = select(Room).order_by(Room.scheduled_at).limit(limit)
        if status:
            q = q.where(Room.status == status)
        async with self._sessions() as s:
            return list((await s.execute(q)).scalars())

    async def lineup(self, room_id: int) -> list[Auction]:
        async with self._sessions() as s:
            return list((await s.execute(select(Auction).where(Auction.room_id == room_id)
                                         .order_by(Auction.position))).scalars())

    async def set_status(self, who: Principal, room_id: int, action: str) -> Room:
        async with self._sessions.begin() as s:
            room = await self._hosted(s, who, room_id)
            if action == "go_live":
                if room.status != "scheduled":
                    raise conflict("invalid_state", f"The room is {room.status}; only a scheduled room goes live.")
                room.status, room.started_at = "live", utcnow()
            elif action == "end":
                if room.status != "live":
                    raise conflict("invalid_state", "Only a live room can end.")
                room.status, room.ended_at = "ended", utcnow()
            else:
                raise AppError(422, "invalid_action", f"Unknown action {action!r}.")
        self._engine.publish(room_id, [{"type": "room.updated", "status": room.status}])
        return room

    async def add_lot(self, who: Principal, room_id: int, lot: LotSettings) -> Auction:
        async with self._sessions.begin() as s:
            room = await self._hosted(s, who, room_id)
            if room.status == "ended":
                raise conflict("room_ended", "This room has ended.")
            product, shop = await _own_product(s, who, lot.product_id)
            rules = _rules(lot, shop.owner_id, room.host_id, product.currency)
            last = (await s.execute(select(func.max(Auction.position))
                                    .where(Auction.room_id == room_id))).scalar()
            auction = _new_auction(rules, lot, product, shop, room_id, (last or 0) + 1)
            s.add(auction)
        await self._lineup_changed(room_id)
        return auction

    async def reorder(self, who: Principal, room_id: int, lot_ids: list[int]) -> list[Auction]:
        async with self._sessions.begin() as s:
            await self._hosted(s, who, room_id)
            lots = list((await s.execute(select(Auction).where(Auction.room_id == room_id))).scalars())
            pending = {a.id: a for a in lots if a.status == Status.PENDING.value}
            if set(lot_ids) != set(pending) or len(lot_ids) != len(pending):
                raise AppError(422, "invalid_lineup", "List every pending lot of the room exactly once.")
            base = max((a.position or 0 for a in lots if a.id not in pending), default=0)
            for i, lot_id in enumerate(lot_ids, start=1):
                pending[lot_id].position = base + i
        await self._lineup_changed(room_id)
        return await self.lineup(room_id)

    async def start_next(self, who: Principal, room_id: int, lot_id: int | None = None,
                         overrides: dict[str, Any] | None = None) -> Auction:
        async with self._sessions.begin() as s:
            room = await self._hosted(s, who, room_id)
            if room.status != "live":
                raise conflict("room_not_live", "Go live before starting a lot.")
            if room.current_auction_id is not None:
                current = await s.get(Auction, room.current_auction_id)
                if current is not None and current.status == Status.RUNNING.value:
                    raise conflict("lot_running", "The current lot is still running.")
            q = select(Auction).where(Auction.room_id == room_id,
                                      Auction.status == Status.PENDING.value)
            q = q.where(Auction.id == lot_id) if lot_id else q.order_by(Auction.position).limit(1)
            auction = (await s.execute(q)).scalar_one_or_none()
            if auction is None:
                raise conflict("no_pending_lot", "There is no pending lot to start.")
            for key, value in (overrides or {}).items():
                setattr(auction, key, value)
            _check_rules_row(auction)
            await _reserve_unit(s, auction.product_id)
            now = time.time()
            auction.status = Status.RUNNING.value
            auction.opens_at, auction.closes_at = to_dt(now), to_dt(now + auction.duration_seconds)
            room.current_auction_id = auction.id
        writer = await self._engine.attach(auction.id)
        async with self._sessions() as s:
            product = await s.get(Product, auction.product_id)
        st = writer.state if writer else state_of(auction)
        self._engine.publish(room_id, [{"type": "lot.started", "auction_id": auction.id,
                                        "lot": lot_public(auction, st, product, {})}])
        return auction

    async def create_timed(self, who: Principal, lot: LotSettings, opens_at: datetime | None) -> Auction:
        """A timed auction outside any room: opens now or later, runs for hours or days."""
        async with self._sessions.begin() as s:
            product, shop = await _own_product(s, who, lot.product_id)
            rules = _rules(lot, shop.owner_id, None, product.currency)
            auction = _new_auction(rules, lot, product, shop, None, None)
            await _reserve_unit(s, product.id)
            start = opens_at.timestamp() if opens_at else time.time()
            auction.status = Status.RUNNING.value
            auction.opens_at, auction.closes_at = to_dt(start), to_dt(start + lot.duration_seconds)
            s.add(auction)
        await self._engine.attach(auction.id)
        return auction

    async def _lineup_changed(self, room_id: int) -> None:
        lineup = await RoomViews(self._sessions, self._engine).lineup(room_id)
        self._engine.publish(room_id, [{"type": "lineup.updated", "lineup": lineup}])

    async def _hosted(self, s, who: Principal, room_id: int) -> Room:  # noqa: ANN001
        room = await s.get(Room, room_id, with_for_update=True)
        if room is None:
            raise not_found("Room")
        if room.host_id != who.id and not who.has("admin"):
            raise forbidden("Only the room's host may do that.")
        return room


async def _own_product(s, who: Principal, product_id: int) -> tuple[Product, Shop]:  # noqa: ANN001
    product = await s.get(Product, product_id)
    if product is None:
        raise not_found("Product")
    shop = await s.get(Shop, product.shop_id)
    assert shop is not None
    if shop.owner_id != who.id:
        raise forbidden("You can only auction your own shop's products.")
    if shop.status != "approved":
        raise AppError(403, "shop_not_approved", "Your shop has not been approved yet.")
    if product.status != "active":
        raise conflict("withdrawn", "This product has been withdrawn.")
    return product, shop


async def _reserve_unit(s, product_id: int) -> None:  # noqa: ANN001
    res = await s.execute(update(Product).where(Product.id == product_id, Product.stock >= 1)
                          .values(stock=Product.stock - 1))
    if res.rowcount != 1:
        raise conflict("out_of_stock", "This product has no stock left to auction.")


def _rules(lot: LotSettings, seller_id: int, host_id: int | None, currency: str) -> AuctionRules:
    try:
        rules = AuctionRules(seller_id=seller_id, host_id=host_id, starting_price=lot.starting_price,
                             currency=currency, format=Format(lot.format),
                             reserve_price=lot.reserve_price, buy_now_price=lot.buy_now_price,
                             soft_close_seconds=lot.soft_close_seconds,
                             duration_seconds=lot.duration_seconds,
                             ladder=ladder_from_list(lot.increments))
        rules.validate()
    except (RulesError, LadderError, ValueError) as e:
        raise AppError(422, getattr(e, "code", "invalid_rules"), str(e)) from None
    return rules


def _check_rules_row(a: Auction) -> None:
    lot = LotSettings(a.product_id, a.starting_price, a.format, a.reserve_price, a.buy_now_price,
                      a.duration_seconds, a.soft_close_seconds, a.ladder)
    _rules(lot, a.seller_id, a.host_id, a.currency)


def _new_auction(rules: AuctionRules, lot: LotSettings, product: Product, shop: Shop,
                 room_id: int | None, position: int | None) -> Auction:
    return Auction(room_id=room_id, position=position, product_id=product.id, shop_id=shop.id,
                   seller_id=rules.seller_id, host_id=rules.host_id, format=rules.format.value,
                   currency=rules.currency, starting_price=rules.starting_price,
                   reserve_price=rules.reserve_price, buy_now_price=rules.buy_now_price,
                   soft_close_seconds=rules.soft_close_seconds,
                   duration_seconds=rules.duration_seconds, ladder=lot.increments,
                   final_sale=lot.final_sale, status=Status.PENDING.value, last_seq=0, bid_count=0)
