"""Receiving the payment provider's signed webhooks and reconciling Bidcast with them.

Checks, in order: the HMAC signature and its timestamp (`bad_signature`, `stale_timestamp`, ...),
then replay: the exact same delivery (same signed timestamp and signature) seen before is refused
with `replayed`. A *retry* by the provider is signed afresh, so it passes, and an event id handled
before is answered `duplicate` with 2xx so the provider stops retrying. Both records live in the
database: every worker process refuses the same replays and handles each event once.

Reconciling never trusts the event's body for money: the intent is read back from the provider.
- payment.captured: the order is marked paid if the synchronous answer was lost (a crash between
  capture and commit); a capture for an order that can no longer be paid is refunded at once.
- payment.authorized: an intent confirmed by an extra customer step is captured and settled, only
  while its order can still be paid: the order is checked first, and an authorization for an order
  already paid or cancelled is not captured (the provider interface has no way to cancel an
  authorization: it is left to lapse, and no money moves). While another attempt is charging the
  order the event is answered 503, so the provider delivers it again once that one has ended.
- payment.failed: the attempt is marked failed.
- refund.succeeded: refunds of the order left pending (a crash after the provider refunded) finish.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import AppError
from ..payments.provider import AUTHORIZED, SUCCEEDED, Intent, PaymentProvider
from ..payments.webhooks import WebhookVerificationError, compute_signature, verify
from ..storage.models import (
    Order,
    Payment,
    PaymentWebhookEvent,
    PaymentWebhookSignature,
    RefundRecord,
    utcnow,
)
from .order_payments import CLAIM_S, PROCESSING, OrderPayments, void_key
from .refunds import Refunds

log = logging.getLogger(__name__)
STATUS = {"missing_signature": 401, "bad_signature": 401, "malformed_signature": 400,
          "stale_timestamp": 400, "invalid_payload": 400, "replayed": 409}
STUCK_REFUND_S = 30
# A capture the paying request is still settling: answer 503 so the provider retries later.
CAPTURE_GRACE_S = 10


def webhook_secret(explicit: str, secret_key: str) -> str:
    """The configured secret, or one derived from the server's secret key (same in every process)."""
    return explicit or hmac.new(secret_key.encode(), b"bidcast.payment-webhooks", hashlib.sha256).hexdigest()


