"""The money ledger: every movement of money is a balanced double-entry transaction.

Pure rules, no database, no clock: builders return `Transaction`s for the caller to store (append
only, keyed by `Transaction.id`, which is derived from the business reference so that replaying an
event cannot post it twice); balances are nothing but sums of postings.

Sign convention: a posting's amount is the money an account *receives* (positive) or *gives*
(negative), in integer minor units. Every transaction sums to zero per currency, so money is never
created or lost, only moved. Balances then read naturally: a seller's pending balance is what is
waiting for them, the platform's commission account is its revenue. The only account that runs
negative by design is `buyer_payments`, the outside world's side of every capture.

Chart of accounts (`AccountKind`):
    buyer_payments            money captured from buyers at the payment provider (source; its
                              balance is minus everything ever captured)
    refunds                   money sent back to buyers (sink; balance = total refunded)
    platform_commission       the platform's commission revenue, net of refunded commission
    seller_pending:<shop>     a seller's share of sales not yet released (delivery + hold period)
    seller_available:<shop>   released to the seller, not yet paid out; may go negative when a
                              refund arrives after the money was paid out (a debt netted against
                              the seller's future sales)
    seller_paid_out:<shop>    sent to the seller's bank account (sink; balance = total paid out)

So at all times, per currency:  captured = refunds + commission + pending + available + paid out.

Events:
    order_paid      buyer_payments -> seller_pending (amount - commission) + platform_commission
    funds_released  seller_pending -> seller_available (the order's whole remaining seller share)
    refund          seller_pending (or seller_available once released) + platform_commission -> refunds
    payout          seller_available -> seller_paid_out

Rounding: commission = amount x bps / 10 000, rounded half up, so it is never negative nor above the
amount (bps is 0..10 000). A refund gives back commission in proportion to the share of the order
refunded, computed on the *cumulative* refunded amount (round half up of commission x refunded /
captured, minus what earlier refunds already gave back): partial refunds never drift, and a full
refund, in one go or in pieces, returns exactly the commission taken and exactly the seller's share.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .money import MAX_AMOUNT, MoneyError, check_amount, check_currency

BPS_DENOMINATOR = 10_000          # 1 basis point = 0.01 %
DEFAULT_COMMISSION_BPS = 200      # 2 %
DEFAULT_HOLD_DAYS = 7             # seller funds are released this many days after delivery
_DAY_S = 24 * 3600


class LedgerError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- accounts -------------------------------------------------------------------------------------

class AccountKind(StrEnum):
    BUYER_PAYMENTS = "buyer_payments"
    REFUNDS = "refunds"
    PLATFORM_COMMISSION = "platform_commission"
    SELLER_PENDING = "seller_pending"
    SELLER_AVAILABLE = "seller_available"
    SELLER_PAID_OUT = "seller_paid_out"


SELLER_KINDS = frozenset({AccountKind.SELLER_PENDING, AccountKind.SELLER_AVAILABLE, AccountKind.SELLER_PAID_OUT})


@dataclass(frozen=True, slots=True, order=True)
class Account:
    """An account of the chart above; seller accounts belong to one shop, the others to nobody.

    `str(account)` is the storage form ("seller_pending:42", "platform_commission");
    `Account.parse` reads it back.
    """
    kind: AccountKind
    shop_id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AccountKind):
            raise LedgerError("invalid_account", f"Unknown account kind {self.kind!r}.")
        if self.kind in SELLER_KINDS:
            if isinstance(self.shop_id, bool) or not isinstance(self.shop_id, int) or self.shop_id < 1:
                raise LedgerError("invalid_account", f"A {self.kind} account needs a shop id.")
        elif self.shop_id is not None:
            raise LedgerError("invalid_account", f"A {self.kind} account belongs to no shop.")

    def __str__(self) -> str:
        return str(self.kind) if self.shop_id is None else f"{self.kind}:{self.shop_id}"

    @classmethod
    def parse(cls, text: str) -> Account:
        kind, sep, shop = text.partition(":")
        try:
            account_kind = AccountKind(kind)
            shop_id = int(shop) if sep and shop.isdigit() else None
        except ValueError:
            raise LedgerError("invalid_account", f"Unknown account {text!r}.") from None
        if sep and shop_id is None:
            raise LedgerError("invalid_account", f"Unknown account {text!r}.")
        return cls(account_kind, shop_id)


BUYER_PAYMENTS = Account(AccountKind.BUYER_PAYMENTS)
REFUNDS = Account(AccountKind.REFUNDS)
PLATFORM_COMMISSION = Account(AccountKind.PLATFORM_COMMISSION)


def seller_pending(shop_id: int) -> Account:
    return Account(AccountKind.SELLER_PENDING, shop_id)


def seller_available(shop_id: int) -> Account:
    return Account(AccountKind.SELLER_AVAILABLE, shop_id)


def seller_paid_out(shop_id: int) -> Account:
    return Account(AccountKind.SELLER_PAID_OUT, shop_id)


# -- postings and transactions --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Posting:
    """One leg of a transaction: `amount` minor units into (+) or out of (-) `account`."""
    account: Account
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.account, Account):
            raise LedgerError("invalid_account", "A posting needs an Account.")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise LedgerError("invalid_amount", "Amounts are whole numbers of minor units.")
        if self.amount == 0:
            # A zero leg moves nothing; builders leave it out rather than store noise.
            raise LedgerError("invalid_amount", "A posting must move a non-zero amount.")
        if abs(self.amount) > MAX_AMOUNT:
            raise LedgerError("amount_out_of_range", f"Postings may not exceed {MAX_AMOUNT} minor units.")
        _currency(self.currency)


class TxKind(StrEnum):
    ORDER_PAID = "order_paid"
    FUNDS_RELEASED = "funds_released"
    REFUND = "refund"
    PAYOUT = "payout"


@dataclass(frozen=True, slots=True)
class Transaction:
    """A balanced set of postings; constructing one validates it, so an unbalanced one never exists.

    `id` is unique and deterministic (kind + business reference) so storing it under a unique key
    makes every event idempotent. `reference` is the order (or payout) it belongs to; `shop_id`
    the seller concerned, kept even when no seller leg exists (a 100 % commission).
    """
    id: str
    kind: TxKind
    reference: str
    postings: tuple[Posting, ...]
    shop_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "postings", tuple(self.postings))
        if not isinstance(self.kind, TxKind):
            raise LedgerError("invalid_transaction", f"Unknown transaction kind {self.kind!r}.")
        for name in ("id", "reference"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise LedgerError("invalid_transaction", f"A transaction needs a non-empty {name}.")
        if len(self.postings) < 2:
            raise LedgerError("unbalanced", "A transaction moves money between at least two postings.")
        totals: dict[str, int] = {}
        for posting in self.postings:
            if not isinstance(posting, Posting):
                raise LedgerError("invalid_transaction", "Transactions are made of Postings.")
            totals[posting.currency] = totals.get(posting.currency, 0) + posting.amount
        off = {currency: total for currency, total in totals.items() if total != 0}
        if off:
            detail = ", ".join(f"{c} {t:+d}" for c, t in sorted(off.items()))
            raise LedgerError("unbalanced", f"Transaction {self.id!r} does not balance: {detail}.")


def _tx(tx_id: str, kind: TxKind, reference: str, shop_id: int | None, currency: str,
        legs: Iterable[tuple[Account, int]]) -> Transaction:
    postings = tuple(Posting(account, amount, currency) for account, amount in legs if amount != 0)
    return Transaction(tx_id, kind, reference, postings, shop_id)


# -- commission -----------------------------------------------------------------------------------

def _round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def _check_bps(bps: int) -> int:
    if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= BPS_DENOMINATOR:
        raise LedgerError("invalid_commission", f"Commission is 0 to {BPS_DENOMINATOR} basis points.")
    return bps


def commission_for(amount: int, bps: int) -> int:
    """The commission on `amount` at `bps` basis points, rounded half up (€0.25 at 2 % -> 1 cent).

    Never negative, never above the amount: bps is capped at 10 000 (100 %).
    """
    _amount(amount, allow_zero=True)
    return _round_half_up(amount * _check_bps(bps), BPS_DENOMINATOR)


@dataclass(frozen=True, slots=True)
class CommissionPolicy:
    """The platform's commission: a default rate and per-category overrides, in basis points."""
    default_bps: int = DEFAULT_COMMISSION_BPS
    per_category: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_bps(self.default_bps)
        rates = dict(self.per_category)   # a private copy: the policy must not change under us
        for bps in rates.values():
            _check_bps(bps)
        object.__setattr__(self, "per_category", rates)

    def bps_for(self, category: str | None) -> int:
        if category is None:
            return self.default_bps
        return self.per_category.get(category, self.default_bps)


