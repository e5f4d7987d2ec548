"""Bids before fan-out: how many bids this process is carrying right now.

A bid's way from its socket to its ack takes a dozen turns of the worker's event loop (read,
checks, the writer's queue, the commit's round trip, the answer), and in a busy room each turn
also writes a slice of a fan-out flush to thousands of sockets. A viewer does not notice a room
event arriving a few milliseconds later; a bidder waiting for an ack does. So while bids are in
flight the hub holds back its slices (`RoomHub`), for a bounded time per flush, and the loop's
turns are short until the bids are answered.
"""
from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator


class InFlight:
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    @property
    def busy(self) -> bool:
        return self.count > 0

    @contextmanager
    def carrying(self) -> Iterator[None]:
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1


BIDS = InFlight()  # one per process, like the metrics
