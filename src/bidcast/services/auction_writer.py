"""The auction writer: one asyncio task per running auction decides its bids, in order.

Bids queue up; the writer takes everything waiting (up to `batch_max`), decides each with the
pure rules at the server's clock, commits the whole batch in one transaction (group commit),
and only then acknowledges the bidders and publishes the events. A crash before the commit
loses only unacknowledged bids; a crash after it loses nothing. The writer also closes the
auction at its deadline, once, with the winner's order in the same transaction. With a lease
(`fence`), every commit also proves this process still owns the auction.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .. import metrics
from ..domain import auction as rules
from ..domain.auction import (
    Accepted,
    AuctionState,
    BidKind,
    BidRequest,
    Closed,
    Rejected,
)
from ..errors import AppError
from ..storage.auction_store import (
    AuctionMeta,
    AuctionStore,
    Deposed,
    StaleWriter,
    to_dt,
)
from ..storage.leases import Fence
from .bid_results import BidResult, result_of, result_of_row

log = logging.getLogger("bidcast.auctions")
STALE_RETRIES = 3

# Events go to whoever listens (the room hub); a listener must never block the writer.
EventSink = Callable[[int | None, list[dict[str, Any]]], None]


@dataclass(slots=True)
class _Job:
    bidder_id: int
    kind: str            # "direct" | "max" | "buy_now"
    value: int
    key: str
    banned: bool
    future: asyncio.Future = field(repr=False)
    name: str = ""
    queued_at: float = 0.0  # perf_counter at submit


class AuctionWriter:
    def __init__(self, state: AuctionState, meta: AuctionMeta, attempts: list, store: AuctionStore,
                 sink: EventSink, batch_max: int, on_exit: Callable[[AuctionWriter], None]) -> None:
        self.state = state
        self.names: dict[int, str] = dict(meta.names)
        self.meta = meta
        self._store = store
        self._sink = sink
        self._batch_max = batch_max
        self._on_exit = on_exit
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self.fence: Fence | None = None   # set when this process holds the auction's lease
        self.retiring = False
        self._seen: dict[tuple[int, str], BidResult] = {
            (a.bidder_id, a.idempotency_key): result_of_row(a) for a in attempts}
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"auction-{self.state.id}")

    def submit(self, job: _Job) -> None:
        if self.retiring or (self.task is not None and self.task.done()):
            job.future.set_exception(_restarting())
            return
        job.queued_at = time.perf_counter()
        self._queue.put_nowait(job)

    def retire(self) -> None:
        """Stop after the batch in flight (its bidders still get their answers)."""
        self.retiring = True
        self._queue.put_nowait(None)

    async def _run(self) -> None:
        close_failures = 0
        try:
            while True:
                now = time.time()
                if rules.is_due(self.state, now):
                    try:
                        await self._close(now)
                    except StaleWriter:
                        raise
                    except Exception:
                        # A failed close must not leave the lot open for ever: try again.
                        log.exception("closing auction %s failed; retrying", self.state.id)
                        await asyncio.sleep(min(5.0, 0.5 * 2 ** close_failures))
                        close_failures += 1
                        continue
                    if self.state.status is not rules.Status.RUNNING:
                        return
                    continue
                if self.state.status is not rules.Status.RUNNING or self.retiring:
                    return
                assert self.state.closes_at is not None
                try:
                    job = await asyncio.wait_for(self._queue.get(), self.state.closes_at - now)
                except TimeoutError:
                    continue
                batch = [job] if job is not None else []
                while len(batch) < self._batch_max and not self._queue.empty():
                    if (nxt := self._queue.get_nowait()) is not None:
                        batch.append(nxt)
                if self.retiring:
                    for j in batch:
                        j.future.set_exception(_restarting())
                    return
                if batch:
                    await self._decide(batch)
        except StaleWriter as e:
            log.warning("writer stopped: %s", e)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("auction writer %s crashed", self.state.id)
        finally:
            self._answer_leftovers()
            self._on_exit(self)

    def _answer_leftovers(self) -> None:
        """Bids still queued when the writer stops: closed means closed; otherwise retry."""
        closed = self.state.status is rules.Status.CLOSED
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if job is None or job.future.done():
                continue
            prior = self._seen.get((job.bidder_id, job.key))
            if prior is not None:
                job.future.set_result(prior.as_replay())
            elif closed:
                job.future.set_result(result_of(self.state.id, job.kind, job.value, Rejected(
                    "auction_closed", "This auction has closed.")))
            else:
                job.future.set_exception(_restarting())

    @staticmethod
    def _fail(answers: list, err: AppError) -> None:
        for job, _ in answers:
            if not job.future.done():
                job.future.set_exception(err)

    async def _reload(self) -> bool:
        """Adopt the auction's persisted state; False when it is no longer running."""
        loaded = await self._store.load(self.state.id)
        if loaded is None:
            return False
        fresh, meta, attempts = loaded
        _restore(self.state, fresh)
        self.meta = meta
        self._seen = {(a.bidder_id, a.idempotency_key): result_of_row(a) for a in attempts}
        return fresh.status is rules.Status.RUNNING

    async def _decide(self, batch: list[_Job], attempt: int = 0) -> None:
        state = self.state
        before = replace(state)
        rows: list[dict] = []
        rejections: list[dict] = []
        answers: list[tuple[_Job, BidResult | AppError]] = []
        fresh: dict[tuple[int, str], BidResult] = {}
        accepted: list[Accepted] = []
        closed: Closed | None = None
        decided_at = to_dt(time.time())
        started = time.perf_counter()
        if attempt == 0:
            queued = metrics.BID_STAGE.labels("queued")
            for job in batch:
                queued.observe(started - job.queued_at)
        for job in batch:
            ident = (job.bidder_id, job.key)
            prior = self._seen.get(ident) or fresh.get(ident)
            if prior is not None:
                answers.append((job, prior.as_replay() if prior.fingerprint() == (job.kind, job.value)
                                else _key_reused()))
                continue
            now = time.time()
            if job.kind == "buy_now":
                d = rules.buy_now(state, job.bidder_id, now, banned=job.banned)
                if isinstance(d, Closed):
                    closed = d
                    d = Accepted(d.seq, job.bidder_id, BidKind.DIRECT, job.value, d.final_price or 0,
                                 job.bidder_id, now, False, before.leader_id)
            else:
                d = rules.place_bid(state, BidRequest(job.bidder_id, BidKind(job.kind), job.value,
                                                      job.banned), now)
            if job.name:
                self.names[job.bidder_id] = job.name
            res = result_of(state.id, job.kind, job.value, d)
            fresh[ident] = res
            answers.append((job, res))
            (rows if isinstance(d, Accepted) else rejections).append(_row(state.id, job, d, decided_at))
            if isinstance(d, Accepted) and closed is None:
                accepted.append(d)
        try:
            fenced = {"fence": self.fence} if self.fence is not None else {}
            order_id = await self._store.save_batch(state, before.last_seq, rows, self.meta, closed,
                                                    rejections, **fenced)
            metrics.BID_STAGE.labels("commit").observe(time.perf_counter() - started)
        except Deposed:
            # Another worker took the lease: nothing here was committed; the bids go there.
            _restore(state, before)
            metrics.LEASES.labels("lost").inc()
            self._fail(answers, _restarting())
            raise
        except StaleWriter:
            # Another process moved the auction on: take its history and decide the batch again.
            _restore(state, before)
            if attempt < STALE_RETRIES and await self._reload():
                await self._decide(batch, attempt + 1)
                return
            self._fail(answers, AppError(503, "storage_unavailable", "The bid could not be saved; retry it."))
            raise
        except Exception:
            _restore(state, before)
            metrics.DB_ERRORS.labels("save_bids").inc()
            self._fail(answers, AppError(503, "storage_unavailable", "The bid could not be saved; retry it."))
            log.exception("saving bids for auction %s failed", state.id)
            return
        self._seen.update(fresh)
        _count(fresh.values(), len(batch))
        for job, answer in answers:
            if job.future.done():
                continue
            if isinstance(answer, AppError):
                job.future.set_exception(answer)
            else:
                job.future.set_result(answer)
        self._publish(accepted, closed, order_id)

    async def _close(self, now: float) -> None:
        before_seq = self.state.last_seq
        closed = rules.close(self.state, now)
        if closed is None:
            return
        try:
            order_id = await self._store.close(self.state, before_seq, closed, self.meta, self.fence)
        except Deposed:
            _restore_closed(self.state, before_seq)
            raise
        except StaleWriter:
            _restore_closed(self.state, before_seq)
            if await self._reload():
                return  # the loop looks at the reloaded deadline again
            raise
        except Exception:
            _restore_closed(self.state, before_seq)
            raise
        self._publish([], closed, order_id)

    def _publish(self, accepted: list[Accepted], closed: Closed | None, order_id: int | None) -> None:
        events: list[dict[str, Any]] = []
        st, aid, names = self.state, self.state.id, self.names
        ladder = st.rules.ladder
        for a in accepted:
            events.append({"type": "bid.accepted", "auction_id": aid, "auction_seq": a.seq,
                           "price": a.price, "min_next_bid": ladder.next_bid(a.price),
                           "leader": {"id": a.leader_id, "display_name": names.get(a.leader_id, "")},
                           "bidder_id": a.bidder_id, "closes_at": int(a.closes_at * 1000),
                           "outbid_id": a.outbid_id, "bid_count": a.seq,
                           "reserve_met": (None if st.rules.reserve_price is None
                                           else a.price >= st.rules.reserve_price)})
            if a.extended:
                events.append({"type": "auction.extended", "auction_id": aid, "auction_seq": a.seq,
                               "closes_at": int(a.closes_at * 1000)})
        if closed is not None:
            winner = ({"id": closed.winner_id, "display_name": names.get(closed.winner_id, "")}
                      if closed.winner_id else None)
            events.append({"type": "auction.closed", "auction_id": aid, "auction_seq": closed.seq,
                           "outcome": closed.outcome.value, "winner": winner,
                           "price": closed.final_price, "order_id": order_id,
                           "buy_now": closed.by_buy_now, "closed_at": int(closed.closed_at * 1000)})
        if events:
            try:
                self._sink(self.meta.room_id, events)
            except Exception:
                log.exception("event sink failed")


