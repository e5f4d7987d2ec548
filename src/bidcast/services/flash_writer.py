"""The per-sale writer: one asyncio task per running flash sale in each process.

Purchase attempts queue up; the writer takes every attempt waiting (up to `batch_max`) and
decides and writes them in ONE transaction (storage/flash_store.py: group commit under the
sale's row lock), then answers. The database stays the arbiter — several processes may each
run a writer for the same sale; their batches serialize on the sale's row — the writer only
saves commits.

In front of the queue, a fast path answers without touching the database what is already
certain: a sale that is not running by the server's clock, a bad quantity, the host buying,
and — from the counts of the last commit or read, at most `REFRESH_S` old — a sale that is
sold out or a buyer already at the limit. A stale fast-path answer can only refuse (the buyer
may retry); it can never sell.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain.flash_sale import Accepted, Rejected, SaleTerms, decide
from ..errors import AppError
from ..storage.flash_store import FlashStore, Job, SaleChanged, SaleInfo

log = logging.getLogger("bidcast.flash")
REFRESH_S = 0.5        # how old the fast path's counts may be before it asks the database
STOCK_EVENT_S = 0.1    # at most ten flash.stock events a second per sale (and process)
RETRIES = 3


@dataclass(slots=True)
class Result:
    accepted: bool
    code: str | None = None
    message: str | None = None
    quantity: int = 0
    order_id: int | None = None
    replayed: bool = False
    sold: int = 0
    left: int = 0


@dataclass(slots=True)
class _Pending:
    job: Job
    future: asyncio.Future = field(repr=False)


class SaleWriter:
    def __init__(self, info: SaleInfo, terms: SaleTerms, sold: int, version: int, store: FlashStore,
                 on_counts: Callable[[int, int, int], None], on_due: Callable[[int], object],
                 on_exit: Callable[[int], None], batch_max: int = 512) -> None:
        self.info, self.terms = info, terms
        self.sold, self.version, self.ended = sold, version, False
        self.checked_at = time.monotonic()
        self.bought: dict[int, int] = {}
        # The sale's accepted keys as of `keys_version`: a retry of an accepted purchase gets
        # its order back even once the fast path would refuse (sold out, limit reached).
        self.keys: dict[tuple[int, str], tuple[int, int]] = {}
        self.keys_version = -1
        self._keys_lock = asyncio.Lock()
        self._store = store
        self._on_counts = on_counts   # (sale_id, sold, version): publish a coalesced flash.stock
        self._on_due = on_due         # the sale's end has come: settle it (exactly once, guarded)
        self._on_exit = on_exit
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"flash-{self.info.sale_id}")

    def left(self) -> int:
        return max(0, self.terms.quantity - self.sold)

    # -- the way in -----------------------------------------------------------------------------
    def fast_answer(self, buyer_id: int, quantity: int, now: float) -> Result | None:
        """A refusal that needs no database, or None (the attempt must go to the writer).

        With counts older than REFRESH_S the rules see nothing sold and nothing bought, so only
        the refusals that hold whatever the counts are (clock, quantity, own sale) come out."""
        fresh = time.monotonic() - self.checked_at < REFRESH_S
        sold = self.sold if fresh else 0
        bought = self.bought.get(buyer_id, 0) if fresh else 0
        d = decide(self.terms, self.ended, sold, bought, buyer_id, quantity, now)
        if isinstance(d, Rejected):
            return Result(False, d.code, d.message, sold=self.sold, left=self.left())
        return None

    async def replay(self, job: Job) -> Result | None:
        """The earlier answer to an accepted key, or None. The sale's accepted keys are loaded
        whole (at most `quantity` rows) and reloaded only when the counts have moved since."""
        if self.keys_version != self.version:
            async with self._keys_lock:  # one reload at a time; the others wait for it
                if self.keys_version != self.version:
                    version = self.version
                    self.keys = await self._store.all_keys(self.info.sale_id)
                    self.keys_version = version
        hit = self.keys.get((job.buyer_id, job.key))
        if hit is None:
            return None
        if hit[1] != job.quantity:
            return Result(False, "idempotency_key_reused", "This key was used for another purchase.")
        return Result(True, quantity=hit[1], order_id=hit[0], replayed=True, sold=self.sold, left=self.left())

    async def submit(self, job: Job) -> Result:
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(job, fut))
        return await fut

    # -- the loop ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                now = time.time()
                if self.ended and self._queue.empty():
                    return  # ended early by its host
                if now >= self.terms.ends_at:
                    self.ended = True
                    await self._on_due(self.info.sale_id)
                    return
                wait = min(self.terms.ends_at - now, REFRESH_S)
                try:
                    first = await asyncio.wait_for(self._queue.get(), wait)
                except TimeoutError:
                    await self._refresh()   # others' sales, or units an expired order gave back
                    continue
                batch = [first]
                while len(batch) < self._batch_max and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._decide(batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("flash writer %s crashed", self.info.sale_id)
        finally:
            self.ended = True
            self._answer_leftovers()
            self._on_exit(self.info.sale_id)

    async def _refresh(self) -> None:
        try:
            sold, version, ended = await self._store.counts(self.info.sale_id)
        except Exception:
            log.exception("reading flash sale %s failed", self.info.sale_id)
            return
        if version > self.version and sold < self.sold:
            self.bought.clear()   # someone's units came back: their buyer's count is lower too
        self._adopt(sold, version)
        self.ended = self.ended or ended
        self.checked_at = time.monotonic()

    def _adopt(self, sold: int, version: int) -> None:
        if version > self.version:
            self.sold, self.version = sold, version
            self._on_counts(self.info.sale_id, sold, version)

    async def _decide(self, batch: list[_Pending]) -> None:
        # One attempt per (buyer, key) goes to the store; repeats in the batch share its answer.
        first: dict[tuple[int, str], _Pending] = {}
        jobs: list[Job] = []
        for p in batch:
            if (p.job.buyer_id, p.job.key) not in first:
                first[(p.job.buyer_id, p.job.key)] = p
                jobs.append(p.job)
        for attempt in range(RETRIES + 1):
            try:
                res = await self._store.commit_batch(self.info, self.terms, jobs, time.time())
                break
            except SaleChanged:
                if attempt < RETRIES:
                    continue
                err = AppError(503, "storage_unavailable", "The purchase could not be saved; retry it.")
            except Exception:
                log.exception("saving flash purchases for sale %s failed", self.info.sale_id)
                err = AppError(503, "storage_unavailable", "The purchase could not be saved; retry it.")
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(err)
            return
        self.checked_at = time.monotonic()
        self.bought.update(res.bought)
        for job, out in zip(jobs, res.outcomes, strict=True):
            if out.order_id is not None:
                self.keys[(job.buyer_id, job.key)] = (out.order_id, out.quantity)
        self.ended = self.ended or res.ended
        self._adopt(res.sold, res.version)
        answers: dict[tuple[int, str], Result] = {}
        left = max(0, self.terms.quantity - res.sold)
        for job, out in zip(jobs, res.outcomes, strict=True):
            if out.decision is None or isinstance(out.decision, Accepted):
                r = Result(True, quantity=out.quantity, order_id=out.order_id, replayed=out.replayed,
                           sold=res.sold, left=left)
            else:
                r = Result(False, out.decision.code, out.decision.message, sold=res.sold, left=left)
            answers[(job.buyer_id, job.key)] = r
        for p in batch:
            r = answers[(p.job.buyer_id, p.job.key)]
            if first[(p.job.buyer_id, p.job.key)] is not p:
                r = _replay(r, p.job.quantity)
            if not p.future.done():
                p.future.set_result(r)

    def _answer_leftovers(self) -> None:
        while not self._queue.empty():
            p = self._queue.get_nowait()
            if not p.future.done():
                p.future.set_exception(AppError(503, "sale_restarting", "Retry the purchase."))


def _replay(r: Result, quantity: int) -> Result:
    if not r.accepted:
        return r
    if r.quantity != quantity:
        return Result(False, "idempotency_key_reused", "This key was used for another purchase.")
    return Result(True, quantity=r.quantity, order_id=r.order_id, replayed=True, sold=r.sold, left=r.left)
