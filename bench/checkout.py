#!/usr/bin/env python
"""Shop checkout over HTTP: orders/s and p50/p99, on SQLite and on PostgreSQL.

A real `bidcast serve` process per database; this process runs C concurrent buyers, each with its
own keep-alive connection, each looping over the whole purchase a person makes:

    POST /api/v1/cart/lines  (a product of shop A)
    POST /api/v1/cart/lines  (a product of shop B)
    POST /api/v1/checkout    (Idempotency-Key; the cart becomes two orders, one per shop, stock reserved)
    POST /api/v1/checkouts/{id}/pay  (sandbox card; authorize + capture + ledger, per order)

orders/s counts paid orders (two per purchase). Latencies: the whole purchase, and the checkout
and pay requests alone. Buyers, their API tokens, shops and products are inserted as rows
(argon2 sign-ups would dominate set-up); addresses go through the API. Afterwards the script
checks that every unit that left stock is in exactly one order line (it fails otherwise).

    .venv/bin/python bench/checkout.py --quick
    .venv/bin/python bench/checkout.py --seconds 20 --concurrency 32 --only postgres

Writes bench/results/checkout-<UTC timestamp>.json and bench/results/checkout-latest.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    TMP,
    ServerProcess,
    environment,
    fresh_pg_url,
    fresh_sqlite_url,
    latency_summary,
    migrate,
    postgres_unreachable,
    proc_cpu_seconds,
    table,
    utc_stamp,
    write_results,
)

CARD = "4242424242424242"
STOCK = 1_000_000
ADDRESS = {"name": "Bench Buyer", "line1": "1 Load Street", "city": "Berlin", "postal_code": "10115",
           "country": "DE", "phone": "+49 30 123456"}


async def provision(url: str, buyers: int, shops: int) -> dict[str, Any]:
    """Sellers with approved shops and products, buyers with API tokens, as rows."""
    from sqlalchemy import insert, select

    from bidcast.services.accounts import hash_token
    from bidcast.storage.db import create_engine, session_factory
    from bidcast.storage.models import AuthToken, Product, Shop, User, utcnow
    tag = secrets.token_hex(4)
    eng = create_engine(url)
    try:
        sessions = session_factory(eng)
        async with sessions.begin() as s:
            def person(kind: str, i: int, roles: str) -> dict:
                return dict(email=f"{kind}{i}-{tag}@bench.bidcast", display_name=f"{kind} {i}",
                            password_hash="bench-no-login", roles=roles, banned=False)
            await s.execute(insert(User), [person("seller", i, "buyer,host,seller") for i in range(shops)]
                            + [person("buyer", i, "buyer") for i in range(buyers)])
            ids = {e: i for i, e in await s.execute(select(User.id, User.email).where(
                User.email.like(f"%-{tag}@bench.bidcast")))}
            seller_ids = [ids[f"seller{i}-{tag}@bench.bidcast"] for i in range(shops)]
            buyer_ids = [ids[f"buyer{i}-{tag}@bench.bidcast"] for i in range(buyers)]
            await s.execute(insert(Shop), [dict(owner_id=u, name=f"Bench shop {i} {tag}", description="",
                                                contact_email="s@bench.bidcast", status="approved")
                                           for i, u in enumerate(seller_ids)])
            shop_ids = [i for (i,) in await s.execute(select(Shop.id).where(Shop.owner_id.in_(seller_ids))
                                                      .order_by(Shop.id))]
            await s.execute(insert(Product), [dict(
                shop_id=sid, title=f"Bench item {n}", description="", image_urls=[], category="misc",
                condition="new", sku=f"{tag}-{n}", price_amount=1000 + 250 * n, currency="EUR",
                stock=STOCK, status="active") for sid in shop_ids for n in range(3)])
            products = {sid: [] for sid in shop_ids}
            for pid, sid in await s.execute(select(Product.id, Product.shop_id).where(Product.shop_id.in_(shop_ids))):
                products[sid].append(pid)
            tokens = {uid: secrets.token_urlsafe(32) for uid in buyer_ids}
            exp = utcnow() + timedelta(days=1)
            await s.execute(insert(AuthToken), [dict(user_id=u, token_hash=hash_token(t), kind="api",
                                                     expires_at=exp) for u, t in tokens.items()])
    finally:
        await eng.dispose()
    return {"tokens": list(tokens.values()), "products": list(products.values())}


async def stock_check(url: str) -> dict[str, Any]:
    """Units that left stock == units in order lines, and every order of the run paid or open."""
    from sqlalchemy import func, select

    from bidcast.storage.db import create_engine, session_factory
    from bidcast.storage.models import Order, OrderLine, Product
    eng = create_engine(url)
    try:
        async with session_factory(eng)() as s:
            products, left = (await s.execute(select(func.count(), func.sum(Product.stock)))).one()
            sold = (await s.execute(select(func.coalesce(func.sum(OrderLine.quantity), 0)))).scalar_one()
            by_status = dict((await s.execute(select(Order.status, func.count()).group_by(Order.status))).all())
    finally:
        await eng.dispose()
    taken = products * STOCK - int(left)
    return {"units_taken_from_stock": taken, "units_in_order_lines": int(sold),
            "orders_by_status": by_status, "ok": taken == int(sold)}


async def drive(base_url: str, people: dict[str, Any], C: int, warmup: float, seconds: float) -> dict[str, Any]:
    import httpx
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {t}"}) for t in people["tokens"][:C]]
    for c in clients:
        r = await c.post("/api/v1/me/addresses", json=ADDRESS)
        assert r.status_code in (200, 201), r.text
    shops = people["products"]
    measuring, stop = False, False
    flows: list[float] = []
    checkout_lat: list[float] = []
    pay_lat: list[float] = []
    errors: dict[str, int] = {}
    orders = 0

    async def buyer(i: int, client: httpx.AsyncClient) -> None:
        nonlocal orders
        n = i
        while not stop:
            n += 1
            a, b = shops[n % len(shops)], shops[(n + 1) % len(shops)]
            t0 = time.perf_counter()
            try:
                for pid in (a[n % len(a)], b[n % len(b)]):
                    r = await client.post("/api/v1/cart/lines", json={"product_id": pid, "quantity": 1})
                    r.raise_for_status()
                t1 = time.perf_counter()
                r = await client.post("/api/v1/checkout", json={}, headers={"Idempotency-Key": uuid.uuid4().hex})
                r.raise_for_status()
                checkout = r.json()["checkout"]
                t2 = time.perf_counter()
                r = await client.post(f"/api/v1/checkouts/{checkout['id']}/pay",
                                      json={"payment_method": CARD, "idempotency_key": uuid.uuid4().hex})
                r.raise_for_status()
                t3 = time.perf_counter()
            except httpx.HTTPStatusError as e:
                code = f"http_{e.response.status_code}:{e.response.json().get('error', {}).get('code')}"
                errors[code] = errors.get(code, 0) + 1
                await asyncio.sleep(0.05)
                continue
            if measuring and not stop:
                flows.append(t3 - t0)
                checkout_lat.append(t2 - t1)
                pay_lat.append(t3 - t2)
                orders += len(checkout["orders"])

    tasks = [asyncio.create_task(buyer(i, c)) for i, c in enumerate(clients)]
    await asyncio.sleep(warmup)
    measuring = True
    t_start = time.perf_counter()
    await asyncio.sleep(seconds)
    stop = True
    elapsed = time.perf_counter() - t_start
    await asyncio.gather(*tasks)
    await asyncio.gather(*(c.aclose() for c in clients))
    return {"elapsed_s": round(elapsed, 2), "purchases": len(flows), "orders_paid": orders,
            "orders_per_s": round(orders / elapsed, 1), "purchases_per_s": round(len(flows) / elapsed, 1),
            "purchase_latency": latency_summary(flows), "checkout_latency": latency_summary(checkout_lat),
            "pay_latency": latency_summary(pay_lat), "errors": errors}


def run_backend(backend: str, a: argparse.Namespace) -> dict[str, Any]:
    url, cleanup = fresh_sqlite_url("checkout") if backend == "sqlite" else fresh_pg_url("checkout")
    try:
        migrate(url)
        people = asyncio.run(provision(url, a.concurrency, a.shops))
        server = ServerProcess(url, TMP / f"server-checkout-{backend}").start()
        try:
            cpu0 = proc_cpu_seconds(server.proc.pid)  # type: ignore[union-attr]
            out = asyncio.run(drive(server.url, people, a.concurrency, a.warmup, a.seconds))
            cpu1 = proc_cpu_seconds(server.proc.pid)  # type: ignore[union-attr]
            if cpu0 is not None and cpu1 is not None:
                out["server_cpu_s"] = round(cpu1 - cpu0, 2)
        finally:
            server.stop()
        out["check"] = asyncio.run(stock_check(url))
    finally:
        cleanup()
    return {"backend": backend, "concurrency": a.concurrency} | out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 s per database after 1 s of warm-up")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per database (default 10)")
    p.add_argument("--warmup", type=float, default=None, help="unmeasured seconds first (default 2)")
    p.add_argument("--concurrency", "-c", type=int, default=16, help="concurrent buyers (default 16)")
    p.add_argument("--shops", type=int, default=4, help="shops, 3 products each (default 4)")
    p.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    a = p.parse_args(argv)
    a.seconds = a.seconds or (3.0 if a.quick else 10.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if a.quick else 2.0)
    started = utc_stamp()
    backends = [a.only] if a.only else ["sqlite", "postgres"]
    results, skipped = [], {}
    for backend in backends:
        if backend == "postgres" and (why := postgres_unreachable()):
            skipped[backend] = why
            continue
        results.append(run_backend(backend, a))
    rows = [{"backend": r["backend"], "c": r["concurrency"], "orders_s": r["orders_per_s"],
             "purchases_s": r["purchases_per_s"], "p50": r["purchase_latency"].get("p50_ms"),
             "p99": r["purchase_latency"].get("p99_ms"), "co_p99": r["checkout_latency"].get("p99_ms"),
             "pay_p99": r["pay_latency"].get("p99_ms"), "errors": sum(r["errors"].values()),
             "stock_ok": r["check"]["ok"]} for r in results]
    print(table(rows, [("backend", "backend"), ("c", "C"), ("orders_s", "orders/s"),
                       ("purchases_s", "purchases/s"), ("p50", "purchase p50 ms"), ("p99", "purchase p99 ms"),
                       ("co_p99", "checkout p99 ms"), ("pay_p99", "pay p99 ms"), ("errors", "errors"),
                       ("stock_ok", "stock ok")]))
    payload = {"bench": "checkout", "started_at": started, "args": vars(a), "results": results,
               "skipped": skipped, "environment": environment()}
    stamped, latest = write_results("checkout", payload)
    print(f"wrote {stamped} and {latest}")
    print(json.dumps({"results": rows, "skipped": skipped}))
    return 0 if all(r["check"]["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
