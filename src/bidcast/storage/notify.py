"""Adding a notification: a row written in the caller's own transaction.

The row is the in-app notification and the e-mail outbox at once, so a notification exists
exactly when the change it reports was committed (never for a rolled-back one, never lost).
Delivery by e-mail happens later, from the outbox (services/notifications.py).
"""
from __future__ import annotations

from .models import Notification

KINDS = frozenset({
    "outbid", "won", "payment_due", "paid", "order_cancelled", "sold", "shipped", "in_transit",
    "delivered", "completed", "funds_released", "payout", "return_requested", "return_approved",
    "return_rejected", "return_disputed", "refunded", "second_chance", "flash_sale", "shop_review",
})


def notify(s, user_id: int, kind: str, title: str, body: str = "",  # noqa: ANN001
           link: str | None = None) -> None:
    """Queue a notification for `user_id` inside session `s` (committed with the caller's change)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    s.add(Notification(user_id=user_id, kind=kind, title=title[:200], body=body, link=link))
