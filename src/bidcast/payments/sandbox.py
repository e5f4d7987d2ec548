"""An in-memory payment provider that behaves like a real one, for development and tests.

Test cards (any expiry in the future / any CVC in a real UI; only the number matters here):

    ================  ==================================================================
    4242424242424242  succeeds: confirm -> authorized
    5555555555554444  succeeds (Mastercard)
    4000000000000002  declined: confirm raises card_declined, intent failed
    4000000000009995  insufficient funds: raises insufficient_funds, intent failed
    4000002500003155  needs an extra customer step (3-D Secure-like): confirm ->
                      requires_action; then ``complete_action(id)`` -> authorized, or
                      ``complete_action(id, succeed=False)`` -> failed (authentication_failed)
    ================  ==================================================================

Any other number is refused with ``invalid_card`` (like a real test mode refusing live cards).
``confirm`` accepts either a token from ``tokenize(number)`` (what a browser-side card form
would hand Bidcast) or, as a sandbox convenience, a test card number directly. Either way the
sandbox keeps only a token and the last four digits; the full number is never stored, not even
inside idempotency records (those hold a SHA-256 of the payment method).

Events ``payment.authorized``, ``payment.captured``, ``payment.failed`` and ``refund.succeeded``
are appended to ``events`` and, when a ``sender`` (e.g. ``WebhookSender``) is given, delivered
in background tasks; ``await drain()`` waits for deliveries in flight.
"""
from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bidcast.domain.money import MoneyError, check_amount, check_currency
from bidcast.payments.provider import (
    AUTHORIZED,
    FAILED,
    REQUIRES_ACTION,
    REQUIRES_CONFIRMATION,
    SUCCEEDED,
    Intent,
    PaymentError,
    Refund,
)

SUCCEED = "succeed"
REQUIRE_ACTION = "requires_action"

TEST_CARDS: dict[str, str] = {
    "4242424242424242": SUCCEED,
    "5555555555554444": SUCCEED,
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000002500003155": REQUIRE_ACTION,
}
_FAILURE_MESSAGES = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "authentication_failed": "The customer did not complete the extra confirmation step.",
}


