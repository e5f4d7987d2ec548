"""Return rules: eligibility, photos, amounts, and the state machine's reachable states."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcast.domain.returns import (
    OPEN,
    TRANSITIONS,
    R,
    ReturnError,
    check_eligible,
    check_move,
    check_photos,
    check_refund_amount,
)

DAY = 86_400.0


@pytest.mark.parametrize(("status", "delivered", "now", "final", "code"), [
    ("delivered", 0.0, 1.0, True, "final_sale"),
    ("shipped", None, 1.0, False, "not_delivered"),
    ("delivered", 0.0, 7 * DAY + 1, False, "return_window_closed"),
])
def test_refused_returns_say_why(status, delivered, now, final, code) -> None:
    with pytest.raises(ReturnError) as err:
        check_eligible(status, delivered, now, 7 * DAY, final)
    assert err.value.code == code


def test_photos_are_http_urls_at_most_five() -> None:
    assert check_photos([" https://a.example/x.jpg "]) == ["https://a.example/x.jpg"]
    for bad in (["javascript:alert(1)"], ["ftp://a/b"], ["https://"], ["https://a.example/x y"]):
        with pytest.raises(ReturnError, match="http"):
            check_photos(bad)
    with pytest.raises(ReturnError):
        check_photos([f"https://a.example/{i}" for i in range(6)])


@given(st.integers(0, 10**6), st.one_of(st.none(), st.integers(-5, 10**6 + 5)))
def test_refund_amount_is_never_above_what_is_left(refundable, amount) -> None:
    try:
        got = check_refund_amount(amount, refundable)
    except ReturnError as e:
        assert e.code in ("invalid_amount", "refund_exceeds_captured")
        return
    assert 1 <= got <= refundable


@given(st.lists(st.sampled_from(list(R)), max_size=12))
def test_random_moves_only_follow_the_table(moves) -> None:
    state = R.REQUESTED
    for target in moves:
        try:
            state = check_move(state, target)
        except ReturnError:
            assert target not in TRANSITIONS[state]
    assert (state in OPEN) == (state in (R.REQUESTED, R.APPROVED, R.AUTO_APPROVED, R.DISPUTED))
    assert not TRANSITIONS[R.REFUNDED] and not TRANSITIONS[R.RESOLVED]
