"""Cancelling an order before it ships, and shipping it.

Each change is one transaction holding the order row: the move is checked by the pure rules
(domain/order_status.py), made with an UPDATE guarded on the status it was checked against, and
written with its audit event and the other party's notification. A paid order's cancellation
then refunds the whole capture through the refund service, under a key named for the order, so
a retried cancel (or the settlement sweep, after a crash in between) refunds exactly once.
"""
from __future__ import annotations

import logging
import re

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.order_status import (
    SHIPPABLE_PAYMENTS,
    Move,
    OrderState,
    OrderStateError,
    apply,
)
from ..errors import AppError, not_found
from ..storage.flash_store import release_units
from ..storage.models import Order, OrderEvent, OrderLine, Product, RefundRecord, utcnow
from ..storage.notify import notify
from ..storage.payment_store import captured_payment
from .accounts import Principal
from .order_deadlines import STRIKE_KINDS, STRIKES_TO_SUSPEND, give_strike
from .refunds import Refunds

log = logging.getLogger("bidcast.orders")
_SHIPPABLE = tuple(sorted(p.value for p in SHIPPABLE_PAYMENTS))
TRACKING_NUMBER = re.compile(r"^[A-Z0-9-]{6,40}$")


def cancel_key(order_id: int) -> str:
    return f"cancel:{order_id}"


def _state(o: Order) -> OrderState:
    return OrderState.of(o.status, o.payment_state, o.fulfilment_state)


def _conflict(e: OrderStateError) -> AppError:
    return AppError(409, e.code, e.message)


async def _locked(s, order_id: int, who: Principal) -> Order:  # noqa: ANN001
    order = await s.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or who.id not in (order.buyer_id, order.seller_id):
        raise not_found("Order")
    return order


