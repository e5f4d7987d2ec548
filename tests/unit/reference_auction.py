"""A brute-force reference for who leads an auction and at what price.

Written from the rules, not from `bidcast.domain.auction`: it never replays the bids one by one
through a state machine. It looks at the whole list of ACCEPTED bids and answers from standings:

* Every bid (max or direct) is a ceiling its bidder is willing to pay; a bidder's standing is
  the highest value they placed, dated by the first time they placed that value.
* The leader holds the highest standing; on equal standings the earlier one leads.
* A direct bid is the exact amount on the button: when it takes the lead the price is that amount.
* Otherwise the proxy shows one increment above the best competitor, capped at the leader's
  maximum. With a single bidder the price is the starting price (or the amount of their direct
  bid).
* The leader raising their own maximum never moves the price (eBay's rule); only the competing
  bids do. So the cap is the leader's maximum as of the last competing bid. (When the leader has
  not raised since, this is the plain `min(leader_max, next_bid(best other max))`.)
* A reserve: once the leader's maximum meets it, the price is at least the reserve (never above
  the leader's maximum, since that maximum meets the reserve).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bidcast.domain.auction import AuctionRules, BidKind


@dataclass(frozen=True)
class RefBid:
    bidder: int
    kind: BidKind
    value: int


@dataclass(frozen=True)
class Standing:
    leader: int | None
    leader_max: int | None
    price: int | None

    def min_next(self, rules: AuctionRules) -> int:
        """The least a competitor must offer now."""
        if self.price is None:
            return rules.starting_price
        return self.price + increment(rules, self.price)


def increment(rules: AuctionRules, price: int) -> int:
    """The step in the band containing `price`: the last band whose floor is <= price."""
    step = rules.ladder.bands[0][1]
    for floor, band_step in rules.ladder.bands:
        if floor <= price:
            step = band_step
    return step


def next_bid(rules: AuctionRules, price: int) -> int:
    return price + increment(rules, price)


def standings(bids: Sequence[RefBid]) -> dict[int, tuple[int, int]]:
    """bidder -> (highest value placed, index where that value was first placed)."""
    best: dict[int, tuple[int, int]] = {}
    for i, bid in enumerate(bids):
        if bid.bidder not in best or bid.value > best[bid.bidder][0]:
            best[bid.bidder] = (bid.value, i)
    return best


def leader_of(bids: Sequence[RefBid]) -> int | None:
    best = standings(bids)
    if not best:
        return None
    return min(best, key=lambda who: (-best[who][0], best[who][1]))


def expected_standing(rules: AuctionRules, bids: Sequence[RefBid]) -> Standing:
    """Who leads, with what maximum, at what shown price, after these accepted bids."""
    if not bids:
        return Standing(None, None, None)
    best = standings(bids)
    leader = leader_of(bids)
    assert leader is not None
    leader_max = best[leader][0]

    # The last competing bid: one placed by somebody who was not leading just before it.
    # Every later bid is the (final) leader raising their own maximum.
    last = max(i for i, bid in enumerate(bids) if i == 0 or leader_of(bids[:i]) != bid.bidder)
    cap = standings(bids[: last + 1])[leader][0]
    others = [value for who, (value, _) in best.items() if who != leader]

    if not others:
        first = bids[0]
        price = first.value if first.kind is BidKind.DIRECT else rules.starting_price
    elif bids[last].kind is BidKind.DIRECT and bids[last].bidder == leader:
        price = bids[last].value
    else:
        price = min(cap, next_bid(rules, max(others)))

    reserve = rules.reserve_price
    if reserve is not None and leader_max >= reserve:
        price = max(price, reserve)
    return Standing(leader, leader_max, price)


def is_self_raise(bids: Sequence[RefBid], bid: RefBid) -> bool:
    """Is `bid` (about to follow `bids`) the current leader bidding again?"""
    return leader_of(bids) == bid.bidder
