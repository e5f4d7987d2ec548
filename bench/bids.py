#!/usr/bin/env python
"""Acknowledged, durable bids per second on ONE hot lot, with p50/p99 acknowledgement latency.

Three ways to take bids, each on SQLite and on PostgreSQL, each on a fresh database:

  engine  in-process: `container.engine.place(...)` -> the auction writer (queue, pure rules,
          one transaction per batch = group commit, then acknowledge).
  naive   in-process baseline: one transaction per bid that locks the auction row
          (SELECT ... FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE = the file write lock on SQLite),
          loads the state, applies `bidcast.domain.auction.place_bid`, inserts the bid row,
          updates the auction row and commits.
  http    a real `bidcast serve` process; this (separate) process POSTs
          /api/v1/auctions/{id}/bids from C concurrent bidders, one httpx.AsyncClient each.
          The lot is made through the API; the 200 bidder accounts and their API tokens are
          inserted as rows (argon2 sign-ups would take ~0.3 s each).

"Acknowledged" = the caller got a decision back (accepted or rejected); every decision is a row
that was committed before the acknowledgement (the script checks the row count afterwards).
SQLite runs with the project's default `synchronous=FULL` unless --sqlite-synchronous says otherwise.
On one hot lot most acknowledgements are `too_low` rejections: C bidders chase the same price and
only a few per group commit win; acks/s counts both, accepted/s only the winners.

    .venv/bin/python bench/bids.py --quick
    .venv/bin/python bench/bids.py --seconds 10
    .venv/bin/python bench/bids.py --only sqlite --cases engine --seconds 20 --concurrency 1024

The last line of stdout is the whole result as one JSON object; it is also written to
bench/results/bids-<UTC timestamp>.json and bench/results/bids-latest.json.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import inspect
import json
import logging
import random
import secrets
import ssl
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (TMP, ServerProcess, calibrate, cpu_seconds_of, environment,  # noqa: E402
                     fresh_pg_url, fresh_sqlite_url, host_cpu, latency_summary, migrate,
                     postgres_unreachable, proc_cpu_seconds, proc_io, table, utc_stamp,
                     wait_for_quiet, write_results)

# A fine ladder so that hundreds of thousands of accepted bids stay far below the 1e9 cap:
# one million accepted bids at the top step would still only reach ~1e7 minor units.
LADDER = [[0, 1], [10_000, 2], [100_000, 5], [1_000_000, 10]]
STARTING_PRICE = 100
LOT_SECONDS = 6 * 3600          # never closes during a run (soft close only near the end)
SOFT_CLOSE_SECONDS = 10
NO_LOGIN_HASH = "bench-user-without-password"   # provisioned users never log in with a password
CASES = ("engine", "naive", "http")
# Rejections the API answers with 403/409: acknowledged decisions, not failures.
ACK_CODES = frozenset({"too_low", "self_outbid", "max_not_higher", "own_lot", "banned",
                       "auction_closed", "not_started"})

log = logging.getLogger("bench.bids")


# ============================================================================ the crowd

@dataclass(slots=True)
class Ack:
    """What a bidder learns from an acknowledgement (the same fields a BidResult has)."""
    accepted: bool
    price: int | None
    min_next: int | None
    code: str | None


class Crowd:
    """Many distinct bidders watching one live price.

    A bidder bids exactly the next valid amount it last saw (the room's live price, or the
    `min_next` a rejection told it), or - with probability `max_share` - a secret maximum a few
    increments above it. Under contention most direct bids lose the race and come back too_low.
    """

    def __init__(self, bidder_ids: list[int], max_share: float, seed: int) -> None:
        from bidcast.domain.increments import ladder_from_list
        self.ids = bidder_ids
        self.ladder = ladder_from_list(LADDER)
        self.max_share = max_share
        self.rng = random.Random(seed)
        self.feed_min_next = STARTING_PRICE        # what the room's live display shows
        self.seen = dict.fromkeys(bidder_ids, STARTING_PRICE)
        self.kinds: Counter[str] = Counter()

    def pick(self) -> tuple[int, str, int]:
        rng = self.rng
        b = self.ids[rng.randrange(len(self.ids))]
        seen = self.seen[b]
        if self.feed_min_next > seen:
            seen = self.feed_min_next
        if rng.random() < self.max_share:
            self.kinds["max"] += 1
            return b, "max", seen + self.ladder.increment_at(seen) * rng.randint(1, 6)
        self.kinds["direct"] += 1
        return b, "direct", seen

    def observe(self, bidder: int, ack: Any) -> None:
        if ack.accepted:
            m = self.ladder.next_bid(ack.price)
            if m > self.feed_min_next:
                self.feed_min_next = m
        else:
            m = ack.min_next
        if m is not None and m > self.seen[bidder]:
            self.seen[bidder] = m


# ============================================================================ measuring

@dataclass
class Recorder:
    measuring: bool = False
    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    reject_codes: Counter = field(default_factory=Counter)
    error_codes: Counter = field(default_factory=Counter)
    total_acked: int = 0            # over the whole run, warm-up and drain included
    total_errors: int = 0
    all_error_codes: Counter = field(default_factory=Counter)
    t0: float = 0.0
    timeline: list[int] = field(default_factory=list)   # acks per whole second of the window

    def ok(self, ack: Any, seconds: float, now: float) -> None:
        self.total_acked += 1
        if self.measuring:
            self.latencies.append(seconds)
            sec = int(now - self.t0)
            tl = self.timeline
            while len(tl) <= sec:
                tl.append(0)
            tl[sec] += 1
            if ack.accepted:
                self.accepted += 1
            else:
                self.rejected += 1
                self.reject_codes[ack.code] += 1

    def failed(self, code: str) -> None:
        self.total_errors += 1
        self.all_error_codes[code] += 1
        if self.measuring:
            self.errors += 1
            self.error_codes[code] += 1


class GcWatch:
    """Time spent in the cyclic garbage collector (this process) while measuring, per generation."""

    def __init__(self) -> None:
        self.on = False
        self.t = 0.0
        self.pause = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self.longest = 0.0

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if not self.on:
            return
        if phase == "start":
            self.t = time.perf_counter()
        else:
            d = time.perf_counter() - self.t
            g = info.get("generation", 0)
            self.pause[g] += d
            self.count[g] += 1
            self.longest = max(self.longest, d)

    def start(self) -> None:
        self.on = True
        gc.callbacks.append(self._cb)

    def stop(self) -> None:
        self.on = False
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._cb)

    def summary(self) -> dict[str, Any]:
        return {"collections": self.count, "pause_ms": [round(p * 1000, 1) for p in self.pause],
                "longest_ms": round(self.longest * 1000, 1), "tracked_objects_after": len(gc.get_objects())}


PlaceFn = Callable[[int, str, int, str], Awaitable[Any]]


async def drive(place: PlaceFn, crowd: Crowd, concurrency: int, warmup: float, seconds: float,
                on_start: Callable[[], None] | None = None,
                on_stop: Callable[[], None] | None = None,
                random_keys: bool = True) -> tuple[Recorder, dict[str, Any]]:
    """C bidders in a closed loop: bid, wait for the acknowledgement, look at it, bid again."""
    rec = Recorder()
    running = [True]
    perf = time.perf_counter
    gc_watch = GcWatch()

    async def bidder_loop(w: int) -> None:
        n = 0
        pick, observe, ok = crowd.pick, crowd.observe, rec.ok
        bits = random.Random(w).getrandbits
        while running[0]:
            b, kind, value = pick()
            # Real clients send uuid4().hex (web app, `bidcast simulate`); "sequential" keys are
            # for seeing what random keys cost the idempotency index.
            key = f"{bits(128):032x}" if random_keys else f"{n:012d}-{w:05d}"
            n += 1
            t0 = perf()
            try:
                ack = await place(b, kind, value, key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001
                rec.failed(getattr(e, "code", None) or type(e).__name__)
                await asyncio.sleep(0.001)
                continue
            t1 = perf()
            ok(ack, t1 - t0, t1)
            observe(b, ack)

    tasks = [asyncio.create_task(bidder_loop(w)) for w in range(concurrency)]
    try:
        await asyncio.sleep(warmup)
        gc.collect()
        if on_start:
            on_start()
        pg0, host0, cpu0, t0 = cpu_seconds_of("postgres"), host_cpu(), time.process_time(), perf()
        gc_watch.start()
        io0 = proc_io()
        rec.t0 = t0
        rec.measuring = True
        await asyncio.sleep(seconds)
        rec.measuring = False
        gc_watch.stop()
        elapsed, cpu, host1 = perf() - t0, time.process_time() - cpu0, host_cpu()
        io1 = proc_io()
        pg_cpu = cpu_seconds_of("postgres") - pg0
        if on_stop:
            on_stop()
        running[0] = False
        drain0 = perf()
        done, pending = await asyncio.wait(tasks, timeout=120)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                raise t.exception()
    finally:
        running[0] = False
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    timing = {"elapsed_s": elapsed, "bench_process_cpu_s": cpu, "drain_s": perf() - drain0,
              "postgres_cpu_s": pg_cpu, "gc": gc_watch.summary(), "timeline": rec.timeline,
              "io": {k: io1.get(k, 0) - io0.get(k, 0) for k in ("wchar", "write_bytes", "syscw")}}
    if host0 and host1:
        timing["host_busy_cpu_s"] = host1[0] - host0[0]
        timing["host_steal_cpu_s"] = host1[1] - host0[1]
    return rec, timing


def summarize(rec: Recorder, timing: dict[str, Any]) -> dict[str, Any]:
    el = timing["elapsed_s"]
    acks = rec.accepted + rec.rejected
    return {
        "acks_per_s": round(acks / el, 1), "accepted_per_s": round(rec.accepted / el, 1),
        "rejected_per_s": round(rec.rejected / el, 1), "errors_per_s": round(rec.errors / el, 1),
        "window_s": round(el, 3), "acks": acks, "accepted": rec.accepted, "rejected": rec.rejected,
        "errors": rec.errors, "reject_codes": dict(rec.reject_codes.most_common()),
        "error_codes": dict(rec.error_codes.most_common()),
        "latency": latency_summary(rec.latencies),
        "bench_process_cpu_pct": round(100 * timing["bench_process_cpu_s"] / el, 1),
        "drain_s": round(timing["drain_s"], 3),
        # In % of one core; "other" = everything on the host that is not the benchmark process
        # (the HTTP case subtracts the server too, below).
        "host_busy_cpu_pct": _pct(timing.get("host_busy_cpu_s"), el),
        "host_steal_cpu_pct": _pct(timing.get("host_steal_cpu_s"), el),
        "postgres_server_cpu_pct": _pct(timing["postgres_cpu_s"], el),
        "other_processes_cpu_pct": _pct(None if timing.get("host_busy_cpu_s") is None
                                        else timing["host_busy_cpu_s"] - timing["bench_process_cpu_s"]
                                        - timing["postgres_cpu_s"], el),
        "gc_in_bench_process": timing["gc"],
        # Bytes the benchmark process wrote during the window (SQLite's WAL + checkpoints in the
        # in-process cases); per acknowledged bid it shows the write amplification.
        "bench_process_io": timing["io"] | {"wchar_per_ack": round(timing["io"]["wchar"] / max(1, acks))},
        "acks_per_second_of_window": timing["timeline"][:int(el)],
        "total_acked_incl_warmup": rec.total_acked, "total_errors_incl_warmup": rec.total_errors,
        "error_codes_incl_warmup": dict(rec.all_error_codes.most_common()),
    }


def _pct(seconds: float | None, window: float) -> float | None:
    return None if seconds is None else round(100 * seconds / window, 1)


# ============================================================================ fixtures

async def provision_users(sessions, n_bidders: int, *, tokens: bool) -> dict[str, Any]:  # noqa: ANN001
    """Admin, seller and bidders as rows (argon2-hashing 200 passwords would dominate set-up).

    With tokens=True each admin/bidder also gets an API bearer token, stored hashed, exactly as
    `Accounts.login(kind="api")` would store it.
    """
    from sqlalchemy import insert, select

    from bidcast.services.accounts import hash_token
    from bidcast.storage.models import AuthToken, User, utcnow
    tag = secrets.token_hex(4)
    rows = [dict(email=f"admin-{tag}@bench.bidcast", display_name="Bench admin",
                 password_hash=NO_LOGIN_HASH, roles="admin,buyer", banned=False),
            dict(email=f"seller-{tag}@bench.bidcast", display_name="Bench seller",
                 password_hash=NO_LOGIN_HASH, roles="buyer", banned=False)]
    rows += [dict(email=f"bidder{i}-{tag}@bench.bidcast", display_name=f"Bidder {i}",
                  password_hash=NO_LOGIN_HASH, roles="buyer", banned=False) for i in range(n_bidders)]
    async with sessions.begin() as s:
        await s.execute(insert(User), rows)
        ids = {e: i for i, e in (await s.execute(
            select(User.id, User.email).where(User.email.like(f"%-{tag}@bench.bidcast"))))}
        admin_id, seller_id = ids[rows[0]["email"]], ids[rows[1]["email"]]
        bidder_ids = [ids[r["email"]] for r in rows[2:]]
        out: dict[str, Any] = {"admin_id": admin_id, "seller_id": seller_id, "bidder_ids": bidder_ids}
        if tokens:
            toks = {uid: secrets.token_urlsafe(32) for uid in [admin_id, *bidder_ids]}
            exp = utcnow() + timedelta(days=1)
            await s.execute(insert(AuthToken), [dict(user_id=uid, token_hash=hash_token(t), kind="api",
                                                     expires_at=exp) for uid, t in toks.items()])
            out["tokens"] = toks
    return out


async def service_lot(c, n_bidders: int) -> dict[str, Any]:  # noqa: ANN001
    """Shop, product, live room and a started lot, through the services."""
    from bidcast.services.accounts import Principal
    from bidcast.services.rooms import LotSettings
    from bidcast.storage.models import utcnow
    people = await provision_users(c.sessions, n_bidders, tokens=False)
    admin = Principal(people["admin_id"], "admin@bench", "Bench admin", frozenset({"admin", "buyer"}), False)
    seller = await c.accounts.get(people["seller_id"])
    shop = await c.shops.apply(seller, f"Bench shop {secrets.token_hex(3)}", "bench", "seller@bench.bidcast")
    await c.shops.review(admin, shop.id, True, None)
    seller = await c.accounts.get(people["seller_id"])
    product = await c.catalog.create(seller, dict(
        title="Hot lot", description="bench", category="misc", condition="new",
        sku=secrets.token_hex(6), price_amount=10_000, currency="EUR", stock=5))
    room = await c.rooms.schedule(seller, "Bench room", utcnow(), None, None)
    await c.rooms.set_status(seller, room.id, "go_live")
    await c.rooms.add_lot(seller, room.id, LotSettings(
        product_id=product.id, starting_price=STARTING_PRICE, duration_seconds=LOT_SECONDS,
        soft_close_seconds=SOFT_CLOSE_SECONDS, increments=LADDER))
    auction = await c.rooms.start_next(seller, room.id)
    return people | {"auction_id": auction.id}


async def db_facts(sessions, auction_id: int) -> dict[str, Any]:  # noqa: ANN001
    from sqlalchemy import func, select

    from bidcast.storage.models import Auction, Bid, BidRejection
    async with sessions() as s:
        accepted = (await s.execute(select(func.count()).select_from(Bid)
                                    .where(Bid.auction_id == auction_id))).scalar_one()
        rejected = (await s.execute(select(func.count()).select_from(BidRejection)
                                    .where(BidRejection.auction_id == auction_id))).scalar_one()
        rows = accepted + rejected
        a = await s.get(Auction, auction_id)
        assert a is not None
        return {"bid_rows": rows, "accepted_rows": accepted, "price": a.price, "last_seq": a.last_seq,
                "status": a.status, "closes_in_s": round(a.closes_at.timestamp() - time.time(), 1)}


async def database_settings(c) -> dict[str, Any]:  # noqa: ANN001
    """What durability the database actually runs with (read back, not assumed)."""
    from sqlalchemy import text
    out: dict[str, Any] = {}
    async with c.db.connect() as conn:
        if c.db.dialect.name == "sqlite":
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar()
            out["sqlite_synchronous"] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, sync)
            out["sqlite_journal_mode"] = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        else:
            for name in ("server_version", "synchronous_commit", "fsync", "wal_sync_method",
                         "commit_delay", "shared_buffers"):
                out[f"pg_{name}"] = (await conn.execute(text(f"SHOW {name}"))).scalar()
    out["pool"] = c.db.pool.status()
    return out


def instrument_store(store) -> dict[str, Any]:  # noqa: ANN001
    """Wrap the writer's AuctionStore.save_batch (on this one instance) to see the group commits."""
    stats: dict[str, Any] = {"measuring": False, "sizes": [], "seconds": []}
    original = store.save_batch
    perf = time.perf_counter

    async def save_batch(state, expected_seq, rows, meta, closed=None, rejections=None):  # noqa: ANN001, ANN202
        t0 = perf()
        try:
            return await original(state, expected_seq, rows, meta, closed, rejections)
        finally:
            if stats["measuring"]:
                stats["sizes"].append(len(rows) + len(rejections or ()))
                stats["seconds"].append(perf() - t0)
    store.save_batch = save_batch
    return stats


