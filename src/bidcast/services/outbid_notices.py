"""Outbid notifications from the auction writer's events, without ever slowing the writer.

The engine calls `sink` synchronously after each committed batch. The sink only filters and
appends to a bounded queue (no I/O, no awaits); a task of its own drains the queue in batches and
writes them in one transaction. If the queue is full (the database cannot keep up), notices are
dropped and counted, and a warning is logged at most every 10 s: bidders still get the live
"outbid" notice on the room socket, and the next outbid on the lot writes the row again.

Coalescing: a notice carries the group key `outbid:<auction id>`, and a partial unique index
allows one UNREAD row per (user, key). A new outbid on a lot whose notice is still unread updates
that row (the latest price) instead of adding one; once read, the next outbid makes a new row.
Within a batch, several outbids of one user on one lot become one write.

Events published by the writer follow the commit, so a notice is never written for a bid that
was not stored; a process that dies with notices still queued loses those notices only.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..storage.models import Auction, Notification, Product

log = logging.getLogger("bidcast.notifications")
UNREAD_GROUP = Notification.read_at.is_(None) & Notification.group_key.is_not(None)


def _price(amount: int, currency: str) -> str:
    if currency in ("JPY", "KRW"):
        return f"{amount:,} {currency}"
    return f"{amount // 100:,}.{amount % 100:02d} {currency}"


class OutbidNotices:
    def __init__(self, sessions: async_sessionmaker, max_queue: int = 10_000, batch: int = 500,
                 flush_s: float = 0.2) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[tuple[int, int, int, int | None]] = asyncio.Queue(max_queue)
        self._batch, self._flush_s = batch, flush_s
        self._lots: dict[int, tuple[str, str]] = {}  # auction id → (title, currency)
        self._task: asyncio.Task | None = None
        self.dropped = self.written = 0
        self._warned_at = 0.0
        self._statements: dict[str, Any] = {}  # dialect -> the upsert, built once

    # -- called by the auction writer: must stay O(events) and never block ----------------------

    def sink(self, room_id: int | None, events: list[dict[str, Any]]) -> None:
        for e in events:
            if e.get("type") != "bid.accepted":
                continue
            loser = e.get("outbid_id")
            if not loser or loser == e["leader"]["id"]:
                continue
            try:
                self._queue.put_nowait((loser, e["auction_id"], e["price"], room_id))
            except asyncio.QueueFull:
                self.dropped += 1
                now = time.monotonic()
                if now - self._warned_at > 10:
                    self._warned_at = now
                    log.warning("outbid notices: queue full, %d dropped so far", self.dropped)

    # -- the writer task ----------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if not self._queue.empty():  # what was accepted before stopping still gets written
            await self.flush()

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await asyncio.sleep(self._flush_s)  # let a burst gather into one write
            await self._write([first, *self._drain()])

    def _drain(self) -> list:
        items = []
        while len(items) < self._batch - 1 and not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def flush(self) -> None:
        """Write everything queued now (tests, shutdown)."""
        while not self._queue.empty():
            await self._write(self._drain() or [self._queue.get_nowait()])

    async def _write(self, items: list) -> None:
        latest: dict[tuple[int, int], tuple[int, int | None]] = {}
        for user_id, auction_id, price, room_id in items:
            latest[(user_id, auction_id)] = (price, room_id)  # later events win
        try:
            await self._upsert(latest)
            self.written += len(latest)
        except Exception:
            self.dropped += len(latest)
            log.exception("outbid notices: writing %d failed", len(latest))

    async def _upsert(self, latest: dict) -> None:
        async with self._sessions.begin() as s:
            missing = {aid for _, aid in latest} - self._lots.keys()
            if missing:
                if len(self._lots) > 50_000:
                    self._lots.clear()
                for aid, title, currency in await s.execute(
                        select(Auction.id, Product.title, Auction.currency)
                        .join(Product, Product.id == Auction.product_id).where(Auction.id.in_(missing))):
                    self._lots[aid] = (title, currency)
            rows = []
            for (user_id, aid), (price, room_id) in latest.items():
                title, currency = self._lots.get(aid, (f"lot #{aid}", ""))
                rows.append({"user_id": user_id, "kind": "outbid", "group_key": f"outbid:{aid}",
                             "title": f"You were outbid on {title}"[:200],
                             "body": f"The price is now {_price(price, currency)}. Bid again before it closes.",
                             "link": f"/rooms/{room_id}" if room_id else "/me/bids"})
            conn = await s.connection()
            await conn.execute(self._statement(conn.dialect.name), rows)

    def _statement(self, dialect: str) -> Any:
        """Built once and reused: building it (its `excluded` alias copies the table's columns)
        left ~300 objects of cyclic garbage per write, several writes a second in a busy show,
        and that garbage is what set off most of the collector's pauses."""
        stmt = self._statements.get(dialect)
        if stmt is None:
            ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(Notification.__table__)
            stmt = self._statements[dialect] = ins.on_conflict_do_update(
                index_elements=["user_id", "group_key"], index_where=UNREAD_GROUP,
                set_={"title": ins.excluded.title, "body": ins.excluded.body, "link": ins.excluded.link})
        return stmt
