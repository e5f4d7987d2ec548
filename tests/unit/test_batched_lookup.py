"""Look-ups asked for together go out as one query; every caller gets its own answer."""
from __future__ import annotations

import asyncio

import pytest

from bidcast.services.batched_lookup import BatchedLookup


class Table:
    def __init__(self, rows: dict[int, str], fail: bool = False) -> None:
        self.rows, self.fail, self.queries = rows, fail, []
        self.gate = asyncio.Event()
        self.gate.set()

    async def load(self, keys: list[int]) -> dict[int, str]:
        self.queries.append(sorted(keys))
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("database down")
        return {k: self.rows[k] for k in keys if k in self.rows}


def test_one_query_for_a_burst_and_each_caller_its_answer() -> None:
    async def scenario() -> None:
        t = Table({1: "a", 2: "b", 3: "c"})
        look = BatchedLookup(t.load, "none")
        got = await asyncio.gather(*(look.get(k) for k in (1, 2, 2, 3, 9, 1)))
        assert got == ["a", "b", "b", "c", "none", "a"]
        assert t.queries == [[1, 2, 3, 9]]
    asyncio.run(scenario())


def test_a_key_in_flight_is_not_asked_again_and_later_keys_go_next() -> None:
    async def scenario() -> None:
        t = Table({1: "a", 2: "b"})
        t.gate.clear()
        look = BatchedLookup(t.load, "none")
        first = asyncio.ensure_future(look.get(1))
        await asyncio.sleep(0)
        await asyncio.sleep(0)             # the first query is on its way
        again, other = asyncio.ensure_future(look.get(1)), asyncio.ensure_future(look.get(2))
        await asyncio.sleep(0.01)
        t.gate.set()
        assert await asyncio.gather(first, again, other) == ["a", "a", "b"]
        assert t.queries == [[1], [2]]
    asyncio.run(scenario())


def test_a_failed_query_fails_its_callers_and_the_next_one_asks_again() -> None:
    async def scenario() -> None:
        t = Table({1: "a"}, fail=True)
        look = BatchedLookup(t.load, "none")
        results = await asyncio.gather(look.get(1), look.get(1), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        t.fail = False
        assert await look.get(1) == "a"
        assert len(t.queries) == 2
    asyncio.run(scenario())


def test_a_caller_giving_up_does_not_cancel_the_others() -> None:
    async def scenario() -> None:
        t = Table({1: "a"})
        t.gate.clear()
        look = BatchedLookup(t.load, "none")
        impatient, patient = asyncio.ensure_future(look.get(1)), asyncio.ensure_future(look.get(1))
        await asyncio.sleep(0.01)
        impatient.cancel()
        t.gate.set()
        assert await patient == "a"
        with pytest.raises(asyncio.CancelledError):
            await impatient
    asyncio.run(scenario())
