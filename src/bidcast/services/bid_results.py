"""What a bidder is told about a bid, and how a stored attempt is replayed on retry."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.auction import Accepted, Rejected
from ..storage.auction_store import to_ts
from ..storage.models import Bid

REJECT_STATUS = {"own_lot": 403, "banned": 403}


@dataclass(frozen=True, slots=True)
class BidResult:
    auction_id: int
    accepted: bool
    kind: str
    value: int
    seq: int | None = None
    price: int | None = None
    leader_id: int | None = None
    closes_at: float | None = None
    extended: bool = False
    outbid_id: int | None = None
    code: str | None = None
    message: str | None = None
    min_next: int | None = None
    replayed: bool = False

    @property
    def http_status(self) -> int:
        if self.accepted:
            return 200 if self.replayed else 201
        return REJECT_STATUS.get(self.code or "", 409)

    def fingerprint(self) -> tuple[str, int]:
        return (self.kind, self.value)

    def as_replay(self) -> BidResult:
        from dataclasses import replace
        return replace(self, replayed=True)


def result_of(auction_id: int, kind: str, value: int, d: Accepted | Rejected) -> BidResult:
    if isinstance(d, Accepted):
        return BidResult(auction_id, True, kind, value, d.seq, d.price, d.leader_id, d.closes_at,
                         d.extended, d.outbid_id)
    return BidResult(auction_id, False, kind, value, code=d.code, message=d.message,
                     min_next=d.min_next)


def result_of_row(row: Bid) -> BidResult:
    if row.accepted:
        return BidResult(row.auction_id, True, row.kind, row.value, row.seq, row.price_after,
                         row.leader_after, to_ts(row.closes_at_after), False, row.outbid_id,
                         replayed=True)
    return BidResult(row.auction_id, False, row.kind, row.value, code=row.reject_code,
                     message=REJECT_MESSAGES.get(row.reject_code or "", "The bid was rejected."),
                     replayed=True)


REJECT_MESSAGES = {
    "too_low": "The bid was below the next valid amount.",
    "auction_closed": "This auction has closed.",
    "not_started": "Bidding on this lot has not started yet.",
    "own_lot": "Sellers and hosts cannot bid on their own lots.",
    "self_outbid": "You are already the highest bidder.",
    "max_not_higher": "A new maximum must exceed your current one.",
    "banned": "Your account may not bid.",
    "buy_now_unavailable": "Bidding has passed the buy-now price.",
    "no_buy_now": "This lot has no buy-now price.",
}