# -- release timing -------------------------------------------------------------------------------

def release_due_at(delivered_at: float, hold_days: int = DEFAULT_HOLD_DAYS) -> float:
    """When an order's seller funds may be released (epoch seconds): the hold protects refunds."""
    if isinstance(hold_days, bool) or not isinstance(hold_days, int) or hold_days < 0:
        raise LedgerError("invalid_hold", "The hold period is a whole, non-negative number of days.")
    return delivered_at + hold_days * _DAY_S


# -- what an order holds --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OrderPosition:
    """The money of one order, as the ledger knows it; the input to release and refund builders."""
    order_ref: str
    shop_id: int
    currency: str
    captured: int                 # what the buyer paid
    commission: int               # commission taken at capture
    refunded: int = 0             # refunded to the buyer so far
    commission_refunded: int = 0  # part of `refunded` taken back from the platform's commission
    released: bool = False        # the seller's share has moved from pending to available

    @property
    def seller_net(self) -> int:
        return self.captured - self.commission

    @property
    def seller_refunded(self) -> int:
        return self.refunded - self.commission_refunded

    @property
    def seller_remaining(self) -> int:
        return self.seller_net - self.seller_refunded

    @property
    def refundable(self) -> int:
        return self.captured - self.refunded


def order_position(transactions: Iterable[Transaction], order_ref: str) -> OrderPosition:
    """Rebuild an order's position from its transactions (any others are ignored)."""
    paid: Transaction | None = None
    refunded = commission_refunded = 0
    released = False
    for tx in transactions:
        if tx.reference != order_ref:
            continue
        if tx.kind is TxKind.ORDER_PAID:
            if paid is not None:
                raise LedgerError("duplicate_payment", f"Order {order_ref!r} was paid twice.")
            paid = tx
        elif tx.kind is TxKind.FUNDS_RELEASED:
            released = True
        elif tx.kind is TxKind.REFUND:
            refunded += _leg(tx, REFUNDS)
            commission_refunded -= _leg(tx, PLATFORM_COMMISSION)
    if paid is None or paid.shop_id is None:
        raise LedgerError("unknown_order", f"No payment is recorded for order {order_ref!r}.")
    return OrderPosition(
        order_ref=order_ref,
        shop_id=paid.shop_id,
        currency=paid.postings[0].currency,
        captured=-_leg(paid, BUYER_PAYMENTS),
        commission=_leg(paid, PLATFORM_COMMISSION),
        refunded=refunded,
        commission_refunded=commission_refunded,
        released=released,
    )


