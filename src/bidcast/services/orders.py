"""Orders as the buyer and the seller see them: lines, states, parcel tracking and audit trail.

Only the order's buyer and seller (and admins) can read an order; to anyone else it does not
exist. The views say what the viewer may do next (`actions`), so pages never guess the rules.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.order_status import CANCELLABLE, OrderStatus
from ..errors import AppError, forbidden, not_found
from ..storage.models import Order, OrderEvent, OrderLine, Product, Shop, TrackingEvent, User
from .accounts import Principal


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def check_status(status: str | None) -> str | None:
    if status is not None and status not in OrderStatus.__members__.values():
        raise AppError(422, "invalid_status", f"Unknown order status {status!r}.")
    return status


class Orders:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def mine(self, who: Principal, as_seller: bool = False) -> list[Order]:
        col = Order.seller_id if as_seller else Order.buyer_id
        async with self._sessions() as s:
            return list((await s.execute(select(Order).where(col == who.id)
                                         .order_by(Order.id.desc()))).scalars())

    async def get(self, who: Principal, order_id: int) -> Order:
        async with self._sessions() as s:
            order = await s.get(Order, order_id)
        if order is None:
            raise not_found("Order")
        if who.id not in (order.buyer_id, order.seller_id) and not who.has("admin"):
            raise not_found("Order")  # do not reveal that someone else's order exists
        return order

    async def events(self, order_id: int) -> list[OrderEvent]:
        async with self._sessions() as s:
            return list((await s.execute(select(OrderEvent).where(OrderEvent.order_id == order_id)
                                         .order_by(OrderEvent.id))).scalars())

    async def for_auction(self, auction_id: int) -> list[Order]:
        async with self._sessions() as s:
            return list((await s.execute(select(Order).where(Order.auction_id == auction_id))).scalars())

    # -- full views ------------------------------------------------------------------------------

    async def listing(self, who: Principal, as_seller: bool = False, status: str | None = None,
                      limit: int = 100) -> list[dict[str, Any]]:
        """The viewer's orders (as buyer, or their shop's as seller), newest first, each in full."""
        col = Order.seller_id if as_seller else Order.buyer_id
        q = select(Order).where(col == who.id).order_by(Order.id.desc()).limit(limit)
        if check_status(status):
            q = q.where(Order.status == status)
        async with self._sessions() as s:
            orders = list((await s.execute(q)).scalars())
            return await self._views(s, orders, who)

    async def detail(self, who: Principal, order_id: int) -> dict[str, Any]:
        order = await self.get(who, order_id)
        async with self._sessions() as s:
            return (await self._views(s, [order], who))[0]

    async def _views(self, s, orders: list[Order], who: Principal) -> list[dict[str, Any]]:  # noqa: ANN001
        if not orders:
            return []
        ids = [o.id for o in orders]
        lines: dict[int, list[OrderLine]] = defaultdict(list)
        for line in (await s.execute(select(OrderLine).where(OrderLine.order_id.in_(ids))
                                     .order_by(OrderLine.id))).scalars():
            lines[line.order_id].append(line)
        events: dict[int, list[OrderEvent]] = defaultdict(list)
        for e in (await s.execute(select(OrderEvent).where(OrderEvent.order_id.in_(ids))
                                  .order_by(OrderEvent.id))).scalars():
            events[e.order_id].append(e)
        parcels = {(o.carrier, o.tracking_number) for o in orders if o.carrier and o.tracking_number}
        tracking: dict[tuple[str, str], list[TrackingEvent]] = defaultdict(list)
        if parcels:
            for t in (await s.execute(select(TrackingEvent).where(
                    tuple_(TrackingEvent.carrier, TrackingEvent.tracking_number).in_(list(parcels)))
                    .order_by(TrackingEvent.occurred_at, TrackingEvent.id))).scalars():
                tracking[(t.carrier, t.tracking_number)].append(t)
        people = {o.buyer_id for o in orders} | {o.seller_id for o in orders} | {
            e.actor_id for es in events.values() for e in es if e.actor_id}
        names = dict((await s.execute(select(User.id, User.display_name)
                                      .where(User.id.in_(people)))).all())
        shops = dict((await s.execute(select(Shop.id, Shop.name)
                                      .where(Shop.id.in_({o.shop_id for o in orders})))).all())
        products = {p.id: p for p in (await s.execute(select(Product).where(
            Product.id.in_({o.product_id for o in orders})))).scalars()}
        return [order_view(o, who, lines[o.id], events[o.id], tracking[(o.carrier, o.tracking_number)],
                           names, shops.get(o.shop_id, ""), products.get(o.product_id))
                for o in orders]


def actions_for(o: Order, who: Principal) -> list[str]:
    """What the viewer may do with the order now (the service checks again on every request)."""
    out = []
    if o.status == "awaiting_payment" and who.id == o.buyer_id:
        out.append("pay")
    if o.status in CANCELLABLE and who.id in (o.buyer_id, o.seller_id):
        out.append("cancel")
    if (o.status == "paid" and o.payment_state in ("paid", "partially_refunded")
            and who.id == o.seller_id):
        out.append("ship")
    if o.status == "delivered" and not o.final_sale and who.id == o.buyer_id:
        out.append("return")  # the return page says whether the window is still open
    return out


def order_view(o: Order, who: Principal, lines: list[OrderLine], events: list[OrderEvent],
               tracking: list[TrackingEvent], names: dict[int, str], shop_name: str,
               product: Product | None) -> dict[str, Any]:
    def actor(user_id: int | None) -> str:
        if user_id is None:
            return "system"
        return "buyer" if user_id == o.buyer_id else "seller" if user_id == o.seller_id else "admin"
    return {
        "id": o.id, "kind": o.kind, "buyer_id": o.buyer_id, "seller_id": o.seller_id,
        "shop_id": o.shop_id, "product_id": o.product_id, "auction_id": o.auction_id,
        "shop": {"id": o.shop_id, "name": shop_name},
        "buyer": {"id": o.buyer_id, "display_name": names.get(o.buyer_id, "")},
        "product": {"id": o.product_id, "title": product.title if product else "",
                    "image_url": (product.image_urls or [None])[0] if product else None},
        "role": "buyer" if who.id == o.buyer_id else "seller" if who.id == o.seller_id else "admin",
        "total": _money(o.amount, o.currency), "shipping": _money(o.shipping_amount, o.currency),
        "refunded": _money(o.refunded_amount, o.currency),
        "status": o.status, "payment_state": o.payment_state, "fulfilment_state": o.fulfilment_state,
        "final_sale": o.final_sale, "shipping_address": o.shipping_address,
        "lines": [{"product_id": line.product_id, "title": line.title, "quantity": line.quantity,
                   "unit_price": _money(line.unit_price, line.currency)} for line in lines],
        "tracking": {"carrier": o.carrier, "tracking_number": o.tracking_number,
                     "events": [{"event": t.event, "detail": t.detail, "occurred_at": iso(t.occurred_at),
                                 "received_at": iso(t.received_at)} for t in tracking]}
        if o.tracking_number else None,
        "events": [{"kind": e.kind, "detail": e.detail, "actor": actor(e.actor_id),
                    "actor_name": names.get(e.actor_id) if e.actor_id else None,
                    "at": iso(e.created_at)} for e in events],
        "created_at": iso(o.created_at), "pay_by": iso(o.pay_by), "paid_at": iso(o.paid_at),
        "shipped_at": iso(o.shipped_at), "delivered_at": iso(o.delivered_at),
        "completed_at": iso(o.completed_at), "funds_released_at": iso(o.funds_released_at),
        "cancelled_at": iso(o.cancelled_at), "cancel_reason": o.cancel_reason,
        "actions": actions_for(o, who),
    }


__all__ = ["Orders", "forbidden", "order_view"]
