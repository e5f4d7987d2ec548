"""A background round every few seconds: sweeps over due rows and outboxes.

A failed round is logged and the next one runs as planned; `stop` cancels the loop and waits for
it, so a server shuts down without a round half done in the background.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("bidcast.periodic")


class Periodic:
    def __init__(self, round_: Callable[[], Awaitable[object]], name: str) -> None:
        self._round = round_
        self.name = name
        self._task: asyncio.Task | None = None

    def start(self, every_s: float) -> None:
        """Run a round every `every_s` seconds (the first after one interval); idempotent."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(every_s))

    async def _loop(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self._round()
            except Exception:
                log.exception("%s failed", self.name)

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
