"""Reading auctions and their bids, from the live writer when this process runs it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.auction import AuctionState
from ..errors import not_found
from ..storage.auction_store import state_of
from ..storage.models import Auction, Bid
from .auction_engine import AuctionEngine


class AuctionQueries:
    def __init__(self, sessions: async_sessionmaker, engine: AuctionEngine) -> None:
        self._sessions = sessions
        self._engine = engine

    async def get(self, auction_id: int) -> tuple[Auction, AuctionState]:
        async with self._sessions() as s:
            row = await s.get(Auction, auction_id)
        if row is None:
            raise not_found("Auction")
        # The committed row, not a writer's in-flight batch (and right on every process).
        return row, state_of(row)

    async def bids(self, auction_id: int, after_seq: int = 0, limit: int = 100) -> list[Bid]:
        async with self._sessions() as s:
            if await s.get(Auction, auction_id) is None:
                raise not_found("Auction")
            q = (select(Bid).where(Bid.auction_id == auction_id, Bid.accepted.is_(True),
                                   Bid.seq > after_seq).order_by(Bid.seq).limit(limit))
            return list((await s.execute(q)).scalars())

    async def list(self, status: str | None = None, room_id: int | None = None,
                   limit: int = 50) -> list[Auction]:
        q = select(Auction).order_by(Auction.id.desc()).limit(limit)
        if status:
            q = q.where(Auction.status == status)
        if room_id:
            q = q.where(Auction.room_id == room_id)
        async with self._sessions() as s:
            return list((await s.execute(q)).scalars())
