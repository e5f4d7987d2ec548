"""Concrete auction scenarios users rely on. Amounts are cents; the clock starts at T0."""
from __future__ import annotations

import pytest

from bidcast.domain.auction import (
    MAX_DURATION_S,
    Accepted,
    AuctionRules,
    AuctionState,
    BidKind,
    BidRequest,
    Closed,
    Format,
    Outcome,
    Rejected,
    RulesError,
    Status,
    buy_now,
    close,
    is_due,
    place_bid,
    start,
)
from bidcast.domain.increments import IncrementLadder

T0 = 1_000.0
SELLER, HOST = 90, 91
ALICE, BOB, CAROL = 1, 2, 3


def running(**rules) -> AuctionState:
    """An auction started at T0: 1.00 EUR start, 30 s, 10 s soft close unless told otherwise."""
    state = AuctionState(id=1, rules=AuctionRules(**{"seller_id": SELLER, "starting_price": 100, **rules}))
    start(state, T0)
    return state


def max_bid(state, who, value, at=T0 + 1, banned=False):
    return place_bid(state, BidRequest(who, BidKind.MAX, value, banned=banned), at)


def direct_bid(state, who, value, at=T0 + 1):
    return place_bid(state, BidRequest(who, BidKind.DIRECT, value), at)


def accepted(result) -> Accepted:
    assert isinstance(result, Accepted), result
    return result


def rejected(result, code: str) -> Rejected:
    assert isinstance(result, Rejected), result
    assert result.code == code, result
    return result


# --- proxy bidding ----------------------------------------------------------------------------------

def test_a_lone_max_bid_shows_the_starting_price():
    state = running()
    event = accepted(max_bid(state, ALICE, 500))
    assert (event.price, event.leader_id, event.outbid_id) == (100, ALICE, None)
    assert state.leader_max == 500


def test_a_lower_later_bid_is_answered_by_the_proxy():
    """Alice's secret 5.00 meets Bob's 3.00: Alice leads at 3.25."""
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(direct_bid(state, BOB, 300))
    assert (event.price, event.leader_id, event.outbid_id) == (325, ALICE, BOB)


def test_a_lower_later_max_bid_is_answered_the_same_way():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(max_bid(state, BOB, 300))
    assert (event.price, event.leader_id, event.outbid_id) == (325, ALICE, BOB)


def test_the_proxy_never_bids_past_its_maximum():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(max_bid(state, BOB, 490))   # one increment above would be 5.15
    assert (event.price, event.leader_id) == (500, ALICE)


def test_a_higher_max_takes_the_lead_one_increment_above_the_old_maximum():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(max_bid(state, BOB, 2_000))
    assert (event.price, event.leader_id, event.outbid_id) == (550, BOB, ALICE)
    assert state.leader_max == 2_000


def test_a_new_max_just_above_the_old_one_shows_its_own_value():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(max_bid(state, BOB, 520))
    assert (event.price, event.leader_id) == (520, BOB)


def test_equal_maximums_go_to_the_earlier_bid():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(max_bid(state, BOB, 500))
    assert (event.price, event.leader_id, event.outbid_id) == (500, ALICE, BOB)


def test_a_direct_bid_equal_to_the_leaders_maximum_loses_the_tie():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(direct_bid(state, BOB, 500))
    assert (event.price, event.leader_id) == (500, ALICE)


def test_three_bidders_price_follows_the_runner_up():
    state = running()
    accepted(max_bid(state, ALICE, 1_000))
    accepted(max_bid(state, BOB, 600))
    event = accepted(max_bid(state, CAROL, 800))
    assert (event.price, event.leader_id, event.outbid_id) == (850, ALICE, CAROL)


# --- direct bids --------------------------------------------------------------------------------------

def test_a_first_direct_bid_shows_its_exact_amount():
    state = running()
    event = accepted(direct_bid(state, ALICE, 300))
    assert (event.price, event.leader_id) == (300, ALICE)


def test_a_direct_bid_above_the_leaders_maximum_shows_its_exact_amount():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    event = accepted(direct_bid(state, BOB, 800))
    assert (event.price, event.leader_id, event.outbid_id) == (800, BOB, ALICE)


