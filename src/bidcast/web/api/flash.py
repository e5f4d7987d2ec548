"""Flash sales over HTTP: the host launches one in their room; buyers purchase (docs/flash-sales.md)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from ...errors import AppError
from ...services.accounts import Principal
from ...services.flash_view import ms, sale_public
from ...storage.models import Order
from ..auth import current_user, optional_user
from ..schemas import Amount, Id, In, Key

router = APIRouter(prefix="/api/v1", tags=["flash"])

# A refusal's HTTP status; the body carries the machine-readable code (domain/flash_sale.py).
STATUS = {"invalid_quantity": 422, "own_sale": 403, "banned": 403}


class FlashLaunchIn(In):
    product_id: Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
    quantity: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    sale_price: Amount
    duration_seconds: Annotated[int, Field(strict=True, ge=5, le=3600)]
    per_buyer_limit: Annotated[int, Field(strict=True, ge=1, le=100)] = 1


class FlashPurchaseIn(In):
    quantity: Annotated[int, Field(strict=True, ge=-1_000_000, le=1_000_000)] = 1
    idempotency_key: Key | None = None


def _key(body_key: str | None, header_key: str | None, required: bool) -> str | None:
    key = body_key or header_key
    if key and len(key) > 64:
        raise AppError(422, "validation_failed", "The idempotency key is at most 64 characters.")
    if required and not key:
        raise AppError(422, "idempotency_key_required",
                       "Send an Idempotency-Key header so a retry never buys twice.")
    return key


@router.post("/rooms/{room_id}/flash-sales", status_code=201)
async def launch(room_id: Id, body: FlashLaunchIn, request: Request,
                 who: Principal = Depends(current_user),
                 idempotency_key: str | None = Header(None)) -> dict:
    c = request.app.state.c
    sale = await c.flash.launch(who, room_id, body.product_id, body.quantity, body.sale_price,
                                body.duration_seconds, body.per_buyer_limit,
                                _key(None, idempotency_key, False))
    return {"sale": sale_public(sale)}


@router.get("/rooms/{room_id}/flash-sales")
async def room_sales(room_id: Id, request: Request) -> dict:
    return {"sales": [sale_public(s) for s in await request.app.state.c.flash.for_room(room_id)]}


@router.get("/flash-sales/{sale_id}")
async def get_sale(sale_id: Id, request: Request,
                   viewer: Principal | None = Depends(optional_user)) -> dict:
    c = request.app.state.c
    sale = await c.flash.get(sale_id)
    out = {"sale": sale_public(sale)}
    if viewer is not None:
        out["mine"] = {"bought": await c.flash.bought_by(sale_id, viewer.id)}
    return out


@router.post("/flash-sales/{sale_id}/end")
async def end_sale(sale_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    c = request.app.state.c
    ended = await c.flash.end(sale_id, who)
    return {"ended": ended, "sale": sale_public(await c.flash.get(sale_id))}


@router.post("/flash-sales/{sale_id}/purchase", status_code=201,
             responses={409: {"description": "Refused: sold_out, limit_reached, not_running, ..."}})
async def purchase(sale_id: Id, request: Request, body: FlashPurchaseIn | None = None,
                   who: Principal = Depends(current_user),
                   idempotency_key: str | None = Header(None)) -> JSONResponse:
    c = request.app.state.c
    body = body or FlashPurchaseIn()
    key = _key(body.idempotency_key, idempotency_key, True)
    assert key is not None
    if who.banned:
        raise AppError(403, "banned", "Your account may not buy right now.")
    r = await c.flash.purchase(sale_id, who, body.quantity, key)
    if not r.accepted:
        status = STATUS.get(r.code or "", 409)
        return JSONResponse({"error": {"code": r.code, "message": r.message, "sold": r.sold,
                                       "left": r.left}}, status_code=status)
    async with c.sessions() as s:
        order = await s.get(Order, r.order_id)
    assert order is not None
    return JSONResponse({"purchase": {
        "sale_id": sale_id, "quantity": r.quantity, "replayed": r.replayed, "left": r.left,
        "order": {"id": order.id, "kind": order.kind, "status": order.status, "amount": order.amount,
                  "currency": order.currency, "pay_by": ms(order.pay_by) if order.pay_by else None,
                  "pay_url": f"/me/orders#order-{order.id}"}}},
        status_code=200 if r.replayed else 201)
