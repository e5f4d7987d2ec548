"""The pure rules of a flash sale: who gets a unit, and that stock and limits always hold."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcast.domain.flash_sale import (
    Accepted,
    Attempt,
    FlashRuleError,
    Rejected,
    SaleTerms,
    decide,
    decide_batch,
    returned_on_end,
    state_label,
    validate_launch,
)

HOST, SELLER = 1, 2
TERMS = SaleTerms(quantity=10, per_buyer_limit=2, starts_at=100.0, ends_at=160.0,
                  host_id=HOST, seller_id=SELLER)


def code(d) -> str | None:
    return d.code if isinstance(d, Rejected) else None


def test_a_running_sale_sells_within_the_limit() -> None:
    assert decide(TERMS, False, 0, 0, 7, 2, 120.0) == Accepted(2)


@pytest.mark.parametrize(("ended", "sold", "bought", "buyer", "qty", "now", "expected"), [
    (False, 0, 0, 7, 0, 120.0, "invalid_quantity"),
    (False, 0, 0, 7, -3, 120.0, "invalid_quantity"),
    (False, 0, 0, HOST, 1, 120.0, "own_sale"),
    (False, 0, 0, SELLER, 1, 120.0, "own_sale"),
    (False, 0, 0, 7, 1, 99.9, "not_running"),
    (False, 0, 0, 7, 1, 160.0, "not_running"),      # the end instant is already over
    (True, 0, 0, 7, 1, 120.0, "not_running"),       # ended early by the host
    (False, 10, 0, 7, 1, 120.0, "sold_out"),
    (False, 0, 2, 7, 1, 120.0, "limit_reached"),
    (False, 0, 1, 7, 2, 120.0, "limit_reached"),
    (False, 0, 0, 7, 3, 120.0, "limit_reached"),
    (False, 9, 0, 7, 2, 120.0, "not_enough_left"),
])
def test_refusals_carry_a_machine_readable_reason(ended, sold, bought, buyer, qty, now, expected) -> None:
    assert code(decide(TERMS, ended, sold, bought, buyer, qty, now)) == expected


@pytest.mark.parametrize(("args", "expected"), [
    ((0, 5, 100, 200, 30, 1), "invalid_quantity"),
    ((6, 5, 100, 200, 30, 1), "out_of_stock"),
    ((5, 5, 0, 200, 30, 1), "invalid_price"),
    ((5, 5, 201, 200, 30, 1), "invalid_price"),
    ((5, 5, 100, 200, 4, 1), "invalid_duration"),
    ((5, 5, 100, 200, 3601, 1), "invalid_duration"),
    ((5, 5, 100, 200, 30, 0), "invalid_limit"),
    ((5, 5, 100, 200, 30, 6), "invalid_limit"),
])
def test_a_launch_that_breaks_a_rule_is_refused(args, expected) -> None:
    with pytest.raises(FlashRuleError) as e:
        validate_launch(*args)
    assert e.value.code == expected


def test_a_valid_launch_passes() -> None:
    validate_launch(5, 5, 200, 200, 30, 5)


def test_labels_and_returns() -> None:
    assert state_label(TERMS, False, 3, 120.0) == "running"
    assert state_label(TERMS, False, 10, 120.0) == "sold_out"
    assert state_label(TERMS, False, 3, 170.0) == "ended"
    assert state_label(TERMS, True, 3, 120.0) == "ended"
    assert state_label(TERMS, False, 0, 50.0) == "scheduled"
    assert returned_on_end(10, 7) == 3 and returned_on_end(10, 10) == 0


attempts = st.lists(st.builds(Attempt, buyer_id=st.integers(1, 12), quantity=st.integers(-1, 4)),
                    max_size=80)


@settings(max_examples=300)
@given(quantity=st.integers(1, 30), limit=st.integers(1, 5), sold=st.integers(0, 30),
       batches=st.lists(attempts, max_size=5), now=st.floats(90, 170))
def test_no_batch_sequence_oversells_or_passes_a_limit(quantity, limit, sold, batches, now) -> None:
    terms = SaleTerms(quantity, limit, 100.0, 160.0, HOST, SELLER)
    sold = min(sold, quantity)
    bought: dict[int, int] = {}
    for batch in batches:
        decisions, new_sold, changed = decide_batch(terms, False, sold, bought, batch, now)
        assert len(decisions) == len(batch)
        got = sum(d.quantity for d in decisions if isinstance(d, Accepted))
        assert new_sold == sold + got <= quantity            # stock never below zero
        for a, d in zip(batch, decisions, strict=True):
            if isinstance(d, Accepted):
                assert d.quantity == a.quantity >= 1 and a.buyer_id not in (HOST, SELLER)
                assert terms.starts_at <= now < terms.ends_at
        bought.update(changed)
        assert all(0 <= u <= limit for u in bought.values())  # nobody above the limit
        if new_sold == quantity:
            more, again, _ = decide_batch(terms, False, new_sold, bought, [Attempt(5, 1)], now)
            assert code(more[0]) in ("sold_out", "not_running", "limit_reached") and again == new_sold
        sold = new_sold


@given(batch=attempts)
def test_a_batch_decides_like_one_attempt_at_a_time(batch) -> None:
    sold, bought = 0, {}
    one_by_one = []
    for a in batch:
        d = decide(TERMS, False, sold, bought.get(a.buyer_id, 0), a.buyer_id, a.quantity, 120.0)
        if isinstance(d, Accepted):
            sold += d.quantity
            bought[a.buyer_id] = bought.get(a.buyer_id, 0) + d.quantity
        one_by_one.append(d)
    decisions, new_sold, changed = decide_batch(TERMS, False, 0, {}, batch, 120.0)
    assert decisions == one_by_one and new_sold == sold and changed == bought
