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
are appended to ``events`` and, when a ``sender`` (e.g. ``WebhookSender``, or the database
outbox in sandbox_outbox.py) is given, delivered in background tasks once stored; ``await
drain()`` waits for deliveries in flight.

Records live in a store (sandbox_store.py): in memory by default, or in the database
(``DatabaseStore``) so that every worker process and every restart sees the same intents.
"""
from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
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
from bidcast.payments.sandbox_store import (
    MemoryStore,
    RetryUnit,
    Unit,
    outcome_from_dict,
    outcome_to_dict,
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


Outcome = Intent | Refund | PaymentError
Store = Any  # MemoryStore | DatabaseStore (sandbox_store.py)


def _brand(number: str) -> str:
    return {"4": "visa", "5": "mastercard"}.get(number[:1], "card")


class SandboxProvider:
    def __init__(self, sender: EventSink | None = None, *, clock: Callable[[], float] = time.time,
                 store: Store | None = None) -> None:
        self._sender = sender
        self._clock = clock
        self.store = store if store is not None else MemoryStore()
        self.store.on_commit = self._committed
        self._keep_events = isinstance(self.store, MemoryStore)
        self._deliveries: set[asyncio.Task[Any]] = set()
        self.events: list[dict[str, Any]] = []

    # -- cards ---------------------------------------------------------------------------
    def tokenize(self, card_number: str) -> str:
        """What the provider's card form does in the browser: number in, opaque token out.

        In-memory store only (synchronous); with the database store use ``create_token``."""
        if not isinstance(self.store, MemoryStore):
            raise PaymentError("invalid_request", "Use create_token with a database-backed sandbox.")
        number, behaviour = self._test_card(card_number)
        token = f"tok_{secrets.token_hex(12)}"
        self.store.cards[token] = (number[-4:], _brand(number), behaviour)
        return token

    async def create_token(self, card_number: str) -> str:
        async with self.store.unit() as u:
            return await self._new_token(u, card_number)

    @staticmethod
    def _test_card(card_number: str) -> tuple[str, str]:
        number = "".join(ch for ch in str(card_number) if ch not in " -")
        behaviour = TEST_CARDS.get(number)
        if behaviour is None:
            raise PaymentError("invalid_card", "Not a sandbox test card number.")
        return number, behaviour

    async def _new_token(self, u: Unit, card_number: str) -> str:
        number, behaviour = self._test_card(card_number)
        token = f"tok_{secrets.token_hex(12)}"
        await u.save_card(token, number[-4:], _brand(number), behaviour)
        return token

    async def _card(self, u: Unit, payment_method: str) -> tuple[str, str]:
        """(last4, behaviour) of a token, or of a raw test card number (tokenized on the way)."""
        if not payment_method.startswith("tok_"):
            payment_method = await self._new_token(u, payment_method)
        card = await u.card(payment_method)
        if card is None:
            raise PaymentError("invalid_card", "Unknown payment method token.")
        return card

    # -- helpers -------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self._clock())

    @staticmethod
    async def _load(u: Unit, intent_id: str) -> Intent:
        intent = await u.intent(intent_id)
        if intent is None:
            raise PaymentError("not_found", f"Payment intent {intent_id} not found.")
        return intent

    @staticmethod
    def _check_key(key: str) -> None:
        if not isinstance(key, str) or not key or len(key) > 255:
            raise PaymentError("invalid_request", "An idempotency key (1-255 characters) is required.")

    @staticmethod
    def _result(outcome: Outcome) -> Any:
        if isinstance(outcome, PaymentError):
            raise PaymentError(outcome.code, outcome.message, intent=outcome.intent)
        return outcome

    async def _idempotent(self, key: str, fingerprint: tuple[Any, ...], intent_id: str | None,
                          body: Callable[[Unit], Awaitable[Outcome]]) -> Any:
        """Run ``body`` once per key, in one unit: a repeat returns (or re-raises) the first outcome.

        Refusals raised by ``body`` (bad amount, wrong state) are not remembered, as before any
        change; card failures are returned by ``body`` and so remembered with the failed intent."""
        self._check_key(key)
        print_ = hashlib.sha256(repr(fingerprint).encode()).hexdigest()
        for _ in range(5):
            try:
                async with self.store.unit(intent_id) as u:
                    stored = await u.replay(key)
                    if stored is not None:
                        if stored[0] != print_:
                            raise PaymentError("idempotency_conflict",
                                               "This idempotency key was used with different parameters.")
                        outcome = outcome_from_dict(stored[1])
                    else:
                        outcome = await body(u)
                        await u.remember(key, print_, outcome_to_dict(outcome))
                return self._result(outcome)
            except RetryUnit:
                continue
        raise PaymentError("provider_busy", "The payment is busy; retry with the same idempotency key.")

    @staticmethod
    def _amount(amount: int) -> int:
        try:
            return check_amount(amount)
        except MoneyError as exc:
            raise PaymentError("invalid_amount", exc.message) from None

    @staticmethod
    def _invalid_state(intent: Intent, action: str) -> PaymentError:
        return PaymentError("invalid_state", f"Cannot {action} a payment intent that is {intent.status}.", intent=intent)

    async def _emit(self, u: Unit, event_type: str, **data: Any) -> None:
        await u.emit({"id": f"evt_{secrets.token_hex(12)}", "type": event_type, "created": self._now(), "data": data})

    def _committed(self, events: list[dict[str, Any]]) -> None:
        if self._keep_events:
            self.events.extend(events)
        if self._sender is None:
            return
        for event in events:
            task = asyncio.get_running_loop().create_task(self._sender.send(event))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def drain(self) -> None:
        """Wait for webhook deliveries in flight (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def _fail(self, u: Unit, intent: Intent, code: str) -> PaymentError:
        failed = replace(intent, status=FAILED, decline_code=code)
        await u.save_intent(failed)
        await self._emit(u, "payment.failed", object=failed.as_dict())
        return PaymentError(code, _FAILURE_MESSAGES[code], intent=failed)

    # -- PaymentProvider -----------------------------------------------------------------
    async def create_intent(self, amount: int, currency: str, reference: str, *, idempotency_key: str) -> Intent:
        async def body(u: Unit) -> Outcome:
            checked = self._amount(amount)
            try:
                check_currency(currency)
            except MoneyError as exc:
                raise PaymentError("unknown_currency", exc.message) from None
            if not isinstance(reference, str) or not reference or len(reference) > 120:
                raise PaymentError("invalid_request", "A reference (1-120 characters) is required.")
            intent = Intent(id=f"pi_{secrets.token_hex(12)}", amount=checked, currency=currency,
                            status=REQUIRES_CONFIRMATION, reference=reference, created=self._now())
            await u.save_intent(intent)
            return intent
        return await self._idempotent(idempotency_key, ("create_intent", amount, currency, reference), None, body)

    async def confirm(self, intent_id: str, payment_method: str, *, idempotency_key: str) -> Intent:
        if not isinstance(payment_method, str) or not payment_method:
            raise PaymentError("invalid_card", "A payment method is required.")

        async def body(u: Unit) -> Outcome:
            intent = await self._load(u, intent_id)
            if intent.status != REQUIRES_CONFIRMATION:
                raise self._invalid_state(intent, "confirm")
            last4, behaviour = await self._card(u, payment_method)
            intent = replace(intent, last4=last4)
            if behaviour == SUCCEED:
                intent = replace(intent, status=AUTHORIZED)
                await u.save_intent(intent)
                await self._emit(u, "payment.authorized", object=intent.as_dict())
                return intent
            if behaviour == REQUIRE_ACTION:
                intent = replace(intent, status=REQUIRES_ACTION)
                await u.save_intent(intent)
                return intent
            return await self._fail(u, intent, behaviour)
        # Never keep the raw payment method (it may be a card number) in the idempotency record.
        method_hash = hashlib.sha256(payment_method.encode()).hexdigest()
        return await self._idempotent(idempotency_key, ("confirm", intent_id, method_hash), intent_id, body)

    async def complete_action(self, intent_id: str, succeed: bool = True) -> Intent:
        """Sandbox only: the customer passes (or fails) the extra confirmation step."""
        async with self.store.unit(intent_id) as u:
            intent = await self._load(u, intent_id)
            if intent.status != REQUIRES_ACTION:
                raise self._invalid_state(intent, "complete the action of")
            if not succeed:
                return (await self._fail(u, intent, "authentication_failed")).intent  # type: ignore[return-value]
            intent = replace(intent, status=AUTHORIZED)
            await u.save_intent(intent)
            await self._emit(u, "payment.authorized", object=intent.as_dict())
            return intent

    async def capture(self, intent_id: str, amount: int | None = None, *, idempotency_key: str) -> Intent:
        async def body(u: Unit) -> Outcome:
            intent = await self._load(u, intent_id)
            if intent.status != AUTHORIZED:
                raise self._invalid_state(intent, "capture")
            to_capture = intent.amount if amount is None else self._amount(amount)
            if to_capture > intent.amount:
                raise PaymentError("amount_too_large", f"Cannot capture more than the {intent.amount} authorized.",
                                   intent=intent)
            intent = replace(intent, status=SUCCEEDED, captured=to_capture)
            await u.save_intent(intent)
            await self._emit(u, "payment.captured", object=intent.as_dict())
            return intent
        return await self._idempotent(idempotency_key, ("capture", intent_id, amount), intent_id, body)

    async def refund(self, intent_id: str, amount: int, *, idempotency_key: str) -> Refund:
        async def body(u: Unit) -> Outcome:
            intent = await self._load(u, intent_id)
            if intent.status != SUCCEEDED:
                raise self._invalid_state(intent, "refund")
            checked = self._amount(amount)
            if checked > intent.amount_refundable:
                raise PaymentError("amount_too_large",
                                   f"Only {intent.amount_refundable} of the captured amount is left to refund.",
                                   intent=intent)
            intent = replace(intent, refunded=intent.refunded + checked)
            await u.save_intent(intent)
            refund = Refund(f"re_{secrets.token_hex(12)}", intent.id, checked, intent.currency, created=self._now())
            await u.save_refund(refund)
            await self._emit(u, "refund.succeeded", object=refund.as_dict(), intent=intent.as_dict())
            return refund
        return await self._idempotent(idempotency_key, ("refund", intent_id, amount), intent_id, body)

    async def get(self, intent_id: str) -> Intent:
        async with self.store.unit() as u:
            return await self._load(u, intent_id)
