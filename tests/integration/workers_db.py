"""Reading the shared database and Redis directly in the workers tests."""
from __future__ import annotations

import os

import asyncpg

from .servers import REDIS_URL


def redis_url_for_workers() -> str:
    """A Redis database of its own, so room streams of other tests' servers never mix in."""
    return os.environ.get("BIDCAST_TEST_WORKERS_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/5")


def forget_redis(url: str) -> None:
    import redis
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match="bidcast:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
    finally:
        client.close()


class Db:
    def __init__(self, url: str) -> None:
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def _fetch(self, sql: str, *args) -> list:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def bids(self, auction_id: int) -> list[tuple[int, int, int]]:
        rows = await self._fetch("SELECT seq, bidder_id, price_after FROM bids WHERE auction_id = $1 "
                                 "ORDER BY seq", auction_id)
        return [tuple(r) for r in rows]

    async def lease(self, auction_id: int) -> tuple[str, int, int] | None:
        rows = await self._fetch("SELECT owner, epoch, expires_at_ms FROM auction_leases "
                                 "WHERE auction_id = $1", auction_id)
        return tuple(rows[0]) if rows else None

    async def orders(self, auction_id: int) -> int:
        rows = await self._fetch("SELECT count(*) FROM orders WHERE auction_id = $1", auction_id)
        return int(rows[0][0])

    async def auction(self, auction_id: int) -> tuple[str, int | None]:
        rows = await self._fetch("SELECT status, final_price FROM auctions WHERE id = $1", auction_id)
        return tuple(rows[0])
