"""Persistence of auctions for the auction writer: load, commit a batch of bids, close.

Every write is guarded by the auction's `last_seq` (a fencing check): if another writer has
moved the auction on, the write fails instead of forking its history.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.auction import AuctionRules, AuctionState, Closed, Format, Outcome, Status
from ..domain.increments import ladder_from_list
from . import pg_bid_commit
from .leases import Fence, check_fence
from .pg_bid_commit import PgBidCommit
from .models import Auction, Bid, BidRejection, Order, OrderEvent, OrderLine, Product, Room, User
from .notify import notify


class StaleWriter(RuntimeError):
    """The auction moved on under this writer: another writer owns it now."""


class Deposed(StaleWriter):
    """This process's lease on the auction was taken over: it must stop deciding bids."""


def to_dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def to_ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def rules_of(row: Auction) -> AuctionRules:
    return AuctionRules(
        seller_id=row.seller_id, host_id=row.host_id, starting_price=row.starting_price,
        currency=row.currency, format=Format(row.format), reserve_price=row.reserve_price,
        buy_now_price=row.buy_now_price, soft_close_seconds=row.soft_close_seconds,
        duration_seconds=row.duration_seconds, ladder=ladder_from_list(row.ladder))


def state_of(row: Auction) -> AuctionState:
    return AuctionState(
        id=row.id, rules=rules_of(row), status=Status(row.status), opens_at=to_ts(row.opens_at),
        closes_at=to_ts(row.closes_at), price=row.price, leader_id=row.leader_id,
        leader_max=row.leader_max, last_seq=row.last_seq, bid_count=row.bid_count,
        outcome=Outcome(row.outcome) if row.outcome else None, winner_id=row.winner_id,
        final_price=row.final_price)


def _live_fields(state: AuctionState) -> dict[str, Any]:
    return dict(status=state.status.value, opens_at=to_dt(state.opens_at),
                closes_at=to_dt(state.closes_at), price=state.price, leader_id=state.leader_id,
                leader_max=state.leader_max, last_seq=state.last_seq, bid_count=state.bid_count)


@dataclass(frozen=True, slots=True)
class AuctionMeta:
    """What the writer needs besides the rules: where events go and what an order is for."""
    room_id: int | None
    product_id: int
    shop_id: int
    names: tuple[tuple[int, str], ...] = ()  # display names of the leader (for events)
    title: str = ""
    final_sale: bool = False
    payment_window_s: float | None = None  # the show's own window, else the platform's


