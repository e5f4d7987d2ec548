"""The order lifecycle's pure rules: legal moves, refused moves, and no reachable illegal state."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcast.domain.order_status import (
    CANCELLABLE,
    FulfilmentState,
    Move,
    OrderState,
    OrderStateError,
    OrderStatus,
    PaymentState,
    apply,
    can_move,
    check_move,
    due,
    payment_state_after_refund,
    violations,
)

S, F, P = OrderStatus, FulfilmentState, PaymentState


def run(*moves: Move) -> OrderState:
    state = OrderState()
    for move in moves:
        state = apply(state, move)
    return state


def test_the_happy_path_moves_status_payment_and_parcel_apart() -> None:
    assert run(Move.PAY) == OrderState(S.PAID, P.PAID, F.UNFULFILLED)
    assert run(Move.PAY, Move.SHIP) == OrderState(S.SHIPPED, P.PAID, F.SHIPPED)
    assert run(Move.PAY, Move.SHIP, Move.IN_TRANSIT) == OrderState(S.SHIPPED, P.PAID, F.IN_TRANSIT)
    assert run(Move.PAY, Move.SHIP, Move.IN_TRANSIT, Move.DELIVER, Move.COMPLETE) == \
        OrderState(S.COMPLETED, P.PAID, F.DELIVERED)


def test_cancel_only_before_shipping() -> None:
    assert run(Move.CANCEL).status is S.CANCELLED
    assert run(Move.PAY, Move.CANCEL) == OrderState(S.CANCELLED, P.PAID, F.UNFULFILLED)
    assert run(Move.PAY, Move.CANCEL, Move.REFUND_ALL).payment is P.REFUNDED
    for done in ((Move.PAY, Move.SHIP), (Move.PAY, Move.SHIP, Move.DELIVER),
                 (Move.PAY, Move.SHIP, Move.DELIVER, Move.COMPLETE), (Move.CANCEL,)):
        with pytest.raises(OrderStateError) as err:
            run(*done, Move.CANCEL)
        assert err.value.code == "not_cancellable"
    assert CANCELLABLE == {S.AWAITING_PAYMENT, S.PAID}


@pytest.mark.parametrize("moves, code", [
    ((Move.SHIP,), "not_shippable"),                              # not paid
    ((Move.PAY, Move.CANCEL, Move.SHIP), "not_shippable"),         # cancelled
    ((Move.PAY, Move.SHIP, Move.SHIP), "not_shippable"),           # twice
    ((Move.PAY, Move.PAY), "invalid_transition"),                  # paid twice
    ((Move.DELIVER,), "not_shipped"),                              # a scan before shipping
    ((Move.PAY, Move.COMPLETE), "invalid_transition"),             # completed before delivery
    ((Move.REFUND_ALL,), "not_refundable"),                        # nothing was paid
    ((Move.PAY, Move.REFUND_ALL, Move.REFUND_ALL), "not_refundable"),
])
def test_refused_moves_name_the_reason(moves: tuple[Move, ...], code: str) -> None:
    with pytest.raises(OrderStateError) as err:
        run(*moves)
    assert err.value.code == code


def test_late_or_repeated_carrier_scans_do_not_move_the_order_back() -> None:
    delivered = run(Move.PAY, Move.SHIP, Move.DELIVER)
    assert apply(delivered, Move.IN_TRANSIT) == delivered
    assert apply(delivered, Move.DELIVER) == delivered
    assert apply(delivered, Move.EXCEPTION) == delivered
    completed = apply(delivered, Move.COMPLETE)
    assert apply(completed, Move.DELIVER) == completed


def test_a_refunded_paid_order_cannot_ship() -> None:
    with pytest.raises(OrderStateError):
        apply(OrderState(S.PAID, P.REFUNDED, F.UNFULFILLED), Move.SHIP)


def test_a_partly_refunded_paid_order_still_ships() -> None:
    shipped = apply(OrderState(S.PAID, P.PARTIALLY_REFUNDED, F.UNFULFILLED), Move.SHIP)
    assert shipped == OrderState(S.SHIPPED, P.PARTIALLY_REFUNDED, F.SHIPPED)


def test_the_older_helpers_agree() -> None:
    assert can_move("paid", "shipped") and not can_move("shipped", "cancelled")
    assert check_move("delivered", "completed") is S.COMPLETED
    assert payment_state_after_refund(100, 0) is P.PAID
    assert payment_state_after_refund(100, 40) is P.PARTIALLY_REFUNDED
    assert payment_state_after_refund(100, 100) is P.REFUNDED


def test_due_is_measured_from_a_known_time() -> None:
    assert due(1000.0, 60, 1060.0) and not due(1000.0, 60, 1059.9) and not due(None, 0, 1e12)


@settings(max_examples=400)
@given(st.lists(st.sampled_from(list(Move)), max_size=25))
def test_no_sequence_of_moves_reaches_an_illegal_state(moves: list[Move]) -> None:
    state = OrderState()
    shipped = False
    for move in moves:
        before = state
        try:
            state = apply(state, move)
        except OrderStateError:
            assert state == before
            continue
        assert violations(state) == [], (moves, state)
        # Never back: a shipped order stays shipped or further, a cancelled one stays cancelled.
        if before.status is S.CANCELLED or before.status is S.COMPLETED:
            assert state.status is before.status
        if state.status is S.CANCELLED:
            assert not shipped, "cancelled after shipping"
        shipped = shipped or state.status is S.SHIPPED
        if move is Move.SHIP:
            assert before.payment in (P.PAID, P.PARTIALLY_REFUNDED)  # paid, not refunded in full
        if before.payment is not P.UNPAID:
            assert state.payment is not P.UNPAID  # money never un-happens


@given(st.sampled_from(list(OrderStatus)), st.sampled_from(list(PaymentState)),
       st.sampled_from(list(FulfilmentState)), st.sampled_from(list(Move)))
def test_any_state_either_moves_legally_or_refuses_without_change(
        status: OrderStatus, payment: PaymentState, parcel: FulfilmentState, move: Move) -> None:
    state = OrderState(status, payment, parcel)
    try:
        after = apply(state, move)
    except OrderStateError as e:
        assert e.code and e.message
        return
    if not violations(state):
        assert violations(after) == []
