"""Room chat a host can run: limits, slow mode, mute, ban, delete."""
from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import AppError, forbidden, not_found
from ..storage.models import ChatMessage, Room, RoomRestriction, User, utcnow
from ..storage.db import Reader
from .accounts import Accounts, Principal
from .batched_lookup import BatchedLookup
from .room_views import chat_public

MAX_LEN = 300
BURST = 3              # messages a user may send at once ...
REFILL_PER_S = 1.0     # ... then one a second
MAX_SLOW_MODE_S = 600
Publish = Callable[..., None]
_POST = insert(ChatMessage).returning(ChatMessage.id)  # built once (see Reader.write)


def clean_text(text: str) -> str:
    """Strip control characters (keep newlines out too: chat lines are single lines)."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    return " ".join(kept.split())


class Chat:
    def __init__(self, sessions: async_sessionmaker, publish: Publish, accounts: Accounts | None = None,
                 reader: Reader | None = None) -> None:
        self._sessions = sessions
        self._reader = reader or Reader(sessions)
        self._accounts = accounts
        self._publish = publish
        self._buckets: dict[int, tuple[float, float]] = {}
        self._last_post: dict[tuple[int, int], float] = {}
        self._restrictions: dict[int, tuple[float, dict[int, str], int]] = {}
        self._lookups: BatchedLookup[int, tuple[dict[int, str], int] | None] = BatchedLookup(
            self._load_restrictions, None)
        self._generation = 0  # bumped by forget: a look-up then in flight is not kept

    async def restrictions(self, room_id: int) -> tuple[dict[int, str], int]:
        """(user_id -> mute|ban, slow mode seconds) for a room, cached for two seconds and
        dropped at once when a moderation change is announced; one query for all who ask."""
        hit = self._restrictions.get(room_id)
        if hit and hit[0] > time.monotonic():
            return hit[1], hit[2]
        loaded = await self._lookups.get(room_id)
        if loaded is None:
            raise not_found("Room")
        return loaded

    async def _load_restrictions(self, room_ids: list[int]) -> dict[int, tuple[dict[int, str], int]]:
        generation = self._generation
        rows = await self._reader.rows(
            select(Room.id, Room.slow_mode_seconds, RoomRestriction.user_id, RoomRestriction.kind)
            .outerjoin(RoomRestriction, RoomRestriction.room_id == Room.id)
            .where(Room.id.in_(room_ids)))
        out: dict[int, tuple[dict[int, str], int]] = {}
        for room_id, slow, user_id, kind in rows:
            found, _ = out.setdefault(room_id, ({}, slow))
            if user_id is not None:
                found[user_id] = kind
        if generation == self._generation:
            until = time.monotonic() + 2.0
            for room_id, (found, slow) in out.items():
                self._restrictions[room_id] = (until, found, slow)
        return out

    def forget(self, room_id: int) -> None:
        """Drop the cached restrictions of a room (a moderation change was announced)."""
        self._generation += 1
        self._restrictions.pop(room_id, None)

    async def is_banned(self, room_id: int, user_id: int | None) -> bool:
        if user_id is None:
            return False
        found, _ = await self.restrictions(room_id)
        return found.get(user_id) == "ban"

    async def post(self, room_id: int, who: Principal, text: str) -> dict[str, Any]:
        text = clean_text(text)
        if not text:
            raise AppError(422, "empty_message", "Write something first.")
        if len(text) > MAX_LEN:
            raise AppError(422, "message_too_long", f"Chat messages are at most {MAX_LEN} characters.")
        if who.banned or (self._accounts is not None and await self._accounts.is_banned(who.id)):
            raise AppError(403, "banned", "Your account may not chat.")
        found, slow = await self.restrictions(room_id)
        if found.get(who.id) in ("mute", "ban"):
            raise AppError(403, "muted", "The host has muted you in this room.")
        now = time.monotonic()
        last = self._last_post.get((room_id, who.id))
        if slow and last is not None and now - last < slow:
            raise AppError(429, "slow_mode", f"Slow mode: one message every {slow} seconds.",
                           retry_after=round(slow - (now - last), 1))
        self._take_token(who.id, now)
        values = {"room_id": room_id, "user_id": who.id, "text": text, "deleted": False, "created_at": utcnow()}
        [(message_id,)] = await self._reader.write(_POST, values)
        msg = ChatMessage(id=message_id, **values)
        self._last_post[(room_id, who.id)] = now
        data = chat_public(msg, who.display_name)
        self._publish(room_id, "chat.message", data)
        return data

    def _take_token(self, user_id: int, now: float) -> None:
        tokens, at = self._buckets.get(user_id, (float(BURST), now))
        tokens = min(float(BURST), tokens + (now - at) * REFILL_PER_S)
        if tokens < 1:
            raise AppError(429, "rate_limited", "You are sending messages too fast.",
                           retry_after=round((1 - tokens) / REFILL_PER_S, 1))
        self._buckets[user_id] = (tokens - 1, now)
        if len(self._buckets) > 100_000:
            self._buckets.clear()

    async def delete(self, room_id: int, who: Principal, message_id: int) -> None:
        await self._host_of(room_id, who)
        async with self._sessions.begin() as s:
            res = await s.execute(update(ChatMessage).where(
                ChatMessage.id == message_id, ChatMessage.room_id == room_id).values(deleted=True))
            if res.rowcount != 1:
                raise not_found("Message")
        self._publish(room_id, "chat.deleted", {"id": message_id})

    async def restrict(self, room_id: int, who: Principal, user_id: int, action: str) -> None:
        room = await self._host_of(room_id, who)
        if user_id == room.host_id:
            raise AppError(422, "invalid_target", "A host cannot restrict themselves.")
        async with self._sessions.begin() as s:
            if await s.get(User, user_id) is None:
                raise not_found("User")
            await s.execute(delete(RoomRestriction).where(RoomRestriction.room_id == room_id,
                                                          RoomRestriction.user_id == user_id))
            if action in ("mute", "ban"):
                s.add(RoomRestriction(room_id=room_id, user_id=user_id, kind=action))
        self._restrictions.pop(room_id, None)
        notices = {"mute": "The host muted you in this room.", "ban": "The host removed you from this room.",
                   "unmute": "You may chat again.", "unban": "You may join this room again."}
        self._publish(room_id, "notice", {"kind": action, "message": notices[action]}, to_user=user_id)

    async def set_slow_mode(self, room_id: int, who: Principal, seconds: int) -> None:
        if not 0 <= seconds <= MAX_SLOW_MODE_S:
            raise AppError(422, "invalid_slow_mode", f"Slow mode is 0 to {MAX_SLOW_MODE_S} seconds.")
        await self._host_of(room_id, who)
        async with self._sessions.begin() as s:
            await s.execute(update(Room).where(Room.id == room_id).values(slow_mode_seconds=seconds))
        self._restrictions.pop(room_id, None)
        self._publish(room_id, "room.updated", {"slow_mode_seconds": seconds})

    async def _host_of(self, room_id: int, who: Principal) -> Room:
        async with self._sessions() as s:
            room = await s.get(Room, room_id)
        if room is None:
            raise not_found("Room")
        if room.host_id != who.id and not who.has("admin"):
            raise forbidden("Only the room's host may moderate its chat.")
        return room


