"""Alembic environment: runs migrations over the project's async engine."""
from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import event, text

from bidcast.storage.db import create_engine, is_sqlite
from bidcast.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    sqlite = is_sqlite(url)
    if sqlite:
        # SQLite alters a table by copying it and dropping the old one; with foreign keys on,
        # that drop fails as soon as any row points at the table. Off while migrating (it can
        # only change outside a transaction), then every key is checked before committing.
        @event.listens_for(engine.sync_engine, "connect")
        def _no_fk(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.close()
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        if sqlite:
            broken = (await conn.execute(text("PRAGMA foreign_key_check"))).all()
            if broken:
                await conn.rollback()
                raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
