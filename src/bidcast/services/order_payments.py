"""Paying an order: authorize and capture at the provider, then post the sale to the ledger.

The winner of a lot pays from the page: one request authorizes and captures with the provider
and, in one database transaction, records the payment, marks the order paid and posts the
balanced ledger transaction (buyer payment → seller pending minus the platform's commission).
Retrying with the same idempotency key returns the same result and never charges twice: the
provider dedupes on keys derived from it, and the ledger transaction's id names the order.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.ledger import CommissionPolicy, order_paid
from ..errors import AppError, not_found
from ..payments.provider import Intent, PaymentError, PaymentProvider
from ..storage.ledger_store import account_balances, record
from ..storage.models import Order, OrderEvent, Payment, Product, utcnow
from ..storage.notify import notify
from .accounts import Principal

log = logging.getLogger(__name__)
PROCESSING = "processing"
# A claim older than this is from a crashed attempt: another key may pay (a second capture is
# then returned at once, see below).
CLAIM_S = 60


def void_key(intent_id: str) -> str:
    """The provider key for returning a capture that cannot pay its order (request and webhook)."""
    return f"webhook:{intent_id}:void"


class OrderPayments:
    def __init__(self, sessions: async_sessionmaker, provider: PaymentProvider,
                 commission: CommissionPolicy | None = None) -> None:
        self._sessions = sessions
        self._provider = provider
        self._commission = commission or CommissionPolicy()

    async def pay(self, who: Principal, order_id: int, payment_method: str, key: str) -> dict:
        prior = await self._claim(who, order_id, key)
        if prior is not None:
            return {"order_id": order_id, "status": "paid", "payment_id": prior, "replayed": True}
        try:
            return await self._charge(who, order_id, payment_method, key)
        except BaseException as e:
            # Free the claim unless the attempt ended in a state of its own (declined, bank step).
            await self._release(order_id, key, getattr(e, "code", None))
            raise

    async def _claim(self, who: Principal, order_id: int, key: str) -> int | None:
        """Check the order can be paid and claim it for this attempt, under the order's row lock.

        Returns the payment id when this key already paid it (a replay). Refuses a payment after
        the deadline (the sweep cancels the order) and a second attempt with another key while
        one is charging the card (two tabs; the checkout and the order page)."""
        async with self._sessions.begin() as s:
            order = await s.get(Order, order_id, with_for_update=True, populate_existing=True)
            if order is None or order.buyer_id != who.id:
                raise not_found("Order")
            mine = (await s.execute(select(Payment).where(
                Payment.order_id == order_id, Payment.idempotency_key == key))).scalar_one_or_none()
            if mine is not None and mine.status == "succeeded":
                return mine.id
            if order.status != "awaiting_payment":
                raise AppError(409, "not_payable", f"This order is {order.status.replace('_', ' ')}.")
            if order.pay_by is not None and order.pay_by <= utcnow():
                raise AppError(409, "payment_window_over",
                               "The time to pay this order is over; it is being cancelled.")
            busy = (await s.execute(select(Payment.id).where(
                Payment.order_id == order_id, Payment.status == PROCESSING, Payment.idempotency_key != key,
                Payment.created_at > utcnow() - timedelta(seconds=CLAIM_S)))).first()
            if busy is not None:
                raise AppError(409, "payment_in_progress",
                               "This order is being paid right now; wait for that payment's answer.")
            if mine is None:
                s.add(Payment(order_id=order_id, idempotency_key=key, provider_intent_id="",
                              amount=order.amount, currency=order.currency, status=PROCESSING, captured=0))
            elif mine.status == "failed":  # tried again: claim anew (a decline is replayed anyway)
                mine.status, mine.created_at = PROCESSING, utcnow()
            # Otherwise a retry of an attempt in flight or waiting for the bank step: the provider
            # dedupes it on the keys derived from this one.
            return None

    async def _charge(self, who: Principal, order_id: int, payment_method: str, key: str) -> dict:
        async with self._sessions() as s:
            order = await s.get(Order, order_id)
            assert order is not None
        ref = f"order:{order_id}"
        intent = await self._provider.create_intent(order.amount, order.currency, ref,
                                                    idempotency_key=f"{ref}:{key}:create")
        await self._note(order_id, key, intent.id, None, None)
        try:
            intent = await self._provider.confirm(intent.id, payment_method,
                                                  idempotency_key=f"{ref}:{key}:confirm")
        except PaymentError as e:
            await self._note(order_id, key, (e.intent or intent).id, "failed" if e.intent else None, e.code)
            raise
        if intent.status == "requires_action":
            await self._note(order_id, key, intent.id, "requires_action", None)
            raise AppError(402, "requires_action", "Your bank asks for an extra confirmation step.",
                           intent_id=intent.id)
        intent = await self._provider.capture(intent.id, idempotency_key=f"{ref}:{key}:capture")
        try:
            payment = await self.settle(order_id, intent, key, who.id)
        except AppError as e:
            if e.code != "not_payable":
                raise
            # Paid by another attempt, or cancelled, while this card was charged: give the money
            # back now, under the key the payment.captured webhook uses, so it happens once.
            try:
                await self._provider.refund(intent.id, intent.captured, idempotency_key=void_key(intent.id))
            except PaymentError as refused:
                log.warning("returning capture %s of order %s: %s", intent.id, order_id, refused.code)
                raise AppError(409, "not_payable", f"{e.message} The charge on your card will be returned.",
                               charge_returned=False) from None
            await self._note(order_id, key, intent.id, "returned", None)
            raise AppError(409, "not_payable", f"{e.message} The charge on your card was returned.",
                           charge_returned=True) from None
        return {"order_id": order_id, "status": "paid", "payment_id": payment.id, "replayed": False,
                "captured": {"amount": intent.captured, "currency": intent.currency}}

    async def _note(self, order_id: int, key: str, intent_id: str, status: str | None,
                    decline: str | None) -> None:
        """Record the attempt's intent (so the webhook knows it) and, when given, its new status."""
        async with self._sessions.begin() as s:
            p = (await s.execute(select(Payment).where(Payment.order_id == order_id,
                                                       Payment.idempotency_key == key))).scalar_one_or_none()
            if p is None or p.status == "succeeded":
                return
            p.provider_intent_id = intent_id
            if status is not None:
                p.status, p.decline_code = status, decline

    async def _release(self, order_id: int, key: str, code: str | None) -> None:
        try:
            async with self._sessions.begin() as s:
                p = (await s.execute(select(Payment).where(
                    Payment.order_id == order_id, Payment.idempotency_key == key,
                    Payment.status == PROCESSING))).scalar_one_or_none()
                if p is not None:
                    p.status, p.decline_code = "failed", (code or "error")[:40]
        except Exception:
            log.exception("releasing the payment claim of order %s", order_id)

    @property
    def provider(self) -> PaymentProvider:
        return self._provider

    async def settle(self, order_id: int, intent: Intent, key: str, actor_id: int | None) -> Payment:
        """One transaction: record the captured payment, mark the order paid, post the sale.

        Called after a synchronous capture, or by the provider's webhook when that answer was
        lost (or came later, after an extra confirmation step). `not_payable` if it was paid."""
        async with self._sessions() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise not_found("Order")
            category = (await s.get(Product, order.product_id)).category  # type: ignore[union-attr]
        tx = order_paid(f"order:{order_id}", order.shop_id, intent.captured, order.currency,
                        self._commission.bps_for(category))
        try:
            async with self._sessions.begin() as s:
                fresh = await s.get(Order, order_id, with_for_update=True, populate_existing=True)
                assert fresh is not None
                if fresh.status != "awaiting_payment":
                    # Settled already with this very capture (the webhook and the caller race)?
                    same = (await s.execute(select(Payment).where(
                        Payment.order_id == order_id, Payment.provider_intent_id == intent.id,
                        Payment.status == "succeeded"))).scalars().first()
                    if same is not None:
                        return same
                    raise AppError(409, "not_payable", "This order was paid meanwhile.")
                payment = (await s.execute(select(Payment).where(
                    Payment.order_id == order_id, Payment.idempotency_key == key))).scalar_one_or_none()
                if payment is None:
                    payment = Payment(order_id=order_id, idempotency_key=key, amount=intent.amount,
                                      currency=intent.currency)
                    s.add(payment)
                payment.provider_intent_id, payment.status = intent.id, "succeeded"
                payment.captured, payment.decline_code = intent.captured, None
                fresh.status, fresh.payment_state, fresh.paid_at = "paid", "paid", utcnow()
                s.add(OrderEvent(order_id=order_id, kind="paid", actor_id=actor_id,
                                 detail=f"{intent.captured} {intent.currency} captured"))
                notify(s, fresh.seller_id, "paid", f"Order #{order_id} was paid",
                       "Ship it and add the tracking number.", link=f"/seller/orders#order-{order_id}")
                await record(s, tx)
        except IntegrityError:
            raise AppError(409, "not_payable", "This order has already been paid.") from None
        return payment

    async def seller_balance(self, shop_id: int) -> dict[str, dict[str, int]]:
        async with self._sessions() as s:
            found = await account_balances(s, "seller_")
        out: dict[str, dict[str, int]] = {}
        for (account, currency), amount in found.items():
            kind, _, owner = account.partition(":")
            if owner == str(shop_id):
                out.setdefault(currency, {})[kind.removeprefix("seller_")] = amount
        return out
