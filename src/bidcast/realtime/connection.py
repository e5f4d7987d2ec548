"""One viewer's socket, written so that a slow client slows nobody else.

Two ways to write:
- raw: where the server exposes the socket's transport, each event's frame (encoded once for
  the whole room) is written straight to it. If the transport's buffer is over HIGH_WATER the
  client is behind: further events are skipped and, once the buffer drains, one fresh snapshot
  supersedes them all. A buffer that does not drain within SEND_TIMEOUT_S: the client is gone.
- queued (any ASGI server): a bounded queue and a sender task per socket, with the same
  coalescing into a snapshot on overflow.

The hub may hand over several events at once (`push_batch`, see hub.py): in raw mode their
frames go out in one write. `seen` is the highest room seq this socket has been given, or that
a snapshot it was given covers; events at or below it are never written again, so a socket that
joins or catches up while a batch is pending gets no duplicate and no gap.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .. import metrics
from .protocol import RoomEvent, text_frame

log = logging.getLogger("bidcast.ws")

MAX_QUEUE = 256          # shared events waiting for one socket (queued mode)
HIGH_WATER = 256 * 1024  # bytes buffered for one socket before it counts as behind (raw mode)
LOW_WATER = 32 * 1024    # ... and the level it must drain to before the snapshot goes out
SEND_TIMEOUT_S = 10.0    # a socket that cannot take a frame for this long: the client is gone
MAX_OVERFLOWS = 20       # snapshots in a row without catching up: disconnect
DRAIN_POLL_S = 0.05


class Connection:
    def __init__(self, send: Callable[[str], Awaitable[None]], close: Callable[[int, str], Awaitable[None]],
                 user_id: int | None, snapshot: Callable[[], str],
                 kill: Callable[[int, str], None] | None = None, transport: Any = None) -> None:
        self._send = send
        self._close = close
        self._kill = kill
        self._transport = transport
        self.user_id = user_id
        self._snapshot = snapshot
        self._queue: deque[str] = deque()
        self._direct: deque[str] = deque()   # acks and notices: never dropped
        self._wake = asyncio.Event()
        self._needs_snapshot = False
        self.overflows = 0
        self.closed = False
        self.task: asyncio.Task | None = None
        self.seen = -1                                  # see the module's docstring
        self.room_seq: Callable[[], int] | None = None  # the hub's current seq (set by join)

    @property
    def raw(self) -> bool:
        return self._transport is not None

    def start(self) -> None:
        if not self.raw:
            self.task = asyncio.get_running_loop().create_task(self._sender())

    # -- raw mode ----------------------------------------------------------------------------
    def _write(self, frame: bytes) -> None:
        t = self._transport
        if t.is_closing():
            self.closed = True
            return
        t.write(frame)

    def _behind(self) -> None:
        metrics.SLOW_CLIENTS.labels("overflow").inc()
        self._needs_snapshot = True
        self.overflows += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        """Wait for the client to drain its buffer, then send one snapshot (or give up on it)."""
        stuck_since = time.monotonic()
        while not self.closed:
            t = self._transport
            if t.is_closing():
                self.closed = True
                return
            if t.get_write_buffer_size() <= LOW_WATER:
                if self.overflows > MAX_OVERFLOWS:
                    self._kill_now()
                    return
                self._needs_snapshot = False
                self._write(text_frame(self._take_snapshot()))
                return
            if time.monotonic() - stuck_since > SEND_TIMEOUT_S:
                self._kill_now()
                return
            await asyncio.sleep(DRAIN_POLL_S)

    def _kill_now(self) -> None:
        metrics.SLOW_CLIENTS.labels("dropped").inc()
        self.closed = True
        if self._kill is not None:
            self._kill(4008, "too slow")

    # -- both modes --------------------------------------------------------------------------
    def _take_snapshot(self) -> str:
        """The room as of its current seq; everything up to that seq is now covered."""
        text = self._snapshot()
        if self.room_seq is not None:
            self.seen = self.room_seq()
        return text

    def push(self, text: str, frame: bytes | None = None) -> None:
        if self.closed:
            return
        if self.raw:
            if self._needs_snapshot:
                return  # the snapshot it gets when it drains will include this event
            if self._transport.get_write_buffer_size() > HIGH_WATER:
                self._behind()
                return
            self.overflows = 0
            self._write(frame if frame is not None else text_frame(text))
            return
        if len(self._queue) >= MAX_QUEUE:
            # Everything queued is superseded by a fresh snapshot taken when the socket drains.
            self._queue.clear()
            self._needs_snapshot = True
            self.overflows += 1
            metrics.SLOW_CLIENTS.labels("overflow").inc()
        else:
            self._queue.append(text)
        self._wake.set()

    def push_batch(self, batch: Batch) -> None:
        """Shared events gathered by the hub, in seq order: one write in raw mode."""
        if self.closed or batch.last <= self.seen:
            return
        seen, self.seen = self.seen, batch.last
        if self.raw:
            if self._needs_snapshot:
                return
            if self._transport.get_write_buffer_size() > HIGH_WATER:
                self._behind()
                return
            self.overflows = 0
            self._write(batch.blob if batch.first > seen else batch.blob_after(seen))
            return
        for text in (batch.texts if batch.first > seen else batch.texts_after(seen)):
            self.push(text)

    def push_direct(self, text: str) -> None:
        if self.closed:
            return
        if self.raw:
            if self._transport.get_write_buffer_size() > 4 * HIGH_WATER:
                self._kill_now()  # it sends but never reads: do not buffer for it
                return
            self._write(text_frame(text))
            return
        if len(self._direct) > MAX_QUEUE:
            asyncio.get_running_loop().create_task(self.close(4008, "too slow"))
            return
        self._direct.append(text)
        self._wake.set()

    def push_snapshot(self) -> None:
        if self.raw:
            self._needs_snapshot = False
            self._write(text_frame(self._take_snapshot()))
            return
        self._queue.clear()
        self._needs_snapshot = True
        if self.room_seq is not None:
            self.seen = self.room_seq()  # the sender's snapshot will be at least this recent
        self._wake.set()

    # -- queued mode -------------------------------------------------------------------------
    async def _sender(self) -> None:
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while self._direct or self._needs_snapshot or self._queue:
                    if self._direct:
                        text = self._direct.popleft()
                    elif self._needs_snapshot:
                        if self.overflows > MAX_OVERFLOWS:
                            await self.close(4008, "too slow")
                            return
                        self._needs_snapshot = False
                        self._queue.clear()
                        text = self._take_snapshot()
                    else:
                        text = self._queue.popleft()
                        if not self._queue:
                            self.overflows = 0
                    await asyncio.wait_for(self._send(text), SEND_TIMEOUT_S)
        except TimeoutError:
            # The write buffer is full, so a polite close would wait behind it forever.
            if self._kill is not None:
                self._kill_now()
            else:
                await self.close(4008, "too slow")
        except asyncio.CancelledError:
            raise
        except Exception:
            self.closed = True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        try:
            await asyncio.wait_for(self._close(code, reason), 2)
        except Exception:
            pass

    async def stop(self) -> None:
        self.closed = True
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class Batch:
    """Shared events of one room, in seq order, to be written together: their frames are joined
    once for every socket of the flush."""

    __slots__ = ("_blob", "events", "first", "last")

    def __init__(self, events: list[RoomEvent]) -> None:
        self.events = events
        self.first = events[0].seq
        self.last = events[-1].seq
        self._blob: bytes | None = None

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.events]

    @property
    def blob(self) -> bytes:
        if self._blob is None:
            self._blob = b"".join(e.frame for e in self.events)
        return self._blob

    def blob_after(self, seq: int) -> bytes:
        """The frames of the events after seq (a socket that joined while this batch waited)."""
        return b"".join(e.frame for e in self.events if e.seq > seq)

    def texts_after(self, seq: int) -> list[str]:
        return [e.text for e in self.events if e.seq > seq]