def batch_summary(stats: dict[str, Any], window: float) -> dict[str, Any]:
    sizes = stats["sizes"]
    if not sizes:
        return {"batches": 0}
    s = sorted(sizes)
    return {"batches": len(sizes), "batches_per_s": round(len(sizes) / window, 1),
            "mean_size": round(sum(sizes) / len(sizes), 1), "p50_size": s[len(s) // 2],
            "max_size": s[-1], "commit_time": latency_summary(stats["seconds"]),
            "commit_busy_pct": round(100 * sum(stats["seconds"]) / window, 1)}


# ============================================================================ cases

def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_in_loop(kind: str, coro) -> Any:  # noqa: ANN001
    loop = new_loop(kind)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def started(c):  # noqa: ANN001, ANN201
    """Start the container's background parts (broker, hubs) as the app's lifespan does, if any."""
    start = getattr(c, "start", None)
    if start is not None:
        await start()
    return c


async def case_engine(url: str, a: argparse.Namespace, C: int) -> dict[str, Any]:
    from bidcast import bootstrap
    from bidcast.config import Settings
    c = await started(bootstrap.build(Settings(database_url=url, sqlite_synchronous=a.sqlite_synchronous,
                                               bid_batch_max=a.batch_max)))
    try:
        fx = await service_lot(c, a.bidders)
        aid = fx["auction_id"]
        stats = instrument_store(c.engine._store)  # the writer's store (instance attribute only)
        engine_place = c.engine.place
        names = {b: f"Bidder {i}" for i, b in enumerate(fx["bidder_ids"])}
        if "name" in inspect.signature(engine_place).parameters:
            # The HTTP path passes the bidder's display name (for the room's events); so do we.
            async def place(b: int, kind: str, value: int, key: str) -> Any:
                return await engine_place(aid, b, kind, value, key, False, names[b])
        else:
            async def place(b: int, kind: str, value: int, key: str) -> Any:
                return await engine_place(aid, b, kind, value, key)

        crowd = Crowd(fx["bidder_ids"], a.max_share, a.seed)
        rec, timing = await drive(place, crowd, C, a.warmup, a.seconds,
                                  on_start=lambda: stats.__setitem__("measuring", True),
                                  on_stop=lambda: stats.__setitem__("measuring", False),
                                  random_keys=a.keys == "random")
        out = summarize(rec, timing)
        out["group_commit"] = batch_summary(stats, timing["elapsed_s"])
        out["batch_max"] = c.settings.bid_batch_max
        out["database"] = await database_settings(c)
        out["check"] = await durability_check(c.sessions, aid, rec)
        out["bid_mix"] = dict(crowd.kinds)
        return out
    finally:
        await c.close()


async def case_naive(url: str, a: argparse.Namespace, C: int) -> dict[str, Any]:
    from sqlalchemy import insert, select, update

    from bidcast import bootstrap
    from bidcast.config import Settings
    from bidcast.domain import auction as rules
    from bidcast.domain.auction import Accepted, BidKind, BidRequest
    from bidcast.services.bid_results import result_of
    from bidcast.storage.auction_store import state_of, to_dt
    from bidcast.storage.models import Auction, Bid
    c = await started(bootstrap.build(Settings(database_url=url, sqlite_synchronous=a.sqlite_synchronous)))
    try:
        fx = await service_lot(c, a.bidders)
        aid = fx["auction_id"]
        await c.engine.stop()   # the lot is RUNNING in the database; no writer owns it any more
        sessions = c.sessions
        lock = select(Auction).where(Auction.id == aid).with_for_update()  # SQLite: BEGIN IMMEDIATE

        async def place(b: int, kind: str, value: int, key: str) -> Any:
            async with sessions.begin() as s:
                row = (await s.execute(lock)).scalar_one()
                state = state_of(row)
                now = time.time()
                d = rules.place_bid(state, BidRequest(b, BidKind(kind), value), now)
                bid = dict(auction_id=aid, bidder_id=b, idempotency_key=key, kind=kind, value=value,
                           created_at=to_dt(now))
                if isinstance(d, Accepted):
                    bid |= dict(accepted=True, seq=d.seq, price_after=d.price, leader_after=d.leader_id,
                                outbid_id=d.outbid_id, closes_at_after=to_dt(d.closes_at))
                    await s.execute(insert(Bid).values(**bid))
                    await s.execute(update(Auction).where(Auction.id == aid).values(
                        price=state.price, leader_id=state.leader_id, leader_max=state.leader_max,
                        last_seq=state.last_seq, bid_count=state.bid_count,
                        closes_at=to_dt(state.closes_at)))
                else:
                    bid |= dict(accepted=False, reject_code=d.code)
                    await s.execute(insert(Bid).values(**bid))
            return result_of(aid, kind, value, d)

        crowd = Crowd(fx["bidder_ids"], a.max_share, a.seed)
        rec, timing = await drive(place, crowd, C, a.warmup, a.seconds, random_keys=a.keys == "random")
        out = summarize(rec, timing)
        out["database"] = await database_settings(c)
        out["check"] = await durability_check(c.sessions, aid, rec)
        out["bid_mix"] = dict(crowd.kinds)
        return out
    finally:
        await c.close()


async def durability_check(sessions, aid: int, rec: Recorder) -> dict[str, Any]:  # noqa: ANN001
    facts = await db_facts(sessions, aid)
    facts["acked_total"] = rec.total_acked
    # Every acknowledgement must be a committed row; a row without an ack is allowed only for a
    # request that errored on the client side after the commit (HTTP).
    facts["every_ack_is_a_row"] = facts["bid_rows"] >= rec.total_acked
    facts["price_below_cap"] = (facts["price"] or 0) < 1_000_000_000
    facts["lot_still_running"] = facts["status"] == "running"
    return facts


def case_http(url: str, a: argparse.Namespace, C: int, workdir: Path) -> dict[str, Any]:
    import httpx

    from bidcast.storage.db import create_engine, session_factory

    async def provision() -> dict[str, Any]:
        eng = create_engine(url)
        try:
            return await provision_users(session_factory(eng), a.bidders, tokens=True)
        finally:
            await eng.dispose()
    people = run_in_loop("asyncio", provision())
    extra = {"BIDCAST_SQLITE_SYNCHRONOUS": a.sqlite_synchronous, "BIDCAST_BID_BATCH_MAX": str(a.batch_max)}
    server = ServerProcess(url, workdir, extra_env=extra).start()
    try:
        aid = http_lot(server.url, people)
        bearer = {uid: {"Authorization": f"Bearer {t}"} for uid, t in people["tokens"].items()}

        async def run() -> dict[str, Any]:
            # One AsyncClient (one keep-alive connection) per concurrent bidder: a single shared
            # client's pool costs O(connections) per request in httpcore and starves the client
            # long before the server at C in the hundreds. One SSL context for all (plain HTTP).
            ctx = ssl.create_default_context()
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            clients = [httpx.AsyncClient(base_url=server.url, limits=limits, verify=ctx,
                                         timeout=httpx.Timeout(60.0)) for _ in range(C)]
            free = list(clients)
            path = f"/api/v1/auctions/{aid}/bids"
            try:
                async def place(b: int, kind: str, value: int, key: str) -> Ack:
                    body = ({"amount": value, "idempotency_key": key} if kind == "direct"
                            else {"max_amount": value, "idempotency_key": key})
                    client = free.pop()
                    try:
                        r = await client.post(path, json=body, headers=bearer[b])
                    finally:
                        free.append(client)
                    if r.status_code in (200, 201):
                        return Ack(True, r.json()["price"], None, None)
                    if r.status_code in (403, 409):
                        err = r.json().get("error", {})
                        if err.get("code") in ACK_CODES:
                            return Ack(False, None, err.get("min_next_bid"), err["code"])
                    raise HttpFailure(f"http_{r.status_code}")

                crowd = Crowd(people["bidder_ids"], a.max_share, a.seed)
                cpu: dict[str, float | None] = {}
                pid = server.proc.pid  # type: ignore[union-attr]
                rec, timing = await drive(
                    place, crowd, C, a.http_warmup, a.seconds,
                    on_start=lambda: cpu.__setitem__("s0", proc_cpu_seconds(pid)),
                    on_stop=lambda: cpu.__setitem__("s1", proc_cpu_seconds(pid)),
                    random_keys=a.keys == "random")
            finally:
                await asyncio.gather(*(cl.aclose() for cl in clients), return_exceptions=True)
            out = summarize(rec, timing)
            if cpu.get("s0") is not None and cpu.get("s1") is not None:
                out["server_process_cpu_pct"] = round(
                    100 * (cpu["s1"] - cpu["s0"]) / timing["elapsed_s"], 1)  # type: ignore[operator]
                if out.get("other_processes_cpu_pct") is not None:
                    out["other_processes_cpu_pct"] = round(
                        out["other_processes_cpu_pct"] - out["server_process_cpu_pct"], 1)
            out["bid_mix"] = dict(crowd.kinds)
            out["client"] = "one httpx.AsyncClient (HTTP/1.1 keep-alive) per concurrent bidder"
            return out, rec  # type: ignore[return-value]
        out, rec = run_in_loop(a.loop, run())

        async def check() -> dict[str, Any]:
            eng = create_engine(url)
            try:
                return await durability_check(session_factory(eng), aid, rec)
            finally:
                await eng.dispose()
        out["check"] = run_in_loop("asyncio", check())
        out["server"] = {"url": server.url, "log": str(server.log_path)}
        return out
    finally:
        server.stop()


class HttpFailure(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def http_lot(base_url: str, people: dict[str, Any]) -> int:
    """The lot through the public API: seller signs up, shop approved, product, room, lot, start."""
    import httpx
    tag = secrets.token_hex(4)
    admin = {"Authorization": f"Bearer {people['tokens'][people['admin_id']]}"}
    with httpx.Client(base_url=base_url, timeout=30) as h:
        def call(method: str, path: str, expect: int, **kw: Any) -> dict:
            r = h.request(method, path, **kw)
            if r.status_code != expect:
                raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text}")
            return r.json()
        email, password = f"hot-seller-{tag}@bench.bidcast", "correct horse battery"
        call("POST", "/api/v1/auth/register", 201, json={
            "email": email, "password": password, "display_name": "Hot seller", "roles": ["buyer"]})
        token = call("POST", "/api/v1/auth/login", 200, json={"email": email, "password": password})["token"]
        seller = {"Authorization": f"Bearer {token}"}
        shop = call("POST", "/api/v1/shops", 201, headers=seller, json={
            "name": f"Hot shop {tag}", "description": "bench", "contact_email": email})["shop"]
        call("POST", f"/api/v1/admin/shops/{shop['id']}/review", 200, headers=admin, json={"approve": True})
        product = call("POST", "/api/v1/products", 201, headers=seller, json={
            "title": "Hot lot", "category": "misc", "sku": tag, "price_amount": 10_000,
            "currency": "EUR", "stock": 5})["product"]
        room = call("POST", "/api/v1/rooms", 201, headers=seller, json={
            "title": "Bench room", "scheduled_at": "2030-01-01T10:00:00Z"})["room"]
        call("POST", f"/api/v1/rooms/{room['id']}/go-live", 200, headers=seller)
        call("POST", f"/api/v1/rooms/{room['id']}/lots", 201, headers=seller, json={
            "product_id": product["id"], "starting_price": STARTING_PRICE,
            "duration_seconds": LOT_SECONDS, "soft_close_seconds": SOFT_CLOSE_SECONDS,
            "increments": LADDER})
        lot = call("POST", f"/api/v1/rooms/{room['id']}/lots/start-next", 200, headers=seller, json={})["lot"]
        assert lot["status"] == "running", lot
        return int(lot["id"])


# ============================================================================ orchestration

def run_case(backend: str, case: str, a: argparse.Namespace, C: int) -> dict[str, Any]:
    label = f"{case}_{backend[:2]}"
    url, cleanup = fresh_sqlite_url(label) if backend == "sqlite" else fresh_pg_url(label)
    t0 = time.perf_counter()
    try:
        migrate(url)
        if case == "engine":
            out = run_in_loop(a.loop, case_engine(url, a, C))
        elif case == "naive":
            out = run_in_loop(a.loop, case_naive(url, a, C))
        else:
            out = case_http(url, a, C, TMP / f"server-{backend}")
    finally:
        cleanup()
    out["case_wall_s"] = round(time.perf_counter() - t0, 2)
    return {"backend": backend, "case": case, "concurrency": C,
            "database_url": url if backend == "sqlite" else url.rsplit("/", 1)[-1] + " (dropped)"} | out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short runs: the whole script in <= 30 s")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per case (default 10; quick 1.2)")
    p.add_argument("--warmup", type=float, default=None, help="unmeasured seconds first (default 2; quick 0.4)")
    p.add_argument("--concurrency", default="512",
                   help="concurrent bidders C; a comma list runs every case at each C (default 512)")
    p.add_argument("--bidders", type=int, default=200, help="distinct bidder accounts (default 200)")
    p.add_argument("--max-share", type=float, default=0.25, help="share of max (proxy) bids (default 0.25)")
    p.add_argument("--only", choices=("sqlite", "postgres"), help="one database kind only")
    p.add_argument("--cases", default=",".join(CASES), help=f"subset of {','.join(CASES)}")
    p.add_argument("--skip-http", action="store_true", help="no server process / HTTP case")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                   help="event loop for the in-process cases and the HTTP client (uvicorn uses uvloop)")
    p.add_argument("--sqlite-synchronous", choices=("full", "normal"), default="full",
                   help="SQLite durability (default full = fsync per commit, the project default)")
    p.add_argument("--batch-max", type=int, default=None, help="engine batch cap (default: Settings)")
    p.add_argument("--http-warmup", type=float, default=None,
                   help="warm-up for the HTTP case: C new connections and a cold token cache "
                        "(default: max(warmup, 2); quick 1.5)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="before each case, wait up to SECONDS for the host to be idle (< 25%% of a "
                        "core busy); for shared machines (default 0 = do not wait)")
    p.add_argument("--keys", choices=("random", "sequential"), default="random",
                   help="idempotency keys: random 128-bit hex like the clients' uuid4().hex "
                        "(default), or per-bidder increasing (to see the index cost of random keys)")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    if a.seconds is None:
        a.seconds = 1.2 if a.quick else 10.0
    if a.warmup is None:
        a.warmup = 0.4 if a.quick else 2.0
    if a.http_warmup is None:
        a.http_warmup = 1.5 if a.quick else max(a.warmup, 2.0)
    if a.batch_max is None:
        from bidcast.config import Settings
        a.batch_max = Settings.model_fields["bid_batch_max"].default
    a.concurrencies = [int(x) for x in str(a.concurrency).split(",") if x.strip()]
    a.case_list = [x.strip() for x in a.cases.split(",") if x.strip()]
    bad = set(a.case_list) - set(CASES)
    if bad:
        p.error(f"unknown case(s): {', '.join(sorted(bad))}")
    if a.skip_http:
        a.case_list = [x for x in a.case_list if x != "http"]
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    started = utc_stamp()
    t_start = time.perf_counter()
    backends = ["sqlite", "postgres"] if a.only is None else [a.only]
    skipped: dict[str, str] = {}
    if "postgres" in backends:
        reason = postgres_unreachable()
        if reason:
            print(f"skipping PostgreSQL: {reason}", flush=True)
            skipped["postgres"] = reason
            backends.remove("postgres")

    results: list[dict[str, Any]] = []
    for backend in backends:
        for C in a.concurrencies:
            for case in a.case_list:
                print(f"[{time.perf_counter() - t_start:6.1f}s] {backend:8} {case:6} C={C} ...",
                      end=" ", flush=True)
                quiet = wait_for_quiet(a.wait_quiet) if a.wait_quiet > 0 else None
                cal = calibrate()
                try:
                    r = run_case(backend, case, a, C)
                    r["calibration_before"] = cal
                    if quiet is not None:
                        r["quiet_wait"] = quiet
                    print(f"{r['acks_per_s']:,.0f} acks/s  p50 {r['latency'].get('p50_ms')} ms  "
                          f"p99 {r['latency'].get('p99_ms')} ms", flush=True)
                except Exception as e:  # noqa: BLE001
                    log.exception("case failed")
                    r = {"backend": backend, "case": case, "concurrency": C,
                         "failed": f"{type(e).__name__}: {e}"}
                    print(f"FAILED: {r['failed']}", flush=True)
                results.append(r)

    ratios = []
    for backend in backends:
        for C in a.concurrencies:
            by = {r["case"]: r for r in results if r["backend"] == backend and r["concurrency"] == C
                  and "failed" not in r}
            if "engine" in by and "naive" in by and by["naive"]["acks_per_s"] > 0:
                ratios.append({"backend": backend, "concurrency": C,
                               "engine_over_naive": round(by["engine"]["acks_per_s"] / by["naive"]["acks_per_s"], 2)})

    engine_sqlite = [r for r in results if r["backend"] == "sqlite" and r["case"] == "engine" and "failed" not in r]
    targets = {
        "engine_sqlite_acks_per_s_ge_20000": (max(r["acks_per_s"] for r in engine_sqlite) >= 20_000
                                              if engine_sqlite else None),
        "engine_over_naive_ge_5x": ({f"{x['backend']}@C={x['concurrency']}": x["engine_over_naive"] >= 5
                                     for x in ratios} or None),
    }
    payload = {
        "benchmark": "bids", "started_at": started,
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "what": "acknowledged durable bids per second on one hot lot; latency = call -> decision",
        "config": {"quick": a.quick, "seconds": a.seconds, "warmup": a.warmup,
                   "http_warmup": a.http_warmup, "wait_quiet": a.wait_quiet, "keys": a.keys,
                   "concurrency": a.concurrencies, "bidders": a.bidders, "max_share": a.max_share,
                   "cases": a.case_list, "loop": a.loop, "sqlite_synchronous": a.sqlite_synchronous,
                   "batch_max": a.batch_max, "ladder": LADDER, "starting_price": STARTING_PRICE,
                   "lot_seconds": LOT_SECONDS, "seed": a.seed, "argv": sys.argv[1:]},
        "environment": environment(),
        "skipped": skipped,
        "results": results,
        "ratios": ratios,
        "targets": targets,
    }
    # The database settings as read back from the first case of each backend.
    for r in results:
        if "database" in r:
            payload["environment"].setdefault("database", {}).setdefault(r["backend"], {
                k: v for k, v in r["database"].items() if k != "pool"})

    rows = []
    for r in results:
        if "failed" in r:
            rows.append({"db": r["backend"], "case": r["case"], "C": r["concurrency"], "note": r["failed"][:60]})
            continue
        lat = r["latency"]
        gc_ = r.get("group_commit", {})
        cpu = f"{r['bench_process_cpu_pct']:.0f}%"
        if "server_process_cpu_pct" in r:
            cpu += f" / srv {r['server_process_cpu_pct']:.0f}%"
        if r["backend"] == "postgres":
            cpu += f" / pg {r['postgres_server_cpu_pct']:.0f}%"
        rows.append({"db": r["backend"], "case": r["case"], "C": r["concurrency"],
                     "acks/s": r["acks_per_s"], "accepted/s": r["accepted_per_s"],
                     "rejected/s": r["rejected_per_s"], "p50 ms": lat.get("p50_ms"),
                     "p99 ms": lat.get("p99_ms"), "errors": r["errors"],
                     "batch": gc_.get("mean_size"), "cpu": cpu,
                     "other": None if r.get("other_processes_cpu_pct") is None
                     else f"{max(0.0, r['other_processes_cpu_pct']):.0f}%",
                     "durable": "ok" if r["check"]["every_ack_is_a_row"] else "MISSING ROWS"})
    cols = [("db", "db"), ("case", "case"), ("C", "C"), ("acks/s", "acks/s"),
            ("accepted/s", "accepted/s"), ("rejected/s", "rejected/s"), ("p50 ms", "p50 ms"),
            ("p99 ms", "p99 ms"), ("errors", "errors"), ("batch", "mean batch"), ("cpu", "cpu% bench/server/pg"),
            ("other", "other procs"),
            ("durable", "rows>=acks"), ("note", "note")]
    print()
    print(table(rows, cols))
    for x in ratios:
        print(f"engine / naive on {x['backend']} at C={x['concurrency']}: {x['engine_over_naive']:.1f}x")
    for k, v in targets.items():
        print(f"target {k}: {v}")
    busy = [r for r in results if (r.get("other_processes_cpu_pct") or 0) > 20]
    if busy:
        worst = max(r["other_processes_cpu_pct"] for r in busy)
        print(f"WARNING: other processes on this host used up to {worst:.0f}% of a core during "
              f"{len(busy)} of {len(results)} measured windows; figures are not from a quiet machine.")
        payload["warnings"] = [f"other processes used up to {worst:.0f}% of a core during "
                               f"{len(busy)} of {len(results)} windows"]
    sync = payload["environment"].get("database", {}).get("sqlite", {}).get("sqlite_synchronous")
    print(f"sqlite synchronous={sync}; cpus={payload['environment']['cpu_count']}; "
          f"python {payload['environment']['python']}; loop={a.loop}")
    stamped, latest = write_results("bids", payload)
    print(f"wrote {stamped.relative_to(Path.cwd()) if stamped.is_relative_to(Path.cwd()) else stamped} "
          f"and {latest.name}")
    print(json.dumps(payload, separators=(",", ":"), default=str))
    return 0 if all("failed" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
