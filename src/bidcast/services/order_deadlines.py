"""Unpaid auction wins: cancelled at their deadline, the unit back in stock, a strike to the buyer.

Three strikes and the account may no longer bid (it is banned from bidding; an admin can lift it).
The sweep is safe to run in every process at once: each order is cancelled by a guarded UPDATE
that only one of them can win.
"""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..storage.models import Order, OrderEvent, Product, User, utcnow
from .accounts import Accounts

log = logging.getLogger("bidcast.orders")
STRIKES_TO_SUSPEND = 3


class OrderDeadlines:
    def __init__(self, sessions: async_sessionmaker, accounts: Accounts) -> None:
        self._sessions = sessions
        self._accounts = accounts
        self._task: asyncio.Task | None = None

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
                    .values(status="cancelled", cancel_reason="not paid in time")
                    .returning(Order.buyer_id, Order.product_id))
                row = res.first()
                if row is None:
                    continue  # paid or cancelled meanwhile (perhaps by another process)
                buyer_id, product_id = row
                await s.execute(update(Product).where(Product.id == product_id)
                                .values(stock=Product.stock + 1))
                strikes = (await s.execute(update(User).where(User.id == buyer_id)
                                           .values(strikes=User.strikes + 1)
                                           .returning(User.strikes))).scalar_one()
                if strikes >= STRIKES_TO_SUSPEND:
                    await s.execute(update(User).where(User.id == buyer_id).values(banned=True))
                s.add(OrderEvent(order_id=order_id, kind="cancelled",
                                 detail=f"not paid in time; buyer strike {strikes}"))
            cancelled.append(order_id)
        if cancelled:
            self._accounts.forget_cached()
            log.info("cancelled %d unpaid orders", len(cancelled))
        return cancelled

    def start(self, every_s: float) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    await self.cancel_overdue()
                except Exception:
                    log.exception("payment deadline sweep failed")
        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
