"""How late this process's event loop runs its timers (`bidcast_event_loop_lag_seconds`).

Everything a worker does, from reading a bid to writing its ack, is a callback waiting its turn
on one loop; when fan-out keeps the loop busy, each waits longer. A timer that should fire every
`every_s` and fires late by L says every callback queued then waited about L.
"""
from __future__ import annotations

import asyncio

from . import metrics
from .periodic import Periodic


class LoopLag:
    def __init__(self, every_s: float = 0.1) -> None:
        self._every_s = every_s
        self._last: float | None = None
        self._periodic = Periodic(self._round, "event loop lag probe")

    def start(self) -> None:
        self._last = asyncio.get_running_loop().time()
        self._periodic.start(self._every_s)

    async def _round(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._last is not None:
            metrics.LOOP_LAG.observe(max(0.0, now - self._last - self._every_s))
        self._last = now

    async def stop(self) -> None:
        await self._periodic.stop()
