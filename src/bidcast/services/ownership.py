"""Routing a bid to the one worker that writes its auction.

Every worker can take a bid; only the lease holder of the auction decides it (see
storage/leases.py). `BidRouter.place` tries this process first (it takes the lease when the
auction has no live owner); when another live worker owns the auction, the bid travels to that
worker's Redis inbox (a list, `bidcast:worker:<owner>:bids`) and the answer comes back on ours
(`bidcast:worker:<me>:replies`) once the owner has committed it. A timeout or a "not the owner
any more" answer re-resolves the owner: after a crash the lease lapses within its TTL and the
next attempt takes it over here. Retrying is safe: bids carry idempotency keys.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import asdict
from typing import Any

import orjson

from .. import metrics
from ..errors import AppError
from ..realtime.urgency import BIDS
from ..storage.leases import LeaseStore
from .auction_engine import AuctionEngine, LeaseOwner, NotOwner
from .bid_results import BidResult

log = logging.getLogger("bidcast.ownership")
RETRY_CODES = frozenset({"writer_restarting"})
ATTEMPTS = 6
OWNER_CACHE_S = 1.0
KEY_TTL_S = 30


def worker_id() -> str:
    """This worker process, as shown in logs, the X-Bidcast-Worker header and lease owners."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_owner(settings, sessions, autocommit=None) -> LeaseOwner | None:  # noqa: ANN001
    """Leases only where several processes can share work: with Redis to forward bids."""
    if not settings.redis_url:
        return None
    return LeaseOwner(LeaseStore(sessions, autocommit), f"{worker_id()}:{uuid.uuid4().hex[:6]}",
                      int(settings.lease_ttl_seconds * 1000))


def bid_router(settings, engine: AuctionEngine) -> BidRouter:
    if engine.owner is None:
        return BidRouter(engine)
    return BidRouter(engine, Forwarder(settings.redis_url, engine.owner.me, engine,
                                       settings.forward_timeout_seconds))


def inbox(owner: str) -> str:
    return f"bidcast:worker:{owner}:bids"


def replies(owner: str) -> str:
    return f"bidcast:worker:{owner}:replies"


