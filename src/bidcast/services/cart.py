"""The cart: server-side, one per person, lines grouped by shop (one order per shop at checkout).

A line's quantity never exceeds the product's stock when it is added or changed; stock is only
reserved at checkout, so the cart shows lines that have since sold out or been withdrawn as
such, and checkout refuses them. Writes for one person are serialized by locking their user row.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..errors import AppError, not_found
from ..storage.models import CartLine, Product, Shop, User
from .accounts import Principal
from .shipping_fees import shipping_options

MAX_LINES = 50
MAX_QUANTITY = 999


async def buyable(s: AsyncSession, who: Principal, product_id: int) -> tuple[Product, Shop]:
    """The product and its shop, if this person may buy it now (stock is checked by the caller)."""
    product = await s.get(Product, product_id)
    if product is None:
        raise AppError(404, "not_found", "Product not found.", product_id=product_id)
    shop = await s.get(Shop, product.shop_id)
    if product.status != "active" or shop is None or shop.status != "approved":
        raise AppError(409, "product_unavailable", f"{product.title} is no longer for sale.",
                       product_id=product_id)
    if shop.owner_id == who.id:
        raise AppError(409, "own_product", "You cannot buy from your own shop.", product_id=product_id)
    return product, shop


def check_quantity(product: Product, quantity: int) -> None:
    if quantity > product.stock:
        raise AppError(409, "insufficient_stock",
                       f"Only {product.stock} left of {product.title}." if product.stock
                       else f"{product.title} is sold out.",
                       product_id=product.id, available=product.stock)


class Cart:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def add(self, who: Principal, product_id: int, quantity: int, key: str | None = None) -> None:
        """Adds `quantity` units (to the line if there is one). A retry with the same key adds nothing."""
        async with self._sessions.begin() as s:
            await _lock(s, who.id)
            product, _ = await buyable(s, who, product_id)
            line = await _line(s, who.id, product_id)
            if line is not None and key is not None and line.last_key == key:
                return
            total = quantity + (line.quantity if line else 0)
            if total > MAX_QUANTITY:
                raise AppError(422, "quantity_too_large", f"At most {MAX_QUANTITY} of one product.")
            check_quantity(product, total)
            if line is None:
                await self._check_room_for(s, who.id, product)
                s.add(CartLine(user_id=who.id, product_id=product_id, quantity=total, last_key=key))
            else:
                line.quantity, line.last_key = total, key

    async def set(self, who: Principal, product_id: int, quantity: int) -> None:
        async with self._sessions.begin() as s:
            await _lock(s, who.id)
            product, _ = await buyable(s, who, product_id)
            check_quantity(product, quantity)
            line = await _line(s, who.id, product_id)
            if line is None:
                await self._check_room_for(s, who.id, product)
                s.add(CartLine(user_id=who.id, product_id=product_id, quantity=quantity))
            else:
                line.quantity = quantity

    async def remove(self, who: Principal, product_id: int) -> None:
        async with self._sessions.begin() as s:
            await s.execute(delete(CartLine).where(CartLine.user_id == who.id,
                                                   CartLine.product_id == product_id))

    async def count(self, user_id: int) -> int:
        async with self._sessions() as s:
            return int((await s.execute(select(func.coalesce(func.sum(CartLine.quantity), 0))
                                        .where(CartLine.user_id == user_id))).scalar_one())

    async def view(self, user_id: int) -> dict[str, Any]:
        async with self._sessions() as s:
            rows = (await s.execute(
                select(CartLine, Product, Shop).join(Product, Product.id == CartLine.product_id)
                .join(Shop, Shop.id == Product.shop_id).where(CartLine.user_id == user_id)
                .order_by(CartLine.id))).all()
        groups: dict[int, dict[str, Any]] = {}
        totals: dict[str, int] = {}
        count = 0
        for line, product, shop in rows:
            g = groups.setdefault(shop.id, {"shop": {"id": shop.id, "name": shop.name},
                                            "currency": product.currency, "lines": [], "subtotal": 0})
            state = ("unavailable" if product.status != "active" or shop.status != "approved"
                     else "insufficient_stock" if line.quantity > product.stock else "ok")
            amount = product.price_amount * line.quantity
            g["lines"].append({
                "product_id": product.id, "title": product.title, "condition": product.condition,
                "image_url": product.image_urls[0] if product.image_urls else None,
                "unit_price": {"amount": product.price_amount, "currency": product.currency},
                "quantity": line.quantity, "stock": product.stock, "state": state,
                "line_total": {"amount": amount, "currency": product.currency}})
            if state == "ok":
                g["subtotal"] += amount
                totals[product.currency] = totals.get(product.currency, 0) + amount
            count += line.quantity
        out = []
        for g in groups.values():
            cur = g.pop("currency")
            out.append(g | {"subtotal": {"amount": g["subtotal"], "currency": cur},
                            "shipping_options": shipping_options(g["subtotal"], cur)})
        return {"groups": out, "count": count,
                "totals": [{"amount": a, "currency": c} for c, a in sorted(totals.items())]}

    async def quote(self, who: Principal, product_id: int, quantity: int) -> dict[str, Any]:
        """One product bought on its own ("buy now"), shaped like a cart group, with shipping."""
        async with self._sessions() as s:
            product, shop = await buyable(s, who, product_id)
        check_quantity(product, quantity)
        amount = product.price_amount * quantity
        money = lambda a: {"amount": a, "currency": product.currency}
        return {"shop": {"id": shop.id, "name": shop.name}, "subtotal": money(amount),
                "shipping_options": shipping_options(amount, product.currency),
                "lines": [{"product_id": product.id, "title": product.title, "condition": product.condition,
                           "image_url": product.image_urls[0] if product.image_urls else None,
                           "unit_price": money(product.price_amount), "quantity": quantity,
                           "stock": product.stock, "state": "ok", "line_total": money(amount)}]}

    async def _check_room_for(self, s: AsyncSession, user_id: int, product: Product) -> None:
        lines = (await s.execute(select(Product.shop_id, Product.currency)
                                 .join(CartLine, CartLine.product_id == Product.id)
                                 .where(CartLine.user_id == user_id))).all()
        if len(lines) >= MAX_LINES:
            raise AppError(409, "cart_full", f"A cart holds up to {MAX_LINES} different products.")
        if any(shop == product.shop_id and cur != product.currency for shop, cur in lines):
            raise AppError(409, "currency_mismatch", "This shop's other products in your cart are "
                           "priced in another currency; check them out first.", product_id=product.id)


async def _lock(s: AsyncSession, user_id: int) -> None:
    await s.execute(select(User.id).where(User.id == user_id).with_for_update())


async def _line(s: AsyncSession, user_id: int, product_id: int) -> CartLine | None:
    return (await s.execute(select(CartLine).where(CartLine.user_id == user_id,
                                                   CartLine.product_id == product_id))).scalar_one_or_none()


__all__ = ["Cart", "buyable", "check_quantity", "not_found"]
