"""Refunding an order: through the provider and the ledger, never above what was captured.

Two short transactions around the provider call, both holding the order row:
1. reserve: the (order, idempotency key) row is created as `pending` and the amount is added to
   `orders.refunded_amount` only if it still fits under the capture, so concurrent refunds can
   never exceed it (the row lock serializes them on PostgreSQL; BEGIN IMMEDIATE on SQLite);
2. after the provider answered: the refund becomes `succeeded`, the ledger's `refund` transaction
   is posted (commission given back in proportion), payment_state moves, the order's audit trail
   and the buyer's notification are written.
A refusal by the provider marks the row `failed` and releases the reservation; a retry with the
same key reserves again and asks the provider anew, under a new provider key (`attempt` + 1): the
keys of cancellations (`cancel:{order}`) and returns (`return:{id}`) are fixed, and a refusal must
not keep such an order from ever being refunded. A refused attempt moved no money, so the new one
cannot refund twice. A busy or failing provider (5xx, `provider_busy`), a crash or a timeout leave
the row `pending`: a retry with the same key, or `resume_pending`, finishes it with the same
provider key, so the buyer is refunded exactly once.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain import ledger
from ..domain.order_status import (
    FulfilmentState,
    PaymentState,
    payment_state_after_refund,
)
from ..errors import AppError, not_found
from ..payments.provider import PaymentError, PaymentProvider
from ..storage.ledger_store import record
from ..storage.models import Order, OrderEvent, RefundRecord, utcnow
from ..storage.notify import notify
from ..storage.payment_store import captured_payment, order_transactions

log = logging.getLogger(__name__)
# A fully refunded order stays in the list: asking for more is `refund_exceeds_captured`.
REFUNDABLE_STATES = (PaymentState.PAID.value, PaymentState.PARTIALLY_REFUNDED.value, PaymentState.REFUNDED.value)


def refund_view(r: RefundRecord) -> dict:
    return {"id": r.id, "order_id": r.order_id, "amount": r.amount, "currency": r.currency,
            "reason": r.reason, "status": r.status, "failure_code": r.failure_code,
            "provider_refund_id": r.provider_refund_id, "created_at": r.created_at.isoformat(),
            "completed_at": r.completed_at.isoformat() if r.completed_at else None}


class Refunds:
    def __init__(self, sessions: async_sessionmaker, provider: PaymentProvider) -> None:
        self._sessions = sessions
        self._provider = provider

    async def refund(self, order_id: int, amount: int, reason: str, idempotency_key: str,
                     actor_id: int | None, *, mark_returned: bool = False) -> dict:
        """Refund `amount` minor units of a paid order; the same key always gives the same answer."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise AppError(422, "invalid_amount", "A refund is a positive whole number of minor units.")
        if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= 100:
            raise AppError(422, "invalid_idempotency_key", "An idempotency key of 1-100 characters is required.")
        reason = (reason or "").strip()[:300] or "refund"
        async with self._sessions.begin() as s:
            order = await _locked(s, order_id)
            rec = await _by_key(s, order_id, idempotency_key)
            if rec is not None:
                if rec.amount != amount:
                    raise AppError(409, "idempotency_key_reused",
                                   "This idempotency key was used for a different refund amount.")
                if rec.status == "succeeded":
                    return self._answer(rec, order, replayed=True)
                if rec.status == "failed":  # refused before: reserve again, ask the provider anew
                    await _reserve(s, order, amount)
                    rec.status, rec.failure_code, rec.completed_at = "pending", None, None
                    rec.attempt += 1
            else:
                await _reserve(s, order, amount)
                rec = RefundRecord(order_id=order_id, idempotency_key=idempotency_key, amount=amount,
                                   currency=order.currency, reason=reason, status="pending", actor_id=actor_id)
                s.add(rec)
                await s.flush()
            refund_id = rec.id
        return await self.complete(refund_id, mark_returned=mark_returned)

    async def complete(self, refund_id: int, *, mark_returned: bool = False) -> dict:
        """Do (or finish) a reserved refund at the provider and in the ledger; idempotent."""
        async with self._sessions() as s:
            rec = await s.get(RefundRecord, refund_id)
            assert rec is not None
            payment = await captured_payment(s, rec.order_id)
        if payment is None:
            raise AppError(409, "not_refundable", "The order has no captured payment.")
        if rec.status != "pending":
            return await self._settled(refund_id)
        try:
            done = await self._provider.refund(payment.provider_intent_id, rec.amount,
                                               idempotency_key=provider_key(rec))
        except PaymentError as e:
            if e.transient:
                raise AppError(503, "refund_pending", "The payment provider is busy: the refund is kept "
                               "and will be retried.", provider_code=e.code) from None
            await self._fail(refund_id, rec.attempt, e.code)
            raise AppError(409 if e.status < 500 else e.status, "refund_failed",
                           f"The payment provider refused the refund: {e.message}", provider_code=e.code) from None
        async with self._sessions.begin() as s:
            order = await _locked(s, rec.order_id)
            rec = await s.get(RefundRecord, refund_id, with_for_update=True, populate_existing=True)
            assert rec is not None
            if rec.status != "pending":
                return self._answer(rec, order, replayed=True)
            ref = f"order:{order.id}"
            try:
                position = ledger.order_position(await order_transactions(s, ref), ref)
                await record(s, ledger.refund(position, f"{ref}:{refund_id}", rec.amount))
            except ledger.LedgerError as e:
                raise AppError(409, e.code, e.message) from None
            rec.status, rec.provider_refund_id, rec.completed_at = "succeeded", done.id, utcnow()
            succeeded = position.refunded + rec.amount
            order.payment_state = payment_state_after_refund(position.captured, succeeded).value
            if mark_returned and order.payment_state == PaymentState.REFUNDED:
                order.fulfilment_state = FulfilmentState.RETURNED.value
            money = f"{rec.amount / 100:.2f} {rec.currency}"
            s.add(OrderEvent(order_id=order.id, kind="refunded", actor_id=rec.actor_id,
                             detail=f"{money} refunded: {rec.reason}"[:300]))
            notify(s, order.buyer_id, "refunded", f"Order #{order.id}: {money} refunded",
                   f"Reason: {rec.reason}. It goes back to the card you paid with.",
                   link=f"/me/orders#order-{order.id}")
            return self._answer(rec, order, replayed=False)

    async def _settled(self, refund_id: int) -> dict:
        async with self._sessions() as s:
            rec = await s.get(RefundRecord, refund_id)
            order = await s.get(Order, rec.order_id)  # type: ignore[union-attr]
            return self._answer(rec, order, replayed=True)  # type: ignore[arg-type]

    async def _fail(self, refund_id: int, attempt: int, code: str) -> None:
        async with self._sessions.begin() as s:
            rec = await s.get(RefundRecord, refund_id)
            assert rec is not None
            order = await _locked(s, rec.order_id)
            rec = await s.get(RefundRecord, refund_id, with_for_update=True, populate_existing=True)
            # Only the attempt that was refused: a newer one (a concurrent retry) is not touched.
            if rec is not None and rec.status == "pending" and rec.attempt == attempt:
                rec.status, rec.failure_code, rec.completed_at = "failed", code[:40], utcnow()
                order.refunded_amount -= rec.amount

    @staticmethod
    def _answer(rec: RefundRecord, order: Order, *, replayed: bool) -> dict:
        if rec.status == "failed":
            raise AppError(409, "refund_failed", "This refund was refused by the payment provider.",
                           provider_code=rec.failure_code)
        return {"refund": refund_view(rec), "replayed": replayed,
                "order": {"id": order.id, "refunded_amount": order.refunded_amount,
                          "payment_state": order.payment_state, "fulfilment_state": order.fulfilment_state}}

    async def resume_pending(self, older_than_s: float = 60.0) -> int:
        """Finish refunds left pending by a crash or a provider timeout; returns how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        async with self._sessions() as s:
            ids = list((await s.execute(select(RefundRecord.id).where(
                RefundRecord.status == "pending", RefundRecord.created_at < cutoff).limit(100))).scalars())
        done = 0
        for refund_id in ids:
            try:
                await self.complete(refund_id)
                done += 1
            except AppError as e:
                log.warning("pending refund %s: %s", refund_id, e.code)
        return done

    async def for_order(self, order_id: int) -> list[dict]:
        async with self._sessions() as s:
            rows = (await s.execute(select(RefundRecord).where(RefundRecord.order_id == order_id)
                                    .order_by(RefundRecord.id))).scalars()
            return [refund_view(r) for r in rows]

    async def refunded_total(self, order_id: int) -> int:
        async with self._sessions() as s:
            total = await s.scalar(select(func.coalesce(func.sum(RefundRecord.amount), 0)).where(
                RefundRecord.order_id == order_id, RefundRecord.status == "succeeded"))
            return int(total or 0)


def provider_key(rec: RefundRecord) -> str:
    """The provider's idempotency key of this attempt (the first one keeps the original form)."""
    return f"bidcast-refund:{rec.id}" + (f":{rec.attempt}" if rec.attempt else "")


async def _reserve(s, order: Order, amount: int) -> None:
    """Count `amount` in the locked order's refunded_amount if it fits under the capture."""
    if order.payment_state not in REFUNDABLE_STATES:
        raise AppError(409, "not_refundable", "Only a paid order can be refunded.")
    payment = await captured_payment(s, order.id)
    left = (payment.captured if payment else 0) - order.refunded_amount
    if amount > left:
        raise AppError(409, "refund_exceeds_captured",
                       f"At most {max(left, 0)} of the captured amount can still be refunded.",
                       refundable=max(left, 0))
    order.refunded_amount += amount


async def _locked(s, order_id: int) -> Order:
    order = await s.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise not_found("Order")
    return order


async def _by_key(s, order_id: int, key: str) -> RefundRecord | None:
    return (await s.execute(select(RefundRecord).where(
        RefundRecord.order_id == order_id, RefundRecord.idempotency_key == key))).scalar_one_or_none()
