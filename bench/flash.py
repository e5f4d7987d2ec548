#!/usr/bin/env python
"""Flash sale: N purchase attempts by B buyers on U units, in-process through the service.

Each case runs on a fresh database (SQLite file, and a fresh PostgreSQL database): a seller,
a live room and a flash sale of U units (per-buyer limit L) are made through the services;
B buyers are inserted as rows; then C concurrent workers fire the attempts (each a random
buyer, quantity 1, a fresh idempotency key) at `container.flash.purchase(...)` — the same call
the HTTP endpoint makes — and time each answer. Afterwards the database is checked: exactly U
units sold (sale counter, order lines, buyer rows), nobody above L. The script EXITS 1 unless
every run sold exactly U units.

    .venv/bin/python bench/flash.py --quick
    .venv/bin/python bench/flash.py                       # 100,000 attempts / 10,000 buyers / 1,000 units
    .venv/bin/python bench/flash.py --runs 3 --only sqlite

The last line of stdout is the whole result as JSON; it is also written to
bench/results/flash-<UTC timestamp>.json and bench/results/flash-latest.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    calibrate,
    environment,
    fresh_pg_url,
    fresh_sqlite_url,
    latency_summary,
    migrate,
    postgres_unreachable,
    table,
    utc_stamp,
    write_results,
)


async def setup(c, buyers: int, units: int, limit: int) -> dict[str, Any]:
    from sqlalchemy import insert, select

    from bidcast.services.accounts import Principal
    from bidcast.storage.models import User, utcnow
    tag = secrets.token_hex(4)
    rows = [dict(email=f"admin-{tag}@bench.bidcast", display_name="Admin", password_hash="x",
                 roles="admin,buyer", banned=False),
            dict(email=f"seller-{tag}@bench.bidcast", display_name="Seller", password_hash="x",
                 roles="buyer", banned=False)]
    rows += [dict(email=f"b{i}-{tag}@bench.bidcast", display_name=f"Buyer {i}", password_hash="x",
                  roles="buyer", banned=False) for i in range(buyers)]
    async with c.sessions.begin() as s:
        await s.execute(insert(User), rows)
        ids = {e: i for i, e in await s.execute(select(User.id, User.email).where(
            User.email.like(f"%-{tag}@bench.bidcast")))}
    admin = Principal(ids[rows[0]["email"]], "a", "Admin", frozenset({"admin", "buyer"}), False)
    seller = await c.accounts.get(ids[rows[1]["email"]])
    shop = await c.shops.apply(seller, f"Flash shop {tag}", "bench", "s@bench.bidcast")
    await c.shops.review(admin, shop.id, True, None)
    seller = await c.accounts.get(seller.id)
    product = await c.catalog.create(seller, dict(
        title="Flash item", description="bench", category="misc", condition="new",
        sku=secrets.token_hex(6), price_amount=5_000, currency="EUR", stock=units + 10))
    room = await c.rooms.schedule(seller, "Flash room", utcnow(), None, None)
    await c.rooms.set_status(seller, room.id, "go_live")
    sale = await c.flash.launch(seller, room.id, product.id, units, 2_500, 3600, limit)
    people = [Principal(ids[r["email"]], r["email"], r["display_name"], frozenset({"buyer"}), False)
              for r in rows[2:]]
    return {"sale_id": sale.id, "buyers": people, "product_id": product.id}


async def check(c, sale_id: int, limit: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bidcast.storage.models import FlashBuyer, FlashSale, Order, OrderLine
    async with c.sessions() as s:
        sold = (await s.execute(select(FlashSale.sold).where(FlashSale.id == sale_id))).scalar()
        lines, orders = (await s.execute(select(func.sum(OrderLine.quantity), func.count(Order.id))
                                         .join(Order, Order.id == OrderLine.order_id)
                                         .where(Order.flash_sale_id == sale_id))).one()
        held, top = (await s.execute(select(func.sum(FlashBuyer.units), func.max(FlashBuyer.units))
                                     .where(FlashBuyer.sale_id == sale_id))).one()
    return {"sold_counter": sold, "order_line_units": lines or 0, "orders": orders,
            "buyer_units": held or 0, "max_per_buyer": top or 0, "limit": limit}


async def case(url: str, a: argparse.Namespace) -> dict[str, Any]:
    from bidcast import bootstrap
    from bidcast.config import Settings
    c = bootstrap.build(Settings(database_url=url, sqlite_synchronous=a.sqlite_synchronous,
                                 flash_payment_window_seconds=3600))
    await c.start()
    try:
        fx = await setup(c, a.buyers, a.units, a.limit)
        sid, people = fx["sale_id"], fx["buyers"]
        rng = random.Random(a.seed)
        plan = [people[rng.randrange(len(people))] for _ in range(a.attempts)]
        lat: list[float] = []
        codes: Counter[str] = Counter()
        got = 0
        nxt = 0
        purchase = c.flash.purchase

        async def worker() -> None:
            nonlocal nxt, got
            while nxt < len(plan):
                who = plan[nxt]
                nxt += 1
                t = time.perf_counter()
                r = await purchase(sid, who, 1, secrets.token_hex(8))
                lat.append(time.perf_counter() - t)
                if r.accepted:
                    got += r.quantity
                    codes["accepted"] += 1
                else:
                    codes[r.code or "?"] += 1
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(a.concurrency)))
        wall = time.perf_counter() - t0
        facts = await check(c, sid, a.limit)
        ok = (got == a.units == facts["sold_counter"] == facts["order_line_units"] == facts["buyer_units"]
              and facts["max_per_buyer"] <= a.limit)
        return {"attempts": len(lat), "seconds": round(wall, 3), "attempts_per_s": round(len(lat) / wall),
                "units_sold": got, "exact": ok, "answers": dict(codes), "latency": latency_summary(lat),
                "db": facts}
    finally:
        await c.close()


def run_backend(backend: str, a: argparse.Namespace) -> dict[str, Any]:
    if backend == "sqlite":
        url, drop = fresh_sqlite_url("flash")
    else:
        url, drop = fresh_pg_url("flash")
    try:
        migrate(url)
        import uvloop
        return uvloop.run(case(url, a))
    finally:
        drop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--attempts", type=int, default=100_000)
    p.add_argument("--buyers", type=int, default=10_000)
    p.add_argument("--units", type=int, default=1_000)
    p.add_argument("--limit", type=int, default=2, help="per-buyer limit")
    p.add_argument("--concurrency", type=int, default=1_000)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--only", choices=["sqlite", "postgres"])
    p.add_argument("--sqlite-synchronous", default="full")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="10,000 attempts / 1,000 buyers / 100 units, 1 run")
    a = p.parse_args(argv)
    if a.quick:
        a.attempts, a.buyers, a.units, a.concurrency, a.runs = 10_000, 1_000, 100, 200, 1
    backends = [a.only] if a.only else ["sqlite", "postgres"]
    started = utc_stamp()
    out: dict[str, Any] = {"bench": "flash", "started_at": started, "params": vars(a),
                           "calibration": calibrate(), "environment": environment(), "results": {}}
    rows, failed = [], False
    for backend in backends:
        if backend == "postgres" and (why := postgres_unreachable()):
            out["results"][backend] = {"skipped": why}
            print(f"postgres skipped: {why}", file=sys.stderr)
            continue
        runs = [run_backend(backend, a) for _ in range(a.runs)]
        failed |= not all(r["exact"] for r in runs)
        med = {"attempts_per_s": statistics.median(r["attempts_per_s"] for r in runs),
               "p50_ms": statistics.median(r["latency"]["p50_ms"] for r in runs),
               "p99_ms": statistics.median(r["latency"]["p99_ms"] for r in runs)}
        out["results"][backend] = {"median": med, "runs": runs}
        rows.append({"backend": backend, "runs": len(runs), "attempts": a.attempts,
                     "sold": "/".join(str(r["units_sold"]) for r in runs),
                     "exact": all(r["exact"] for r in runs), **med})
    print(table(rows, [("backend", "backend"), ("runs", "runs"), ("attempts", "attempts"), ("sold", "sold"),
                       ("exact", "exact"), ("attempts_per_s", "attempts/s (median)"),
                       ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms")]), file=sys.stderr)
    out["ok"] = not failed
    write_results("flash", out)
    print(json.dumps(out, default=str))
    if failed:
        print(f"FAIL: a run did not sell exactly {a.units} units", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
