"""How late this process's event loop runs its timers (`bidcast_event_loop_lag_seconds`).

Everything a worker does, from reading a bid to writing its ack, is a callback waiting its turn
on one loop; when fan-out keeps the loop busy, each waits longer. A timer that should fire every
`every_s` and fires late by L says every callback queued then waited about L. Collections of
the cyclic garbage collector stop the loop too; each one's pause is recorded
(`bidcast_gc_pause_seconds{generation}`).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from . import metrics
from .periodic import Periodic

log = logging.getLogger("bidcast.loop")
SLOW_GC_S = 0.05  # a collection that stops the loop this long is logged


class LoopLag:
    def __init__(self, every_s: float = 0.1) -> None:
        self._every_s = every_s
        self._last: float | None = None
        self._periodic = Periodic(self._round, "event loop lag probe")
        self._gc_started = 0.0
        self._gc_cpu = 0.0

    def start(self) -> None:
        self._last = asyncio.get_running_loop().time()
        self._periodic.start(self._every_s)
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started, self._gc_cpu = time.perf_counter(), time.thread_time()
        elif self._gc_started:
            pause = time.perf_counter() - self._gc_started
            gen = info.get("generation", "?")
            metrics.GC_PAUSE.labels(str(gen)).observe(pause)
            if pause > SLOW_GC_S:  # CPU time far below the pause: the process was waiting for a core
                log.warning("garbage collection of generation %s stopped the loop %.0f ms (%.0f ms of CPU, "
                            "%s collected)", gen, pause * 1000, (time.thread_time() - self._gc_cpu) * 1000,
                            info.get("collected"))
            self._gc_started = 0.0

    async def _round(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._last is not None:
            metrics.LOOP_LAG.observe(max(0.0, now - self._last - self._every_s))
        self._last = now

    async def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        await self._periodic.stop()
