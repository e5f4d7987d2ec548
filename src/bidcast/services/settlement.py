"""Settling delivered orders: completing them after the return window, releasing seller funds.

A sweep, run by a loop in every server process at once. Every step is an UPDATE guarded on the
state it read, so exactly one process makes each change; the ledger's `funds_released:<order>`
transaction id makes the release post once even so. An order with an open return is left alone
until the return is decided. The sweep also finishes refunds of cancelled paid orders (a crash
between the cancel and its refund leaves one behind). `now` is a parameter: tests move time.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain import ledger
from ..periodic import Periodic
from ..storage import models
from ..storage.ledger_store import record
from ..storage.models import Order, OrderEvent, utcnow
from ..storage.notify import notify
from ..storage.payment_store import order_transactions
from .fulfilment import Fulfilment

log = logging.getLogger("bidcast.settlement")
try:  # the returns area's own definition of "still open" (being decided, or its refund under way)
    from ..domain.returns import OPEN as _OPEN
    OPEN_RETURN_STATUSES = tuple(sorted(str(s) for s in _OPEN))
except ImportError:  # pragma: no cover - a build without returns
    OPEN_RETURN_STATUSES = ("approved", "auto_approved", "disputed", "requested")
BATCH = 200


def _open_return():  # noqa: ANN202
    """`EXISTS (an open return for the order)`, or None when returns are not part of this build."""
    returns = getattr(models, "ReturnRequest", None)
    if returns is None:
        return None
    return exists().where(returns.order_id == Order.id, returns.status.in_(OPEN_RETURN_STATUSES))


async def _claim(s, order_id: int, guard: tuple, values: dict, returning):  # noqa: ANN001, ANN202
    """Lock the order's row, then move it if it still meets `guard` and has no open return.

    The lock comes first, in its own statement: Returns.request holds the same row while it
    opens a return, so a return opened at the last moment either commits before (and the UPDATE,
    a later statement with a fresh snapshot, sees it) or waits for this transaction and then
    finds the order completed or its funds released. One UPDATE alone would not do on
    PostgreSQL: after waiting on the row it rechecks the row, not the EXISTS over returns."""
    if (await s.execute(select(Order.id).where(Order.id == order_id, *guard).with_for_update())).first() is None:
        return None
    q = update(Order).where(Order.id == order_id, *guard)
    open_return = _open_return()
    if open_return is not None:
        q = q.where(~open_return)
    return (await s.execute(q.values(**values).returning(*returning))).first()


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency}"


class Settlement:
    def __init__(self, sessions: async_sessionmaker, fulfilment: Fulfilment,
                 return_window_s: float, funds_hold_s: float) -> None:
        self._sessions = sessions
        self._fulfilment = fulfilment
        self.return_window_s = return_window_s
        if funds_hold_s < return_window_s:
            # Funds released inside the return window could not pay for a return asked after it.
            log.warning("funds hold (%gs) shorter than the return window (%gs): holding for the window",
                        funds_hold_s, return_window_s)
            funds_hold_s = return_window_s
        self.funds_hold_s = funds_hold_s
        self._periodic = Periodic(self.sweep, "settlement sweep")

    async def sweep(self, now: datetime | None = None) -> dict[str, list[int]]:
        now = now or utcnow()
        return {"completed": await self.complete_due(now), "released": await self.release_due(now),
                "refunded": await self.refund_cancelled()}

    async def _due(self, now: datetime, *conditions) -> list[int]:  # noqa: ANN002
        q = select(Order.id).where(*conditions).order_by(Order.id).limit(BATCH)
        open_return = _open_return()
        if open_return is not None:
            q = q.where(~open_return)
        async with self._sessions() as s:
            return list((await s.execute(q)).scalars())

    async def complete_due(self, now: datetime) -> list[int]:
        """Delivered orders whose return window is over (and with no open return) → completed."""
        cutoff = now - timedelta(seconds=self.return_window_s)
        guard = (Order.status == "delivered", Order.delivered_at <= cutoff)
        done = []
        for order_id in await self._due(now, *guard):
            async with self._sessions.begin() as s:
                row = await _claim(s, order_id, guard, {"status": "completed", "completed_at": now},
                                   (Order.buyer_id, Order.seller_id))
                if row is None:
                    continue  # completed by another process, or a return was opened meanwhile
                s.add(OrderEvent(order_id=order_id, kind="completed", detail="return window over"))
                for user_id in row:
                    notify(s, user_id, "completed", f"Order #{order_id} is complete",
                           link=f"/orders/{order_id}")
            done.append(order_id)
        return done

    async def release_due(self, now: datetime) -> list[int]:
        """The seller's share of orders delivered at least the hold ago → available for payout."""
        cutoff = now - timedelta(seconds=self.funds_hold_s)
        guard = (Order.status.in_(("delivered", "completed")), Order.delivered_at <= cutoff,
                 Order.funds_released_at.is_(None),
                 Order.payment_state.in_(("paid", "partially_refunded")))
        done = []
        for order_id in await self._due(now, *guard):
            async with self._sessions.begin() as s:
                # The row stays locked to the end: a refund of this order waits, then sees the
                # release; a return request waits too, then finds the funds released (and is refused).
                row = await _claim(s, order_id, guard, {"funds_released_at": now}, (Order.seller_id,))
                if row is None:
                    continue  # released by another process, or a return was opened meanwhile
                ref = f"order:{order_id}"
                try:
                    position = ledger.order_position(await order_transactions(s, ref), ref)
                    if position.released or position.seller_remaining <= 0:
                        continue  # nothing left to release; the mark stops the sweep coming back
                    tx = ledger.funds_released(position)
                except ledger.LedgerError as e:
                    log.warning("order %s: funds not released (%s)", order_id, e.code)
                    continue
                await record(s, tx)
                amount = position.seller_remaining
                s.add(OrderEvent(order_id=order_id, kind="funds_released",
                                 detail=f"{_money(amount, position.currency)} available to the seller"))
                notify(s, row[0], "funds_released", f"Order #{order_id}: funds released",
                       f"{_money(amount, position.currency)} is available for payout.", link="/seller/balance")
            done.append(order_id)
        return done

    async def refund_cancelled(self) -> list[int]:
        """Cancelled orders still holding a payment: finish their refund."""
        async with self._sessions() as s:
            ids = list((await s.execute(select(Order.id).where(
                Order.status == "cancelled", Order.payment_state.in_(("paid", "partially_refunded")))
                .order_by(Order.id).limit(BATCH))).scalars())
        done = []
        for order_id in ids:
            answer = await self._fulfilment.refund_cancelled(order_id, None)
            if answer and answer.get("status") == "succeeded":
                done.append(order_id)
        return done

    def start(self, every_s: float) -> None:
        self._periodic.start(every_s)

    async def stop(self) -> None:
        await self._periodic.stop()
