"""One viewer's socket: a bounded queue and a sender task, so a slow client slows nobody else."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger("bidcast.ws")

MAX_QUEUE = 256          # shared events waiting for one socket
SEND_TIMEOUT_S = 10.0    # a frame that cannot be written for this long: the client is gone
MAX_OVERFLOWS = 20       # snapshots in a row without catching up: disconnect


class Connection:
    def __init__(self, send: Callable[[str], Awaitable[None]], close: Callable[[int, str], Awaitable[None]],
                 user_id: int | None, snapshot: Callable[[], str],
                 kill: Callable[[int, str], None] | None = None) -> None:
        self._send = send
        self._close = close
        self._kill = kill
        self.user_id = user_id
        self._snapshot = snapshot
        self._queue: deque[str] = deque()
        self._direct: deque[str] = deque()   # acks and notices: never dropped
        self._wake = asyncio.Event()
        self._needs_snapshot = False
        self.overflows = 0
        self.closed = False
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._sender())

    def push(self, text: str) -> None:
        if self.closed:
            return
        if len(self._queue) >= MAX_QUEUE:
            # Everything queued is superseded by a fresh snapshot taken when the socket drains.
            self._queue.clear()
            self._needs_snapshot = True
            self.overflows += 1
        else:
            self._queue.append(text)
        self._wake.set()

    def push_direct(self, text: str) -> None:
        if not self.closed:
            self._direct.append(text)
            self._wake.set()

    def push_snapshot(self) -> None:
        self._queue.clear()
        self._needs_snapshot = True
        self._wake.set()

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
                        text = self._snapshot()
                    else:
                        text = self._queue.popleft()
                        if not self._queue:
                            self.overflows = 0
                    await asyncio.wait_for(self._send(text), SEND_TIMEOUT_S)
        except TimeoutError:
            # The write buffer is full, so a polite close would wait behind it forever.
            if self._kill is not None:
                self.closed = True
                self._kill(4008, "too slow")
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
