"""Auction leases: one owner at a time, takeover only after expiry, and a fence that a deposed
owner cannot pass (on SQLite here; the workers integration test runs them on PostgreSQL)."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bidcast.storage.leases import Fence, LeaseStore, check_fence
from bidcast.storage.models import AuctionLease


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


async def store(tmp: Path) -> tuple[LeaseStore, async_sessionmaker]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp / 'l.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: AuctionLease.__table__.create(c))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    return LeaseStore(sessions), sessions


def test_one_owner_takeover_after_expiry_and_fencing(tmp_path: Path) -> None:
    async def scenario() -> None:
        leases, sessions = await store(tmp_path)
        assert await leases.acquire(7, "a", ttl_ms=150) == 1
        assert await leases.acquire(7, "b", ttl_ms=150) is None          # a holds it
        assert await leases.renew("a", [7], ttl_ms=150) == {7}
        time.sleep(0.2)                                                   # a stops renewing
        assert await leases.acquire(7, "b", ttl_ms=5000) == 2             # takeover bumps the epoch
        async with sessions.begin() as s:
            assert not await check_fence(s, 7, Fence("a", 1, 5000))      # a is deposed
        async with sessions.begin() as s:
            assert await check_fence(s, 7, Fence("b", 2, 5000))
        assert await leases.renew("a", [7], ttl_ms=5000) == set()         # a learns it lost 7
        assert await leases.release("b") == 1                             # graceful hand-over
        assert await leases.acquire(7, "c", ttl_ms=5000) == 3             # at once, no TTL wait
        lease = await leases.get(7)
        assert (lease.owner, lease.epoch) == ("c", 3) and lease.live()
    run(scenario())


def test_racing_acquirers_get_one_winner(tmp_path: Path) -> None:
    async def scenario() -> None:
        leases, _ = await store(tmp_path)
        won = await asyncio.gather(*[leases.acquire(9, f"w{i}", ttl_ms=5000) for i in range(8)],
                                   return_exceptions=True)
        assert [w for w in won if w == 1] == [1], won
    run(scenario())
