"""The bid increment ladder: the step a bid must add, by price band."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcast.domain.increments import (
    DEFAULT,
    DEFAULT_LADDER,
    IncrementLadder,
    LadderError,
    ladder_from_list,
    validate_ladder,
)


@st.composite
def valid_bands(draw) -> tuple[tuple[int, int], ...]:
    """Floors strictly ascending from 0, increments positive and never shrinking."""
    gaps = draw(st.lists(st.integers(1, 100_000), max_size=8))
    floors = [0]
    for gap in gaps:
        floors.append(floors[-1] + gap)
    steps = sorted(draw(st.lists(st.integers(1, 10_000), min_size=len(floors), max_size=len(floors))))
    return tuple(zip(floors, steps))


def step_by_scan(bands, price: int) -> int:
    """The increment of the last band whose floor is at or below the price."""
    return [step for floor, step in bands if floor <= price][-1]


prices = st.integers(0, 2_000_000)


@pytest.mark.parametrize(
    ("price", "step"),
    [(0, 5), (1, 5), (99, 5), (100, 25), (499, 25), (500, 50), (2_499, 50), (2_500, 100),
     (9_999, 100), (10_000, 250), (24_999, 250), (25_000, 500), (49_999, 500), (50_000, 1_000),
     (99_999, 1_000), (100_000, 2_500), (249_999, 2_500), (250_000, 5_000), (499_999, 5_000),
     (500_000, 10_000), (1_000_000_000, 10_000)],
)
def test_default_ladder_bands(price, step):
    assert DEFAULT.increment_at(price) == step
    assert DEFAULT.next_bid(price) == price + step


def test_default_ladder_is_the_published_table():
    assert DEFAULT.bands == DEFAULT_LADDER
    assert DEFAULT == IncrementLadder()
    validate_ladder(DEFAULT_LADDER)


@settings(max_examples=300)
@given(prices, prices)
def test_default_next_bid_is_strictly_increasing(a, b):
    if a != b:
        low, high = sorted((a, b))
        assert DEFAULT.next_bid(low) < DEFAULT.next_bid(high)
    assert DEFAULT.next_bid(a) > a


@settings(max_examples=300)
@given(valid_bands(), prices, prices)
def test_any_valid_ladder_gives_a_strictly_increasing_next_bid(bands, a, b):
    ladder = IncrementLadder(bands)
    assert ladder.increment_at(a) == step_by_scan(bands, a)
    assert ladder.next_bid(a) > a
    if a != b:
        low, high = sorted((a, b))
        assert ladder.next_bid(low) < ladder.next_bid(high)


@pytest.mark.parametrize(
    "bands",
    [
        (),
        [],
        ((1, 5),),                       # must start at 0
        ((0, 5), (0, 10)),               # floors must strictly ascend
        ((0, 5), (100, 10), (50, 20)),
        ((0, 0),),                       # increments must be positive
        ((0, -5),),
        ((0, 5), (100, 0)),
        ((0, 25), (100, 5)),             # increments may not shrink
    ],
)
def test_bad_ladders_are_refused(bands):
    with pytest.raises(LadderError):
        validate_ladder(bands)
    with pytest.raises(LadderError):
        IncrementLadder(tuple(bands))


@st.composite
def broken_bands(draw) -> list[tuple[int, int]]:
    bands = [list(band) for band in draw(valid_bands())]
    i = draw(st.integers(0, len(bands) - 1))
    how = draw(st.sampled_from(["first_floor", "floor_order", "step_sign", "step_shrinks"]))
    if how == "first_floor" or (len(bands) == 1 and how in ("floor_order", "step_shrinks")):
        bands[0][0] = draw(st.integers(1, 1_000))
    elif how == "floor_order":
        i = max(i, 1)
        bands[i][0] = draw(st.integers(0, bands[i - 1][0]))
    elif how == "step_sign":
        bands[i][1] = draw(st.integers(-10, 0))
    else:
        i = max(i, 1)
        bands[i][1] = draw(st.integers(-10, bands[i - 1][1] - 1))
    return [tuple(band) for band in bands]


@settings(max_examples=200)
@given(broken_bands())
def test_validate_ladder_refuses_any_broken_ladder(bands):
    with pytest.raises(LadderError):
        validate_ladder(bands)


@settings(max_examples=100)
@given(valid_bands())
def test_validate_ladder_accepts_valid_ladders_and_as_list_round_trips(bands):
    validate_ladder(bands)
    ladder = IncrementLadder(bands)
    assert ladder_from_list(ladder.as_list()) == ladder


def test_ladder_from_list_defaults_and_converts():
    assert ladder_from_list(None) is DEFAULT
    assert ladder_from_list([]) is DEFAULT
    ladder = ladder_from_list([[0, 10], [1000, 100]])
    assert ladder.bands == ((0, 10), (1_000, 100))
    assert ladder.next_bid(990) == 1_000 and ladder.next_bid(1_000) == 1_100
    with pytest.raises(LadderError):
        ladder_from_list([[0, 10], [1_000, 5]])
    for bad in ([[0, 10], ["1000", "100"]], [[0, 5.7]], [[0]], [()], [[0, True]]):
        with pytest.raises(LadderError):
            ladder_from_list(bad)


def test_ladder_errors_are_value_errors():
    assert issubclass(LadderError, ValueError)