class EventSink(Protocol):
    async def send(self, event: dict[str, Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class _Card:
    last4: str
    behaviour: str


Outcome = Intent | Refund | PaymentError


class SandboxProvider:
    def __init__(self, sender: EventSink | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._sender = sender
        self._clock = clock
        self._intents: dict[str, Intent] = {}
        self._cards: dict[str, _Card] = {}
        self._idempotency: dict[str, tuple[tuple[Any, ...], Outcome]] = {}
        self._deliveries: set[asyncio.Task[Any]] = set()
        self.events: list[dict[str, Any]] = []

    # -- cards ---------------------------------------------------------------------------
    def tokenize(self, card_number: str) -> str:
        """What the provider's card form does in the browser: number in, opaque token out."""
        number = "".join(ch for ch in card_number if ch not in " -")
        behaviour = TEST_CARDS.get(number)
        if behaviour is None:
            raise PaymentError("invalid_card", "Not a sandbox test card number.")
        token = f"tok_{secrets.token_hex(12)}"
        self._cards[token] = _Card(number[-4:], behaviour)
        return token

    def _card(self, payment_method: str) -> _Card:
        if payment_method.startswith("tok_"):
            card = self._cards.get(payment_method)
            if card is None:
                raise PaymentError("invalid_card", "Unknown payment method token.")
            return card
        return self._cards[self.tokenize(payment_method)]

    # -- helpers -------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self._clock())

    def _load(self, intent_id: str) -> Intent:
        intent = self._intents.get(intent_id)
        if intent is None:
            raise PaymentError("not_found", f"Payment intent {intent_id} not found.")
        return intent

    @staticmethod
    def _check_key(key: str) -> None:
        if not isinstance(key, str) or not key or len(key) > 255:
            raise PaymentError("invalid_request", "An idempotency key (1-255 characters) is required.")

    def _replay(self, key: str, fingerprint: tuple[Any, ...]) -> Outcome | None:
        self._check_key(key)
        stored = self._idempotency.get(key)
        if stored is None:
            return None
        if stored[0] != fingerprint:
            raise PaymentError("idempotency_conflict", "This idempotency key was used with different parameters.")
        return stored[1]

    @staticmethod
    def _result(outcome: Outcome) -> Any:
        if isinstance(outcome, PaymentError):
            raise PaymentError(outcome.code, outcome.message, intent=outcome.intent)
        return outcome

    def _save(self, key: str, fingerprint: tuple[Any, ...], outcome: Outcome) -> None:
        self._idempotency[key] = (fingerprint, outcome)

    @staticmethod
    def _amount(amount: int) -> int:
        try:
            return check_amount(amount)
        except MoneyError as exc:
            raise PaymentError("invalid_amount", exc.message) from None

    @staticmethod
    def _invalid_state(intent: Intent, action: str) -> PaymentError:
        return PaymentError("invalid_state", f"Cannot {action} a payment intent that is {intent.status}.", intent=intent)

    def _store(self, intent: Intent) -> Intent:
        self._intents[intent.id] = intent
        return intent

    def _emit(self, event_type: str, **data: Any) -> None:
        event = {"id": f"evt_{secrets.token_hex(12)}", "type": event_type, "created": self._now(), "data": data}
        self.events.append(event)
        if self._sender is not None:
            task = asyncio.get_running_loop().create_task(self._sender.send(event))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def drain(self) -> None:
        """Wait for webhook deliveries in flight (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    def _fail(self, intent: Intent, code: str) -> PaymentError:
        failed = self._store(replace(intent, status=FAILED, decline_code=code))
        self._emit("payment.failed", object=failed.as_dict())
        return PaymentError(code, _FAILURE_MESSAGES[code], intent=failed)

    # -- PaymentProvider -----------------------------------------------------------------
    async def create_intent(self, amount: int, currency: str, reference: str, *, idempotency_key: str) -> Intent:
        fingerprint = ("create_intent", amount, currency, reference)
        if (outcome := self._replay(idempotency_key, fingerprint)) is not None:
            return self._result(outcome)
        amount = self._amount(amount)
        try:
            check_currency(currency)
        except MoneyError as exc:
            raise PaymentError("unknown_currency", exc.message) from None
        if not isinstance(reference, str) or not reference:
            raise PaymentError("invalid_request", "A reference is required.")
        intent = self._store(Intent(
            id=f"pi_{secrets.token_hex(12)}", amount=amount, currency=currency,
            status=REQUIRES_CONFIRMATION, reference=reference, created=self._now(),
        ))
        self._save(idempotency_key, fingerprint, intent)
        return intent

    async def confirm(self, intent_id: str, payment_method: str, *, idempotency_key: str) -> Intent:
        if not isinstance(payment_method, str) or not payment_method:
            raise PaymentError("invalid_card", "A payment method is required.")
        # Never keep the raw payment method (it may be a card number) in the idempotency record.
        fingerprint = ("confirm", intent_id, hashlib.sha256(payment_method.encode()).hexdigest())
        if (outcome := self._replay(idempotency_key, fingerprint)) is not None:
            return self._result(outcome)
        intent = self._load(intent_id)
        if intent.status != REQUIRES_CONFIRMATION:
            raise self._invalid_state(intent, "confirm")
        card = self._card(payment_method)
        intent = replace(intent, last4=card.last4)
        if card.behaviour == SUCCEED:
            result: Outcome = self._store(replace(intent, status=AUTHORIZED))
            self._emit("payment.authorized", object=result.as_dict())
        elif card.behaviour == REQUIRE_ACTION:
            result = self._store(replace(intent, status=REQUIRES_ACTION))
        else:
            result = self._fail(intent, card.behaviour)
        self._save(idempotency_key, fingerprint, result)
        return self._result(result)

    async def complete_action(self, intent_id: str, succeed: bool = True) -> Intent:
        """Sandbox only: the customer passes (or fails) the extra confirmation step."""
        intent = self._load(intent_id)
        if intent.status != REQUIRES_ACTION:
            raise self._invalid_state(intent, "complete the action of")
        if not succeed:
            return self._fail(intent, "authentication_failed").intent  # type: ignore[return-value]
        intent = self._store(replace(intent, status=AUTHORIZED))
        self._emit("payment.authorized", object=intent.as_dict())
        return intent

    async def capture(self, intent_id: str, amount: int | None = None, *, idempotency_key: str) -> Intent:
        fingerprint = ("capture", intent_id, amount)
        if (outcome := self._replay(idempotency_key, fingerprint)) is not None:
            return self._result(outcome)
        intent = self._load(intent_id)
        if intent.status != AUTHORIZED:
            raise self._invalid_state(intent, "capture")
        to_capture = intent.amount if amount is None else self._amount(amount)
        if to_capture > intent.amount:
            raise PaymentError("amount_too_large", f"Cannot capture more than the {intent.amount} authorized.", intent=intent)
        intent = self._store(replace(intent, status=SUCCEEDED, captured=to_capture))
        self._emit("payment.captured", object=intent.as_dict())
        self._save(idempotency_key, fingerprint, intent)
        return intent

    async def refund(self, intent_id: str, amount: int, *, idempotency_key: str) -> Refund:
        fingerprint = ("refund", intent_id, amount)
        if (outcome := self._replay(idempotency_key, fingerprint)) is not None:
            return self._result(outcome)
        intent = self._load(intent_id)
        if intent.status != SUCCEEDED:
            raise self._invalid_state(intent, "refund")
        amount = self._amount(amount)
        if amount > intent.amount_refundable:
            raise PaymentError(
                "amount_too_large", f"Only {intent.amount_refundable} of the captured amount is left to refund.", intent=intent,
            )
        intent = self._store(replace(intent, refunded=intent.refunded + amount))
        refund = Refund(f"re_{secrets.token_hex(12)}", intent.id, amount, intent.currency, created=self._now())
        self._emit("refund.succeeded", object=refund.as_dict(), intent=intent.as_dict())
        self._save(idempotency_key, fingerprint, refund)
        return refund

    async def get(self, intent_id: str) -> Intent:
        return self._load(intent_id)
