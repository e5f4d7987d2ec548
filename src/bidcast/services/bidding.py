"""The one way in for a bid, whether it comes over HTTP or the room's socket."""
from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..realtime.urgency import BIDS
from ..storage.models import Auction
from ..errors import AppError
from .accounts import Accounts, Principal
from .auction_engine import AuctionEngine
from .bid_results import BidResult
from .chat import Chat
from .ownership import BidRouter


BID_BURST = 50      # bids one person may send at once ...
BIDS_PER_S = 20.0   # ... then this many a second


class Bidding:
    def __init__(self, sessions: async_sessionmaker, engine: AuctionEngine, chat: Chat,
                 accounts: Accounts, burst: int = BID_BURST, per_second: float = BIDS_PER_S,
                 router: BidRouter | None = None) -> None:
        self._burst, self._per_second = float(burst), per_second
        self._sessions = sessions
        self._accounts = accounts
        self._engine = engine
        self.router = router or BidRouter(engine)  # decides here or forwards to the owner
        self._chat = chat
        self._room_of: dict[int, int | None] = {}  # an auction never changes room
        self._buckets: dict[int, tuple[float, float]] = {}

    async def room_of(self, auction_id: int) -> int | None:
        if auction_id in self._room_of:
            return self._room_of[auction_id]
        room_id = self._engine.room_of(auction_id)
        if room_id is None:
            async with self._sessions() as s:
                room_id = (await s.execute(select(Auction.room_id).where(Auction.id == auction_id))).scalar()
        if len(self._room_of) > 100_000:
            self._room_of.clear()
        self._room_of[auction_id] = room_id
        return room_id

    def _throttle(self, user_id: int) -> None:
        """A token bucket per bidder: a flood is refused before it costs a stored attempt."""
        now = time.monotonic()
        tokens, at = self._buckets.get(user_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._per_second)
        if tokens < 1:
            raise AppError(429, "rate_limited", "You are bidding too fast; slow down a little.",
                           retry_after=round((1 - tokens) / self._per_second, 2))
        self._buckets[user_id] = (tokens - 1, now)
        if len(self._buckets) > 100_000:
            self._buckets.clear()

    async def place(self, auction_id: int, who: Principal, kind: str, value: int, key: str) -> BidResult:
        """Account bans and the host's room bans both end in the rules' `banned` rejection."""
        with BIDS.carrying():
            banned = await self.admit(auction_id, who)
            return await self.decide(auction_id, who, kind, value, key, banned)

    async def admit(self, auction_id: int, who: Principal) -> bool:
        """The checks before a bid reaches its writer: the flood limit (raises), then whether the
        bidder is banned from the platform or the room (usually cached: no I/O)."""
        self._throttle(who.id)
        room_id = await self.room_of(auction_id)
        return bool(who.banned or await self._accounts.is_banned(who.id)
                    or (room_id is not None and await self._chat.is_banned(room_id, who.id)))

    def decide(self, auction_id: int, who: Principal, kind: str, value: int, key: str,
               banned: bool) -> Coroutine[Any, Any, BidResult]:
        """The auction's writer decides: here, or on the worker that owns the auction."""
        return self.router.place(auction_id, who.id, kind, value, key, banned, who.display_name)
