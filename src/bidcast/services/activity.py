"""A person's own activity, read-only: the lots they bid on, their orders and sales, their shop's
products, and their latest stored notifications.

Running lots are read from the auction writer when this process runs it (the freshest state),
else from the database, the same way the auction API does.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..storage.models import Auction, Bid, Order, Product, Room, Shop, User
from .auction_engine import AuctionEngine

# The state of a lot for one bidder.
LEADING, OUTBID, WON, LOST, UNSOLD = "leading", "outbid", "won", "lost", "unsold"
BID_STATES = (LEADING, OUTBID, WON, LOST, UNSOLD)
RUNNING_STATES = frozenset({LEADING, OUTBID})


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def _money(amount: int | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency}


def _product(p: Product) -> dict[str, Any]:
    return {"id": p.id, "title": p.title, "image_url": (p.image_urls or [None])[0]}


def _room_url(room_id: int | None) -> str | None:
    return f"/rooms/{room_id}" if room_id else None


class Activity:
    def __init__(self, sessions: async_sessionmaker, engine: AuctionEngine | None = None) -> None:
        self._sessions = sessions
        self._engine = engine

    # -- the lots a person bid on ------------------------------------------------------------

    def _now(self, a: Auction) -> dict[str, Any]:
        """The lot's committed state (the same on every process)."""
        return {"status": a.status, "price": a.price, "leader_id": a.leader_id,
                "outcome": a.outcome, "winner_id": a.winner_id, "final_price": a.final_price,
                "closes_at": iso(a.closes_at), "bid_count": a.bid_count}

    @staticmethod
    def state_for(user_id: int, now: dict[str, Any]) -> str:
        if now["status"] == "closed":
            if now["outcome"] == "sold":
                return WON if now["winner_id"] == user_id else LOST
            return UNSOLD
        return LEADING if now["leader_id"] == user_id else OUTBID

    async def bids(self, user_id: int, limit: int = 100, auction_id: int | None = None,
                   state: str | None = None) -> list[dict[str, Any]]:
        """Lots with at least one accepted bid of this person, running ones first, then the most
        recent activity first; each with the person's state on it."""
        mine = (select(Bid.auction_id.label("auction_id"), func.max(Bid.value).label("my_max"),
                       func.count(Bid.id).label("n"), func.max(Bid.created_at).label("last_at"))
                .where(Bid.bidder_id == user_id, Bid.accepted.is_(True))
                .group_by(Bid.auction_id))
        if auction_id is not None:
            mine = mine.where(Bid.auction_id == auction_id)
        sub = mine.subquery()
        q = (select(Auction, Product, Room.title, sub.c.my_max, sub.c.n, sub.c.last_at,
                    Order.id, Order.status)
             .join(sub, sub.c.auction_id == Auction.id)
             .join(Product, Product.id == Auction.product_id)
             .outerjoin(Room, Room.id == Auction.room_id)
             .outerjoin(Order, Order.auction_id == Auction.id)
             .order_by(sub.c.last_at.desc(), Auction.id.desc()))
        # With a state filter the state is known only after the live overlay: read further.
        q = q.limit(limit if state is None else max(limit, 1000))
        async with self._sessions() as s:
            rows = (await s.execute(q)).all()
        out: list[dict[str, Any]] = []
        for a, p, room_title, my_max, n, last_at, order_id, order_status in rows:
            now = self._now(a)
            my_state = self.state_for(user_id, now)
            if state is not None and my_state != state:
                continue
            closed = now["status"] == "closed"
            out.append({
                "auction_id": a.id, "room_id": a.room_id, "room_title": room_title,
                "product": _product(p), "currency": a.currency, "status": now["status"],
                "state": my_state, "outcome": now["outcome"],
                "price": _money(now["final_price"] if closed and now["final_price"] is not None
                                else now["price"], a.currency),
                "your_max": _money(my_max, a.currency), "your_bid_count": n,
                "bid_count": now["bid_count"], "last_bid_at": iso(last_at),
                "closes_at": now["closes_at"], "closed_at": iso(a.closed_at),
                "order": ({"id": order_id, "status": order_status}
                          if order_id is not None and my_state == WON else None),
                "url": _room_url(a.room_id),
            })
            if len(out) >= limit:
                break
        out.sort(key=lambda b: b["status"] != "running")  # stable: recency order within each group
        return out

    # -- orders --------------------------------------------------------------------------------

    async def orders(self, user_id: int, as_seller: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """The person's orders as the buyer (or, as_seller, their shop's sales), newest first."""
        col = Order.seller_id if as_seller else Order.buyer_id
        q = (select(Order, Product, Shop.name, User.display_name, Auction.room_id)
             .join(Product, Product.id == Order.product_id)
             .join(Shop, Shop.id == Order.shop_id)
             .join(User, User.id == Order.buyer_id)
             .outerjoin(Auction, Auction.id == Order.auction_id)
             .where(col == user_id).order_by(Order.id.desc()).limit(limit))
        async with self._sessions() as s:
            rows = (await s.execute(q)).all()
        out = []
        for o, p, shop_name, buyer_name, room_id in rows:
            item: dict[str, Any] = {
                "id": o.id, "auction_id": o.auction_id, "room_id": room_id, "product": _product(p),
                "shop": {"id": o.shop_id, "name": shop_name},
                "total": _money(o.amount, o.currency), "status": o.status,
                "payment_state": o.payment_state, "fulfilment_state": o.fulfilment_state,
                "tracking": ({"carrier": o.carrier, "tracking_number": o.tracking_number}
                             if o.tracking_number else None),
                "url": f"/orders/{o.id}", "created_at": iso(o.created_at)}
            if as_seller:
                item["buyer"] = {"id": o.buyer_id, "display_name": buyer_name}
            out.append(item)
        return out

    # -- the seller's products -------------------------------------------------------------------

    async def shop_products(self, owner_id: int, limit: int = 200) -> tuple[Shop | None, list[Product]]:
        """The owner's shop and all of its products, withdrawn ones included, newest first."""
        async with self._sessions() as s:
            shop = (await s.execute(select(Shop).where(Shop.owner_id == owner_id))).scalar_one_or_none()
            if shop is None:
                return None, []
            products = (await s.execute(select(Product).where(Product.shop_id == shop.id)
                                        .order_by(Product.id.desc()).limit(limit))).scalars()
            return shop, list(products)

    # -- notifications -------------------------------------------------------------------------

    async def notifications(self, user_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """The person's stored notifications, newest first (services/notifications.py)."""
        from .notifications import NotificationCenter
        return await NotificationCenter(self._sessions).latest(user_id, limit)

    # -- the overview ----------------------------------------------------------------------------

    async def summary(self, user_id: int) -> dict[str, Any]:
        bids = await self.bids(user_id, limit=200)
        orders = await self.orders(user_id, limit=200)
        counts = {k: 0 for k in BID_STATES}
        for b in bids:
            counts[b["state"]] += 1
        return {"bids": counts,
                "orders": {"total": len(orders),
                           "awaiting_payment": sum(o["status"] == "awaiting_payment" for o in orders)},
                "live": [b for b in bids if b["state"] in RUNNING_STATES][:5],
                "notifications": await self.notifications(user_id, limit=5)}