class Forwarder:
    """Request/reply over Redis lists between workers: at most one reply per request id."""

    def __init__(self, redis_url: str, me: str, engine: AuctionEngine, timeout_s: float = 1.5) -> None:
        import redis.asyncio as redis
        self._redis = redis.from_url(redis_url)
        self.me = me
        self.timeout_s = timeout_s
        self._engine = engine
        self._waiting: dict[str, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []
        self._handling: set[asyncio.Task] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._drain(inbox(self.me), self._serve)),
                       loop.create_task(self._drain(replies(self.me), self._answer))]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._handling:
            await asyncio.wait(self._handling, timeout=5)
        await self._redis.aclose()

    async def call(self, owner: str, request: dict[str, Any]) -> dict[str, Any]:
        rid = uuid.uuid4().hex
        fut = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        body = orjson.dumps({**request, "id": rid, "from": self.me,
                             "until": time.time() + self.timeout_s})
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.rpush(inbox(owner), body)
                pipe.expire(inbox(owner), KEY_TTL_S)
                await pipe.execute()
            return await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError:
            raise
        except Exception as e:
            metrics.REDIS_ERRORS.labels("forward").inc()
            raise AppError(503, "owner_unavailable", "The bid could not reach its auction; retry it.") from e
        finally:
            self._waiting.pop(rid, None)

    async def _drain(self, key: str, handle) -> None:
        while True:
            try:
                got = await self._redis.blpop([key], timeout=1)
                if got is None:
                    continue
                items = [got[1]]
                more = await self._redis.lpop(key, 255)
                items += more or []
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.REDIS_ERRORS.labels("inbox").inc()
                log.exception("reading %s failed", key)
                await asyncio.sleep(0.5)
                continue
            for raw in items:
                handle(orjson.loads(raw))

    def _answer(self, msg: dict[str, Any]) -> None:
        fut = self._waiting.get(msg.get("id", ""))
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _serve(self, msg: dict[str, Any]) -> None:
        if msg.get("until", 0) < time.time():
            return  # the sender gave up and will route the bid again
        task = asyncio.get_running_loop().create_task(self._decide(msg))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _decide(self, msg: dict[str, Any]) -> None:
        with BIDS.carrying():  # room fan-out here holds back until the answer is sent
            await self._decide_and_reply(msg)

    async def _decide_and_reply(self, msg: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": msg["id"]}
        try:
            res = await self._engine.place(msg["auction_id"], msg["bidder_id"], msg["kind"],
                                           msg["value"], msg["key"], msg["banned"], msg["name"])
            reply["result"] = asdict(res)
        except NotOwner as e:
            reply["owner"] = e.owner
        except AppError as e:
            reply["error"] = [e.status, e.code, e.message, e.extra]
        except Exception:
            log.exception("deciding a forwarded bid failed")
            reply["error"] = [503, "storage_unavailable", "The bid could not be saved; retry it.", {}]
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.rpush(replies(msg["from"]), orjson.dumps(reply))
                pipe.expire(replies(msg["from"]), KEY_TTL_S)
                await pipe.execute()
        except Exception:
            metrics.REDIS_ERRORS.labels("reply").inc()
            log.exception("replying to %s failed", msg["from"])


class BidRouter:
    """The one entry for a bid on any worker: decided here or forwarded to the owner."""

    def __init__(self, engine: AuctionEngine, forwarder: Forwarder | None = None) -> None:
        self._engine = engine
        self._forwarder = forwarder
        self._owners: dict[int, tuple[str, float]] = {}
        self._resolving: dict[int, asyncio.Lock] = {}

    async def start(self) -> None:
        if self._forwarder is not None:
            await self._forwarder.start()

    async def stop(self) -> None:
        if self._forwarder is not None:
            await self._forwarder.stop()

    async def place(self, auction_id: int, bidder_id: int, kind: str, value: int, key: str,
                    banned: bool = False, name: str = "") -> BidResult:
        started = time.perf_counter()
        route = "local"
        try:
            if self._forwarder is None:
                return await self._engine.place(auction_id, bidder_id, kind, value, key, banned, name)
            request = {"auction_id": auction_id, "bidder_id": bidder_id, "kind": kind,
                       "value": value, "key": key, "banned": banned, "name": name}
            for attempt in range(ATTEMPTS):
                owner = self._cached_owner(auction_id)
                if owner is None and not self._engine.writes(auction_id):
                    owner = await self._resolve(auction_id)
                if owner is None:
                    try:
                        return await self._engine.place(auction_id, bidder_id, kind, value, key,
                                                        banned, name)
                    except NotOwner as e:
                        owner = e.owner
                        self._owners[auction_id] = (owner, time.monotonic() + OWNER_CACHE_S)
                    except AppError as e:
                        if e.code not in RETRY_CODES:
                            raise
                        await asyncio.sleep(0.05 * (attempt + 1))
                        continue
                route = "forwarded"
                res = await self._forward(auction_id, owner, request)
                if res is not None:
                    return res
            raise AppError(503, "owner_unavailable", "The auction is changing hands; retry the bid.")
        finally:
            metrics.BID_ACK.labels(route).observe(time.perf_counter() - started)

    async def _resolve(self, auction_id: int) -> str | None:
        """Who owns the auction, asked once at a time per auction (a burst of bids for an
        auction owned elsewhere costs one lease look-up, not one each)."""
        lock = self._resolving.setdefault(auction_id, asyncio.Lock())
        async with lock:
            owner = self._cached_owner(auction_id)
            if owner is None and not self._engine.writes(auction_id):
                owner = await self._engine.owner_elsewhere(auction_id)
                if owner is not None:
                    self._owners[auction_id] = (owner, time.monotonic() + OWNER_CACHE_S)
        if len(self._resolving) > 10_000:
            self._resolving.clear()
        return owner

    def _cached_owner(self, auction_id: int) -> str | None:
        hit = self._owners.get(auction_id)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            del self._owners[auction_id]
            return None
        return hit[0]

    async def _forward(self, auction_id: int, owner: str, request: dict[str, Any]) -> BidResult | None:
        """The owner's answer; None when the bid must be routed again."""
        assert self._forwarder is not None
        try:
            reply = await self._forwarder.call(owner, request)
        except TimeoutError:
            metrics.FORWARDED.labels("timeout").inc()
            self._owners.pop(auction_id, None)
            return None
        if "owner" in reply:
            metrics.FORWARDED.labels("moved").inc()
            self._owners.pop(auction_id, None)
            return None
        if "error" in reply:
            status, code, message, extra = reply["error"]
            if code in RETRY_CODES:
                self._owners.pop(auction_id, None)
                return None
            metrics.FORWARDED.labels("error").inc()
            raise AppError(status, code, message, **(extra or {}))
        metrics.FORWARDED.labels("ok").inc()
        return BidResult(**reply["result"])
