"""Shipping fees for shop orders: one method per shop order, a flat fee in minor units.

Kept deliberately simple (documented in docs/shop.md):
  standard  490 minor units, free when the shop's lines come to FREE_STANDARD_FROM or more
  express   990 minor units, always
The same figures apply in every currency (minor units of the order's own currency).
"""
from __future__ import annotations

from typing import Any

from ..errors import AppError

METHODS: dict[str, dict[str, Any]] = {
    "standard": {"label": "Standard (3–5 days)", "fee": 490},
    "express": {"label": "Express (1–2 days)", "fee": 990},
}
FREE_STANDARD_FROM = 5000


def shipping_fee(method: str, subtotal: int) -> int:
    if method not in METHODS:
        raise AppError(422, "invalid_shipping_method", f"Unknown shipping method {method!r}.")
    if method == "standard" and subtotal >= FREE_STANDARD_FROM:
        return 0
    return METHODS[method]["fee"]


def shipping_options(subtotal: int, currency: str) -> list[dict[str, Any]]:
    return [{"method": m, "label": spec["label"],
             "fee": {"amount": shipping_fee(m, subtotal), "currency": currency}}
            for m, spec in METHODS.items()]
