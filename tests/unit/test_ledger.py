"""The ledger by example: numbers a seller would check by hand, and the errors they should meet."""
from __future__ import annotations

import pytest

from bidcast.domain.ledger import (
    BUYER_PAYMENTS,
    PLATFORM_COMMISSION,
    REFUNDS,
    Account,
    AccountKind,
    CommissionPolicy,
    LedgerError,
    OrderPosition,
    Posting,
    Transaction,
    TxKind,
    balances,
    commission_for,
    commission_revenue,
    funds_released,
    order_paid,
    order_position,
    payout,
    refund,
    release_due_at,
    seller_available,
    seller_paid_out,
    seller_pending,
    seller_view,
)
from bidcast.domain.money import MAX_AMOUNT

SHOP = 42


def legs(tx: Transaction) -> dict[str, int]:
    return {str(p.account): p.amount for p in tx.postings}


# -- accounts --------------------------------------------------------------------------------------

@pytest.mark.parametrize("account", [
    BUYER_PAYMENTS, REFUNDS, PLATFORM_COMMISSION,
    seller_pending(SHOP), seller_available(7), seller_paid_out(123456),
])
def test_accounts_round_trip_through_their_storage_form(account):
    assert Account.parse(str(account)) == account


def test_account_storage_form():
    assert str(seller_pending(42)) == "seller_pending:42"
    assert str(PLATFORM_COMMISSION) == "platform_commission"


@pytest.mark.parametrize("text", ["", "cash", "seller_pending", "seller_pending:", "seller_pending:x",
                                  "seller_pending:0", "seller_pending:-1", "refunds:3"])
def test_malformed_accounts_are_refused(text):
    with pytest.raises(LedgerError) as err:
        Account.parse(text)
    assert err.value.code == "invalid_account"


def test_seller_accounts_need_a_shop_and_platform_accounts_have_none():
    with pytest.raises(LedgerError):
        Account(AccountKind.SELLER_AVAILABLE)
    with pytest.raises(LedgerError):
        Account(AccountKind.PLATFORM_COMMISSION, 3)


# -- transactions ----------------------------------------------------------------------------------

def test_a_balanced_transaction_is_accepted():
    tx = Transaction("t1", TxKind.PAYOUT, "p1", [
        Posting(seller_available(SHOP), -500, "EUR"), Posting(seller_paid_out(SHOP), 500, "EUR"),
    ])
    assert isinstance(tx.postings, tuple)


@pytest.mark.parametrize("postings", [
    [],
    [Posting(REFUNDS, 100, "EUR")],
    [Posting(REFUNDS, 100, "EUR"), Posting(PLATFORM_COMMISSION, -99, "EUR")],
    # Balanced in total, not per currency.
    [Posting(REFUNDS, 100, "EUR"), Posting(PLATFORM_COMMISSION, -100, "USD")],
])
def test_unbalanced_transactions_are_refused(postings):
    with pytest.raises(LedgerError) as err:
        Transaction("t1", TxKind.REFUND, "o1", postings)
    assert err.value.code == "unbalanced"


def test_the_imbalance_is_named_in_the_error():
    with pytest.raises(LedgerError, match=r"EUR \+1"):
        Transaction("t1", TxKind.REFUND, "o1", [Posting(REFUNDS, 100, "EUR"), Posting(PLATFORM_COMMISSION, -99, "EUR")])


@pytest.mark.parametrize("amount, code", [
    (0, "invalid_amount"), (1.5, "invalid_amount"), (True, "invalid_amount"), ("100", "invalid_amount"),
    (MAX_AMOUNT + 1, "amount_out_of_range"), (-MAX_AMOUNT - 1, "amount_out_of_range"),
])
def test_bad_posting_amounts_are_refused(amount, code):
    with pytest.raises(LedgerError) as err:
        Posting(REFUNDS, amount, "EUR")
    assert err.value.code == code


def test_postings_at_the_limits_are_accepted():
    Transaction("t", TxKind.ORDER_PAID, "o", [Posting(BUYER_PAYMENTS, -MAX_AMOUNT, "EUR"),
                                                Posting(seller_pending(1), MAX_AMOUNT, "EUR")])


