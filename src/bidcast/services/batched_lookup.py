"""Look-ups asked for at about the same time, answered by one query.

At the start of a lot dozens of bidders bid within a few milliseconds, and each bid checks its
bidder's account (cached a few seconds). Each miss was a query of its own, all at once, on a pool
they then queued for. Here the keys asked for in one turn of the event loop go out in one
query, a key already on its way is not asked for again, and every caller gets its own answer.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedLookup(Generic[K, V]):
    def __init__(self, load: Callable[[list[K]], Awaitable[dict[K, V]]], missing: V) -> None:
        self._load = load
        self._missing = missing          # the answer for a key the query did not return
        self._waiting: dict[K, asyncio.Future[V]] = {}
        self._flying: dict[K, asyncio.Future[V]] = {}
        self._tasks: set[asyncio.Task] = set()

    async def get(self, key: K) -> V:
        fut = self._flying.get(key) or self._waiting.get(key)
        if fut is None:
            loop = asyncio.get_running_loop()
            if not self._waiting:
                loop.call_soon(self._send)
            fut = self._waiting[key] = loop.create_future()
        # shield: one caller giving up must not cancel the answer the others wait for
        return await asyncio.shield(fut)

    def _send(self) -> None:
        batch, self._waiting = self._waiting, {}
        self._flying.update(batch)
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: dict[K, asyncio.Future[V]]) -> None:
        try:
            found = await self._load(list(batch))
        except Exception as e:
            for fut in batch.values():
                if not fut.done():
                    fut.set_exception(e)
                    fut.exception()  # retrieved here too: a shielded waiter may be gone
            return
        finally:
            for key, fut in batch.items():
                if self._flying.get(key) is fut:
                    del self._flying[key]
        for key, fut in batch.items():
            if not fut.done():
                fut.set_result(found.get(key, self._missing))