class PaymentWebhooks:
    def __init__(self, sessions: async_sessionmaker, payments: OrderPayments, refunds: Refunds,
                 secret: str, tolerance: int = 300) -> None:
        self._sessions = sessions
        self._payments = payments
        self._refunds = refunds
        self._secret = secret
        self._tolerance = tolerance

    @property
    def _provider(self) -> PaymentProvider:
        return self._payments.provider

    async def receive(self, body: bytes, header: str | None) -> dict:
        now = time.time()
        try:
            ts = verify(body, header, self._secret, now, self._tolerance)
            event = json.loads(body)
            if not isinstance(event, dict) or not isinstance(event.get("id"), str) or \
                    not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
                raise WebhookVerificationError("invalid_payload", "An event needs an id, a type and data.")
        except WebhookVerificationError as e:
            raise AppError(STATUS.get(e.code, 400), e.code, e.message) from None
        except ValueError:
            raise AppError(400, "invalid_payload", "The body is not JSON.") from None
        await self._refuse_replay(compute_signature(body, ts, self._secret))
        event_id, kind = event["id"][:64], event["type"][:40]
        async with self._sessions() as s:
            if await s.get(PaymentWebhookEvent, event_id) is not None:
                return {"received": True, "duplicate": True}
        created = event.get("created") if isinstance(event.get("created"), int) else 0
        outcome = await self._handle(kind, event["data"], now - created)
        try:
            async with self._sessions.begin() as s:
                s.add(PaymentWebhookEvent(id=event_id, type=kind, outcome=outcome))
        except IntegrityError:
            return {"received": True, "duplicate": True}
        return {"received": True, "duplicate": False, "outcome": outcome}

    async def _refuse_replay(self, signature: str) -> None:
        try:
            async with self._sessions.begin() as s:
                # Older ones would fail the timestamp check anyway: keep the table small.
                cutoff = utcnow() - timedelta(seconds=2 * self._tolerance)
                await s.execute(delete(PaymentWebhookSignature).where(PaymentWebhookSignature.received_at < cutoff))
                s.add(PaymentWebhookSignature(signature=signature))
        except IntegrityError:
            raise AppError(409, "replayed", "This delivery was already received.") from None

    async def _handle(self, kind: str, data: dict, age: float) -> str:
        obj = data.get("object") if isinstance(data.get("object"), dict) else {}
        intent_id = obj.get("intent_id") if kind.startswith("refund.") else obj.get("id")
        if not isinstance(intent_id, str):
            return "ignored"
        try:
            intent = await self._provider.get(intent_id)
        except AppError:
            return "unknown_intent"
        order_id = _order_id(intent.reference)
        if order_id is None:
            return "not_an_order"
        if kind == "payment.captured" and intent.status == SUCCEEDED:
            return await self._captured(order_id, intent, age)
        if kind == "payment.authorized" and intent.status == AUTHORIZED:
            # Only an intent left waiting for the bank step: a plain card is captured by its request.
            async with self._sessions() as s:
                waiting = (await s.execute(select(Payment.id).where(
                    Payment.provider_intent_id == intent.id, Payment.status == "requires_action"))).first()
            if waiting is None:
                return "capture_by_request"
            async with self._sessions() as s:
                order = await s.get(Order, order_id)
                charging = (await s.execute(select(Payment.id).where(
                    Payment.order_id == order_id, Payment.status == PROCESSING,
                    Payment.created_at > utcnow() - timedelta(seconds=CLAIM_S)))).first()
            if order is None:
                return "unknown_order"
            if order.status != "awaiting_payment":
                return "authorization_left_to_lapse"
            if charging is not None:
                raise AppError(503, "retry_later", "Another payment of this order is in progress.")
            intent = await self._provider.capture(intent.id, idempotency_key=f"webhook:{intent.id}:capture")
            return await self._captured(order_id, intent, CAPTURE_GRACE_S)
        if kind == "payment.failed":
            async with self._sessions.begin() as s:
                for p in (await s.execute(select(Payment).where(Payment.provider_intent_id == intent.id))).scalars():
                    if p.status != "succeeded":
                        p.status, p.decline_code = "failed", intent.decline_code
            return "payment_failed"
        if kind == "refund.succeeded":
            # Only refunds stuck for a while: a fresh pending one is still being finished by its caller.
            stuck = utcnow() - timedelta(seconds=STUCK_REFUND_S)
            async with self._sessions() as s:
                pending = list((await s.execute(select(RefundRecord.id).where(
                    RefundRecord.order_id == order_id, RefundRecord.status == "pending",
                    RefundRecord.created_at < stuck))).scalars())
            for refund_id in pending:
                await self._refunds.complete(refund_id)
            return "refunds_completed" if pending else "refund_known"
        return "ignored"

    async def _captured(self, order_id: int, intent: Intent, age: float) -> str:
        async with self._sessions() as s:
            order = await s.get(Order, order_id)
            known = (await s.execute(select(Payment).where(
                Payment.order_id == order_id, Payment.provider_intent_id == intent.id))).scalars().first()
        if order is None:
            return "unknown_order"
        if order.status != "awaiting_payment":
            if known is not None and known.status == "succeeded":
                return "already_paid"
            # Money taken for an order that was cancelled or paid otherwise: give it back.
            left = intent.captured - intent.refunded
            if left > 0:
                await self._provider.refund(intent.id, left, idempotency_key=void_key(intent.id))
            return "refunded_unpayable"
        if known is None and age < CAPTURE_GRACE_S:
            raise AppError(503, "retry_later", "The payment is still being recorded; deliver it again later.")
        key = known.idempotency_key if known is not None else f"webhook:{intent.id}"[:64]
        try:
            await self._payments.settle(order_id, intent, key, None)
        except AppError as e:
            if e.code == "not_payable":
                return "already_paid"
            raise
        return "order_paid"


def _order_id(reference: str) -> int | None:
    kind, _, rest = reference.partition(":")
    return int(rest) if kind == "order" and rest.isdigit() else None