class Fulfilment:
    def __init__(self, sessions: async_sessionmaker, refunds: Refunds, carriers: list[str]) -> None:
        self._sessions = sessions
        self._refunds = refunds
        self.carriers = tuple(carriers)

    # -- cancel ----------------------------------------------------------------------------------

    async def cancel(self, who: Principal, order_id: int, reason: str) -> dict:
        """Cancel before shipping, by the buyer or the seller; a paid order is refunded in full.
        Cancelling a cancelled order again is a retry: it answers the same and finishes a refund.
        A buyer who cancels a won lot unpaid gets a strike, as if its payment deadline had passed."""
        reason = " ".join((reason or "").split())
        if not 3 <= len(reason) <= 200:
            raise AppError(422, "invalid_reason", "Say why the order is cancelled (3 to 200 characters).")
        async with self._sessions.begin() as s:
            order = await _locked(s, order_id, who)
            if order.status != "cancelled":
                try:
                    apply(_state(order), Move.CANCEL)
                except OrderStateError as e:
                    raise _conflict(e) from None
                await self._cancel_locked(s, order, who, reason)
            paid = order.payment_state in ("paid", "partially_refunded")
        refund = await self.refund_cancelled(order_id, who.id) if paid else None
        return {"order_id": order_id, "status": "cancelled", "refund": refund}

    async def _cancel_locked(self, s, order: Order, who: Principal, reason: str) -> None:  # noqa: ANN001
        role = "buyer" if who.id == order.buyer_id else "seller"
        now = utcnow()
        done = await s.execute(update(Order).where(Order.id == order.id, Order.status == order.status)
                               .values(status="cancelled", cancelled_at=now, cancelled_by=who.id,
                                       cancel_reason=reason)
                               .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise AppError(409, "not_cancellable", "The order changed meanwhile; reload it.")
        # Products in id order, as checkout locks them; a flash order's units go back to its sale
        # while it runs (and the buyer's count drops), as when its payment deadline passes.
        for product_id, quantity in (await s.execute(select(OrderLine.product_id, OrderLine.quantity)
                                                     .where(OrderLine.order_id == order.id)
                                                     .order_by(OrderLine.product_id))).all():
            if order.kind == "flash" and order.flash_sale_id is not None:
                await release_units(s, order.flash_sale_id, order.buyer_id, quantity)
                continue
            await s.execute(update(Product).where(Product.id == product_id)
                            .values(stock=Product.stock + quantity))
        detail = f"by the {role}: {reason}"
        strikes = None
        if role == "buyer" and order.kind in STRIKE_KINDS and order.payment_state == "unpaid":
            # Walking away from a won lot unpaid is a non-payment, whoever ends it: the same strike
            # as at the deadline, and the seller may offer the lot to the runner-up.
            strikes = await give_strike(s, order.buyer_id)
            detail += f"; buyer strike {strikes}"
        s.add(OrderEvent(order_id=order.id, kind="cancelled", actor_id=who.id, detail=detail[:300]))
        other, link = ((order.seller_id, f"/seller/orders#order-{order.id}") if role == "buyer"
                       else (order.buyer_id, f"/me/orders#order-{order.id}"))
        body = f"Reason: {reason}"
        if order.payment_state != "unpaid":
            body += " The payment is refunded in full."
        if strikes is not None:
            body += " The winner did not pay: you may offer the lot to the runner-up."
            notify(s, order.buyer_id, "order_cancelled", f"Order #{order.id} cancelled: a strike",
                   f"Cancelling a won lot unpaid counts as a strike ({strikes} of {STRIKES_TO_SUSPEND}; "
                   f"at {STRIKES_TO_SUSPEND} you can no longer bid).", link=f"/me/orders#order-{order.id}")
        notify(s, other, "order_cancelled", f"Order #{order.id} was cancelled by the {role}", body, link=link)

    async def refund_cancelled(self, order_id: int, actor_id: int | None) -> dict | None:
        """Refund what is left of a cancelled order's capture (once: the key names the order)."""
        key = cancel_key(order_id)
        async with self._sessions() as s:
            order = await s.get(Order, order_id)
            if order is None or order.status != "cancelled":
                return None
            mine = (await s.execute(select(RefundRecord).where(
                RefundRecord.order_id == order_id, RefundRecord.idempotency_key == key))).scalar_one_or_none()
            if mine is not None:
                amount = mine.amount
            else:
                payment = await captured_payment(s, order_id)
                others = await s.scalar(select(func.coalesce(func.sum(RefundRecord.amount), 0)).where(
                    RefundRecord.order_id == order_id, RefundRecord.status != "failed"))
                amount = (payment.captured if payment else 0) - int(others or 0)
        if amount <= 0:
            return None
        try:
            answer = await self._refunds.refund(order_id, amount, f"order cancelled: {order.cancel_reason}",
                                                key, actor_id)
        except AppError as e:
            log.warning("refund of cancelled order %s: %s", order_id, e.code)
            return {"status": "failed", "code": e.code, "message": e.message}
        return answer["refund"]

    # -- ship ------------------------------------------------------------------------------------

    def check_parcel(self, carrier: str, tracking_number: str) -> tuple[str, str]:
        carrier = (carrier or "").strip().lower()
        if carrier not in self.carriers:
            raise AppError(422, "unknown_carrier", f"Ship with one of: {', '.join(self.carriers)}.")
        number = re.sub(r"[\s]+", "", tracking_number or "").upper()
        if not TRACKING_NUMBER.match(number):
            raise AppError(422, "invalid_tracking_number",
                           "A tracking number is 6 to 40 letters, digits or dashes.")
        return carrier, number

    async def ship(self, who: Principal, order_id: int, carrier: str, tracking_number: str) -> dict:
        """The seller hands the parcel to a carrier. Sending the same parcel again is a retry."""
        carrier, number = self.check_parcel(carrier, tracking_number)
        async with self._sessions.begin() as s:
            order = await _locked(s, order_id, who)
            if who.id != order.seller_id:
                raise AppError(403, "forbidden", "Only the seller ships an order.")
            if order.shipped_at is not None:
                if (order.carrier, order.tracking_number) == (carrier, number):
                    return {"order_id": order_id, "status": order.status, "replayed": True}
                raise AppError(409, "already_shipped",
                               f"This order was already shipped with {order.carrier} {order.tracking_number}.")
            try:
                apply(_state(order), Move.SHIP)
            except OrderStateError as e:
                raise _conflict(e) from None
            done = await s.execute(update(Order).where(Order.id == order_id, Order.status == "paid",
                                                       Order.payment_state.in_(_SHIPPABLE))
                                   .values(status="shipped", fulfilment_state="shipped", carrier=carrier,
                                           tracking_number=number, shipped_at=utcnow())
                                   .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                raise AppError(409, "not_shippable", "The order changed meanwhile; reload it.")
            s.add(OrderEvent(order_id=order_id, kind="shipped", actor_id=who.id,
                             detail=f"{carrier} {number}"))
            notify(s, order.buyer_id, "shipped", f"Order #{order_id} is on its way",
                   f"{carrier.upper()} tracking number {number}.", link=f"/orders/{order_id}")
        return {"order_id": order_id, "status": "shipped", "replayed": False}
