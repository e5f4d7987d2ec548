"""Payment-due reminders: one notice to the buyer when an unpaid order's deadline is near.

"Near" is the smaller of a quarter of the payment window and two hours: a 24 h window reminds
2 h before the deadline, a 1 h window 15 minutes before; a reminder never arrives on the heels of
the "you won" notice. Only orders where missing the deadline costs something are reminded:
auction wins (a strike) and second-chance offers (the lot goes away).

Exactly once: the reminder and its marker row (`payment_reminders`, keyed by the order) are
written in one transaction, so a second sweep, in this process or another, fails on the key and
writes nothing.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..periodic import Periodic
from ..storage.models import Order, OrderLine, PaymentReminder, utcnow
from ..storage.notify import notify

log = logging.getLogger("bidcast.orders")
REMIND_KINDS = ("auction", "second_chance")
SHARE, CAP = 0.25, timedelta(hours=2)


def _left(delta: timedelta) -> str:
    minutes = max(1, int(delta.total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


class PaymentReminders:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions
        self._periodic = Periodic(self.sweep, "payment reminder sweep")

    async def sweep(self) -> list[int]:
        """Remind every order that is due for it; returns the reminded order ids."""
        now = utcnow()
        async with self._sessions() as s:
            rows = (await s.execute(
                select(Order.id, Order.buyer_id, Order.created_at, Order.pay_by)
                .outerjoin(PaymentReminder, PaymentReminder.order_id == Order.id)
                .where(Order.status == "awaiting_payment", Order.kind.in_(REMIND_KINDS),
                       Order.pay_by.is_not(None), Order.pay_by > now, Order.pay_by <= now + CAP,
                       PaymentReminder.order_id.is_(None))
                .order_by(Order.pay_by).limit(500))).all()
            due = [r for r in rows if r.pay_by - now <= min(CAP, (r.pay_by - r.created_at) * SHARE)]
            titles = dict((await s.execute(select(OrderLine.order_id, OrderLine.title).where(
                OrderLine.order_id.in_([r.id for r in due])))).all()) if due else {}
        reminded = []
        for r in due:
            try:
                async with self._sessions.begin() as s:
                    s.add(PaymentReminder(order_id=r.id, created_at=now))
                    await s.flush()  # the key: a second reminder fails here
                    what = titles.get(r.id, f"order #{r.id}")
                    notify(s, r.buyer_id, "payment_due", f"Payment due: {what}"[:200],
                           f"Pay within {_left(r.pay_by - now)} or the order is cancelled.",
                           link=f"/me/orders#order-{r.id}")
                reminded.append(r.id)
            except IntegrityError:
                continue  # reminded by another process meanwhile
        if reminded:
            log.info("sent %d payment reminders", len(reminded))
        return reminded

    def start(self, every_s: float) -> None:
        self._periodic.start(every_s)

    async def stop(self) -> None:
        await self._periodic.stop()
