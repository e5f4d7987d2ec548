"""Money: whole minor units, a known currency, and how amounts are shown."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcast.domain.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT,
    Money,
    MoneyError,
    check_amount,
    check_currency,
)


@pytest.mark.parametrize("currency", sorted(CURRENCY_EXPONENTS))
def test_supported_currencies_are_accepted(currency):
    assert check_currency(currency) == currency


@pytest.mark.parametrize("currency", ["eur", "Eur", "XYZ", "", "EURO", " EUR"])
def test_other_currencies_are_refused(currency):
    with pytest.raises(MoneyError) as err:
        check_currency(currency)
    assert err.value.code == "unknown_currency"


@pytest.mark.parametrize("amount", [1, 100, MAX_AMOUNT])
def test_positive_whole_amounts_up_to_the_maximum_are_accepted(amount):
    assert check_amount(amount) == amount


def test_zero_is_accepted_only_when_allowed():
    assert check_amount(0, allow_zero=True) == 0
    with pytest.raises(MoneyError) as err:
        check_amount(0)
    assert err.value.code == "invalid_amount"


@pytest.mark.parametrize("amount", [-1, -MAX_AMOUNT, True, False, 1.0, 1.5, "100", None, Decimal("100")])
def test_negative_or_non_integer_amounts_are_refused(amount):
    with pytest.raises(MoneyError) as err:
        check_amount(amount, allow_zero=True)
    assert err.value.code == "invalid_amount"


def test_amounts_above_the_maximum_are_out_of_range():
    with pytest.raises(MoneyError) as err:
        check_amount(MAX_AMOUNT + 1)
    assert err.value.code == "amount_out_of_range"


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (123_456, "EUR", "1234.56 EUR"),
        (5, "EUR", "0.05 EUR"),
        (50, "USD", "0.50 USD"),
        (0, "GBP", "0.00 GBP"),
        (-5, "EUR", "-0.05 EUR"),
        (-123, "EUR", "-1.23 EUR"),
        (500, "JPY", "500 JPY"),
        (-500, "KRW", "-500 KRW"),
        (1_000, "XYZ", "10.00 XYZ"),   # unknown currencies fall back to two decimals
    ],
)
def test_format(amount, currency, shown):
    assert Money(amount, currency).format() == shown


@settings(max_examples=300)
@given(st.integers(-MAX_AMOUNT, MAX_AMOUNT), st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_format_shows_exactly_the_amount(amount, currency):
    number, code = Money(amount, currency).format().split(" ")
    assert code == currency
    exponent = CURRENCY_EXPONENTS[currency]
    if exponent:
        assert len(number.rsplit(".", 1)[1]) == exponent
    assert Decimal(number).scaleb(exponent) == amount


def test_adding_money():
    assert Money(150, "EUR") + Money(25, "EUR") == Money(175, "EUR")
    with pytest.raises(MoneyError) as err:
        Money(150, "EUR") + Money(25, "USD")
    assert err.value.code == "currency_mismatch"


def test_money_errors_are_value_errors_with_a_message():
    err = MoneyError("invalid_amount", "Amounts must be positive.")
    assert isinstance(err, ValueError)
    assert (err.code, err.message, str(err)) == ("invalid_amount", "Amounts must be positive.", "Amounts must be positive.")
