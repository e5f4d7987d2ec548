"""Builds a room's live view from the database: what a new viewer's snapshot starts from."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..storage.auction_store import state_of
from ..storage.models import Auction, ChatMessage, Product, Room, User
from .auction_engine import AuctionEngine
from .lot_view import lot_public
from .flash_view import current_flash

RECENT_CHAT = 50


def room_public(room: Room) -> dict[str, Any]:
    return {"id": room.id, "title": room.title, "status": room.status, "host_id": room.host_id,
            "cover_url": room.cover_url, "playback_url": room.playback_url,
            "slow_mode_seconds": room.slow_mode_seconds, "peak_viewers": room.peak_viewers}


def chat_public(m: ChatMessage, name: str) -> dict[str, Any]:
    return {"id": m.id, "user": {"id": m.user_id, "display_name": name}, "text": m.text,
            "at": int(m.created_at.timestamp() * 1000)}


def lineup_public(lots: list) -> list[dict[str, Any]]:
    """The room's lots in order, as the lineup strip shows them."""
    return [{"id": a.id, "position": a.position, "title": p.title,
             "starting_price": a.starting_price, "currency": a.currency, "status": a.status,
             "outcome": a.outcome, "final_price": a.final_price, "final_sale": bool(a.final_sale),
             "image_url": (p.image_urls or [None])[0]} for a, p in lots]


class RoomViews:
    def __init__(self, sessions: async_sessionmaker, engine: AuctionEngine) -> None:
        self._sessions = sessions
        self._engine = engine

    async def load(self, room_id: int) -> dict[str, Any] | None:
        async with self._sessions() as s:
            room = await s.get(Room, room_id)
            if room is None:
                return None
            lots = list((await s.execute(select(Auction, Product).join(Product, Product.id == Auction.product_id)
                                         .where(Auction.room_id == room_id)
                                         .order_by(Auction.position))).all())
            chat = list((await s.execute(
                select(ChatMessage, User.display_name).join(User, User.id == ChatMessage.user_id)
                .where(ChatMessage.room_id == room_id, ChatMessage.deleted.is_(False))
                .order_by(ChatMessage.id.desc()).limit(RECENT_CHAT))).all())
            lot_view = None
            current = next(((a, p) for a, p in lots if a.id == room.current_auction_id), None)
            if current is not None:
                a, p = current
                st = state_of(a)  # committed state: what every process agrees on
                ids = {i for i in (st.leader_id, st.winner_id) if i}
                names = {}
                if ids:
                    names = {i: n for i, n in await s.execute(
                        select(User.id, User.display_name).where(User.id.in_(ids)))}
                lot_view = lot_public(a, st, p, names)
            flash = await current_flash(s, room_id)
        return {
            "room": room_public(room),
            "lot": lot_view,
            "lineup": lineup_public(lots),
            "chat": [chat_public(m, n) for m, n in reversed(chat)],
            # The room's latest flash sale; sold/left change after this: clients refresh them
            # from GET /api/v1/flash-sales/{id} and then follow flash.* events (docs/protocol.md).
            "flash": flash,
        }

    async def lineup(self, room_id: int) -> list[dict[str, Any]]:
        async with self._sessions() as s:
            lots = list((await s.execute(select(Auction, Product).join(Product, Product.id == Auction.product_id)
                                         .where(Auction.room_id == room_id)
                                         .order_by(Auction.position))).all())
        return lineup_public(lots)

    async def record_peak(self, room_id: int, viewers: int) -> None:
        async with self._sessions.begin() as s:
            await s.execute(update(Room).where(Room.id == room_id, Room.peak_viewers < viewers)
                            .values(peak_viewers=viewers))