class AuctionStore:
    def __init__(self, sessions: async_sessionmaker, payment_window_s: float = 24 * 3600,
                 fast: PgBidCommit | None = None) -> None:
        self._sessions = sessions
        self._payment_window_s = payment_window_s
        self._fast = fast  # PostgreSQL: a batch that does not close commits in one round trip

    async def dispose(self) -> None:
        if self._fast is not None:
            await self._fast.dispose()

    async def load(self, auction_id: int) -> tuple[AuctionState, AuctionMeta, list[Bid]] | None:
        async with self._sessions() as s:
            row = await s.get(Auction, auction_id)
            if row is None:
                return None
            bids: list = list((await s.execute(select(Bid).where(Bid.auction_id == auction_id))).scalars())
            bids += (await s.execute(select(BidRejection).where(BidRejection.auction_id == auction_id))).scalars()
            names: tuple[tuple[int, str], ...] = ()
            if row.leader_id is not None:
                leader = await s.get(User, row.leader_id)
                names = ((row.leader_id, leader.display_name if leader else ""),)
            product = await s.get(Product, row.product_id)
            room = await s.get(Room, row.room_id) if row.room_id is not None else None
            meta = AuctionMeta(row.room_id, row.product_id, row.shop_id, names,
                               title=product.title if product else "", final_sale=row.final_sale,
                               payment_window_s=room.payment_window_seconds if room else None)
            return state_of(row), meta, bids

    async def find_attempt(self, auction_id: int, bidder_id: int, key: str) -> Bid | BidRejection | None:
        async with self._sessions() as s:
            found = (await s.execute(select(Bid).where(
                Bid.auction_id == auction_id, Bid.bidder_id == bidder_id,
                Bid.idempotency_key == key))).scalar_one_or_none()
            if found is None:
                found = (await s.execute(select(BidRejection).where(
                    BidRejection.auction_id == auction_id, BidRejection.bidder_id == bidder_id,
                    BidRejection.idempotency_key == key).limit(1))).scalar_one_or_none()
            return found

    async def is_running(self, auction_id: int) -> bool:
        async with self._sessions() as s:
            status = (await s.execute(select(Auction.status).where(Auction.id == auction_id))).scalar()
            return status == Status.RUNNING.value

    async def running_ids(self) -> list[int]:
        async with self._sessions() as s:
            rows = await s.execute(select(Auction.id).where(Auction.status == Status.RUNNING.value))
            return [r for (r,) in rows]

    async def save_batch(self, state: AuctionState, expected_seq: int, rows: list[dict],
                         meta: AuctionMeta, closed: Closed | None = None,
                         rejections: list[dict] | None = None, fence: Fence | None = None) -> int | None:
        """Commit bid attempts and the auction's new state at once; returns an order id if one was made."""
        if self._fast is not None and closed is None:
            decided_at = (rows or rejections or [{}])[0].get("created_at") or datetime.now(UTC)
            args = pg_bid_commit.arguments(state.id, expected_seq, _live_fields(state), rows,
                                           rejections or [], decided_at, fence)
            fenced, moved = await self._fast.commit(args, fence is not None)
            if not fenced:
                raise Deposed(f"auction {state.id}: lease epoch {fence.epoch if fence else '?'} was taken over")
            if not moved:
                raise StaleWriter(f"auction {state.id} moved past seq {expected_seq}")
            return None
        async with self._sessions.begin() as s:
            if fence is not None and not await check_fence(s, state.id, fence):
                raise Deposed(f"auction {state.id}: lease epoch {fence.epoch} was taken over")
            fields = _live_fields(state)
            if closed is not None:
                fields |= _closed_fields(state, closed)
            res = await s.execute(update(Auction).where(
                Auction.id == state.id, Auction.last_seq == expected_seq,
                Auction.status == Status.RUNNING.value).values(**fields))
            if res.rowcount != 1:
                raise StaleWriter(f"auction {state.id} moved past seq {expected_seq}")
            # Core executemany on the tables: the ORM's bulk path costs more than the rules.
            if rows:
                await (await s.connection()).execute(Bid.__table__.insert(), rows)
            if rejections:
                await (await s.connection()).execute(BidRejection.__table__.insert(), rejections)
            if closed is not None:
                return await _settle(s, state, closed, meta, self._payment_window_s)
        return None

    async def close(self, state: AuctionState, expected_seq: int, closed: Closed,
                    meta: AuctionMeta, fence: Fence | None = None) -> int | None:
        fenced = {"fence": fence} if fence is not None else {}
        return await self.save_batch(state, expected_seq, [], meta, closed, **fenced)


def _closed_fields(state: AuctionState, closed: Closed) -> dict[str, Any]:
    return dict(outcome=closed.outcome.value, winner_id=closed.winner_id,
                final_price=closed.final_price, closed_at=to_dt(closed.closed_at))


async def _settle(s, state: AuctionState, closed: Closed, meta: AuctionMeta,  # noqa: ANN001
                  payment_window_s: float) -> int | None:
    """The winner's order, in the closing transaction; an unsold lot's unit goes back to stock."""
    if closed.outcome is Outcome.SOLD:
        assert closed.winner_id is not None and closed.final_price is not None
        window = meta.payment_window_s or payment_window_s
        res = await s.execute(insert(Order).values(
            buyer_id=closed.winner_id, seller_id=state.rules.seller_id, shop_id=meta.shop_id,
            product_id=meta.product_id, auction_id=state.id, kind="auction",
            amount=closed.final_price, currency=state.rules.currency, status="awaiting_payment",
            final_sale=meta.final_sale, created_at=to_dt(closed.closed_at),
            pay_by=to_dt(closed.closed_at + window)).returning(Order.id))
        order_id = res.scalar_one()
        await s.execute(insert(OrderLine).values(
            order_id=order_id, product_id=meta.product_id, title=meta.title or f"Lot #{state.id}",
            unit_price=closed.final_price, quantity=1, currency=state.rules.currency))
        hours = max(1, round(window / 3600))
        await s.execute(insert(OrderEvent).values(
            order_id=order_id, kind="created", created_at=to_dt(closed.closed_at),
            detail=f"won auction #{state.id}; pay within {hours} h"))
        notify(s, closed.winner_id, "won", f"You won {meta.title or f'lot #{state.id}'}",
               f"Pay within {hours} h to keep it.", link=f"/me/orders#order-{order_id}")
        notify(s, state.rules.seller_id, "sold", f"Sold: {meta.title or f'lot #{state.id}'}",
               f"Order #{order_id}, awaiting the buyer's payment.", link=f"/orders/{order_id}")
        return order_id
    await s.execute(update(Product).where(Product.id == meta.product_id)
                    .values(stock=Product.stock + 1))
    return None