def _leg(tx: Transaction, account: Account) -> int:
    return sum(p.amount for p in tx.postings if p.account == account)


# -- builders -------------------------------------------------------------------------------------

def order_paid(order_ref: str, shop_id: int, amount: int, currency: str, commission_bps: int) -> Transaction:
    """The buyer's payment was captured: the seller's share waits in pending, the platform earns."""
    _amount(amount)
    _currency(currency)
    commission = commission_for(amount, commission_bps)
    return _tx(f"order_paid:{order_ref}", TxKind.ORDER_PAID, order_ref, shop_id, currency, (
        (BUYER_PAYMENTS, -amount),
        (seller_pending(shop_id), amount - commission),
        (PLATFORM_COMMISSION, commission),
    ))


def funds_released(position: OrderPosition) -> Transaction:
    """The hold after delivery is over: the order's remaining seller share becomes available.

    The caller decides *when* (see `release_due_at`); the share is what is left after refunds.
    """
    if position.released:
        raise LedgerError("already_released", f"Funds of order {position.order_ref!r} were already released.")
    if position.seller_remaining <= 0:
        raise LedgerError("nothing_to_release", f"Order {position.order_ref!r} has no seller funds left.")
    amount = position.seller_remaining
    return _tx(f"funds_released:{position.order_ref}", TxKind.FUNDS_RELEASED, position.order_ref,
               position.shop_id, position.currency, (
                   (seller_pending(position.shop_id), -amount),
                   (seller_available(position.shop_id), amount),
               ))


