"""The one way in for a bid, whether it comes over HTTP or the room's socket."""
from __future__ import annotations

from .accounts import Principal
from .auction_engine import AuctionEngine
from .bid_results import BidResult
from .chat import Chat


class Bidding:
    def __init__(self, engine: AuctionEngine, chat: Chat) -> None:
        self._engine = engine
        self._chat = chat

    async def place(self, auction_id: int, who: Principal, kind: str, value: int, key: str) -> BidResult:
        """Account bans and the host's room bans both end in the rules' `banned` rejection."""
        room_id = self._engine.room_of(auction_id)
        banned = who.banned or (room_id is not None and await self._chat.is_banned(room_id, who.id))
        return await self._engine.place(auction_id, who.id, kind, value, key, banned, who.display_name)
