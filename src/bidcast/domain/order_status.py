"""An order's lifecycle, apart from its payment and fulfilment states.

    awaiting_payment ─pay─▶ paid ─ship─▶ shipped ─deliver─▶ delivered ─(return window over)─▶ completed
          │                   │
          └──────cancel───────┘  (before shipping, by the buyer or the seller, with a reason)

Payment (`unpaid → paid → partially_refunded / refunded`) and the parcel (`unfulfilled → shipped
→ in_transit → delivered → returned`) are tracked in their own fields: a refund does not move the
order back, and a parcel's tracking updates do not need the order to change.
Pure rules: no web, no database.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentState(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class FulfilmentState(StrEnum):
    UNFULFILLED = "unfulfilled"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    RETURNED = "returned"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}


class OrderStateError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def can_move(current: str, target: str) -> bool:
    return OrderStatus(target) in TRANSITIONS[OrderStatus(current)]


def check_move(current: str, target: str) -> OrderStatus:
    """The target status if the order may move there from `current`, else OrderStateError."""
    cur, tgt = OrderStatus(current), OrderStatus(target)
    if tgt in TRANSITIONS[cur]:
        return tgt
    if tgt is S.CANCELLED:
        raise OrderStateError("not_cancellable", f"A {_words(cur)} order can no longer be cancelled.")
    raise OrderStateError("invalid_transition", f"A {_words(cur)} order cannot become {_words(tgt)}.")


def payment_state_after_refund(captured: int, refunded_total: int) -> PaymentState:
    if refunded_total <= 0:
        return PaymentState.PAID
    return PaymentState.REFUNDED if refunded_total >= captured else PaymentState.PARTIALLY_REFUNDED


def _words(status: OrderStatus) -> str:
    return status.value.replace("_", " ")


# -- the whole state of an order, and the moves that change it ------------------------------------

class Move(StrEnum):
    PAY = "pay"
    CANCEL = "cancel"
    SHIP = "ship"
    IN_TRANSIT = "in_transit"     # a carrier scan on the way
    EXCEPTION = "exception"       # a carrier problem report: recorded, changes nothing
    DELIVER = "deliver"
    COMPLETE = "complete"         # the return window is over
    REFUND_ALL = "refund_all"     # the whole captured amount went back (a paid order cancelled)


CANCELLABLE = frozenset({S.AWAITING_PAYMENT, S.PAID})
# A partial refund (a goodwill gesture, a missing accessory) leaves the rest of the order to ship;
# a refund of everything does not.
SHIPPABLE_PAYMENTS = frozenset({PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED})
TRACKING_EVENTS = {"in_transit": Move.IN_TRANSIT, "delivered": Move.DELIVER, "exception": Move.EXCEPTION}
CARRIER_MOVES = frozenset(TRACKING_EVENTS.values())


@dataclass(frozen=True, slots=True)
class OrderState:
    status: OrderStatus = S.AWAITING_PAYMENT
    payment: PaymentState = PaymentState.UNPAID
    fulfilment: FulfilmentState = FulfilmentState.UNFULFILLED

    @classmethod
    def of(cls, status: str, payment: str, fulfilment: str) -> "OrderState":
        return cls(OrderStatus(status), PaymentState(payment), FulfilmentState(fulfilment))


def apply(state: OrderState, move: Move) -> OrderState:
    """The state after `move`, or OrderStateError. Carrier scans that arrive late or out of
    order (in transit after delivery) leave the state as it is: the carrier's story is kept in
    the tracking events, the order only moves forward."""
    F, P = FulfilmentState, PaymentState
    if move is Move.PAY:
        return replace(state, status=check_move(state.status, S.PAID), payment=P.PAID)
    if move is Move.CANCEL:
        return replace(state, status=check_move(state.status, S.CANCELLED))
    if move is Move.SHIP:
        if state.payment not in SHIPPABLE_PAYMENTS:
            raise OrderStateError("not_shippable", "Only a paid order can be shipped.")
        if state.status is not S.PAID:
            raise OrderStateError("not_shippable", f"A {_words(state.status)} order cannot be shipped.")
        return replace(state, status=S.SHIPPED, fulfilment=F.SHIPPED)
    if move is Move.REFUND_ALL:
        if state.payment in (P.UNPAID, P.REFUNDED):
            raise OrderStateError("not_refundable", "Nothing is left to refund on this order.")
        return replace(state, payment=P.REFUNDED)
    if move in CARRIER_MOVES:
        if state.status not in (S.SHIPPED, S.DELIVERED, S.COMPLETED):
            raise OrderStateError("not_shipped", "The order has not been shipped.")
        if move is Move.IN_TRANSIT and state.fulfilment is F.SHIPPED:
            return replace(state, fulfilment=F.IN_TRANSIT)
        if move is Move.DELIVER and state.status is S.SHIPPED:
            return replace(state, status=S.DELIVERED, fulfilment=F.DELIVERED)
        return state
    if move is Move.COMPLETE:
        return replace(state, status=check_move(state.status, S.COMPLETED))
    raise OrderStateError("invalid_transition", f"Unknown move {move!r}.")


def violations(state: OrderState) -> list[str]:
    """What is wrong with a state (empty for every state `apply` can reach)."""
    st, parcel, money = state.status, state.fulfilment, state.payment
    F, P = FulfilmentState, PaymentState
    out = []
    if st is S.AWAITING_PAYMENT and money is not P.UNPAID:
        out.append("money moved on an unpaid order")
    if st in (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED) and money is P.UNPAID:
        out.append("a paid status without a payment")
    if (parcel is F.UNFULFILLED) != (st in (S.AWAITING_PAYMENT, S.PAID, S.CANCELLED)):
        out.append("parcel state and order status disagree")
    if st in (S.DELIVERED, S.COMPLETED) and parcel is not F.DELIVERED:
        out.append("delivered without a delivery")
    return out


def due(since_epoch_s: float | None, wait_s: float, now_epoch_s: float) -> bool:
    """Whether `wait_s` seconds have passed since `since_epoch_s` (never when it is unknown)."""
    return since_epoch_s is not None and now_epoch_s >= since_epoch_s + wait_s
