"""Returns: the buyer asks, the seller answers within the reply window (else it is approved by
itself), the buyer may dispute a rejection, an admin arbitrates. Refunds go through `Refunds`
with a key named for the return, so a retried approval (or a sweep in another process) never
refunds twice. Every move is a guarded UPDATE on the return's status: one caller wins.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain import returns as rules
from ..domain.returns import R, ReturnError
from ..errors import AppError, forbidden, not_found
from ..periodic import Periodic
from ..storage.models import Order, OrderEvent, ReturnRequest, utcnow
from ..storage.notify import notify
from ..storage.payment_store import captured_payment
from .accounts import Principal
from .refunds import Refunds

log = logging.getLogger(__name__)
OPEN_STATUSES = tuple(s.value for s in rules.OPEN)


def open_return_exists(order_id_column=Order.id):
    """SQL `EXISTS (an open return for this order)`: settlement must not complete or release it."""
    return exists().where(ReturnRequest.order_id == order_id_column, ReturnRequest.status.in_(OPEN_STATUSES))


async def open_return_order_ids(s, order_ids: list[int]) -> set[int]:
    return set((await s.execute(select(ReturnRequest.order_id).where(
        ReturnRequest.order_id.in_(order_ids), ReturnRequest.status.in_(OPEN_STATUSES)))).scalars())


def view(r: ReturnRequest) -> dict:
    iso = lambda t: t.isoformat() if t else None
    return {"id": r.id, "order_id": r.order_id, "buyer_id": r.buyer_id, "seller_id": r.seller_id,
            "status": r.status, "reason": r.reason, "photo_urls": r.photo_urls,
            "refund_amount": r.refund_amount, "currency": r.currency, "seller_note": r.seller_note,
            "dispute_reason": r.dispute_reason, "resolution_note": r.resolution_note,
            "reply_by": iso(r.reply_by), "created_at": iso(r.created_at), "decided_at": iso(r.decided_at),
            "disputed_at": iso(r.disputed_at), "resolved_at": iso(r.resolved_at), "refund_id": r.refund_id}


def _app(e: ReturnError) -> AppError:
    return AppError(422 if e.code in ("too_many_photos", "invalid_photo_url", "invalid_amount") else 409,
                    e.code, e.message)


class Returns:
    def __init__(self, sessions: async_sessionmaker, refunds: Refunds, window_s: float, reply_s: float) -> None:
        self._sessions = sessions
        self._refunds = refunds
        self.window_s = window_s
        self.reply_s = reply_s
        self._periodic = Periodic(self.sweep, "returns sweep")

    async def request(self, who: Principal, order_id: int, reason: str, photo_urls: list[str]) -> dict:
        reason = (reason or "").strip()
        if not reason or len(reason) > rules.MAX_REASON:
            raise AppError(422, "invalid_reason", f"Say why, in 1 to {rules.MAX_REASON} characters.")
        try:
            photos = rules.check_photos(photo_urls)
        except ReturnError as e:
            raise _app(e) from None
        now = utcnow()
        async with self._sessions.begin() as s:
            # The order's row, locked: the settlement sweep locks it too before it completes the
            # order or releases its funds, so the two never cross (services/settlement.py).
            order = await s.get(Order, order_id, with_for_update=True, populate_existing=True)
            if order is None or order.buyer_id != who.id:
                raise not_found("Order")
            prior = (await s.execute(select(ReturnRequest).where(ReturnRequest.order_id == order_id))).scalar_one_or_none()
            if prior is not None:  # one return per order; the same request again is a retry
                if prior.reason == reason and prior.photo_urls == photos:
                    return {"return": view(prior), "replayed": True}
                raise AppError(409, "return_exists", "A return was already requested for this order.")
            try:
                rules.check_eligible(order.status, order.delivered_at.timestamp() if order.delivered_at else None,
                                     now.timestamp(), self.window_s, order.final_sale)
            except ReturnError as e:
                raise _app(e) from None
            if order.funds_released_at is not None:
                # The settlement sweep won the order's row first: the seller has been paid, which
                # happens only once the return window is over (the hold is never shorter).
                raise AppError(409, "return_window_closed", "The return window of this order is over.")
            payment = await captured_payment(s, order_id)
            if order.payment_state == "refunded" or (payment.captured if payment else 0) - order.refunded_amount <= 0:
                raise AppError(409, "nothing_to_refund",
                               "This order was already refunded in full: there is nothing left to return.")
            r = ReturnRequest(order_id=order_id, buyer_id=who.id, seller_id=order.seller_id, shop_id=order.shop_id,
                              status=R.REQUESTED.value, reason=reason, photo_urls=photos, currency=order.currency,
                              reply_by=now + timedelta(seconds=self.reply_s), created_at=now)
            s.add(r)
            s.add(OrderEvent(order_id=order_id, kind="return_requested", actor_id=who.id, detail=reason[:300]))
            notify(s, order.seller_id, "return_requested", f"Return requested for order #{order_id}",
                   reason[:500], link="/seller/returns")
            try:
                await s.flush()
            except IntegrityError:
                raise AppError(409, "return_exists", "A return was already requested for this order.") from None
            return {"return": view(r), "replayed": False}

    async def get(self, who: Principal, return_id: int) -> ReturnRequest:
        async with self._sessions() as s:
            r = await s.get(ReturnRequest, return_id)
        if r is None or not (who.has("admin") or who.id in (r.buyer_id, r.seller_id)):
            raise not_found("Return")
        return r

    async def for_order(self, who: Principal, order_id: int) -> ReturnRequest:
        async with self._sessions() as s:
            r = (await s.execute(select(ReturnRequest).where(ReturnRequest.order_id == order_id))).scalar_one_or_none()
        if r is None or not (who.has("admin") or who.id in (r.buyer_id, r.seller_id)):
            raise not_found("Return")
        return r

    async def listing(self, *, buyer_id: int | None = None, seller_id: int | None = None,
                      status: str | None = None, limit: int = 100) -> list[dict]:
        q = select(ReturnRequest).order_by(ReturnRequest.id.desc()).limit(limit)
        if buyer_id is not None:
            q = q.where(ReturnRequest.buyer_id == buyer_id)
        if seller_id is not None:
            q = q.where(ReturnRequest.seller_id == seller_id)
        if status is not None:
            q = q.where(ReturnRequest.status == status)
        async with self._sessions() as s:
            return [view(r) for r in (await s.execute(q)).scalars()]

    async def _move(self, r_id: int, frm: tuple[str, ...], to: str, actor: int | None, event: str,
                    notify_to: int, title: str, body: str = "", **values) -> bool:
        """Guarded UPDATE: True if this caller moved it (another process may have won)."""
        async with self._sessions.begin() as s:
            done = await s.execute(update(ReturnRequest).where(
                ReturnRequest.id == r_id, ReturnRequest.status.in_(frm)).values(status=to, **values))
            if done.rowcount != 1:
                return False
            r = await s.get(ReturnRequest, r_id)
            s.add(OrderEvent(order_id=r.order_id, kind=event, actor_id=actor, detail=(body or title)[:300]))
            kind = {"approved": "return_approved", "auto_approved": "return_approved", "rejected": "return_rejected",
                    "disputed": "return_disputed"}.get(to, "return_approved" if to == "refunded" else "return_rejected")
            notify(s, notify_to, kind, title, body, link=f"/orders/{r.order_id}/return")
            return True

    async def _refundable(self, order_id: int) -> int:
        async with self._sessions() as s:
            order = await s.get(Order, order_id)
            payment = await captured_payment(s, order_id)
            return (payment.captured if payment else 0) - (order.refunded_amount if order else 0)

    async def approve(self, who: Principal | None, return_id: int, amount: int | None, note: str | None,
                      *, auto: bool = False) -> dict:
        r = await self._seller_return(who, return_id) if who else await self._load(return_id)
        if r.status not in (R.REQUESTED, R.APPROVED, R.AUTO_APPROVED, R.REFUNDED):
            raise AppError(409, "invalid_return_state", f"This return is {r.status.replace('_', ' ')}.")
        if r.status == R.REQUESTED:
            refundable = await self._refundable(r.order_id)
            if refundable <= 0:  # refunded in full meanwhile (say, by the seller directly)
                if not auto:
                    raise AppError(409, "nothing_to_refund", "This order was already refunded in full.")
                # Closed, not left open: the sweep would otherwise try it again forever.
                note = "Nothing was left to refund: the order had been refunded in full."
                await self._move(r.id, (R.REQUESTED.value,), R.RESOLVED.value, None, "return_resolved",
                                 r.buyer_id, f"Return of order #{r.order_id} closed", note,
                                 resolution_note=note, decided_at=utcnow(), resolved_at=utcnow())
                return {"return": view(await self._load(return_id))}
            try:
                amount = rules.check_refund_amount(amount, refundable)
            except ReturnError as e:
                raise _app(e) from None
            to = R.AUTO_APPROVED if auto else R.APPROVED
            title = f"Return of order #{r.order_id} approved" + (" automatically" if auto else "")
            await self._move(r.id, (R.REQUESTED.value,), to.value, who.id if who else None,
                             f"return_{to.value}", r.buyer_id, title, (note or "")[:500], refund_amount=amount,
                             seller_note=note, decided_by=who.id if who else None, decided_at=utcnow())
        return await self._finish(return_id)

    async def _finish(self, return_id: int) -> dict:
        """Refund an approved (or arbitrated) return; safe to repeat: the key names the return."""
        r = await self._load(return_id)
        if r.status in (R.APPROVED, R.AUTO_APPROVED, R.DISPUTED) and r.refund_amount:
            result = await self._refunds.refund(r.order_id, r.refund_amount, f"return #{r.id}",
                                                f"return:{r.id}", r.decided_by, mark_returned=True)
            await self._move(r.id, (r.status,), R.REFUNDED.value, r.decided_by, "return_refunded", r.buyer_id,
                             f"Return of order #{r.order_id}: refunded", "", refund_id=result["refund"]["id"])
            r = await self._load(return_id)
        elif r.status not in (R.REFUNDED, R.RESOLVED, R.REJECTED, R.DISPUTED):
            raise AppError(409, "invalid_return_state", f"This return is {r.status.replace('_', ' ')}.")
        return {"return": view(r)}

    async def reject(self, who: Principal, return_id: int, note: str) -> dict:
        r = await self._seller_return(who, return_id)
        if not await self._move(r.id, (R.REQUESTED.value,), R.REJECTED.value, who.id, "return_rejected", r.buyer_id,
                                f"Return of order #{r.order_id} rejected", note[:500], seller_note=note[:500],
                                decided_by=who.id, decided_at=utcnow()) and (await self._load(r.id)).status != R.REJECTED:
            raise AppError(409, "invalid_return_state", "This return was already answered.")
        return {"return": view(await self._load(r.id))}

    async def dispute(self, who: Principal, return_id: int, reason: str) -> dict:
        r = await self.get(who, return_id)
        if r.buyer_id != who.id:
            raise forbidden("Only the buyer can dispute.")
        if not await self._move(r.id, (R.REJECTED.value,), R.DISPUTED.value, who.id, "return_disputed", r.seller_id,
                                f"Return of order #{r.order_id} disputed", reason[:500],
                                dispute_reason=reason[:1000], disputed_at=utcnow()) \
                and (await self._load(r.id)).status != R.DISPUTED:
            raise AppError(409, "invalid_return_state", "Only a rejected return can be disputed.")
        return {"return": view(await self._load(r.id))}

    async def arbitrate(self, admin: Principal, return_id: int, amount: int, note: str) -> dict:
        r = await self._load(return_id)
        if r.status == R.DISPUTED and amount > 0 and r.refund_amount is None:
            try:
                amount = rules.check_refund_amount(amount, await self._refundable(r.order_id))
            except ReturnError as e:
                raise _app(e) from None
            async with self._sessions.begin() as s:
                await s.execute(update(ReturnRequest).where(
                    ReturnRequest.id == r.id, ReturnRequest.status == R.DISPUTED.value,
                    ReturnRequest.refund_amount.is_(None)).values(
                    refund_amount=amount, resolution_note=note[:500], decided_by=admin.id, resolved_at=utcnow()))
        elif r.status == R.DISPUTED and amount == 0:
            await self._move(r.id, (R.DISPUTED.value,), R.RESOLVED.value, admin.id, "return_resolved", r.buyer_id,
                             f"Dispute on order #{r.order_id} decided: no refund", note[:500],
                             resolution_note=note[:500], resolved_at=utcnow())
        elif r.status not in (R.REFUNDED, R.RESOLVED, R.DISPUTED):
            raise AppError(409, "invalid_return_state", "Only a disputed return can be arbitrated.")
        return await self._finish(return_id)

    async def _load(self, return_id: int) -> ReturnRequest:
        async with self._sessions() as s:
            r = await s.get(ReturnRequest, return_id)
        if r is None:
            raise not_found("Return")
        return r

    async def _seller_return(self, who: Principal, return_id: int) -> ReturnRequest:
        r = await self.get(who, return_id)
        if r.seller_id != who.id and not who.has("admin"):
            raise forbidden("Only the seller answers a return.")
        return r

    async def sweep(self) -> int:
        """Approve returns whose reply window is over; finish refunds a crash left behind."""
        now = utcnow()
        async with self._sessions() as s:
            overdue = list((await s.execute(select(ReturnRequest.id).where(
                ReturnRequest.status == R.REQUESTED.value, ReturnRequest.reply_by <= now).limit(100))).scalars())
            stuck = list((await s.execute(select(ReturnRequest.id).where(
                ReturnRequest.status.in_((R.APPROVED.value, R.AUTO_APPROVED.value)),
                ReturnRequest.decided_at <= now - timedelta(seconds=30)).limit(100))).scalars())
        for return_id in overdue + stuck:
            try:
                await self.approve(None, return_id, None, "The seller did not answer in time.", auto=True)
            except AppError as e:
                log.warning("return %s: %s", return_id, e.code)
        await self._refunds.resume_pending()
        return len(overdue)

    def start(self, every_s: float) -> None:
        self._periodic.start(every_s)

    async def stop(self) -> None:
        await self._periodic.stop()