def test_the_leader_cannot_outbid_themselves_with_a_direct_bid():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    result = rejected(direct_bid(state, ALICE, 1_000), "self_outbid")
    assert result.min_next == 125


# --- the leader's own maximum -------------------------------------------------------------------------

def test_the_leader_raising_their_maximum_keeps_the_price():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    accepted(max_bid(state, BOB, 300))
    event = accepted(max_bid(state, ALICE, 900))
    assert (event.price, event.leader_id, event.outbid_id) == (325, ALICE, None)
    assert state.leader_max == 900


def test_after_a_tie_the_leader_raising_their_maximum_keeps_the_tie_price():
    """eBay's rule: raising your own maximum never raises what you pay."""
    state = running()
    accepted(max_bid(state, ALICE, 500))
    accepted(max_bid(state, BOB, 500))
    event = accepted(max_bid(state, ALICE, 1_000))
    assert (event.price, event.leader_id) == (500, ALICE)


def test_a_new_maximum_must_exceed_the_current_one():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    rejected(max_bid(state, ALICE, 500), "max_not_higher")
    rejected(max_bid(state, ALICE, 400), "max_not_higher")
    assert state.leader_max == 500


# --- too low ------------------------------------------------------------------------------------------

def test_the_first_bid_must_reach_the_starting_price():
    state = running()
    assert rejected(max_bid(state, ALICE, 99), "too_low").min_next == 100
    accepted(max_bid(state, ALICE, 100))


def test_a_bid_must_add_at_least_one_increment():
    state = running()
    accepted(max_bid(state, ALICE, 500))
    assert rejected(max_bid(state, BOB, 124), "too_low").min_next == 125
    assert state.min_next_bid() == 125
    accepted(max_bid(state, BOB, 125))


@pytest.mark.parametrize(
    ("price", "min_next"),
    [(95, 100), (99, 104), (100, 125), (480, 505), (500, 550), (2_400, 2_450), (2_480, 2_530), (2_500, 2_600),
     (10_000, 10_250), (25_000, 25_500), (50_000, 51_000), (100_000, 102_500),
     (250_000, 255_000), (500_000, 510_000)],
)
def test_the_next_bid_follows_the_default_ladder_band_of_the_price(price, min_next):
    state = running(starting_price=price)
    accepted(max_bid(state, ALICE, price))
    assert rejected(max_bid(state, BOB, min_next - 1), "too_low").min_next == min_next
    assert accepted(direct_bid(state, BOB, min_next)).price == min_next


def test_a_custom_ladder_sets_the_increment():
    state = running(starting_price=100, ladder=IncrementLadder(((0, 10), (1_000, 100))))
    accepted(max_bid(state, ALICE, 5_000))
    assert accepted(max_bid(state, BOB, 300)).price == 310
    assert accepted(max_bid(state, BOB, 1_000)).price == 1_100


# --- who may bid, and when ----------------------------------------------------------------------------

@pytest.mark.parametrize("who", [SELLER, HOST])
def test_the_seller_and_host_cannot_bid_or_buy_their_own_lot(who):
    state = running(host_id=HOST, buy_now_price=5_000)
    rejected(max_bid(state, who, 500), "own_lot")
    rejected(buy_now(state, who, T0 + 1), "own_lot")
    assert state.leader_id is None and state.status is Status.RUNNING


def test_without_a_host_anybody_but_the_seller_may_bid():
    state = running(host_id=None)
    accepted(max_bid(state, HOST, 500))


def test_banned_users_cannot_bid_or_buy():
    state = running(buy_now_price=5_000)
    rejected(max_bid(state, ALICE, 500, banned=True), "banned")
    rejected(buy_now(state, ALICE, T0 + 1, banned=True), "banned")
    assert state.leader_id is None


def test_no_bids_before_the_auction_starts():
    state = AuctionState(id=1, rules=AuctionRules(seller_id=SELLER, starting_price=100))
    rejected(max_bid(state, ALICE, 500, at=T0), "not_started")
    assert close(state, T0 + 10_000) is None


