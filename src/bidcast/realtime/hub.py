"""A room's hub in one process: the room's live view, a resume buffer and its local sockets.

Every process that has viewers of a room keeps a hub for it. The hub applies the room's events
in seq order to its view, so a snapshot is always exactly "the room as of seq N", and fans the
once-encoded text out to its connections.

Batched fan-out: writing one event to a socket costs one `send()` syscall, whatever its size, and
a busy show publishes ~60 events a second (mostly chat) to every viewer. So the hub gathers the
events that arrive close together and writes their frames to each socket at once (clients still
get one JSON message per event, in seq order). Leading-edge throttle: an event arriving more than
`interval` after the last flush goes out in the same loop iteration (call_soon, so a burst from
one Redis read still travels together); otherwise it waits until last flush + interval. A flush
to many sockets is written in slices of at most a millisecond, yielding to the loop in between: a
bid's way from its socket to its ack takes a dozen loop iterations, and each would otherwise wait
behind a whole slice. While bids are in flight in this process (`urgency.BIDS`), a flush
holds its slices back, for at most `hold` seconds in all, so those iterations are short.
The view, `seq` and the resume buffer are updated at once, before the flush: a socket that joins
while a batch is pending gets a snapshot or backlog up to `seq` and its `Connection.seen` makes
the flush skip what it already has.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .. import metrics
from .broker import Broker
from .connection import Batch, Connection
from .protocol import RoomEvent, encode, now_ms
from .urgency import BIDS

log = logging.getLogger("bidcast.hub")

BUFFER_EVENTS = 2048
IDLE_TICKS_BEFORE_DROP = 120  # half-second ticks: a minute without local viewers
RECENT_CHAT = 50
FLUSH_SLICE = 500             # most sockets written per loop iteration in one flush ...
FLUSH_BUDGET_S = 0.001        # ... and the most time: a bid's path takes many loop iterations
HOLD_STEP_S = 0.001           # how often a held-back flush looks whether the bids are answered
ViewLoader = Callable[[int], Awaitable[dict[str, Any] | None]]


def apply(view: dict[str, Any], ev: RoomEvent) -> None:
    """Fold one shared event into the room view."""
    d, lot = ev.data, view.get("lot")
    same_lot = lot is not None and lot["id"] == d.get("auction_id")
    if ev.type == "lot.started":
        view["lot"] = d["lot"]
        for item in view.get("lineup", []):
            if item["id"] == d["lot"]["id"]:
                item["status"] = "running"
    elif ev.type == "bid.accepted" and same_lot and d.get("auction_seq", 0) > lot.get("auction_seq", 0):
        # Several processes may publish one auction's events: never let an older one win.
        lot["auction_seq"] = d["auction_seq"]
        lot.update(price=d["price"], min_next_bid=d["min_next_bid"], leader=d["leader"],
                   closes_at=d["closes_at"], bid_count=d["bid_count"])
        if "reserve_met" in d:
            lot["reserve_met"] = d["reserve_met"]
    elif ev.type == "auction.extended" and same_lot and d["closes_at"] > (lot.get("closes_at") or 0):
        lot["closes_at"] = d["closes_at"]
    elif ev.type == "auction.closed" and same_lot:
        lot.update(status="closed", outcome=d["outcome"], winner=d["winner"],
                   final_price=d["price"], closes_at=d["closed_at"])
    if ev.type == "auction.closed":
        for item in view.get("lineup", []):
            if item["id"] == d["auction_id"]:
                item.update(status="closed", outcome=d["outcome"], final_price=d["price"])
    elif ev.type == "chat.message" and all(m["id"] != d["id"] for m in view["chat"][-5:]):
        view["chat"].append(d)
        del view["chat"][:-RECENT_CHAT]
    elif ev.type == "chat.deleted":
        view["chat"] = [m for m in view["chat"] if m["id"] != d["id"]]
    elif ev.type == "likes":
        view["likes"] = d["total"]
    elif ev.type == "viewers":
        view["viewers"] = d["count"]
    elif ev.type == "room.updated":
        view["room"].update(d)
    elif ev.type == "lineup.updated":
        view["lineup"] = d["lineup"]
    elif ev.type == "flash.started":
        if view.get("flash") is None or d["sale"]["id"] > view["flash"]["id"]:
            view["flash"] = dict(d["sale"])
    elif ev.type in ("flash.stock", "flash.ended") and (view.get("flash") or {}).get("id") == d["sale_id"]:
        # One sale's events may cross between processes: the highest version wins; ended is final.
        sale = view["flash"]
        if ev.type == "flash.ended":
            sale.update(sold=d["sold"], left=0, state="ended", outcome=d["outcome"], returned=d["returned"],
                        ended_at=ev.ts, version=max(sale.get("version", 0), d["version"]))
        elif sale.get("state") != "ended" and d["version"] > sale.get("version", 0):
            sale.update(sold=d["sold"], left=d["left"], version=d["version"], state=d["state"])


MODERATION = frozenset({"mute", "unmute", "ban", "unban"})


class RoomHub:
    def __init__(self, room_id: int, view: dict[str, Any], seq: int,
                 on_moderation: Callable[[int], None] | None = None, interval: float = 0.0,
                 hold: float = 0.0) -> None:
        self.room_id = room_id
        self.interval = interval          # seconds; 0: each event is written at once
        self.hold = hold                  # seconds a flush may wait, in all, for bids in flight
        self._pending: list[RoomEvent] = []
        self._flush_handle: asyncio.Handle | None = None
        self._flushing = False            # a sliced flush is still writing
        self._last_flush = float("-inf")
        self._on_moderation = on_moderation
        self.view = view
        self.seq = seq
        self.buffer: deque[RoomEvent] = deque(maxlen=BUFFER_EVENTS)
        self.connections: set[Connection] = set()
        self.pending_likes = 0
        self.published_viewers = -1
        self.idle_ticks = 0
        self.handler: Callable[[RoomEvent], None] | None = None
        self._snapshot_cache: tuple[int, int, str] | None = None

    # -- events in ---------------------------------------------------------------------------
    def on_event(self, ev: RoomEvent) -> None:
        if ev.to_user is not None:
            if ev.type == "notice" and ev.data.get("kind") in MODERATION and self._on_moderation:
                self._on_moderation(self.room_id)  # drop this process's cached restrictions
            kick = ev.type == "notice" and ev.data.get("kind") == "ban"
            for c in list(self.connections):
                if c.user_id == ev.to_user:
                    c.push_direct(ev.text)
                    if kick:
                        asyncio.get_running_loop().create_task(c.close(4403, "removed from this room"))
            return
        if ev.seq <= self.seq:
            return  # already folded into the view this hub started from
        apply(self.view, ev)
        self.seq = ev.seq
        self.buffer.append(ev)
        if self.interval > 0:
            self._pending.append(ev)
            self._schedule()
            return
        text, frame = ev.text, ev.frame
        for c in self.connections:
            c.push(text, frame)
        if self.connections:
            metrics.FANOUT.observe(max(0.0, (now_ms() - ev.ts) / 1000))

    # -- batched fan-out ---------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._flush_handle is not None or self._flushing:
            return  # a flush is due (or running, and reschedules when done)
        loop = asyncio.get_running_loop()
        due = self._last_flush + self.interval
        if loop.time() >= due:
            self._flush_handle = loop.call_soon(self._flush)
        else:
            self._flush_handle = loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        events, self._pending = self._pending, []
        if not events:
            return
        loop = asyncio.get_running_loop()
        self._last_flush = loop.time()
        if not self.connections:
            return
        self._flushing = True
        self._write_slice(Batch(events), list(self.connections), 0, self._last_flush + self.hold)

    def _write_slice(self, batch: Batch, conns: list[Connection], start: int, hold_until: float) -> None:
        if BIDS.busy:
            loop = asyncio.get_running_loop()
            if loop.time() < hold_until:
                loop.call_later(HOLD_STEP_S, self._write_slice, batch, conns, start, hold_until)
                return
        stop, n = min(start + FLUSH_SLICE, len(conns)), len(conns)
        deadline = time.perf_counter() + FLUSH_BUDGET_S
        end = start
        while end < stop:
            conns[end].push_batch(batch)
            end += 1
            if not end & 31 and time.perf_counter() > deadline:
                break
        if end < n:
            asyncio.get_running_loop().call_soon(self._write_slice, batch, conns, end, hold_until)
            return
        self._flushing = False
        now = now_ms()
        for ev in batch.events:  # publication -> written to every local socket
            metrics.FANOUT.observe(max(0.0, (now - ev.ts) / 1000))
        if self._pending:
            self._schedule()

    # -- viewers -----------------------------------------------------------------------------
    def snapshot_text(self) -> str:
        cached = self._snapshot_cache
        ts = now_ms()
        if cached and cached[0] == self.seq and ts - cached[1] < 1000:
            return cached[2]
        text = encode("snapshot", self.seq, self.view, ts)
        self._snapshot_cache = (self.seq, ts, text)
        return text

    def join(self, conn: Connection, last_seq: int | None) -> None:
        """Register a socket and queue what it needs, with no await in between (no gap, no dup).

        The snapshot or backlog reaches up to `seq`, pending events included: the socket's
        `seen` tells the next flush to skip those."""
        conn.room_seq = self._current_seq
        backlog = self.missed_since(last_seq) if last_seq is not None else None
        if backlog is None:
            conn.push_snapshot()
        else:
            for text in backlog:
                conn.push(text)  # a reconnect's backlog is short: framing it per socket is fine
        conn.seen = self.seq
        self.connections.add(conn)

    def _current_seq(self) -> int:
        return self.seq

    def missed_since(self, last_seq: int) -> list[str] | None:
        """The events after last_seq, or None when the buffer no longer reaches back that far."""
        if last_seq == self.seq:
            return []
        if last_seq > self.seq or not self.buffer or self.buffer[0].seq > last_seq + 1:
            return None
        return [e.text for e in self.buffer if e.seq > last_seq]

    def leave(self, conn: Connection) -> None:
        self.connections.discard(conn)


class Hubs:
    """The hubs of this process; creates one when a room gets its first local viewer."""

    def __init__(self, broker: Broker, load_view: ViewLoader, on_peak: Callable[[int, int], Awaitable[None]],
                 on_moderation: Callable[[int], None] | None = None, fanout_interval: float = 0.0,
                 fanout_hold: float = 0.0) -> None:
        self._broker = broker
        self._fanout_interval = fanout_interval
        self._fanout_hold = fanout_hold
        self._on_moderation = on_moderation
        self._load_view = load_view
        self._on_peak = on_peak
        self._hubs: dict[int, RoomHub] = {}
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task | None = None

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for hub in self._hubs.values():
            for c in list(hub.connections):
                await c.close(1012, "server restarting")
                await c.stop()

    def get_loaded(self, room_id: int) -> RoomHub | None:
        return self._hubs.get(room_id)

    async def get(self, room_id: int) -> RoomHub | None:
        hub = self._hubs.get(room_id)
        if hub is not None:
            return hub
        async with self._lock:
            hub = self._hubs.get(room_id)
            if hub is not None:
                return hub
            holder: list[RoomHub] = []
            early: list[RoomEvent] = []

            def handler(ev: RoomEvent) -> None:
                (holder[0].on_event if holder else early.append)(ev)

            # Subscribe first, then load: anything published meanwhile is folded in after,
            # and events are absolute (prices, leaders), so applying one twice is harmless.
            seq = await self._broker.subscribe(room_id, handler)
            view = await self._load_view(room_id)
            if view is None:
                self._broker.unsubscribe(room_id, handler)
                return None
            view.setdefault("likes", 0)
            view.setdefault("viewers", 0)
            hub = RoomHub(room_id, view, max(seq, 0), self._on_moderation, self._fanout_interval,
                          self._fanout_hold)
            hub.handler = handler
            holder.append(hub)
            for ev in early:
                hub.on_event(ev)
            self._hubs[room_id] = hub
            return hub

    def like(self, room_id: int) -> None:
        hub = self._hubs.get(room_id)
        if hub is not None:
            hub.pending_likes += 1

    async def _tick(self) -> None:
        """Twice a second: publish aggregated likes and changed viewer counts."""
        ticks = 0
        while True:
            await asyncio.sleep(0.5)
            ticks += 1
            for room_id, hub in list(self._hubs.items()):
                hub.idle_ticks = 0 if hub.connections else hub.idle_ticks + 1
                if hub.idle_ticks > IDLE_TICKS_BEFORE_DROP:
                    self._drop(room_id, hub)
                    continue
                try:
                    await self._tick_room(room_id, hub, ticks)
                except Exception:
                    log.exception("room %s tick failed", room_id)

    def _drop(self, room_id: int, hub: RoomHub) -> None:
        """A room nobody here watches any more: stop following it (a new viewer reloads it)."""
        self._hubs.pop(room_id, None)
        if hub.handler is not None:
            self._broker.unsubscribe(room_id, hub.handler)

    async def _tick_room(self, room_id: int, hub: RoomHub, ticks: int) -> None:
        if hub.pending_likes:
            n, hub.pending_likes = hub.pending_likes, 0
            total = await self._broker.add_to_counter(room_id, "likes", n)
            self._broker.publish(room_id, "likes", {"delta": n, "total": total})
        if ticks % 2 == 0:
            count = await self._broker.presence(room_id, len(hub.connections))
            if count != hub.published_viewers and count != hub.view.get("viewers"):
                hub.published_viewers = count
                self._broker.publish(room_id, "viewers", {"count": count})
                if count > hub.view["room"].get("peak_viewers", 0):
                    hub.view["room"]["peak_viewers"] = count
                    await self._on_peak(room_id, count)
