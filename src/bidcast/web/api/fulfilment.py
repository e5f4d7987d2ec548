"""After payment: cancel, ship, carrier tracking webhooks, seller balance and payouts, revenue."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import StringConstraints

from ...payments.webhooks import SIGNATURE_HEADER
from ...services.accounts import Principal
from ...services.payouts import Payouts
from ..auth import admin_user, current_user
from ..schemas import Amount, Currency, Id, In, Key

router = APIRouter(prefix="/api/v1", tags=["fulfilment"])

Limit = Annotated[int, Query(ge=1, le=200)]


class CancelIn(In):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]


class ShipIn(In):
    carrier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=40)]
    tracking_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=60)]


class PayoutIn(In):
    amount: Amount
    currency: Currency = "EUR"
    idempotency_key: Key


def payouts(request: Request) -> Payouts:
    return request.app.state.c.payouts


@router.post("/orders/{order_id}/cancel")
async def cancel_order(order_id: Id, body: CancelIn, request: Request,
                       who: Principal = Depends(current_user)) -> dict:
    """Cancel before shipping (buyer or seller, with a reason); a paid order is refunded in full."""
    c = request.app.state.c
    result = await c.fulfilment.cancel(who, order_id, body.reason)
    return result | {"order": await c.orders.detail(who, order_id)}


@router.post("/orders/{order_id}/ship")
async def ship_order(order_id: Id, body: ShipIn, request: Request,
                     who: Principal = Depends(current_user)) -> dict:
    """The seller marks a paid order shipped; the same carrier + tracking number again is a retry."""
    c = request.app.state.c
    result = await c.fulfilment.ship(who, order_id, body.carrier, body.tracking_number)
    return result | {"order": await c.orders.detail(who, order_id)}


@router.post("/carriers/{carrier}/events")
async def carrier_event(carrier: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,40}$")],
                        request: Request) -> dict:
    """A carrier's signed tracking report: {id, tracking_number, event, occurred_at, detail?}."""
    body = await request.body()
    return await request.app.state.c.carrier_events.receive(
        carrier, body, request.headers.get(SIGNATURE_HEADER))


@router.get("/carriers")
async def carriers(request: Request) -> dict:
    return {"carriers": list(request.app.state.c.fulfilment.carriers)}


@router.get("/shops/mine/ledger")
async def my_ledger(request: Request, limit: Limit = 50, who: Principal = Depends(current_user)) -> dict:
    """Pending / available / paid out per currency, and the latest ledger entries of my shop."""
    return await payouts(request).ledger(who, limit)


@router.get("/shops/mine/payouts")
async def my_payouts(request: Request, limit: Limit = 100, who: Principal = Depends(current_user)) -> dict:
    return {"payouts": await payouts(request).list(who, limit)}


@router.post("/shops/mine/payouts", status_code=201)
async def request_payout(body: PayoutIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    """Pay out part or all of the available balance; never more than is available."""
    return await payouts(request).request(who, body.amount, body.currency, body.idempotency_key)


@router.get("/admin/revenue")
async def revenue(request: Request, _: Principal = Depends(admin_user)) -> dict:
    """The platform's commission revenue per currency, net of commission given back by refunds."""
    return {"revenue": await payouts(request).commission_revenue()}