def test_unknown_currencies_are_refused():
    with pytest.raises(LedgerError) as err:
        Posting(REFUNDS, 1, "eur")
    assert err.value.code == "unknown_currency"


def test_a_transaction_needs_an_id_and_a_reference():
    postings = [Posting(REFUNDS, 1, "EUR"), Posting(PLATFORM_COMMISSION, -1, "EUR")]
    with pytest.raises(LedgerError):
        Transaction("", TxKind.REFUND, "o", postings)
    with pytest.raises(LedgerError):
        Transaction("t", TxKind.REFUND, "", postings)


# -- commission ------------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, bps, expected", [
    (10_000, 200, 200),     # €100.00 at 2 % -> €2.00
    (25, 200, 1),           # €0.25 at 2 % = 0.5 cent -> rounds half up to 1 cent
    (24, 200, 0),           # 0.48 cent -> 0
    (1, 200, 0),
    (999, 1_250, 125),      # 124.875 -> 125
    (12_345, 0, 0),
    (12_345, 10_000, 12_345),
    (0, 200, 0),
    (MAX_AMOUNT, 10_000, MAX_AMOUNT),
])
def test_commission_for(amount, bps, expected):
    assert commission_for(amount, bps) == expected


@pytest.mark.parametrize("bps", [-1, 10_001, 2.0, True])
def test_commission_rates_outside_0_to_100_percent_are_refused(bps):
    with pytest.raises(LedgerError) as err:
        commission_for(100, bps)
    assert err.value.code == "invalid_commission"


def test_commission_policy_defaults_to_2_percent_with_category_overrides():
    policy = CommissionPolicy(per_category={"sneakers": 500, "cards": 0})
    assert policy.bps_for("sneakers") == 500
    assert policy.bps_for("cards") == 0
    assert policy.bps_for("books") == 200
    assert policy.bps_for(None) == 200
    assert CommissionPolicy(default_bps=350).bps_for("anything") == 350


def test_commission_policy_copies_its_rates_and_validates_them():
    rates = {"sneakers": 500}
    policy = CommissionPolicy(per_category=rates)
    rates["sneakers"] = 9_999
    assert policy.bps_for("sneakers") == 500
    with pytest.raises(LedgerError):
        CommissionPolicy(per_category={"x": 10_001})
    with pytest.raises(LedgerError):
        CommissionPolicy(default_bps=-1)


# -- order paid ------------------------------------------------------------------------------------

def test_a_100_euro_sale_at_2_percent():
    tx = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    assert tx.id == "order_paid:o-1" and tx.kind is TxKind.ORDER_PAID and tx.shop_id == SHOP
    assert legs(tx) == {"buyer_payments": -10_000, "seller_pending:42": 9_800, "platform_commission": 200}
    view = seller_view(balances([tx]), SHOP, "EUR")
    assert (view.pending, view.available, view.paid_out) == (9_800, 0, 0)
    assert commission_revenue(balances([tx]), "EUR") == 200


def test_a_sale_without_commission_has_no_commission_leg():
    assert legs(order_paid("o", SHOP, 500, "JPY", 0)) == {"buyer_payments": -500, "seller_pending:42": 500}


def test_a_full_commission_sale_has_no_seller_leg_but_still_knows_its_shop():
    tx = order_paid("o", SHOP, 500, "EUR", 10_000)
    assert legs(tx) == {"buyer_payments": -500, "platform_commission": 500}
    assert order_position([tx], "o").shop_id == SHOP


@pytest.mark.parametrize("amount", [0, -100, MAX_AMOUNT + 1, 10.0])
def test_order_paid_refuses_bad_amounts(amount):
    with pytest.raises(LedgerError):
        order_paid("o", SHOP, amount, "EUR", 200)


def test_order_paid_refuses_bad_shops_and_currencies():
    with pytest.raises(LedgerError):
        order_paid("o", 0, 100, "EUR", 200)
    with pytest.raises(LedgerError):
        order_paid("o", SHOP, 100, "XYZ", 200)


