"""Second-chance offers: a lot whose winner did not pay, offered to the runner-up.

When an auction order was cancelled unpaid (at its payment deadline, or by the winner, who gets
a strike either way), its seller may offer the lot, once, to the highest other bidder at that
bidder's highest accepted bid. The offer is an order of kind
`second_chance` awaiting payment, with the show's (or the platform's) payment window; the
runner-up pays it like any order or declines it. Declining, or letting it lapse, costs no
strike: nobody won anything (order_deadlines.STRIKE_KINDS holds auction orders only).

Safe under retries and races: the offer's row is keyed by the cancelled order (a second offer
fails on the key, 409 already_offered), and the unit the cancellation put back in stock is
taken again with a guarded `UPDATE … WHERE stock >= 1` (409 out_of_stock when it was sold
meanwhile). Everything happens in one transaction.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import AppError, forbidden, not_found
from ..storage.models import (
    Auction,
    Bid,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    Room,
    SecondChanceOffer,
    User,
    utcnow,
)
from ..storage.notify import notify
from .accounts import Principal

UNPAID = "not paid in time"
# An unpaid auction win that ended in a cancellation: by the payment deadline, or by the winner
# (who got a strike for it, services/fulfilment.py). The seller's own cancel is not one.
UNPAID_WIN = or_(Order.cancel_reason == UNPAID,
                 and_(Order.cancelled_by == Order.buyer_id, Order.payment_state == "unpaid"))


def _conflict(code: str, message: str, **extra: Any) -> AppError:
    return AppError(409, code, message, **extra)


class SecondChances:
    def __init__(self, sessions: async_sessionmaker, default_window_s: int) -> None:
        self._sessions = sessions
        self._default_window_s = default_window_s

    async def _runner_up(self, s, order: Order) -> tuple[int, str, int] | None:  # noqa: ANN001
        """(user id, display name, highest accepted bid) of the best other bidder, if any."""
        best = func.max(Bid.value)
        row = (await s.execute(
            select(Bid.bidder_id, User.display_name, best.label("top"))
            .join(User, User.id == Bid.bidder_id)
            .where(Bid.auction_id == order.auction_id, Bid.accepted.is_(True),
                   Bid.bidder_id != order.buyer_id, Bid.bidder_id != order.seller_id,
                   User.banned.is_(False))
            .group_by(Bid.bidder_id, User.display_name)
            .order_by(best.desc(), func.min(Bid.seq)).limit(1))).first()
        return None if row is None else (row[0], row[1], row[2])

    async def _offerable(self, s, who: Principal, order_id: int) -> Order:  # noqa: ANN001
        order = await s.get(Order, order_id)
        if order is None or who.id not in (order.seller_id, order.buyer_id):
            raise not_found("Order")
        if order.seller_id != who.id:
            raise forbidden("Only the seller can make a second-chance offer.")
        if not (order.kind == "auction" and order.status == "cancelled"
                and (order.cancel_reason == UNPAID
                     or (order.cancelled_by == order.buyer_id and order.payment_state == "unpaid"))):
            raise _conflict("not_offerable", "Only an auction order cancelled unpaid (at its deadline "
                                             "or by the winner) can be offered to the runner-up.")
        return order

    async def preview(self, who: Principal, order_id: int) -> dict[str, Any]:
        """What an offer would be (or the one made), for the seller's button."""
        async with self._sessions() as s:
            order = await self._offerable(s, who, order_id)
            made = await s.get(SecondChanceOffer, order_id)
            if made is not None:
                return {"order_id": order_id, "offered": _offer_view(made)}
            found = await self._runner_up(s, order)
            title = (await s.execute(select(OrderLine.title).where(OrderLine.order_id == order_id)
                                     .limit(1))).scalar()
        return {"order_id": order_id, "title": title, "offered": None, "runner_up": None if found is None else {
            "id": found[0], "display_name": found[1],
            "amount": {"amount": found[2], "currency": order.currency}}}

    async def offerable(self, who: Principal, limit: int = 50) -> list[dict[str, Any]]:
        """The seller's unpaid-cancelled auction orders with a runner-up and no offer yet."""
        async with self._sessions() as s:
            ids = [i for (i,) in await s.execute(
                select(Order.id).outerjoin(SecondChanceOffer, SecondChanceOffer.order_id == Order.id)
                .where(Order.seller_id == who.id, Order.kind == "auction", Order.status == "cancelled",
                       UNPAID_WIN, SecondChanceOffer.order_id.is_(None))
                .order_by(Order.id.desc()).limit(limit))]
        out = []
        for order_id in ids:
            p = await self.preview(who, order_id)
            if p["runner_up"] is not None:
                out.append(p)
        return out

    async def open_offers(self, who: Principal) -> list[dict[str, Any]]:
        """Second-chance offers made to this person that are still waiting for payment."""
        async with self._sessions() as s:
            rows = (await s.execute(
                select(Order, OrderLine.title).join(OrderLine, OrderLine.order_id == Order.id)
                .where(Order.buyer_id == who.id, Order.kind == "second_chance",
                       Order.status == "awaiting_payment").order_by(Order.id.desc()).limit(50))).all()
        return [{"order_id": o.id, "title": title, "amount": {"amount": o.amount, "currency": o.currency},
                 "pay_by": o.pay_by.isoformat().replace("+00:00", "Z") if o.pay_by else None}
                for o, title in rows]

    async def offer(self, who: Principal, order_id: int) -> dict[str, Any]:
        now = utcnow()
        try:
            async with self._sessions.begin() as s:
                order = await self._offerable(s, who, order_id)
                if await s.get(SecondChanceOffer, order_id) is not None:
                    raise _already(await s.get(SecondChanceOffer, order_id))
                found = await self._runner_up(s, order)
                if found is None:
                    raise _conflict("no_runner_up", "Nobody else bid on this lot.")
                runner_id, name, amount = found
                taken = await s.execute(update(Product).where(Product.id == order.product_id,
                                                              Product.stock >= 1)
                                        .values(stock=Product.stock - 1))
                if taken.rowcount != 1:
                    raise _conflict("out_of_stock", "The unit is no longer in stock.")
                window = await self._window(s, order.auction_id)
                offer = Order(buyer_id=runner_id, seller_id=order.seller_id, shop_id=order.shop_id,
                              product_id=order.product_id, auction_id=None, kind="second_chance",
                              amount=amount, currency=order.currency, status="awaiting_payment",
                              final_sale=order.final_sale, created_at=now,
                              pay_by=now + timedelta(seconds=window))
                s.add(offer)
                await s.flush()
                title = (await s.execute(select(OrderLine.title).where(OrderLine.order_id == order_id)
                                         .limit(1))).scalar() or f"Lot #{order.auction_id}"
                s.add(OrderLine(order_id=offer.id, product_id=order.product_id, title=title,
                                unit_price=amount, quantity=1, currency=order.currency))
                made = SecondChanceOffer(order_id=order_id, offer_order_id=offer.id, runner_up_id=runner_id,
                                         amount=amount, currency=order.currency, created_at=now)
                s.add(made)
                hours = max(1, round(window / 3600))
                s.add(OrderEvent(order_id=order_id, kind="second_chance_offered", actor_id=who.id,
                                 created_at=now, detail=f"offered to the runner-up {name} at {amount} "
                                                        f"{order.currency}: order #{offer.id}"))
                s.add(OrderEvent(order_id=offer.id, kind="created", actor_id=who.id, created_at=now,
                                 detail=f"second-chance offer for auction #{order.auction_id} "
                                        f"(order #{order_id} went unpaid); pay within {hours} h"))
                notify(s, runner_id, "second_chance", f"Second chance: {title}"[:200],
                       f"The winner did not pay. It is yours for your last bid if you pay within "
                       f"{hours} h.", link=f"/me/orders#order-{offer.id}")
                await s.flush()  # the offer's key: a concurrent second offer fails here
        except IntegrityError:
            async with self._sessions() as s:
                raise _already(await s.get(SecondChanceOffer, order_id)) from None
        return {"order_id": order_id, "offered": _offer_view(made) | {"runner_up_name": name}}

    async def _window(self, s, auction_id: int | None) -> int:  # noqa: ANN001
        if auction_id is None:
            return self._default_window_s
        room_window = (await s.execute(select(Room.payment_window_seconds)
                                       .join(Auction, Auction.room_id == Room.id)
                                       .where(Auction.id == auction_id))).scalar()
        return room_window or self._default_window_s

    async def decline(self, who: Principal, order_id: int) -> dict[str, Any]:
        """The runner-up says no: the order is cancelled, the unit back in stock, no strike."""
        now = utcnow()
        async with self._sessions.begin() as s:
            order = await s.get(Order, order_id)
            if order is None or who.id not in (order.buyer_id, order.seller_id):
                raise not_found("Order")
            if order.buyer_id != who.id:
                raise forbidden("Only the buyer can decline an offer.")
            if order.kind != "second_chance":
                raise _conflict("not_declinable", "Only a second-chance offer can be declined.")
            res = await s.execute(update(Order).where(Order.id == order_id,
                                                      Order.status == "awaiting_payment")
                                  .values(status="cancelled", cancel_reason="offer declined",
                                          cancelled_at=now, cancelled_by=who.id)
                                  .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                raise _conflict("not_declinable", "This offer is no longer open.")
            for product_id, quantity in (await s.execute(
                    select(OrderLine.product_id, OrderLine.quantity).where(OrderLine.order_id == order_id))).all():
                await s.execute(update(Product).where(Product.id == product_id)
                                .values(stock=Product.stock + quantity))
            s.add(OrderEvent(order_id=order_id, kind="cancelled", actor_id=who.id, created_at=now,
                             detail="offer declined by the buyer"))
            notify(s, order.seller_id, "order_cancelled", f"Second-chance offer #{order_id} was declined",
                   "The unit is back in stock.", link=f"/seller/orders#order-{order_id}")
        return {"order_id": order_id, "status": "cancelled"}


def _offer_view(o: SecondChanceOffer) -> dict[str, Any]:
    return {"order_id": o.offer_order_id, "runner_up_id": o.runner_up_id,
            "amount": {"amount": o.amount, "currency": o.currency},
            "created_at": o.created_at.isoformat().replace("+00:00", "Z")}


def _already(o: SecondChanceOffer | None) -> AppError:
    return _conflict("already_offered", "This lot was already offered to the runner-up.",
                     offer_order_id=o.offer_order_id if o else None)
