"""Bid increments by price band.

The default ladder follows the shape of eBay's published increment table: the step grows with
the price so that a bid is always a meaningful raise. Amounts are minor units.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

# (lower bound of the band, increment within it); bands ascend, the first starts at 0.
DEFAULT_LADDER: tuple[tuple[int, int], ...] = (
    (0, 5),
    (100, 25),
    (500, 50),
    (2_500, 100),
    (10_000, 250),
    (25_000, 500),
    (50_000, 1_000),
    (100_000, 2_500),
    (250_000, 5_000),
    (500_000, 10_000),
)


class LadderError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class IncrementLadder:
    bands: tuple[tuple[int, int], ...] = DEFAULT_LADDER
    _floors: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_ladder(self.bands)
        object.__setattr__(self, "_floors", tuple(b[0] for b in self.bands))

    def increment_at(self, price: int) -> int:
        """The step a bid must add to `price`."""
        i = bisect_right(self._floors, price) - 1
        return self.bands[max(i, 0)][1]

    def next_bid(self, price: int) -> int:
        return price + self.increment_at(price)

    def as_list(self) -> list[list[int]]:
        return [[lo, step] for lo, step in self.bands]


def validate_ladder(bands: tuple[tuple[int, int], ...] | list) -> None:
    if not bands:
        raise LadderError("An increment ladder needs at least one band.")
    if any(not isinstance(b, (list, tuple)) or len(b) != 2 for b in bands):
        raise LadderError("Each band is a pair: (floor, increment).")
    if bands[0][0] != 0:
        raise LadderError("The first band must start at 0.")
    last_floor, last_step = -1, 0
    for floor, step in bands:
        if floor <= last_floor:
            raise LadderError("Band floors must strictly ascend.")
        if step <= 0:
            raise LadderError("Increments must be positive.")
        if step < last_step:
            raise LadderError("Increments may not shrink as the price grows.")
        last_floor, last_step = floor, step


def ladder_from_list(raw: list | None) -> IncrementLadder:
    if not raw:
        return DEFAULT
    bands = []
    for band in raw:
        if (not isinstance(band, (list, tuple)) or len(band) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in band)):
            raise LadderError("Each band is a pair of whole numbers: [floor, increment].")
        bands.append((band[0], band[1]))
    return IncrementLadder(tuple(bands))


DEFAULT = IncrementLadder()