# -- release ---------------------------------------------------------------------------------------

def test_funds_are_released_from_pending_to_available():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    released = funds_released(order_position([paid], "o-1"))
    assert released.id == "funds_released:o-1"
    assert legs(released) == {"seller_pending:42": -9_800, "seller_available:42": 9_800}
    view = seller_view(balances([paid, released]), SHOP, "EUR")
    assert (view.pending, view.available, view.paid_out) == (0, 9_800, 0)


def test_funds_are_released_once():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    released = funds_released(order_position([paid], "o-1"))
    with pytest.raises(LedgerError) as err:
        funds_released(order_position([paid, released], "o-1"))
    assert err.value.code == "already_released"


def test_a_fully_refunded_order_has_nothing_to_release():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    back = refund(order_position([paid], "o-1"), "r-1", 10_000)
    with pytest.raises(LedgerError) as err:
        funds_released(order_position([paid, back], "o-1"))
    assert err.value.code == "nothing_to_release"


def test_release_is_due_7_days_after_delivery_by_default():
    assert release_due_at(1_000.0) == 1_000.0 + 7 * 86_400
    assert release_due_at(1_000.0, hold_days=0) == 1_000.0
    with pytest.raises(LedgerError):
        release_due_at(1_000.0, hold_days=-1)


# -- refunds ---------------------------------------------------------------------------------------

def test_a_full_refund_reverses_the_sale():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    back = refund(order_position([paid], "o-1"), "r-1", 10_000)
    assert back.id == "refund:r-1" and back.reference == "o-1"
    assert legs(back) == {"seller_pending:42": -9_800, "platform_commission": -200, "refunds": 10_000}
    bals = balances([paid, back])
    assert seller_view(bals, SHOP, "EUR").total == 0
    assert commission_revenue(bals, "EUR") == 0


def test_a_partial_refund_returns_commission_in_proportion():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    back = refund(order_position([paid], "o-1"), "r-1", 2_500)     # a quarter of the order
    assert legs(back) == {"seller_pending:42": -2_450, "platform_commission": -50, "refunds": 2_500}


def test_partial_refunds_add_up_to_exactly_the_sale():
    # €0.99 at 12.5 % -> 12 cents commission (12.375); three refunds of 33 cents.
    txs = [order_paid("o", SHOP, 99, "EUR", 1_250)]
    assert legs(txs[0])["platform_commission"] == 12
    for i in range(3):
        txs.append(refund(order_position(txs, "o"), f"r{i}", 33))
    # Cumulative rounding: 4 (4.0), then 8 (8.0), then 12; each refund gives back 4 cents.
    assert [legs(t)["platform_commission"] for t in txs[1:]] == [-4, -4, -4]
    position = order_position(txs, "o")
    assert (position.refunded, position.commission_refunded, position.refundable) == (99, 12, 0)
    bals = balances(txs)
    assert seller_view(bals, SHOP, "EUR").total == 0 and commission_revenue(bals, "EUR") == 0


def test_rounding_of_tiny_partial_refunds_never_drifts():
    # €1.00 at 2 % -> 2 cents; a hundred 1-cent refunds give back exactly 2 cents of commission.
    txs = [order_paid("o", SHOP, 100, "EUR", 200)]
    for i in range(100):
        txs.append(refund(order_position(txs, "o"), f"r{i}", 1))
    assert commission_revenue(balances(txs), "EUR") == 0
    assert seller_view(balances(txs), SHOP, "EUR").total == 0


def test_refunds_never_exceed_what_was_captured():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    first = refund(order_position([paid], "o-1"), "r-1", 6_000)
    with pytest.raises(LedgerError) as err:
        refund(order_position([paid, first], "o-1"), "r-2", 4_001)
    assert err.value.code == "refund_exceeds_captured"
    refund(order_position([paid, first], "o-1"), "r-2", 4_000)


