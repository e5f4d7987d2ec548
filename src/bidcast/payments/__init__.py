"""Payments behind a provider interface, with an in-memory sandbox provider and signed webhooks."""
from bidcast.payments.provider import Intent, PaymentError, PaymentProvider, Refund
from bidcast.payments.sandbox import TEST_CARDS, SandboxProvider
from bidcast.payments.webhooks import (
    SIGNATURE_HEADER,
    Delivery,
    ReplayGuard,
    WebhookSender,
    WebhookVerificationError,
    parse_event,
    sign,
    verify,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TEST_CARDS",
    "Delivery",
    "Intent",
    "PaymentError",
    "PaymentProvider",
    "Refund",
    "ReplayGuard",
    "SandboxProvider",
    "WebhookSender",
    "WebhookVerificationError",
    "parse_event",
    "sign",
    "verify",
]
