"""Flash sales: the pure rules of launching one and of deciding who gets a unit.

No I/O. The caller passes the server's clock (epoch seconds) and the committed counts it read
under the sale's lock; the functions say what may happen. The database re-checks the two
invariants anyway (CHECK constraints: `0 <= sold <= quantity`, `0 <= units <= cap`), so a bug
here can refuse a sale but never oversell one.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

MIN_SECONDS = 5
MAX_SECONDS = 3600
MAX_QUANTITY = 100_000
MAX_PER_BUYER = 100


class FlashRuleError(ValueError):
    """A launch that breaks a rule; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Reason(str, Enum):
    """Why a purchase attempt was refused (the API's error codes)."""
    NOT_RUNNING = "not_running"        # not started yet, or ended (server time)
    SOLD_OUT = "sold_out"              # nothing left
    NOT_ENOUGH_LEFT = "not_enough_left"  # fewer units left than asked for
    LIMIT_REACHED = "limit_reached"    # the buyer's per-sale limit would be exceeded
    INVALID_QUANTITY = "invalid_quantity"
    OWN_SALE = "own_sale"              # the host (or the shop's owner) cannot buy


MESSAGES = {
    Reason.NOT_RUNNING: "This flash sale is not running.",
    Reason.SOLD_OUT: "Sold out.",
    Reason.NOT_ENOUGH_LEFT: "Fewer units are left than you asked for.",
    Reason.LIMIT_REACHED: "You have reached the limit per buyer for this sale.",
    Reason.INVALID_QUANTITY: "Buy at least one unit.",
    Reason.OWN_SALE: "You cannot buy from your own flash sale.",
}


@dataclass(frozen=True, slots=True)
class SaleTerms:
    quantity: int
    per_buyer_limit: int
    starts_at: float
    ends_at: float
    host_id: int
    seller_id: int


@dataclass(frozen=True, slots=True)
class Accepted:
    quantity: int


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Reason

    @property
    def code(self) -> str:
        return self.reason.value

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]


Decision = Accepted | Rejected


def validate_launch(quantity: int, stock: int, sale_price: int, regular_price: int,
                    seconds: int, per_buyer_limit: int) -> None:
    """Raise FlashRuleError unless the launch makes sense; stock is the product's free stock."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise FlashRuleError("invalid_quantity", f"quantity must be 1..{MAX_QUANTITY}")
    if quantity > stock:
        raise FlashRuleError("out_of_stock", f"Only {stock} in stock.")
    if sale_price < 1:
        raise FlashRuleError("invalid_price", "The sale price must be positive.")
    if sale_price > regular_price:
        raise FlashRuleError("invalid_price", "The sale price may not exceed the regular price.")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise FlashRuleError("invalid_duration", f"duration_seconds must be {MIN_SECONDS}..{MAX_SECONDS}")
    if not 1 <= per_buyer_limit <= min(MAX_PER_BUYER, quantity):
        raise FlashRuleError("invalid_limit", "per_buyer_limit must be 1..quantity (at most 100)")


def is_running(terms: SaleTerms, ended: bool, now: float) -> bool:
    return not ended and terms.starts_at <= now < terms.ends_at


def decide(terms: SaleTerms, ended: bool, sold: int, bought: int, buyer_id: int,
           quantity: int, now: float) -> Decision:
    """One attempt, given the committed units sold and the units this buyer already holds."""
    if quantity < 1:
        return Rejected(Reason.INVALID_QUANTITY)
    if buyer_id in (terms.host_id, terms.seller_id):
        return Rejected(Reason.OWN_SALE)
    if not is_running(terms, ended, now):
        return Rejected(Reason.NOT_RUNNING)
    left = terms.quantity - sold
    if left <= 0:
        return Rejected(Reason.SOLD_OUT)
    if bought + quantity > terms.per_buyer_limit:
        return Rejected(Reason.LIMIT_REACHED)
    if quantity > left:
        return Rejected(Reason.NOT_ENOUGH_LEFT)
    return Accepted(quantity)


@dataclass(frozen=True, slots=True)
class Attempt:
    buyer_id: int
    quantity: int


def decide_batch(terms: SaleTerms, ended: bool, sold: int, bought: dict[int, int],
                 attempts: list[Attempt], now: float) -> tuple[list[Decision], int, dict[int, int]]:
    """Attempts in arrival order against one committed state: (decisions, sold after, bought
    after for every buyer that changed). `bought` is not modified."""
    changed: dict[int, int] = {}
    out: list[Decision] = []
    for a in attempts:
        have = changed.get(a.buyer_id, bought.get(a.buyer_id, 0))
        d = decide(terms, ended, sold, have, a.buyer_id, a.quantity, now)
        if isinstance(d, Accepted):
            sold += d.quantity
            changed[a.buyer_id] = have + d.quantity
        out.append(d)
    return out, sold, changed


def state_label(terms: SaleTerms, ended: bool, sold: int, now: float) -> str:
    """What the room shows: scheduled, running, sold_out or ended."""
    if ended or now >= terms.ends_at:
        return "ended"
    if now < terms.starts_at:
        return "scheduled"
    return "sold_out" if sold >= terms.quantity else "running"


def returned_on_end(quantity: int, sold: int) -> int:
    """Units that go back to the product's stock when the sale ends."""
    return max(0, quantity - sold)
