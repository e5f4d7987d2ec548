"""Returns: who may ask, when, and how a return moves. Pure rules, no I/O.

    requested ─seller approves─▶ approved ──┐
        │    ─reply window over─▶ auto_approved ─refund─▶ refunded
        ├────seller rejects──▶ rejected ─buyer disputes─▶ disputed ─admin refunds─┘
        │                                                      └──admin rejects──▶ resolved
        └────reply window over, nothing left to refund (refunded in full meanwhile)──▶ resolved

A return is *open* (the order may not complete nor its funds be released) while it is requested,
approved, auto-approved (refund under way) or disputed. A rejected one is closed unless the buyer
disputes it. A return is refused for an order that is not delivered, past its return window, sold as final
sale, or already refunded in full.
"""
from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlparse

MAX_PHOTOS = 5
MAX_REASON = 1000


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    AUTO_APPROVED = "auto_approved"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    RESOLVED = "resolved"   # closed without a refund: the admin rejected the dispute, or nothing was left
    REFUNDED = "refunded"


R = ReturnStatus
OPEN = frozenset({R.REQUESTED, R.APPROVED, R.AUTO_APPROVED, R.DISPUTED})
TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    R.REQUESTED: frozenset({R.APPROVED, R.AUTO_APPROVED, R.REJECTED, R.RESOLVED}),
    R.APPROVED: frozenset({R.REFUNDED}),
    R.AUTO_APPROVED: frozenset({R.REFUNDED}),
    R.REJECTED: frozenset({R.DISPUTED}),
    R.DISPUTED: frozenset({R.REFUNDED, R.RESOLVED}),
    R.RESOLVED: frozenset(),
    R.REFUNDED: frozenset(),
}
AWAITING_REFUND = frozenset({R.APPROVED, R.AUTO_APPROVED})


class ReturnError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_move(current: str, target: str) -> ReturnStatus:
    cur, tgt = ReturnStatus(current), ReturnStatus(target)
    if tgt not in TRANSITIONS[cur]:
        raise ReturnError("invalid_return_state",
                          f"A {cur.value.replace('_', ' ')} return cannot become {tgt.value.replace('_', ' ')}.")
    return tgt


def check_eligible(status: str, delivered_at: float | None, now: float, window_s: float,
                   final_sale: bool) -> None:
    """Raise unless the buyer may ask to return this order now (times in epoch seconds)."""
    if final_sale:
        raise ReturnError("final_sale", "This item was sold as final sale: it cannot be returned.")
    if status != "delivered" or delivered_at is None:
        raise ReturnError("not_delivered", "Only a delivered order can be returned.")
    if now > delivered_at + window_s:
        raise ReturnError("return_window_closed", "The return window of this order is over.")


def check_photos(urls: list[str]) -> list[str]:
    if len(urls) > MAX_PHOTOS:
        raise ReturnError("too_many_photos", f"At most {MAX_PHOTOS} photos.")
    out = []
    for url in urls:
        parts = urlparse(url.strip()) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500 \
                or any(ch.isspace() for ch in url.strip()):
            raise ReturnError("invalid_photo_url", "Photos are http(s) URLs of at most 500 characters.")
        out.append(url.strip())
    return out


def check_refund_amount(amount: int | None, refundable: int) -> int:
    """The amount to refund: `None` means all that is left; else 1..refundable."""
    if amount is None:
        amount = refundable
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ReturnError("invalid_amount", "A refund is a positive whole number of minor units.")
    if amount > refundable:
        raise ReturnError("refund_exceeds_captured", f"At most {refundable} can still be refunded.")
    return amount


def is_open(status: str) -> bool:
    return ReturnStatus(status) in OPEN
