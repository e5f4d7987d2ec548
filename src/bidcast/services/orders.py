"""Orders as the buyer and the seller see them (payment and fulfilment come later)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import forbidden, not_found
from ..storage.models import Order, OrderEvent
from .accounts import Principal


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


__all__ = ["Orders", "forbidden"]