def test_a_refund_after_release_comes_from_available_and_can_leave_a_debt():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    released = funds_released(order_position([paid], "o-1"))
    sent = payout("p-1", SHOP, 9_800, "EUR", available=9_800)
    back = refund(order_position([paid, released, sent], "o-1"), "r-1", 5_000)
    assert legs(back) == {"seller_available:42": -4_900, "platform_commission": -100, "refunds": 5_000}
    view = seller_view(balances([paid, released, sent, back]), SHOP, "EUR")
    assert (view.pending, view.available, view.paid_out) == (0, -4_900, 9_800)


def test_a_partially_refunded_order_releases_only_what_is_left():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    back = refund(order_position([paid], "o-1"), "r-1", 2_500)
    released = funds_released(order_position([paid, back], "o-1"))
    assert legs(released) == {"seller_pending:42": -7_350, "seller_available:42": 7_350}


@pytest.mark.parametrize("amount", [0, -1, 1.0])
def test_refund_amounts_must_be_positive_whole_minor_units(amount):
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    with pytest.raises(LedgerError):
        refund(order_position([paid], "o-1"), "r", amount)


def test_order_position_needs_exactly_one_payment():
    paid = order_paid("o-1", SHOP, 10_000, "EUR", 200)
    with pytest.raises(LedgerError) as err:
        order_position([paid], "o-2")
    assert err.value.code == "unknown_order"
    with pytest.raises(LedgerError) as err:
        order_position([paid, paid], "o-1")
    assert err.value.code == "duplicate_payment"


def test_order_position_reads_the_order_back():
    paid = order_paid("o-1", SHOP, 10_000, "USD", 200)
    back = refund(order_position([paid], "o-1"), "r-1", 1_000)
    other = order_paid("o-2", 7, 500, "EUR", 200)
    assert order_position([paid, other, back], "o-1") == OrderPosition(
        "o-1", SHOP, "USD", captured=10_000, commission=200, refunded=1_000, commission_refunded=20)


# -- payouts ---------------------------------------------------------------------------------------

def test_a_payout_moves_available_to_paid_out():
    tx = payout("p-1", SHOP, 5_000, "EUR", available=9_800)
    assert tx.id == "payout:p-1"
    assert legs(tx) == {"seller_available:42": -5_000, "seller_paid_out:42": 5_000}


@pytest.mark.parametrize("available", [4_999, 0, -100])
def test_payouts_never_exceed_available(available):
    with pytest.raises(LedgerError) as err:
        payout("p-1", SHOP, 5_000, "EUR", available=available)
    assert err.value.code == "insufficient_funds"


# -- balances --------------------------------------------------------------------------------------

def test_balances_are_kept_per_currency_and_sum_to_zero():
    txs = [order_paid("o-1", SHOP, 10_000, "EUR", 200), order_paid("o-2", SHOP, 3_000, "JPY", 500),
           order_paid("o-3", 7, 2_000, "EUR", 200)]
    bals = balances(txs)
    assert bals[BUYER_PAYMENTS] == {"EUR": -12_000, "JPY": -3_000}
    assert bals[PLATFORM_COMMISSION] == {"EUR": 240, "JPY": 150}
    assert seller_view(bals, SHOP, "JPY").pending == 2_850
    assert seller_view(bals, 7, "EUR").pending == 1_960
    assert seller_view(bals, 99, "EUR").total == 0
    assert commission_revenue(bals, "GBP") == 0
    for currency in ("EUR", "JPY"):
        assert sum(per.get(currency, 0) for per in bals.values()) == 0


def test_the_seller_journey_end_to_end():
    txs = [order_paid("o-1", SHOP, 10_000, "EUR", 200), order_paid("o-2", SHOP, 5_000, "EUR", 200)]
    txs.append(refund(order_position(txs, "o-2"), "r-1", 1_000))
    txs.append(funds_released(order_position(txs, "o-1")))
    view = seller_view(balances(txs), SHOP, "EUR")
    assert (view.pending, view.available, view.paid_out) == (4_900 - 980, 9_800, 0)
    txs.append(payout("p-1", SHOP, view.available, "EUR", view.available))
    view = seller_view(balances(txs), SHOP, "EUR")
    assert (view.pending, view.available, view.paid_out) == (3_920, 0, 9_800)
    assert commission_revenue(balances(txs), "EUR") == 200 + 100 - 20