def test_a_timed_auction_opens_at_its_opening_time():
    state = AuctionState(id=1, rules=AuctionRules(seller_id=SELLER, starting_price=100, duration_seconds=60))
    start(state, T0, opens_at=T0 + 100)
    assert state.closes_at == T0 + 160
    rejected(max_bid(state, ALICE, 500, at=T0 + 99), "not_started")
    accepted(max_bid(state, ALICE, 500, at=T0 + 100))


def test_an_auction_starts_only_once():
    state = running()
    with pytest.raises(RulesError) as err:
        start(state, T0 + 1)
    assert err.value.code == "already_started"


def test_no_bids_at_or_after_the_close_even_before_it_is_processed():
    state = running(duration_seconds=30)
    accepted(max_bid(state, ALICE, 500, at=T0 + 29.9))
    rejected(max_bid(state, BOB, 1_000, at=T0 + 40), "auction_closed")  # 29.9 + 10 s soft close
    assert state.status is Status.RUNNING


# --- soft close and sudden death ----------------------------------------------------------------------

def test_a_late_bid_moves_the_close_to_now_plus_the_soft_close():
    state = running(duration_seconds=30, soft_close_seconds=10)
    event = accepted(max_bid(state, ALICE, 500, at=T0 + 25))
    assert (event.closes_at, event.extended) == (T0 + 35, True)
    event = accepted(max_bid(state, BOB, 600, at=T0 + 34))
    assert (event.closes_at, event.extended) == (T0 + 44, True)


def test_an_early_bid_leaves_the_close_alone():
    state = running(duration_seconds=30, soft_close_seconds=10)
    event = accepted(max_bid(state, ALICE, 500, at=T0 + 15))
    assert (event.closes_at, event.extended) == (T0 + 30, False)


def test_raising_your_own_maximum_late_does_not_extend():
    state = running(duration_seconds=30, soft_close_seconds=10)
    accepted(max_bid(state, ALICE, 500, at=T0 + 5))
    event = accepted(max_bid(state, ALICE, 900, at=T0 + 28))
    assert (event.closes_at, event.extended) == (T0 + 30, False)


def test_sudden_death_closes_at_the_deadline_whatever_happens():
    state = running(format=Format.SUDDEN_DEATH, duration_seconds=30, soft_close_seconds=10)
    event = accepted(max_bid(state, ALICE, 500, at=T0 + 29))
    assert (event.closes_at, event.extended) == (T0 + 30, False)
    rejected(max_bid(state, BOB, 1_000, at=T0 + 30), "auction_closed")


# --- closing ------------------------------------------------------------------------------------------

def test_close_waits_for_the_deadline_and_happens_once():
    state = running(duration_seconds=30)
    accepted(max_bid(state, ALICE, 500, at=T0 + 1))
    accepted(max_bid(state, BOB, 300, at=T0 + 2))
    assert not is_due(state, T0 + 29.9)
    assert close(state, T0 + 29.9) is None
    assert close(state, T0 + 31) == Closed(3, Outcome.SOLD, ALICE, 325, T0 + 30)
    assert (state.status, state.winner_id, state.final_price) == (Status.CLOSED, ALICE, 325)
    assert close(state, T0 + 32) is None
    rejected(max_bid(state, BOB, 2_000, at=T0 + 32), "auction_closed")


def test_nobody_bid_means_unsold():
    state = running()
    assert close(state, T0 + 30) == Closed(1, Outcome.UNSOLD, None, None, T0 + 30)


def test_a_maximum_below_the_reserve_ends_reserve_not_met():
    state = running(reserve_price=1_000)
    assert accepted(max_bid(state, ALICE, 800)).price == 100
    assert close(state, T0 + 30) == Closed(2, Outcome.RESERVE_NOT_MET, None, None, T0 + 30)
    assert state.winner_id is None


def test_a_maximum_meeting_the_reserve_shows_the_reserve_at_once_and_sells():
    state = running(reserve_price=1_000)
    assert accepted(max_bid(state, ALICE, 1_500)).price == 1_000
    assert accepted(max_bid(state, BOB, 1_100)).price == 1_150
    assert close(state, T0 + 30) == Closed(3, Outcome.SOLD, ALICE, 1_150, T0 + 30)