def _restarting() -> AppError:
    return AppError(503, "writer_restarting", "The auction is restarting; retry the bid.")


def _count(results, batch_size: int) -> None:
    metrics.BID_BATCH.observe(batch_size)
    for r in results:
        if r.accepted:
            metrics.BIDS.labels("accepted", "").inc()
        else:
            metrics.BIDS.labels("rejected", r.code or "").inc()


def _row(auction_id: int, job: _Job, d: Accepted | Rejected, decided_at: datetime) -> dict:
    """A `bids` row for an accepted bid, a `bid_rejections` row for a rejected one."""
    base = dict(auction_id=auction_id, bidder_id=job.bidder_id, idempotency_key=job.key,
                kind=job.kind, value=job.value, created_at=decided_at)
    if isinstance(d, Accepted):
        return base | dict(accepted=True, seq=d.seq, reject_code=None, price_after=d.price,
                           leader_after=d.leader_id, outbid_id=d.outbid_id,
                           closes_at_after=to_dt(d.closes_at))
    return base | dict(reject_code=d.code)


def _restore(state: AuctionState, before: AuctionState) -> None:
    for name in AuctionState.__slots__:  # type: ignore[attr-defined]
        setattr(state, name, getattr(before, name))


def _restore_closed(state: AuctionState, seq: int) -> None:
    state.status, state.outcome = rules.Status.RUNNING, None
    state.winner_id = state.final_price = None
    state.last_seq = seq


def _key_reused() -> AppError:
    return AppError(409, "idempotency_key_reused",
                    "This idempotency key was already used for a different bid.")
_MESSAGES = {"not_started": "Bidding on this lot has not started yet.",
             "auction_closed": "This auction has closed."}
