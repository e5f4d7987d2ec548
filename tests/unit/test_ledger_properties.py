"""Random histories of orders, releases, refunds and payouts against the ledger's invariants.

A script of actions over a few shops and two currencies is played through the builders, keeping an
independent model (exact fractions, not the ledger's integer arithmetic) of what each order holds.
After every step: each transaction balances per currency; the sum of all balances is zero; every
seller's pending + available + paid out equals sales - commission - their share of refunds; the
platform's revenue equals commission - commission refunded; pending never goes negative; refunds
above what is left and payouts above what is available are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcast.domain.ledger import (
    AccountKind,
    LedgerError,
    Transaction,
    balances,
    commission_for,
    commission_revenue,
    funds_released,
    order_paid,
    order_position,
    payout,
    refund,
    seller_view,
)
from bidcast.domain.money import MAX_AMOUNT

SHOPS = (1, 2, 3)
CURRENCIES = ("EUR", "JPY")


def round_half_up(x: Fraction) -> int:
    return int((x + Fraction(1, 2)).__floor__())


@dataclass
class ModelOrder:
    ref: str
    shop: int
    currency: str
    captured: int
    commission: int
    refunded: int = 0
    released: bool = False

    def commission_refunded(self) -> int:
        return round_half_up(Fraction(self.commission * self.refunded, self.captured))


amounts = st.one_of(st.integers(1, 200), st.integers(1, 100_000), st.just(MAX_AMOUNT))
bps = st.one_of(st.sampled_from([0, 1, 200, 250, 1_250, 9_999, 10_000]), st.integers(0, 10_000))
actions = st.one_of(
    st.tuples(st.just("pay"), st.sampled_from(SHOPS), st.sampled_from(CURRENCIES), amounts, bps),
    st.tuples(st.just("release"), st.integers(0, 50)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, MAX_AMOUNT), st.booleans()),
    st.tuples(st.just("payout"), st.sampled_from(SHOPS), st.sampled_from(CURRENCIES), st.integers(1, MAX_AMOUNT)),
)


def check_balanced(tx: Transaction) -> None:
    totals: dict[str, int] = {}
    for p in tx.postings:
        assert p.amount != 0 and abs(p.amount) <= MAX_AMOUNT
        totals[p.currency] = totals.get(p.currency, 0) + p.amount
    assert set(totals.values()) == {0}
    assert len(tx.postings) >= 2


def check_invariants(txs: list[Transaction], orders: list[ModelOrder]) -> None:
    bals = balances(txs)
    for currency in CURRENCIES:
        assert sum(per.get(currency, 0) for per in bals.values()) == 0
        mine = [o for o in orders if o.currency == currency]
        assert commission_revenue(bals, currency) == sum(o.commission - o.commission_refunded() for o in mine)
        for shop in SHOPS:
            view = seller_view(bals, shop, currency)
            theirs = [o for o in mine if o.shop == shop]
            sales = sum(o.captured for o in theirs)
            commission = sum(o.commission for o in theirs)
            seller_refunds = sum(o.refunded - o.commission_refunded() for o in theirs)
            assert view.total == sales - commission - seller_refunds
            assert view.pending == sum(o.captured - o.commission - (o.refunded - o.commission_refunded())
                                       for o in theirs if not o.released)
            assert view.pending >= 0 and view.paid_out >= 0
    for account, per in bals.items():
        if account.kind is AccountKind.REFUNDS or account.kind is AccountKind.PLATFORM_COMMISSION:
            assert all(v >= 0 for v in per.values())


@settings(max_examples=150, deadline=None)
@given(st.lists(actions, max_size=30))
def test_random_histories_keep_the_books_straight(script):
    txs: list[Transaction] = []
    orders: list[ModelOrder] = []
    for step, action in enumerate(script):
        new: Transaction | None = None
        if action[0] == "pay":
            _, shop, currency, amount, rate = action
            ref = f"o{step}"
            new = order_paid(ref, shop, amount, currency, rate)
            commission = round_half_up(Fraction(amount * rate, 10_000))
            assert commission_for(amount, rate) == commission
            assert 0 <= commission <= amount
            orders.append(ModelOrder(ref, shop, currency, amount, commission))
        elif action[0] == "release" and orders:
            order = orders[action[1] % len(orders)]
            position = order_position(txs, order.ref)
            if order.released or position.seller_remaining == 0:
                with pytest.raises(LedgerError):
                    funds_released(position)
            else:
                new = funds_released(position)
                order.released = True
        elif action[0] == "refund" and orders:
            _, index, raw, whole = action
            order = orders[index % len(orders)]
            position = order_position(txs, order.ref)
            left = order.captured - order.refunded
            assert position.refundable == left
            with pytest.raises(LedgerError):
                refund(position, f"too-much{step}", left + 1)
            if left:
                amount = left if whole else 1 + raw % left
                new = refund(position, f"r{step}", amount)
                order.refunded += amount
                assert 0 <= position.commission_refunded <= order.commission
        elif action[0] == "payout":
            _, shop, currency, raw = action
            available = seller_view(balances(txs), shop, currency).available
            with pytest.raises(LedgerError):
                payout(f"too-much{step}", shop, max(available, 0) + 1, currency, available)
            if available > 0:
                new = payout(f"p{step}", shop, 1 + raw % available, currency, available)
        if new is not None:
            check_balanced(new)
            txs.append(new)
        check_invariants(txs, orders)
    # Refunding everything that is left returns the platform's commission and the sellers' shares exactly.
    for order in orders:
        left = order.captured - order.refunded
        if left:
            txs.append(refund(order_position(txs, order.ref), f"final-{order.ref}", left))
            order.refunded = order.captured
    bals = balances(txs)
    for currency in CURRENCIES:
        assert commission_revenue(bals, currency) == 0
        for shop in SHOPS:
            assert seller_view(bals, shop, currency).total == 0
