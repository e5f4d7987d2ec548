"""Engines for the two supported databases: SQLite (WAL) and PostgreSQL (asyncpg)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Executable, Row, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async drivers."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, synchronous: str = "full") -> AsyncEngine:
    aurl = async_url(url)
    if is_sqlite(aurl):
        db = make_url(aurl).database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        # One connection, handed out in turn (the pool's queue is first come, first served):
        # SQLite lets one transaction write at a time and every transaction here takes the write
        # lock at BEGIN, so more connections add no concurrency, only waiting in SQLite's busy
        # handler, which sleeps in growing steps and lets newcomers overtake: with eight buyers
        # checking out, payments waited up to 10 s (p99) behind each other.
        engine = create_async_engine(aurl, connect_args={"timeout": 30}, pool_size=1, max_overflow=0,
                                     pool_timeout=60)
        sync_level = "FULL" if synchronous.lower() == "full" else "NORMAL"

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            # aiosqlite wraps the sqlite3 connection; isolation is driven by SQLAlchemy.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync_level}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn):  # noqa: ANN001
            # Take the write lock up front: no deadlock-prone lock upgrades between writers.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(aurl, pool_size=10, max_overflow=20, pool_pre_ping=True)


def hot_path_engine(url: str) -> AsyncEngine | None:
    """PostgreSQL: a small pool of its own for the bid's path, where every round trip waits a
    turn of a busy event loop: one-statement group commits (storage/pg_bid_commit.py), lease
    renewals and the cached checks before a bid (`Reader`), each one autocommit statement. No
    ping at check-out and no reset at return (each a round trip); a connection that fails is
    invalidated instead. SQLite: None."""
    aurl = async_url(url)
    if is_sqlite(aurl):
        return None
    return create_async_engine(aurl, pool_size=2, max_overflow=6, pool_pre_ping=False,
                               pool_reset_on_return=None, pool_recycle=1800)


class Reader:
    """Runs one statement: on PostgreSQL in autocommit on the hot-path pool (one round trip,
    where a session adds a ping, BEGIN and COMMIT or ROLLBACK), elsewhere in a session."""

    def __init__(self, sessions: async_sessionmaker, hot: AsyncEngine | None = None) -> None:
        self._sessions = sessions
        self._hot = hot

    async def rows(self, stmt: Executable) -> list[Row]:
        if self._hot is None:
            async with self._sessions() as s:
                return list(await s.execute(stmt))
        async with self._hot.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return list(await conn.execute(stmt))

    async def write(self, stmt: Executable, params: dict) -> list[Row]:
        """One write that is a transaction by itself (an INSERT ... RETURNING, say). Pass a
        statement built once and its values as `params`: building a statement per call leaves
        cyclic garbage (bind parameters) for the collector, whose pauses stop the loop."""
        if self._hot is None:
            async with self._sessions.begin() as s:
                return list(await s.execute(stmt, params))
        async with self._hot.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return list(await conn.execute(stmt, params))


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
