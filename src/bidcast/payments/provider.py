"""The payment provider interface Bidcast talks to, and the types it returns.

Amounts are integer minor units plus an ISO 4217 currency (see ``bidcast.domain.money``).
Bidcast never sees or stores card numbers: the customer's card is turned into a token by
the provider, and an intent only ever carries that token's ``last4``.

Intent lifecycle::

    requires_confirmation --confirm--> authorized --capture--> succeeded --refund*--> (refunded grows)
                          \\--confirm--> requires_action --customer passes--> authorized
                          \\--confirm--> failed (decline_code set; terminal, create a new intent)

``authorized`` means the funds are held; ``capture`` takes some or all of them once (the rest is
released) and moves the intent to ``succeeded``. Refunds may be partial and repeated, but their
total never exceeds what was captured.

Every mutating call takes an ``idempotency_key``: repeating a call with the same key and the same
parameters returns the first result (or re-raises the first card failure) without doing anything
twice; the same key with different parameters raises ``idempotency_conflict``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bidcast.errors import AppError

# Intent statuses.
REQUIRES_CONFIRMATION = "requires_confirmation"
REQUIRES_ACTION = "requires_action"
AUTHORIZED = "authorized"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATUSES = (REQUIRES_CONFIRMATION, REQUIRES_ACTION, AUTHORIZED, SUCCEEDED, FAILED)

# Error codes, with the HTTP status the web layer should use.
ERROR_STATUS: dict[str, int] = {
    "card_declined": 402,
    "insufficient_funds": 402,
    "authentication_failed": 402,
    "invalid_card": 400,
    "invalid_amount": 400,
    "unknown_currency": 400,
    "invalid_request": 400,
    "amount_too_large": 400,
    "invalid_state": 409,
    "idempotency_conflict": 409,
    "not_found": 404,
    "provider_busy": 503,
}
# Answers that say nothing about the operation itself: retry it later with the same key.
TRANSIENT = frozenset({"provider_busy"})
# Failures caused by the card itself: the intent moves to ``failed`` with this as decline_code.
CARD_FAILURES = frozenset({"card_declined", "insufficient_funds", "authentication_failed"})


@dataclass(frozen=True, slots=True)
class Intent:
    id: str
    amount: int  # requested / authorized amount, minor units
    currency: str
    status: str
    reference: str  # Bidcast's own reference (e.g. an order id)
    captured: int = 0
    refunded: int = 0
    decline_code: str | None = None
    last4: str | None = None  # of the card used; the full number is never kept
    created: int = 0

    @property
    def amount_capturable(self) -> int:
        return self.amount if self.status == AUTHORIZED else 0

    @property
    def amount_refundable(self) -> int:
        return self.captured - self.refunded

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "amount": self.amount, "currency": self.currency, "status": self.status,
            "reference": self.reference, "captured": self.captured, "refunded": self.refunded,
            "decline_code": self.decline_code, "last4": self.last4, "created": self.created,
        }


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    intent_id: str
    amount: int
    currency: str
    status: str = "succeeded"
    created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "intent_id": self.intent_id, "amount": self.amount,
            "currency": self.currency, "status": self.status, "created": self.created,
        }


class PaymentError(AppError):
    """A refused payment operation. ``code`` is machine-readable (see ``ERROR_STATUS``).

    For card failures ``intent`` is the (now failed) intent, so callers can show ``decline_code``.
    """

    def __init__(self, code: str, message: str, *, intent: Intent | None = None) -> None:
        extra: dict[str, Any] = {"intent_id": intent.id} if intent is not None else {}
        super().__init__(ERROR_STATUS.get(code, 400), code, message, **extra)
        self.intent = intent

    @property
    def transient(self) -> bool:
        """The provider was busy or failed (5xx): nothing was refused, retry with the same key."""
        return self.status >= 500 or self.code in TRANSIENT


@runtime_checkable
class PaymentProvider(Protocol):
    async def create_intent(
        self, amount: int, currency: str, reference: str, *, idempotency_key: str
    ) -> Intent: ...

    async def confirm(self, intent_id: str, payment_method: str, *, idempotency_key: str) -> Intent:
        """Attach a payment method token and try to authorize.

        Returns the intent as ``authorized`` or ``requires_action``; raises ``PaymentError``
        (``card_declined`` / ``insufficient_funds`` / ...) when the card fails, after which
        ``get`` shows the intent as ``failed`` with ``decline_code``.
        """
        ...

    async def capture(self, intent_id: str, amount: int | None = None, *, idempotency_key: str) -> Intent:
        """Capture ``amount`` (default: all) of an authorized intent; the rest is released."""
        ...

    async def refund(self, intent_id: str, amount: int, *, idempotency_key: str) -> Refund: ...

    async def get(self, intent_id: str) -> Intent: ...
