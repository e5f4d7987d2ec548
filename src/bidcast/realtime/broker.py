"""Brokers deliver room events, in one order, to every process that has viewers of the room.

`MemoryBroker` serves one process. `RedisBroker` assigns each shared event its room seq and
appends it to a Redis stream in one atomic script, so every process reads the same events in
the same order; each process then fans them out to its own sockets.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Protocol

from .. import metrics
from .protocol import RoomEvent, now_ms

log = logging.getLogger("bidcast.broker")
Handler = Callable[[RoomEvent], None]


class Broker(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def publish(self, room_id: int, type_: str, data: dict[str, Any], to_user: int | None = None) -> None: ...
    async def subscribe(self, room_id: int, handler: Handler) -> int: ...
    def unsubscribe(self, room_id: int, handler: Handler) -> None: ...
    async def add_to_counter(self, room_id: int, name: str, delta: int) -> int: ...
    async def presence(self, room_id: int, local_count: int) -> int: ...


class MemoryBroker:
    """One process: seq from a counter, delivery on the event loop in publish order."""

    def __init__(self) -> None:
        self._seq: dict[int, int] = defaultdict(int)
        self._handlers: dict[int, list[Handler]] = defaultdict(list)
        self._counters: dict[tuple[int, str], int] = defaultdict(int)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def publish(self, room_id: int, type_: str, data: dict[str, Any], to_user: int | None = None) -> None:
        if to_user is None:
            self._seq[room_id] += 1
        ev = RoomEvent(room_id, self._seq[room_id], type_, data, now_ms(), to_user)
        # call_soon keeps publish order and never runs a fan-out inside the publisher's step.
        asyncio.get_running_loop().call_soon(self._deliver, ev)

    def _deliver(self, ev: RoomEvent) -> None:
        for h in list(self._handlers.get(ev.room_id, ())):
            try:
                h(ev)
            except Exception:
                log.exception("room handler failed")

    async def subscribe(self, room_id: int, handler: Handler) -> int:
        self._handlers[room_id].append(handler)
        return self._seq[room_id]

    def unsubscribe(self, room_id: int, handler: Handler) -> None:
        if handler in self._handlers.get(room_id, []):
            self._handlers[room_id].remove(handler)
        if not self._handlers.get(room_id):
            self._handlers.pop(room_id, None)

    async def add_to_counter(self, room_id: int, name: str, delta: int) -> int:
        self._counters[(room_id, name)] += delta
        return self._counters[(room_id, name)]

    async def presence(self, room_id: int, local_count: int) -> int:
        return local_count


_APPEND = """
local seq
if ARGV[2] == '1' then
  seq = redis.call('INCR', KEYS[1])
else
  seq = tonumber(redis.call('GET', KEYS[1]) or '0')
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'e', ARGV[1])
return seq
"""


class RedisBroker:
    """Many processes: a Redis stream per room is the one ordered log of its events."""

    STREAM_MAXLEN = 10_000
    PRESENCE_TTL = 15

    def __init__(self, url: str, process_id: str) -> None:
        import redis.asyncio as redis
        self._redis = redis.from_url(url)
        self._pid = process_id
        self._outbox: deque[tuple[int, str, dict, int | None]] = deque()
        self._wake = asyncio.Event()
        self._handlers: dict[int, list[Handler]] = defaultdict(list)
        self._readers: dict[int, asyncio.Task] = {}
        self._pub_task: asyncio.Task | None = None
        self._script: Any = None

    @staticmethod
    def _keys(room_id: int) -> tuple[str, str]:
        return f"bidcast:room:{room_id}:seq", f"bidcast:room:{room_id}:events"

    async def start(self) -> None:
        await self._redis.ping()
        self._script = self._redis.register_script(_APPEND)
        self._pub_task = asyncio.get_running_loop().create_task(self._publisher())

    async def ping(self) -> None:
        await asyncio.wait_for(self._redis.ping(), 1.0)

    async def stop(self) -> None:
        for t in [*self._readers.values(), self._pub_task]:
            if t:
                t.cancel()
        await asyncio.gather(*[t for t in [*self._readers.values(), self._pub_task] if t],
                             return_exceptions=True)
        await self._redis.aclose()

    def publish(self, room_id: int, type_: str, data: dict[str, Any], to_user: int | None = None) -> None:
        self._outbox.append((room_id, type_, data, to_user))
        self._wake.set()

    async def _publisher(self) -> None:
        import orjson
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), 256))]
                async with self._redis.pipeline(transaction=False) as pipe:
                    for room_id, type_, data, to_user in batch:
                        payload = orjson.dumps({"t": type_, "d": data, "u": to_user, "ts": now_ms()})
                        await self._script(keys=list(self._keys(room_id)),
                                           args=[payload, "0" if to_user else "1", self.STREAM_MAXLEN],
                                           client=pipe)
                    try:
                        await pipe.execute()
                    except Exception:
                        # Keep the events, in order, and try again: a dropped event would never
                        # get a seq, so no client could even notice the gap.
                        metrics.REDIS_ERRORS.labels("publish").inc()
                        log.exception("publishing %d room events to Redis failed; retrying", len(batch))
                        self._outbox.extendleft(reversed(batch))
                        await asyncio.sleep(0.5)

    async def subscribe(self, room_id: int, handler: Handler) -> int:
        """Start receiving the room's events after the current last one; returns its seq."""
        self._handlers[room_id].append(handler)
        if room_id in self._readers:
            return -1
        seq_key, stream = self._keys(room_id)
        last = await self._redis.xrevrange(stream, count=1)
        last_id = last[0][0] if last else b"0-0"
        seq = int(last[0][1][b"s"]) if last else int(await self._redis.get(seq_key) or 0)
        self._readers[room_id] = asyncio.get_running_loop().create_task(self._reader(room_id, last_id))
        return seq

    def unsubscribe(self, room_id: int, handler: Handler) -> None:
        hs = self._handlers.get(room_id, [])
        if handler in hs:
            hs.remove(handler)
        if not hs:
            self._handlers.pop(room_id, None)
            if room_id in self._readers:
                self._readers.pop(room_id).cancel()

    async def _reader(self, room_id: int, last_id: bytes) -> None:
        import orjson
        _, stream = self._keys(room_id)
        while True:
            try:
                got = await self._redis.xread({stream: last_id}, block=1000, count=500)
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.REDIS_ERRORS.labels("read").inc()
                log.exception("reading room %s from Redis failed", room_id)
                await asyncio.sleep(0.5)
                continue
            for _, entries in got:
                for entry_id, fields in entries:
                    last_id = entry_id
                    p = orjson.loads(fields[b"e"])
                    ev = RoomEvent(room_id, int(fields[b"s"]), p["t"], p["d"], p["ts"], p["u"])
                    for h in list(self._handlers.get(room_id, ())):
                        try:
                            h(ev)
                        except Exception:
                            log.exception("room handler failed")

    async def add_to_counter(self, room_id: int, name: str, delta: int) -> int:
        return int(await self._redis.incrby(f"bidcast:room:{room_id}:{name}", delta))

    async def presence(self, room_id: int, local_count: int) -> int:
        key = f"bidcast:room:{room_id}:presence"
        now = now_ms() // 1000
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self._pid, f"{local_count}:{now}")
            pipe.expire(key, 3600)
            pipe.hgetall(key)
            *_, entries = await pipe.execute()
        total = 0
        for field, value in entries.items():
            count, _, seen = value.decode().partition(":")
            if now - int(seen) <= self.PRESENCE_TTL:
                total += int(count)
            elif field.decode() != self._pid:
                await self._redis.hdel(key, field)
        return total
