"""The auction engine: this process's auction writers, and which auctions it may write.

Each running auction has one writer (services/auction_writer.py). With several workers, the
writer runs only in the process that holds the auction's lease (storage/leases.py).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .. import metrics
from ..domain import auction as rules
from ..domain.auction import AuctionState, Rejected
from ..errors import AppError
from ..storage.auction_store import AuctionStore
from ..storage.leases import Fence, LeaseStore
from .auction_writer import (
    _MESSAGES,
    AuctionWriter,
    EventSink,
    _Job,
    _key_reused,
    _restarting,
    log,
)
from .bid_results import BidResult, result_of, result_of_row

RETIRE_WAIT_S = 5.0


class NotOwner(Exception):
    """Another process holds the auction's lease: the bid must go to `owner`."""

    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """This process as a lease holder (several workers share the database)."""
    leases: LeaseStore
    me: str
    ttl_ms: int = 3000

class AuctionEngine:
    """Owns the writers of this process and routes each bid to its auction's writer.

    With `owner` set (several workers share the database), a writer runs only while this
    process holds the auction's lease: `attach` takes the lease first, each commit is fenced
    by it, `keep_leases` renews them and adopts orphaned auctions, and `place` raises
    `NotOwner` for an auction another live process owns."""

    def __init__(self, store: AuctionStore, sink: EventSink | None = None, batch_max: int = 512,
                 owner: LeaseOwner | None = None) -> None:
        self._store = store
        self._sinks: list[EventSink] = [sink] if sink else []
        self._batch_max = batch_max
        self._writers: dict[int, AuctionWriter] = {}
        self._attach_lock = asyncio.Lock()
        self._sweeper: asyncio.Task | None = None
        self.owner = owner
        self._closing = False

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def publish(self, room_id: int | None, events: list[dict[str, Any]]) -> None:
        for sink in self._sinks:
            sink(room_id, events)

    def start_sweeper(self, every_s: float = 5.0) -> None:
        """Re-attach running auctions that have no writer here (a crashed writer, another
        process gone): overdue ones then close at once. With leases: renew ours every
        `every_s` and adopt only auctions whose lease lapsed."""
        async def sweep() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    if self.owner is not None:
                        await self.keep_leases()
                        continue
                    for auction_id in await self._store.running_ids():
                        if auction_id not in self._writers:
                            await self.attach(auction_id)
                except Exception:
                    metrics.DB_ERRORS.labels("sweep").inc()
                    log.exception("auction sweep failed")
        self._sweeper = asyncio.get_running_loop().create_task(sweep())

    async def keep_leases(self) -> None:
        assert self.owner is not None
        o = self.owner
        held = [aid for aid, w in self._writers.items() if w.fence is not None and not w.retiring]
        kept = await o.leases.renew(o.me, held, o.ttl_ms)
        for aid in held:
            if aid not in kept and (w := self._writers.get(aid)) is not None:
                log.warning("lease on auction %s was taken over; stopping its writer", aid)
                metrics.LEASES.labels("lost").inc()
                w.retire()
        if not self._closing:
            for aid in await o.leases.orphaned():
                if aid not in self._writers:
                    await self.attach(aid)

    async def recover(self) -> int:
        """Take over every running auction: due ones close at once, the others keep their deadline."""
        ids = await self._store.running_ids()
        for auction_id in ids:
            await self.attach(auction_id)
        return len(ids)

    def room_of(self, auction_id: int) -> int | None:
        w = self._writers.get(auction_id)
        return w.meta.room_id if w else None

    def live_state(self, auction_id: int) -> AuctionState | None:
        w = self._writers.get(auction_id)
        return w.state if w else None

    def owned(self) -> list[int]:
        return [aid for aid, w in self._writers.items() if w.fence is not None]

    async def attach(self, auction_id: int) -> AuctionWriter | None:
        w = self._writers.get(auction_id)
        if w is not None and not w.retiring:
            return w
        if self._closing:
            return None
        async with self._attach_lock:
            w = self._writers.get(auction_id)
            if w is not None and not w.retiring:
                return w
            if w is not None and w.task is not None:
                await asyncio.gather(w.task, return_exceptions=True)  # let the old one finish
            fence = None
            if self.owner is not None:
                o = self.owner
                if not await self._store.is_running(auction_id):
                    return None  # a closed lot needs no owner (and its lease keeps its epoch)
                epoch = await o.leases.acquire(auction_id, o.me, o.ttl_ms)
                if epoch is None:
                    return None
                fence = Fence(o.me, epoch, o.ttl_ms)
            # Loaded after the lease is ours: whatever the previous owner committed is in it.
            loaded = await self._store.load(auction_id)
            if loaded is None or loaded[0].status is not rules.Status.RUNNING:
                if fence is not None:
                    await self.owner.leases.release(fence.owner, [auction_id])
                return None
            state, meta, attempts = loaded
            w = AuctionWriter(state, meta, attempts, self._store, self.publish, self._batch_max,
                              self._detach)
            w.fence = fence
            if fence is not None:
                metrics.LEASES.labels("taken").inc()
                metrics.LEASES_HELD.inc()
                log.info("writing auction %s (lease epoch %s)", auction_id, fence.epoch)
            self._writers[auction_id] = w
            w.start()
            return w

    def _detach(self, w: AuctionWriter) -> None:
        auction_id = w.state.id
        if self._writers.get(auction_id) is w:
            self._writers.pop(auction_id)
        if w.fence is not None:
            metrics.LEASES_HELD.dec()
            if not self._closing and self.owner is not None:
                # Closed or deposed: let the lease lapse now, so nobody waits out its TTL.
                asyncio.get_running_loop().create_task(self._release(auction_id, w.fence))

    async def _release(self, auction_id: int, fence: Fence) -> None:
        try:
            assert self.owner is not None
            await self.owner.leases.release(fence.owner, [auction_id])
        except Exception:
            log.exception("releasing the lease on auction %s failed", auction_id)

    def writes(self, auction_id: int) -> bool:
        w = self._writers.get(auction_id)
        return w is not None and not w.retiring

    async def owner_elsewhere(self, auction_id: int) -> str | None:
        """The live owner of the auction if it is another process (taking it here if it is free)."""
        if self.owner is None or self._closing or await self.attach(auction_id) is not None:
            return None
        lease = await self.owner.leases.get(auction_id)
        if lease is not None and lease.live() and lease.owner != self.owner.me:
            return lease.owner
        return None

    async def place(self, auction_id: int, bidder_id: int, kind: str, value: int, key: str,
                    banned: bool = False, name: str = "") -> BidResult:
        """Decide the bid here; raises NotOwner when another live process owns the auction."""
        w = self._writers.get(auction_id)
        if w is None or w.retiring:
            w = await self.attach(auction_id)
        if w is None:
            if self.owner is not None and not self._closing:
                lease = await self.owner.leases.get(auction_id)
                if lease is not None and lease.live() and lease.owner != self.owner.me:
                    raise NotOwner(lease.owner)
            elif self._closing:
                raise _restarting()
            return await self._not_live(auction_id, bidder_id, kind, value, key)
        fut = asyncio.get_running_loop().create_future()
        w.submit(_Job(bidder_id, kind, value, key, banned, fut, name))
        return await fut

    async def _not_live(self, auction_id: int, bidder_id: int, kind: str, value: int,
                        key: str) -> BidResult:
        prior = await self._store.find_attempt(auction_id, bidder_id, key)
        if prior is not None:
            res = result_of_row(prior)
            if res.fingerprint() != (kind, value):
                raise _key_reused()
            return res
        loaded = await self._store.load(auction_id)
        if loaded is None:
            raise AppError(404, "not_found", "Auction not found.")
        state = loaded[0]
        if state.status is rules.Status.RUNNING:
            raise _restarting()  # its lease is changing hands right now
        code = "not_started" if state.status is rules.Status.PENDING else "auction_closed"
        return result_of(auction_id, kind, value, Rejected(code, _MESSAGES[code]))

    async def stop(self) -> None:
        """Hand over: finish the batches in flight, then release every lease at once."""
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        writers = list(self._writers.values())
        for w in writers:
            w.retire()
        tasks = [w.task for w in writers if w.task]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=RETIRE_WAIT_S)
            for t in late:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.owner is not None:
            try:
                n = await self.owner.leases.release(self.owner.me)
                metrics.LEASES.labels("released").inc(n)
            except Exception:
                log.exception("releasing leases at shutdown failed")
        self._writers.clear()
        await self._store.dispose()