def test_raising_your_maximum_to_the_reserve_shows_the_reserve():
    state = running(reserve_price=1_000)
    accepted(max_bid(state, ALICE, 800))
    event = accepted(max_bid(state, ALICE, 1_000))
    assert (event.price, event.leader_id) == (1_000, ALICE)
    assert close(state, T0 + 30).outcome is Outcome.SOLD


def test_a_direct_bid_below_the_reserve_does_not_sell():
    state = running(reserve_price=1_000)
    accepted(direct_bid(state, ALICE, 900))
    assert close(state, T0 + 30).outcome is Outcome.RESERVE_NOT_MET


# --- buy-now ------------------------------------------------------------------------------------------

def test_buy_now_ends_the_auction_at_once():
    state = running(buy_now_price=5_000)
    accepted(max_bid(state, ALICE, 1_000))
    assert buy_now(state, CAROL, T0 + 3) == Closed(2, Outcome.SOLD, CAROL, 5_000, T0 + 3, by_buy_now=True)
    assert (state.status, state.winner_id, state.final_price, state.price) == (Status.CLOSED, CAROL, 5_000, 5_000)
    rejected(max_bid(state, BOB, 9_000, at=T0 + 4), "auction_closed")
    rejected(buy_now(state, BOB, T0 + 4), "auction_closed")
    assert close(state, T0 + 100) is None


def test_buy_now_is_refused_once_bidding_reaches_it():
    state = running(buy_now_price=5_000)
    accepted(max_bid(state, ALICE, 6_000))
    accepted(max_bid(state, BOB, 4_900))
    assert state.price == 5_000
    rejected(buy_now(state, CAROL, T0 + 2), "buy_now_unavailable")
    assert state.status is Status.RUNNING


def test_buy_now_stays_available_while_no_maximum_reaches_it():
    state = running(buy_now_price=5_000)
    accepted(max_bid(state, ALICE, 4_950))
    accepted(max_bid(state, BOB, 4_800))
    assert state.price == 4_900
    assert isinstance(buy_now(state, CAROL, T0 + 2), Closed)


def test_buy_now_is_gone_once_a_hidden_maximum_reaches_it():
    state = running(buy_now_price=5_000)
    accepted(max_bid(state, ALICE, 6_000))
    assert state.price == state.rules.starting_price
    rejected(buy_now(state, CAROL, T0 + 2), "buy_now_unavailable")


def test_buy_now_needs_a_buy_now_price():
    state = running()
    rejected(buy_now(state, CAROL, T0 + 1), "no_buy_now")


# --- rules validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "bad",
    [
        {"starting_price": 0},
        {"starting_price": -100},
        {"reserve_price": 99},
        {"buy_now_price": 100},
        {"buy_now_price": 50},
        {"reserve_price": 1_000, "buy_now_price": 1_000},
        {"reserve_price": 1_000, "buy_now_price": 900},
        {"soft_close_seconds": -1},
        {"soft_close_seconds": 301},
        {"duration_seconds": 4},
        {"duration_seconds": MAX_DURATION_S + 1},
    ],
)
def test_invalid_rules_are_refused(bad):
    rules = AuctionRules(**{"seller_id": SELLER, "starting_price": 100, **bad})
    with pytest.raises(RulesError) as err:
        rules.validate()
    assert err.value.code == "invalid_rules"
    state = AuctionState(id=1, rules=rules)
    with pytest.raises(RulesError):
        start(state, T0)
    assert state.status is Status.PENDING and state.closes_at is None


@pytest.mark.parametrize(
    "edge",
    [
        {"starting_price": 1},
        {"reserve_price": 100},
        {"buy_now_price": 101},
        {"reserve_price": 1_000, "buy_now_price": 1_001},
        {"soft_close_seconds": 0},
        {"soft_close_seconds": 300},
        {"duration_seconds": 5},
        {"duration_seconds": MAX_DURATION_S},
    ],
)
def test_rules_at_the_limits_are_accepted(edge):
    AuctionRules(**{"seller_id": SELLER, "starting_price": 100, **edge}).validate()
