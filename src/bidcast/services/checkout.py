"""Checkout: the cart (or one "buy now" line) becomes one order per shop, stock reserved.

One transaction per checkout: it records the checkout under the buyer's idempotency key (a
retry finds it and gets the same orders), locks the products in id order (no deadlock between
two checkouts sharing products), re-reads every price from the database, and takes each line's
units with a guarded `UPDATE products SET stock = stock - q WHERE stock >= q`: a line that does
not fit rolls the whole checkout back with 409 out_of_stock naming that line. Orders wait for
payment until pay_by; the deadline sweep (order_deadlines) cancels unpaid ones and restocks them.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..errors import AppError, not_found
from ..storage.models import (
    CartLine,
    Checkout,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    Shop,
    utcnow,
)
from .accounts import Principal
from .addresses import Addresses, snapshot
from .cart import MAX_LINES, MAX_QUANTITY, buyable
from .order_payments import OrderPayments
from .shipping_fees import shipping_fee


class Checkouts:
    def __init__(self, sessions: async_sessionmaker, addresses: Addresses, payments: OrderPayments,
                 window_s: int) -> None:
        self._sessions = sessions
        self._addresses = addresses
        self._payments = payments
        self._window = timedelta(seconds=window_s)

    async def place(self, who: Principal, key: str, address_id: int | None,
                    shipping: dict[int, str], lines: list[tuple[int, int]] | None) -> tuple[dict, bool]:
        """Returns (the checkout view, replayed). `lines` None: check out the whole cart."""
        digest = hashlib.sha256(json.dumps(
            [address_id, sorted(shipping.items()), lines], separators=(",", ":")).encode()).hexdigest()
        earlier = await self._earlier(who.id, key, digest)
        if earlier is not None:
            return await self.view(who, earlier), True
        checkout_id = f"co_{uuid.uuid4().hex}"
        try:
            async with self._sessions.begin() as s:
                s.add(Checkout(id=checkout_id, user_id=who.id, idempotency_key=key, request_hash=digest))
                await s.flush()  # a concurrent retry with the same key waits here, then fails
                await self._create_orders(s, who, checkout_id, address_id, shipping, lines)
        except IntegrityError:
            earlier = await self._earlier(who.id, key, digest)
            if earlier is None:
                raise
            return await self.view(who, earlier), True
        return await self.view(who, checkout_id), False

    async def _earlier(self, user_id: int, key: str, digest: str) -> str | None:
        async with self._sessions() as s:
            row = (await s.execute(select(Checkout).where(Checkout.user_id == user_id,
                                                          Checkout.idempotency_key == key))).scalar_one_or_none()
        if row is None:
            return None
        if row.request_hash != digest:
            raise AppError(409, "idempotency_key_reused",
                           "This idempotency key was used for a different checkout.")
        return row.id

    async def _create_orders(self, s: AsyncSession, who: Principal, checkout_id: str,
                             address_id: int | None, shipping: dict[int, str],
                             lines: list[tuple[int, int]] | None) -> None:
        from_cart = lines is None
        if from_cart:
            lines = [(p, q) for p, q in (await s.execute(
                select(CartLine.product_id, CartLine.quantity).where(CartLine.user_id == who.id)
                .order_by(CartLine.id))).all()]
            if not lines:
                raise AppError(422, "cart_empty", "Your cart is empty.")
        wanted = _merge(lines)
        address = snapshot(await self._addresses.chosen(s, who.id, address_id))
        # Lock every product in id order, then read prices, titles and stock as they are now.
        ids = sorted(wanted)
        locked = {p.id: p for p in (await s.execute(
            select(Product).where(Product.id.in_(ids)).order_by(Product.id)
            .with_for_update().execution_options(populate_existing=True))).scalars()}
        by_shop: dict[int, list[tuple[Product, int]]] = {}
        shops: dict[int, Shop] = {}
        for index, (product_id, quantity) in enumerate(wanted.items()):
            if product_id not in locked:
                raise AppError(404, "not_found", "Product not found.", product_id=product_id, line=index)
            product, shop = await buyable(s, who, product_id)
            shops[shop.id] = shop
            by_shop.setdefault(shop.id, []).append((product, quantity))
        unknown = set(shipping) - set(by_shop)
        if unknown:
            raise AppError(422, "unknown_shop", "A shipping choice names a shop with nothing in "
                           "this checkout.", shop_id=min(unknown))
        for product_id in ids:  # the guarded reservations, in id order too
            quantity = wanted[product_id]
            taken = await s.execute(
                update(Product).where(Product.id == product_id, Product.stock >= quantity,
                                      Product.status == "active")
                .values(stock=Product.stock - quantity).execution_options(synchronize_session=False))
            if taken.rowcount != 1:
                p = locked[product_id]
                raise AppError(409, "out_of_stock", f"Only {p.stock} left of {p.title}." if p.stock
                               else f"{p.title} is sold out.", product_id=product_id,
                               available=p.stock, line=list(wanted).index(product_id))
        pay_by = utcnow() + self._window
        for shop_id, group in by_shop.items():
            currencies = {p.currency for p, _ in group}
            if len(currencies) > 1:
                raise AppError(422, "currency_mismatch", "One shop's products in one checkout must "
                               "share a currency.", shop_id=shop_id)
            # Lines in product-id order: whoever later restocks them (the deadline sweep) takes
            # the row locks in the same order as a checkout does.
            group.sort(key=lambda pq: pq[0].id)
            method = shipping.get(shop_id, "standard")
            subtotal = sum(p.price_amount * q for p, q in group)
            fee = shipping_fee(method, subtotal)
            first = group[0][0]
            order = Order(buyer_id=who.id, seller_id=shops[shop_id].owner_id, shop_id=shop_id,
                          product_id=first.id, kind="shop", amount=subtotal + fee,
                          shipping_amount=fee, currency=first.currency, status="awaiting_payment",
                          checkout_id=checkout_id, shipping_address=address,
                          shipping_method=method, pay_by=pay_by)
            s.add(order)
            await s.flush()
            for p, q in group:
                s.add(OrderLine(order_id=order.id, product_id=p.id, title=p.title,
                                unit_price=p.price_amount, quantity=q, currency=p.currency))
            units = sum(q for _, q in group)
            s.add(OrderEvent(order_id=order.id, kind="created", actor_id=who.id,
                             detail=f"checkout {checkout_id}: {units} item{'s' if units != 1 else ''}, "
                                    f"{method} shipping"))
        if from_cart:
            await s.execute(delete(CartLine).where(CartLine.user_id == who.id,
                                                   CartLine.product_id.in_(ids)))

    async def view(self, who: Principal, checkout_id: str) -> dict[str, Any]:
        async with self._sessions() as s:
            rows = (await s.execute(select(Order, Shop.name).join(Shop, Shop.id == Order.shop_id)
                                    .where(Order.checkout_id == checkout_id, Order.buyer_id == who.id)
                                    .order_by(Order.id))).all()
            if not rows:
                raise not_found("Checkout")
            lines = (await s.execute(select(OrderLine).where(
                OrderLine.order_id.in_([o.id for o, _ in rows])).order_by(OrderLine.id))).scalars()
            by_order: dict[int, list[OrderLine]] = {}
            for line in lines:
                by_order.setdefault(line.order_id, []).append(line)
        totals: dict[str, int] = {}
        orders = []
        for o, shop_name in rows:
            if o.status != "cancelled":
                totals[o.currency] = totals.get(o.currency, 0) + o.amount
            orders.append(order_view(o, shop_name, by_order.get(o.id, [])))
        return {"id": checkout_id, "orders": orders,
                "totals": [{"amount": a, "currency": c} for c, a in sorted(totals.items())],
                "pay_by": orders[0]["pay_by"]}

    async def pay(self, who: Principal, checkout_id: str, payment_method: str, key: str) -> dict:
        """Pays every order of the checkout still awaiting payment, one after the other, each with
        a key derived from the client's (a retry replays at the provider, never charges twice).
        A decline stops the loop: the answer names the order and those already paid."""
        async with self._sessions() as s:
            rows = (await s.execute(select(Order.id, Order.status).where(
                Order.checkout_id == checkout_id, Order.buyer_id == who.id).order_by(Order.id))).all()
        if not rows:
            raise not_found("Checkout")
        done: list[dict[str, Any]] = []
        for order_id, status in rows:
            if status == "awaiting_payment":
                derived = "co-" + hashlib.sha256(f"{key}|{order_id}".encode()).hexdigest()[:48]
                try:
                    await self._payments.pay(who, order_id, payment_method, derived)
                except AppError as e:
                    raise AppError(e.status, e.code, e.message, **e.extra, order_id=order_id,
                                   paid_order_ids=[d["order_id"] for d in done if d["status"] == "paid"]) from None
                status = "paid"
            done.append({"order_id": order_id, "status": status})
        paid = all(d["status"] != "awaiting_payment" for d in done)
        return {"checkout_id": checkout_id, "orders": done, "paid": paid}


def _merge(lines: list[tuple[int, int]]) -> dict[int, int]:
    """Product id → quantity, in the order given; repeated products are added up."""
    if len(lines) > MAX_LINES:
        raise AppError(422, "too_many_lines", f"At most {MAX_LINES} lines per checkout.")
    out: dict[int, int] = {}
    for product_id, quantity in lines:
        out[product_id] = out.get(product_id, 0) + quantity
        if out[product_id] > MAX_QUANTITY:
            raise AppError(422, "quantity_too_large", f"At most {MAX_QUANTITY} of one product.",
                           product_id=product_id)
    return out


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def order_view(o: Order, shop_name: str, lines: list[OrderLine]) -> dict[str, Any]:
    subtotal = sum(l.unit_price * l.quantity for l in lines)
    return {
        "id": o.id, "kind": o.kind, "shop": {"id": o.shop_id, "name": shop_name},
        "status": o.status, "payment_state": o.payment_state,
        "lines": [{"product_id": l.product_id, "title": l.title, "quantity": l.quantity,
                   "unit_price": {"amount": l.unit_price, "currency": l.currency},
                   "line_total": {"amount": l.unit_price * l.quantity, "currency": l.currency}}
                  for l in lines],
        "subtotal": {"amount": subtotal, "currency": o.currency},
        "shipping": {"method": o.shipping_method, "amount": o.shipping_amount, "currency": o.currency},
        "total": {"amount": o.amount, "currency": o.currency},
        "shipping_address": o.shipping_address, "pay_by": iso(o.pay_by), "paid_at": iso(o.paid_at)}
