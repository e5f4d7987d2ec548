"""Real databases and real server processes for the integration tests."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
import socket
import uuid
from dataclasses import dataclass

from bidcast.devserver import ServerProcess, bidcast, free_port  # noqa: F401

PG_URL = os.environ.get("BIDCAST_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    host, port = "127.0.0.1", 5432
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError as e:
        return f"PostgreSQL is not reachable at {host}:{port} ({e})"


def create_pg_database() -> tuple[str, callable]:
    """A fresh database for one test run; returns its URL and a function that drops it."""
    import asyncio

    import asyncpg

    name = f"bidcast_t_{uuid.uuid4().hex[:10]}"
    admin_dsn = PG_URL

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:
        # In a thread of its own: the caller's thread may already run an event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, execute(sql)).result()

    run(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]

    def drop() -> None:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"{base}/{name}", drop


@dataclass
class Server(ServerProcess):
    """One `bidcast serve` process on a free port, over a given database."""
    secret_key: str = "test-secret"



REDIS_URL = os.environ.get("BIDCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable(url: str = REDIS_URL) -> str | None:
    """None when Redis answers PING, else the reason it does not."""
    try:
        import redis
    except ImportError as e:
        return f"the redis package is not installed ({e})"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as e:  # noqa: BLE001
        return f"Redis is not reachable at {url} ({e})"
    return None


def forget_redis_rooms(url: str = REDIS_URL) -> int:
    """Delete every `bidcast:room:*` key: room ids restart at 1 in a fresh database, so streams
    and counters left by earlier runs would otherwise be read as this run's rooms."""
    import redis
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match="bidcast:room:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
        return len(keys)
    finally:
        client.close()