def refund(position: OrderPosition, refund_ref: str, amount: int) -> Transaction:
    """Give `amount` back to the buyer, never more than is left of what was captured.

    The platform returns commission in proportion (cumulative, round half up, see the module
    docstring); the seller gives the rest, from pending before release and from available after
    (available may then go negative if the money was already paid out).
    """
    _amount(amount)
    if amount > position.refundable:
        raise LedgerError("refund_exceeds_captured",
                          f"At most {position.refundable} minor units of order {position.order_ref!r} can be refunded.")
    refunded_after = position.refunded + amount
    commission_after = _round_half_up(position.commission * refunded_after, position.captured)
    commission_part = commission_after - position.commission_refunded
    seller_part = amount - commission_part
    seller_account = (seller_available if position.released else seller_pending)(position.shop_id)
    return _tx(f"refund:{refund_ref}", TxKind.REFUND, position.order_ref, position.shop_id, position.currency, (
        (seller_account, -seller_part),
        (PLATFORM_COMMISSION, -commission_part),
        (REFUNDS, amount),
    ))


def payout(payout_ref: str, shop_id: int, amount: int, currency: str, available: int) -> Transaction:
    """Send `amount` of the seller's available balance (as the caller read it) to their bank."""
    _amount(amount)
    _currency(currency)
    if amount > available:
        raise LedgerError("insufficient_funds", f"Only {max(available, 0)} minor units are available for payout.")
    return _tx(f"payout:{payout_ref}", TxKind.PAYOUT, payout_ref, shop_id, currency, (
        (seller_available(shop_id), -amount),
        (seller_paid_out(shop_id), amount),
    ))


# -- balances -------------------------------------------------------------------------------------

def balances(transactions: Iterable[Transaction]) -> dict[Account, dict[str, int]]:
    """Every account's balance per currency: the sum of its postings."""
    result: dict[Account, dict[str, int]] = {}
    for tx in transactions:
        for posting in tx.postings:
            per_currency = result.setdefault(posting.account, {})
            per_currency[posting.currency] = per_currency.get(posting.currency, 0) + posting.amount
    return result


@dataclass(frozen=True, slots=True)
class SellerView:
    """What a seller sees: waiting for release, ready for payout, already paid out."""
    shop_id: int
    currency: str
    pending: int
    available: int
    paid_out: int

    @property
    def total(self) -> int:
        return self.pending + self.available + self.paid_out


def seller_view(bals: Mapping[Account, Mapping[str, int]], shop_id: int, currency: str) -> SellerView:
    def get(account: Account) -> int:
        return bals.get(account, {}).get(currency, 0)
    return SellerView(shop_id, currency, get(seller_pending(shop_id)), get(seller_available(shop_id)),
                      get(seller_paid_out(shop_id)))


def commission_revenue(bals: Mapping[Account, Mapping[str, int]], currency: str) -> int:
    """The platform's commission earned in `currency`, net of commission returned by refunds."""
    return bals.get(PLATFORM_COMMISSION, {}).get(currency, 0)


# -- checks shared with money.py, reported as ledger errors ---------------------------------------

def _amount(amount: int, *, allow_zero: bool = False) -> int:
    try:
        return check_amount(amount, allow_zero=allow_zero)
    except MoneyError as err:
        raise LedgerError(err.code, err.message) from None


def _currency(currency: str) -> str:
    try:
        return check_currency(currency)
    except MoneyError as err:
        raise LedgerError(err.code, err.message) from None
