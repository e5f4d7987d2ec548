"""Paying an order: authorize and capture at the provider, then post the sale to the ledger.

The winner of a lot pays from the page: one request authorizes and captures with the provider
and, in one database transaction, records the payment, marks the order paid and posts the
balanced ledger transaction (buyer payment → seller pending minus the platform's commission).
Retrying with the same idempotency key returns the same result and never charges twice: the
provider dedupes on keys derived from it, and the ledger transaction's id names the order.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.ledger import CommissionPolicy, order_paid
from ..errors import AppError, not_found
from ..payments.provider import PaymentError, PaymentProvider
from ..storage.ledger_store import account_balances, record
from ..storage.models import Order, OrderEvent, Payment, Product, utcnow
from .accounts import Principal


class OrderPayments:
    def __init__(self, sessions: async_sessionmaker, provider: PaymentProvider,
                 commission: CommissionPolicy | None = None) -> None:
        self._sessions = sessions
        self._provider = provider
        self._commission = commission or CommissionPolicy()

    async def pay(self, who: Principal, order_id: int, payment_method: str, key: str) -> dict:
        async with self._sessions() as s:
            order = await s.get(Order, order_id)
            if order is None or order.buyer_id != who.id:
                raise not_found("Order")
            prior = (await s.execute(select(Payment).where(
                Payment.order_id == order_id, Payment.idempotency_key == key))).scalar_one_or_none()
            category = (await s.get(Product, order.product_id)).category  # type: ignore[union-attr]
        if prior is not None and prior.status == "succeeded":
            return {"order_id": order_id, "status": "paid", "payment_id": prior.id, "replayed": True}
        if order.status != "awaiting_payment":
            raise AppError(409, "not_payable", f"This order is {order.status.replace('_', ' ')}.")
        ref = f"order:{order_id}"
        intent = await self._provider.create_intent(order.amount, order.currency, ref,
                                                    idempotency_key=f"{ref}:{key}:create")
        try:
            intent = await self._provider.confirm(intent.id, payment_method,
                                                  idempotency_key=f"{ref}:{key}:confirm")
        except PaymentError as e:
            await self._remember(order, key, e.intent or intent, e.code)
            raise
        if intent.status == "requires_action":
            await self._remember(order, key, intent, None)
            raise AppError(402, "requires_action", "Your bank asks for an extra confirmation step.",
                           intent_id=intent.id)
        intent = await self._provider.capture(intent.id, idempotency_key=f"{ref}:{key}:capture")
        tx = order_paid(ref, order.shop_id, intent.captured, order.currency,
                        self._commission.bps_for(category))
        try:
            async with self._sessions.begin() as s:
                fresh = await s.get(Order, order_id, with_for_update=True)
                assert fresh is not None
                if fresh.status != "awaiting_payment":
                    raise AppError(409, "not_payable", "This order was paid meanwhile.")
                payment = Payment(order_id=order_id, idempotency_key=key, provider_intent_id=intent.id,
                                  amount=intent.amount, currency=intent.currency, status="succeeded",
                                  captured=intent.captured)
                s.add(payment)
                fresh.status, fresh.paid_at = "paid", utcnow()
                s.add(OrderEvent(order_id=order_id, kind="paid", actor_id=who.id,
                                 detail=f"{intent.captured} {intent.currency} captured"))
                await record(s, tx)
        except IntegrityError:
            raise AppError(409, "not_payable", "This order has already been paid.") from None
        return {"order_id": order_id, "status": "paid", "payment_id": payment.id, "replayed": False,
                "captured": {"amount": intent.captured, "currency": intent.currency}}

    async def _remember(self, order: Order, key: str, intent, decline: str | None) -> None:  # noqa: ANN001
        try:
            async with self._sessions.begin() as s:
                s.add(Payment(order_id=order.id, idempotency_key=key, provider_intent_id=intent.id,
                              amount=order.amount, currency=order.currency, status=intent.status,
                              captured=0, decline_code=decline))
        except IntegrityError:
            pass  # the same attempt was recorded by an earlier try

    async def seller_balance(self, shop_id: int) -> dict[str, dict[str, int]]:
        async with self._sessions() as s:
            found = await account_balances(s, "seller_")
        out: dict[str, dict[str, int]] = {}
        for (account, currency), amount in found.items():
            kind, _, owner = account.partition(":")
            if owner == str(shop_id):
                out.setdefault(currency, {})[kind.removeprefix("seller_")] = amount
        return out
