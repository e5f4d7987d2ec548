"""Where a bid is decided: the pure rules of an auction.

No I/O, no clocks: the caller passes the server's `now` (epoch seconds) and persists what comes
back. A single writer applies these functions to one auction at a time, so the functions may
mutate the state they are given.

Proxy bidding: a `max` bid is a secret maximum; the platform bids for its owner, one increment
above the competition, up to that maximum. A `direct` bid is exactly the amount shown on the
button. Equal maximums: the earlier one leads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .increments import DEFAULT, IncrementLadder
from .money import CURRENCY_EXPONENTS, MAX_AMOUNT

MIN_DURATION_S = 5
MAX_DURATION_S = 30 * 24 * 3600
MAX_SOFT_CLOSE_S = 300


class Format(StrEnum):
    STANDARD = "standard"          # soft close: a late bid moves the close to now + N
    SUDDEN_DEATH = "sudden_death"  # closes at the deadline, whatever happens


class Status(StrEnum):
    PENDING = "pending"    # in a room's lineup, not started yet
    RUNNING = "running"
    CLOSED = "closed"


class Outcome(StrEnum):
    SOLD = "sold"
    UNSOLD = "unsold"                    # nobody bid
    RESERVE_NOT_MET = "reserve_not_met"


class BidKind(StrEnum):
    DIRECT = "direct"
    MAX = "max"


class RulesError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AuctionRules:
    seller_id: int
    starting_price: int
    currency: str = "EUR"
    format: Format = Format.STANDARD
    reserve_price: int | None = None
    buy_now_price: int | None = None
    soft_close_seconds: int = 10
    duration_seconds: int = 30
    host_id: int | None = None
    ladder: IncrementLadder = DEFAULT

    def validate(self) -> None:
        if self.currency not in CURRENCY_EXPONENTS:
            raise RulesError("unknown_currency", f"Currency {self.currency!r} is not supported.")
        for price in (self.starting_price, self.reserve_price, self.buy_now_price):
            if price is not None and price > MAX_AMOUNT:
                raise RulesError("amount_out_of_range", f"Prices may not exceed {MAX_AMOUNT} minor units.")
        if self.starting_price < 1:
            raise RulesError("invalid_rules", "The starting price must be at least 1 minor unit.")
        if self.reserve_price is not None and self.reserve_price < self.starting_price:
            raise RulesError("invalid_rules", "The reserve may not be below the starting price.")
        if self.buy_now_price is not None:
            floor = max(self.starting_price, self.reserve_price or 0)
            if self.buy_now_price <= floor:
                raise RulesError("invalid_rules", "Buy-now must exceed the starting price and reserve.")
        if not 0 <= self.soft_close_seconds <= MAX_SOFT_CLOSE_S:
            raise RulesError("invalid_rules", f"Soft close is 0 to {MAX_SOFT_CLOSE_S} seconds.")
        if not MIN_DURATION_S <= self.duration_seconds <= MAX_DURATION_S:
            raise RulesError("invalid_rules", f"Duration is {MIN_DURATION_S} s to 30 days.")

    def is_own_lot(self, user_id: int) -> bool:
        return user_id == self.seller_id or user_id == self.host_id


@dataclass(slots=True)
class AuctionState:
    id: int
    rules: AuctionRules
    status: Status = Status.PENDING
    opens_at: float | None = None
    closes_at: float | None = None
    price: int | None = None          # None until the first accepted bid
    leader_id: int | None = None
    leader_max: int | None = None     # secret: never shown to anyone but the leader
    last_seq: int = 0
    bid_count: int = 0
    outcome: Outcome | None = None
    winner_id: int | None = None
    final_price: int | None = None

    def min_next_bid(self) -> int:
        if self.price is None:
            return self.rules.starting_price
        return self.rules.ladder.next_bid(self.price)


@dataclass(frozen=True, slots=True)
class BidRequest:
    bidder_id: int
    kind: BidKind
    value: int
    banned: bool = False


@dataclass(frozen=True, slots=True)
class Accepted:
    seq: int
    bidder_id: int
    kind: BidKind
    value: int
    price: int
    leader_id: int
    closes_at: float
    extended: bool
    outbid_id: int | None  # whoever lost the lead (or was beaten at once by a proxy) with this bid


@dataclass(frozen=True, slots=True)
class Rejected:
    code: str
    message: str
    min_next: int | None = None


@dataclass(frozen=True, slots=True)
class Closed:
    seq: int
    outcome: Outcome
    winner_id: int | None
    final_price: int | None
    closed_at: float
    by_buy_now: bool = False


@dataclass(slots=True)
class _Check:
    rejected: Rejected | None = field(default=None)


def start(state: AuctionState, now: float, *, opens_at: float | None = None) -> None:
    """Open the auction now (a live lot) or at `opens_at` (a timed auction)."""
    if state.status is not Status.PENDING:
        raise RulesError("already_started", "This auction has already started.")
    state.rules.validate()
    state.status = Status.RUNNING
    state.opens_at = now if opens_at is None else opens_at
    state.closes_at = state.opens_at + state.rules.duration_seconds


def _gate(state: AuctionState, user_id: int, banned: bool, now: float) -> Rejected | None:
    if state.status is Status.PENDING or (state.opens_at is not None and now < state.opens_at):
        return Rejected("not_started", "Bidding on this lot has not started yet.")
    if state.status is Status.CLOSED or (state.closes_at is not None and now >= state.closes_at):
        return Rejected("auction_closed", "This auction has closed.")
    if banned:
        return Rejected("banned", "Your account may not bid.")
    if state.rules.is_own_lot(user_id):
        return Rejected("own_lot", "Sellers and hosts cannot bid on their own lots.")
    return None


def place_bid(state: AuctionState, bid: BidRequest, now: float) -> Accepted | Rejected:
    gate = _gate(state, bid.bidder_id, bid.banned, now)
    if gate is not None:
        return gate
    if bid.value > MAX_AMOUNT:
        return Rejected("amount_out_of_range", f"Bids may not exceed {MAX_AMOUNT} minor units.")
    ladder = state.rules.ladder
    min_next = state.min_next_bid()
    old_price, old_leader = state.price, state.leader_id
    outbid: int | None = None

    if bid.bidder_id == state.leader_id:
        if bid.kind is BidKind.DIRECT:
            return Rejected("self_outbid", "You are already the highest bidder.", min_next)
        assert state.leader_max is not None
        if bid.value <= state.leader_max:
            return Rejected("max_not_higher", "A new maximum must exceed your current one.", min_next)
        state.leader_max = bid.value
    elif bid.value < min_next:
        return Rejected("too_low", f"The next bid must be at least {min_next}.", min_next)
    elif state.leader_id is None:
        state.leader_id, state.leader_max = bid.bidder_id, bid.value
        state.price = bid.value if bid.kind is BidKind.DIRECT else state.rules.starting_price
    else:
        assert state.leader_max is not None
        if bid.value > state.leader_max:
            outbid = state.leader_id
            if bid.kind is BidKind.DIRECT:
                state.price = bid.value
            else:
                state.price = min(bid.value, ladder.next_bid(state.leader_max))
            state.leader_id, state.leader_max = bid.bidder_id, bid.value
        else:
            # The leader's proxy answers at once; ties go to the earlier maximum.
            outbid = bid.bidder_id
            state.price = min(state.leader_max, ladder.next_bid(bid.value))

    reserve = state.rules.reserve_price
    assert state.price is not None and state.leader_max is not None and state.leader_id is not None
    if reserve is not None and state.leader_max >= reserve and state.price < reserve:
        state.price = reserve  # a maximum that meets the reserve shows the reserve at once

    extended = False
    moved = state.price != old_price or state.leader_id != old_leader
    assert state.closes_at is not None
    if (moved and state.rules.format is Format.STANDARD
            and state.closes_at - now < state.rules.soft_close_seconds):
        state.closes_at = now + state.rules.soft_close_seconds
        extended = True
    state.last_seq += 1
    state.bid_count += 1
    return Accepted(state.last_seq, bid.bidder_id, bid.kind, bid.value, state.price,
                    state.leader_id, state.closes_at, extended, outbid)


def buy_now(state: AuctionState, buyer_id: int, now: float, *, banned: bool = False) -> Closed | Rejected:
    gate = _gate(state, buyer_id, banned, now)
    if gate is not None:
        return gate
    bn = state.rules.buy_now_price
    if bn is None:
        return Rejected("no_buy_now", "This lot has no buy-now price.")
    if state.leader_max is not None and state.leader_max >= bn:
        # The leader has already committed to pay the buy-now price (perhaps as a hidden maximum).
        return Rejected("buy_now_unavailable", "Bidding has reached the buy-now price.")
    state.last_seq += 1
    state.status, state.outcome = Status.CLOSED, Outcome.SOLD
    state.winner_id, state.final_price, state.price = buyer_id, bn, bn
    state.leader_id, state.closes_at = buyer_id, now
    return Closed(state.last_seq, Outcome.SOLD, buyer_id, bn, now, by_buy_now=True)


def is_due(state: AuctionState, now: float) -> bool:
    return state.status is Status.RUNNING and state.closes_at is not None and now >= state.closes_at


def close(state: AuctionState, now: float) -> Closed | None:
    """Close a running auction whose deadline has passed. Returns None when it is not due."""
    if not is_due(state, now):
        return None
    assert state.closes_at is not None
    state.status = Status.CLOSED
    if state.leader_id is None:
        state.outcome = Outcome.UNSOLD
    elif state.rules.reserve_price is not None and (state.price or 0) < state.rules.reserve_price:
        state.outcome = Outcome.RESERVE_NOT_MET
    else:
        state.outcome = Outcome.SOLD
        state.winner_id, state.final_price = state.leader_id, state.price
    state.last_seq += 1
    return Closed(state.last_seq, state.outcome, state.winner_id, state.final_price, state.closes_at)
