"""The one-statement group commit on PostgreSQL (storage/pg_bid_commit.py), under its guards.

Through the auction engine, as the workers use it: bids decided and written in one round trip,
exactly what the general path wrote; a writer whose lease was taken over writes nothing and sends
the bid to be retried; a writer whose auction was moved on by someone else writes nothing of its
stale decision, reloads and decides again.
"""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bidcast import bootstrap
from bidcast.config import Settings
from bidcast.demo import _seed
from bidcast.errors import AppError
from bidcast.services.auction_engine import AuctionEngine, LeaseOwner
from bidcast.storage.auction_store import AuctionStore
from bidcast.storage.db import hot_path_engine, create_engine, session_factory
from bidcast.storage.leases import LeaseStore
from bidcast.storage.migrate import upgrade
from bidcast.storage.pg_bid_commit import PgBidCommit

from .servers import IN_CI, create_pg_database, postgres_reachable


@pytest.fixture(scope="module")
def seeded_pg(tmp_path_factory):  # noqa: ANN001, ANN201
    reason = postgres_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    url, drop = create_pg_database()
    upgrade(url)
    settings = Settings(database_url=url, media_dir=str(tmp_path_factory.mktemp("media")),
                        secret_key="t")

    async def seed() -> None:
        c = bootstrap.build(settings)
        try:
            await _seed(c)
        finally:
            await c.db.dispose()
    asyncio.run(seed())
    yield url
    drop()


async def _sql(url: str, sql: str, *args):  # noqa: ANN202
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _running_lot(url: str) -> tuple[int, int]:
    """A pending lot of the demo room, now running for an hour; (auction id, a buyer id)."""
    (row,) = await _sql(url, "SELECT id FROM auctions WHERE status = 'pending' ORDER BY id LIMIT 1")
    await _sql(url, "UPDATE auctions SET status = 'running', opens_at = now() AT TIME ZONE 'utc', "
                    "closes_at = now() AT TIME ZONE 'utc' + interval '1 hour' WHERE id = $1", row["id"])
    (buyer,) = await _sql(url, "SELECT id FROM users WHERE email = 'buyer1@bidcast.test'")
    return row["id"], buyer["id"]


def _engine(url: str, me: str) -> tuple[AuctionEngine, list]:
    db, fast = create_engine(url), hot_path_engine(url)
    assert fast is not None
    sessions = session_factory(db)
    events: list = []
    store = AuctionStore(sessions, 3600, PgBidCommit(fast))
    engine = AuctionEngine(store, lambda room, evs: events.extend(evs),
                           owner=LeaseOwner(LeaseStore(sessions, fast), me, 3000))
    engine.db = db  # type: ignore[attr-defined]
    return engine, events


async def _stop(engine: AuctionEngine) -> None:
    await engine.stop()
    await engine.db.dispose()  # type: ignore[attr-defined]


def test_bids_commit_in_one_statement_with_their_rejections(seeded_pg: str) -> None:
    async def scenario() -> None:
        aid, buyer = await _running_lot(seeded_pg)
        engine, events = _engine(seeded_pg, "w1")
        try:
            (start,) = await _sql(seeded_pg, "SELECT price, starting_price FROM auctions WHERE id = $1", aid)
            opening = start["starting_price"]
            first, low, again = await asyncio.gather(
                engine.place(aid, buyer, "direct", opening, "k1"),
                engine.place(aid, buyer + 1, "direct", 1, "k2"),
                engine.place(aid, buyer, "direct", opening, "k1"))   # a retry of k1
            assert first.accepted and first.seq == 1
            assert not low.accepted and low.code == "too_low"
            assert again.seq == 1 and again.replayed
            bids = await _sql(seeded_pg, "SELECT seq, bidder_id, value, price_after, leader_after, "
                                         "closes_at_after, created_at FROM bids WHERE auction_id = $1", aid)
            assert [(b["seq"], b["bidder_id"], b["value"], b["leader_after"]) for b in bids] == [
                (1, buyer, opening, buyer)]
            assert bids[0]["closes_at_after"] is not None and bids[0]["created_at"] is not None
            rej = await _sql(seeded_pg, "SELECT bidder_id, reject_code FROM bid_rejections "
                                        "WHERE auction_id = $1", aid)
            assert [(r["bidder_id"], r["reject_code"]) for r in rej] == [(buyer + 1, "too_low")]
            (a,) = await _sql(seeded_pg, "SELECT last_seq, price, leader_id, bid_count FROM auctions "
                                         "WHERE id = $1", aid)
            assert (a["last_seq"], a["price"], a["leader_id"], a["bid_count"]) == (1, opening, buyer, 1)
            assert [e["type"] for e in events] == ["bid.accepted"]
        finally:
            await _stop(engine)
    asyncio.run(scenario())


def test_a_deposed_writer_writes_nothing(seeded_pg: str) -> None:
    async def scenario() -> None:
        aid, buyer = await _running_lot(seeded_pg)
        engine, events = _engine(seeded_pg, "w1")
        try:
            ok = await engine.place(aid, buyer, "direct", 10_000, "d1")
            assert ok.accepted
            # Another worker takes the lease over (as after an expiry): the epoch moves on.
            await _sql(seeded_pg, "UPDATE auction_leases SET owner = 'w2', epoch = epoch + 1 "
                                  "WHERE auction_id = $1", aid)
            with pytest.raises(AppError) as e:
                await engine.place(aid, buyer + 1, "direct", 20_000, "d2")
            assert e.value.code == "writer_restarting"
            (a,) = await _sql(seeded_pg, "SELECT last_seq, price FROM auctions WHERE id = $1", aid)
            assert (a["last_seq"], a["price"]) == (1, ok.price)
            rows = await _sql(seeded_pg, "SELECT count(*) AS n FROM bids WHERE auction_id = $1 "
                                         "AND idempotency_key = 'd2'", aid)
            assert rows[0]["n"] == 0
            (lease,) = await _sql(seeded_pg, "SELECT owner FROM auction_leases WHERE auction_id = $1", aid)
            assert lease["owner"] == "w2"
        finally:
            await _stop(engine)
    asyncio.run(scenario())


def test_a_stale_writer_reloads_and_decides_again(seeded_pg: str) -> None:
    async def scenario() -> None:
        aid, buyer = await _running_lot(seeded_pg)
        engine, _ = _engine(seeded_pg, "w1")
        try:
            first = await engine.place(aid, buyer, "direct", 10_000, "s1")
            # Someone else moved the auction on (seq 2 at a higher price) behind this writer's back.
            await _sql(seeded_pg, "INSERT INTO bids (auction_id, bidder_id, idempotency_key, kind, value, "
                                  "accepted, seq, price_after, leader_after, created_at) VALUES "
                                  "($1, $2, 'other', 'direct', 50000, true, 2, 50000, $2, "
                                  "now() AT TIME ZONE 'utc')", aid, buyer + 1)
            await _sql(seeded_pg, "UPDATE auctions SET last_seq = 2, price = 50000, leader_id = $2, "
                                  "bid_count = 2 WHERE id = $1", aid, buyer + 1)
            res = await engine.place(aid, buyer, "direct", 20_000, "s2")
            # Decided again on the reloaded history: 20,000 is now below the price.
            assert first.accepted and not res.accepted and res.code == "too_low"
            bids = await _sql(seeded_pg, "SELECT seq, idempotency_key FROM bids WHERE auction_id = $1 "
                                         "ORDER BY seq", aid)
            assert [(b["seq"], b["idempotency_key"]) for b in bids] == [(1, "s1"), (2, "other")]
        finally:
            await _stop(engine)
    asyncio.run(scenario())
