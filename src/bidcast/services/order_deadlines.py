"""Unpaid auction wins: cancelled at their deadline, the unit back in stock, a strike to the buyer.

Three strikes and the account may no longer bid (it is banned from bidding; an admin can lift it).
The sweep is safe to run in every process at once: each order is cancelled by a guarded UPDATE
that only one of them can win.
"""
from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..periodic import Periodic
from ..storage.flash_store import release_units
from ..storage.models import Order, OrderEvent, OrderLine, Product, User, utcnow
from ..storage.notify import notify
from .accounts import Accounts

log = logging.getLogger("bidcast.orders")
STRIKES_TO_SUSPEND = 3
STRIKE_KINDS = frozenset({"auction"})


async def give_strike(s, buyer_id: int) -> int:  # noqa: ANN001
    """One more strike for a buyer who left a won lot unpaid, inside session `s`; at
    STRIKES_TO_SUSPEND the account is banned from bidding. Returns the buyer's strike count."""
    strikes = (await s.execute(update(User).where(User.id == buyer_id)
                               .values(strikes=User.strikes + 1)
                               .returning(User.strikes))).scalar_one()
    if strikes >= STRIKES_TO_SUSPEND:
        await s.execute(update(User).where(User.id == buyer_id).values(banned=True))
    return strikes


class OrderDeadlines:
    def __init__(self, sessions: async_sessionmaker, accounts: Accounts) -> None:
        self._sessions = sessions
        self._accounts = accounts
        self._periodic = Periodic(self.cancel_overdue, "payment deadline sweep")

    async def cancel_overdue(self) -> list[int]:
        """Cancel every awaiting-payment order past its deadline; returns their ids."""
        now = utcnow()
        async with self._sessions() as s:
            due = [i for (i,) in await s.execute(select(Order.id).where(
                Order.status == "awaiting_payment", Order.pay_by.is_not(None), Order.pay_by < now))]
        cancelled = []
        for order_id in due:
            async with self._sessions.begin() as s:
                res = await s.execute(update(Order).where(
                    Order.id == order_id, Order.status == "awaiting_payment")
                    .values(status="cancelled", cancel_reason="not paid in time", cancelled_at=now)
                    .returning(Order.buyer_id, Order.kind, Order.flash_sale_id))
                row = res.first()
                if row is None:
                    continue  # paid or cancelled meanwhile (perhaps by another process)
                buyer_id, kind, flash_sale_id = row
                # Products in id order, as checkout locks them: no deadlock between the two.
                lines = (await s.execute(select(OrderLine.product_id, OrderLine.quantity)
                                         .where(OrderLine.order_id == order_id)
                                         .order_by(OrderLine.product_id))).all()
                for product_id, quantity in lines:
                    if kind == "flash" and flash_sale_id is not None:
                        # back to the sale while it runs, else to stock (storage/flash_store.py)
                        await release_units(s, flash_sale_id, buyer_id, quantity)
                        continue
                    await s.execute(update(Product).where(Product.id == product_id)
                                    .values(stock=Product.stock + quantity))
                detail = "not paid in time"
                if kind in STRIKE_KINDS:
                    # Only a won lot that goes unpaid costs a strike: the seller lost a sale
                    # and the other bidders a chance; an abandoned checkout hurts nobody.
                    detail += f"; buyer strike {await give_strike(s, buyer_id)}"
                s.add(OrderEvent(order_id=order_id, kind="cancelled", detail=detail))
                notify(s, buyer_id, "order_cancelled", f"Order #{order_id} was cancelled",
                       "It was not paid in time.", link=f"/me/orders#order-{order_id}")
            cancelled.append(order_id)
        if cancelled:
            self._accounts.forget_cached()
            log.info("cancelled %d unpaid orders", len(cancelled))
        return cancelled

    def start(self, every_s: float) -> None:
        self._periodic.start(every_s)

    async def stop(self) -> None:
        await self._periodic.stop()
