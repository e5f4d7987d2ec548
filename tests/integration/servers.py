"""Real databases and real server processes for the integration tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PG_URL = os.environ.get("BIDCAST_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pass
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

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]

    def drop() -> None:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return f"{base}/{name}", drop


def bidcast(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    return subprocess.run([sys.executable, "-m", "bidcast", *args], env=env, check=True,
                          capture_output=True, text=True, **kw)


@dataclass
class Server:
    """One `bidcast serve` process on a free port, over a given database."""
    database_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"BIDCAST_DATABASE_URL": self.database_url, "BIDCAST_PORT": str(self.port),
                    "BIDCAST_SECRET_KEY": "test-secret", "BIDCAST_LOG_LEVEL": "warning"})
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        bidcast(["db", "upgrade"], self.env, cwd=self.workdir)

    def create_admin(self, email: str, password: str) -> None:
        bidcast(["create-admin", email, "--password", password], self.env, cwd=self.workdir)

    def start(self, timeout: float = 30.0) -> Server:
        log = open(self.workdir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "bidcast", "serve"], env=self.env,
                                     cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy in time")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


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
