"""Carrier webhooks: signed tracking reports that move shipped orders to in transit and delivered.

A report is accepted only with a valid HMAC signature (payments/webhooks.py) made with that
carrier's secret and a timestamp within the tolerance; (carrier, event id) is unique in
`tracking_events`, so the same report is handled once across every process and a replay is
refused. The delivery time that starts the return window and the funds hold is the server's
clock when the report arrives (the carrier's own time is kept on the tracking event).
"""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.order_status import TRACKING_EVENTS, Move, OrderState, apply
from ..errors import AppError
from ..payments.webhooks import WebhookVerificationError, verify
from ..storage.models import Order, OrderEvent, TrackingEvent, utcnow
from ..storage.notify import notify

TOLERANCE_S = 300
MAX_BODY = 16_384


class CarrierEvents:
    def __init__(self, sessions: async_sessionmaker, carriers: list[str], shared_secret: str,
                 secrets: dict[str, str]) -> None:
        self._sessions = sessions
        self._carriers = frozenset(carriers)
        self._shared = shared_secret
        self._secrets = dict(secrets)

    def _secret(self, carrier: str) -> str:
        secret = self._secrets.get(carrier) or self._shared
        if carrier not in self._carriers or not secret:
            raise AppError(404, "unknown_carrier", "No webhook is configured for this carrier.")
        return secret

    def parse(self, carrier: str, body: bytes, signature: str | None) -> dict:
        """Verify and decode one report, or a 4xx naming what is wrong with it."""
        secret = self._secret(carrier)
        if len(body) > MAX_BODY:
            raise AppError(413, "payload_too_large", "A tracking report is at most 16 KB.")
        try:
            verify(body, signature, secret, time.time(), TOLERANCE_S)
        except WebhookVerificationError as e:
            raise AppError(401, e.code, e.message) from None
        try:
            event = json.loads(body)
        except ValueError:
            raise AppError(422, "invalid_payload", "The body is not JSON.") from None
        if not isinstance(event, dict):
            raise AppError(422, "invalid_payload", "The body is not a JSON object.")
        event_id, number, kind = event.get("id"), event.get("tracking_number"), event.get("event")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
            raise AppError(422, "invalid_payload", "`id` is the carrier's event id (1-100 characters).")
        if not isinstance(number, str) or not 1 <= len(number) <= 60:
            raise AppError(422, "invalid_payload", "`tracking_number` is required.")
        if kind not in TRACKING_EVENTS:
            raise AppError(422, "invalid_event", f"`event` is one of {', '.join(TRACKING_EVENTS)}.")
        detail = event.get("detail")
        if detail is not None and not isinstance(detail, str):
            raise AppError(422, "invalid_payload", "`detail` is text.")
        try:
            occurred = datetime.fromisoformat(str(event.get("occurred_at")).replace("Z", "+00:00"))
        except ValueError:
            raise AppError(422, "invalid_occurred_at", "`occurred_at` is an ISO 8601 time.") from None
        if occurred.tzinfo is None or occurred > datetime.now(UTC) + timedelta(seconds=TOLERANCE_S):
            raise AppError(422, "invalid_occurred_at", "`occurred_at` needs a time zone and may not be in the future.")
        return {"id": event_id, "tracking_number": "".join(number.split()).upper(), "event": kind,
                "occurred_at": occurred.astimezone(UTC), "detail": (detail or "")[:300] or None}

    async def receive(self, carrier: str, body: bytes, signature: str | None) -> dict:
        ev = self.parse(carrier, body, signature)
        move = TRACKING_EVENTS[ev["event"]]
        changed: list[int] = []
        try:
            async with self._sessions.begin() as s:
                orders = list((await s.execute(select(Order).where(
                    Order.carrier == carrier, Order.tracking_number == ev["tracking_number"],
                    Order.status.in_(("shipped", "delivered", "completed")))
                    .order_by(Order.id).with_for_update())).scalars())
                if not orders:
                    raise AppError(404, "unknown_parcel", "No shipped order has this tracking number.")
                s.add(TrackingEvent(carrier=carrier, carrier_event_id=ev["id"],
                                    tracking_number=ev["tracking_number"], event=ev["event"],
                                    detail=ev["detail"], occurred_at=ev["occurred_at"]))
                await s.flush()  # a replayed event id fails here, before anything moves
                for order in orders:
                    if await self._apply(s, order, move, ev):
                        changed.append(order.id)
        except IntegrityError:
            raise AppError(409, "replayed", "This carrier event was already received.") from None
        return {"received": True, "event": ev["event"], "orders": [o.id for o in orders], "changed": changed}

    async def _apply(self, s, order: Order, move: Move, ev: dict) -> bool:  # noqa: ANN001
        before = OrderState.of(order.status, order.payment_state, order.fulfilment_state)
        after = apply(before, move)
        where = (Order.id == order.id, Order.status == order.status,
                 Order.fulfilment_state == order.fulfilment_state)
        values: dict = {"status": after.status.value, "fulfilment_state": after.fulfilment.value}
        if after.status.value == "delivered" and before.status.value != "delivered":
            values["delivered_at"] = utcnow()
        if after != before:
            done = await s.execute(update(Order).where(*where).values(**values)
                                   .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                return False
        note = ev["detail"] or ""
        if move is Move.DELIVER and after != before:
            s.add(OrderEvent(order_id=order.id, kind="delivered", detail=f"{order.carrier}: delivered {note}".strip()))
            notify(s, order.buyer_id, "delivered", f"Order #{order.id} was delivered",
                   "Something wrong? You can ask for a return from the order page.", link=f"/orders/{order.id}")
            notify(s, order.seller_id, "delivered", f"Order #{order.id} was delivered",
                   "The funds are released after the hold period.", link=f"/orders/{order.id}")
        elif move is Move.IN_TRANSIT and after != before:
            s.add(OrderEvent(order_id=order.id, kind="in_transit", detail=f"{order.carrier}: in transit {note}".strip()))
            notify(s, order.buyer_id, "in_transit", f"Order #{order.id} is in transit", note,
                   link=f"/orders/{order.id}")
        elif move is Move.EXCEPTION:
            s.add(OrderEvent(order_id=order.id, kind="delivery_exception",
                             detail=f"{order.carrier}: {note or 'delivery problem'}"[:300]))
            for user_id in (order.buyer_id, order.seller_id):
                notify(s, user_id, "in_transit", f"Order #{order.id}: the carrier reports a problem",
                       note or "Check the tracking details.", link=f"/orders/{order.id}")
        return after != before
