"""Upgrading a database that already holds data: every step keeps the rows and their keys."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bidcast.storage.db import async_url
from bidcast.storage.migrate import upgrade

from .servers import IN_CI, create_pg_database, postgres_reachable

# One sold lot with a paid order, as a database at revision 0005 held them.
ROWS = [
    "INSERT INTO users (id, email, display_name, password_hash, roles, banned, strikes, created_at)"
    " VALUES (1, 'a@x.test', 'A', 'h', 'buyer,seller', false, 0, '2026-01-01')",
    "INSERT INTO shops (id, owner_id, name, description, contact_email, status, created_at)"
    " VALUES (1, 1, 'S', '', 'a@x.test', 'approved', '2026-01-01')",
    "INSERT INTO products (id, shop_id, title, description, image_urls, category, condition, sku,"
    " price_amount, currency, stock, status, created_at, updated_at) VALUES (1, 1, 'Camera', '', '[]',"
    " 'misc', 'new', 'S1', 100, 'EUR', 0, 'active', '2026-01-01', '2026-01-01')",
    "INSERT INTO auctions (id, product_id, shop_id, seller_id, format, currency, starting_price,"
    " soft_close_seconds, duration_seconds, status, last_seq, bid_count, created_at)"
    " VALUES (1, 1, 1, 1, 'standard', 'EUR', 100, 10, 30, 'closed', 1, 1, '2026-01-01')",
    "INSERT INTO orders (id, buyer_id, seller_id, shop_id, product_id, auction_id, amount, currency,"
    " status, created_at) VALUES (1, 1, 1, 1, 1, 1, 500, 'EUR', 'paid', '2026-01-01')",
    "INSERT INTO order_events (order_id, kind, created_at) VALUES (1, 'created', '2026-01-01')",
]


def _sql(url: str, statements: list[str]) -> list[list[tuple]]:
    async def go() -> list[list[tuple]]:
        engine = create_async_engine(async_url(url))
        out = []
        async with engine.begin() as conn:
            for sql in statements:
                res = await conn.execute(text(sql))
                out.append([tuple(r) for r in res] if res.returns_rows else [])
        await engine.dispose()
        return out
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def _upgrade_with_data(url: str) -> None:
    with ThreadPoolExecutor(1) as pool:  # Alembic runs its own event loop
        pool.submit(upgrade, url, "0005").result()
        _sql(url, ROWS)
        pool.submit(upgrade, url).result()
    orders, lines = _sql(url, [
        "SELECT status, payment_state, fulfilment_state, kind, final_sale FROM orders",
        "SELECT order_id, product_id, title, unit_price, quantity FROM order_lines"])
    assert [(s, p, f, k, bool(fs)) for s, p, f, k, fs in orders] == [
        ("paid", "paid", "unfulfilled", "auction", False)]
    assert lines == [(1, 1, "Camera", 500, 1)]


def test_sqlite_upgrade_keeps_rows_that_point_at_rebuilt_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _upgrade_with_data(url)
    assert _sql(url, ["PRAGMA foreign_key_check"]) == [[]]


def test_postgres_upgrade_keeps_rows() -> None:
    reason = postgres_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    url, drop = create_pg_database()
    try:
        _upgrade_with_data(url)
    finally:
        drop()
