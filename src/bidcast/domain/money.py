"""Money as integer minor units with a currency. Never floats."""
from __future__ import annotations

from dataclasses import dataclass

# ISO 4217 codes we accept, with their number of minor-unit digits.
CURRENCY_EXPONENTS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2,
    "PLN": 2, "CZK": 2, "CAD": 2, "AUD": 2, "JPY": 0, "KRW": 0,
}
DEFAULT_CURRENCY = "EUR"
# The largest amount anyone may price or bid, in minor units (10 million major units).
MAX_AMOUNT = 1_000_000_000


class MoneyError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_currency(currency: str) -> str:
    if currency not in CURRENCY_EXPONENTS:
        raise MoneyError("unknown_currency", f"Currency {currency!r} is not supported.")
    return currency


def check_amount(amount: int, *, allow_zero: bool = False) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError("invalid_amount", "Amounts are whole numbers of minor units (cents).")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("invalid_amount", "Amounts must be positive.")
    if amount > MAX_AMOUNT:
        raise MoneyError("amount_out_of_range", f"Amounts may not exceed {MAX_AMOUNT} minor units.")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise MoneyError("currency_mismatch", "Cannot add amounts in different currencies.")
        return Money(self.amount + other.amount, self.currency)

    def format(self) -> str:
        exp = CURRENCY_EXPONENTS.get(self.currency, 2)
        if exp == 0:
            return f"{self.amount} {self.currency}"
        sign = "-" if self.amount < 0 else ""
        major, minor = divmod(abs(self.amount), 10**exp)
        return f"{sign}{major}.{minor:0{exp}d} {self.currency}"
