"""Refunds and returns: a seller's (or admin's) refund, the buyer's return, the seller's reply,
the buyer's dispute and the admin's arbitration. The rules are in services/returns.py."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import Field, StringConstraints

from ...domain.money import MAX_AMOUNT
from ...errors import forbidden, not_found
from ...services.accounts import Principal
from ...storage.models import Order
from ..auth import admin_user, current_user
from ..schemas import Amount, Id, In, Key
from . import payment_webhooks

router = APIRouter(prefix="/api/v1", tags=["returns"])

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class RefundIn(In):
    amount: Amount
    reason: Reason
    idempotency_key: Key | None = None


def _key(body_key: str | None, header_key: str | None) -> str:
    from ...errors import AppError
    k = body_key or header_key
    if not k or len(k) > 64:
        raise AppError(422, "idempotency_key_required", "Send an idempotency key (body or Idempotency-Key header).")
    return k


@router.post("/orders/{order_id}/refunds")
async def refund_order(order_id: Id, body: RefundIn, request: Request,
                       idempotency_key: Annotated[str | None, Header()] = None,
                       who: Principal = Depends(current_user)) -> dict:
    """The order's seller (or an admin) refunds part or all of what the buyer paid."""
    c = request.app.state.c
    async with c.sessions() as s:
        order = await s.get(Order, order_id)
    if order is None or not (who.has("admin") or order.seller_id == who.id or order.buyer_id == who.id):
        raise not_found("Order")
    if not (who.has("admin") or order.seller_id == who.id):
        raise forbidden("Only the seller or an admin can refund; buyers request a return.")
    return await c.refunds.refund(order_id, body.amount, body.reason,
                                  f"api:{_key(body.idempotency_key, idempotency_key)}", who.id)


@router.get("/orders/{order_id}/refunds")
async def order_refunds(order_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    c = request.app.state.c
    async with c.sessions() as s:
        order = await s.get(Order, order_id)
    if order is None or not (who.has("admin") or who.id in (order.seller_id, order.buyer_id)):
        raise not_found("Order")
    return {"refunds": await c.refunds.for_order(order_id)}


# -- returns --------------------------------------------------------------------------------------

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Status = Literal["requested", "approved", "auto_approved", "rejected", "disputed", "resolved", "refunded"]


class ReturnIn(In):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    # Validated by the rules (http(s) only, at most 5) so the answer carries their error codes.
    photo_urls: Annotated[list[Annotated[str, StringConstraints(max_length=2000)]], Field(max_length=50)] = []


class ApproveIn(In):
    amount: Amount | None = None  # default: everything still refundable
    note: Note | None = None


class RejectIn(In):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class DisputeIn(In):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ResolveIn(In):
    amount: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)]  # 0: the dispute is rejected
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def _returns(request: Request):
    return request.app.state.c.returns


@router.post("/orders/{order_id}/return", status_code=201)
async def request_return(order_id: Id, body: ReturnIn, request: Request,
                         who: Principal = Depends(current_user)) -> dict:
    """The buyer asks to return a delivered order (reason, up to 5 photo URLs)."""
    return await _returns(request).request(who, order_id, body.reason, body.photo_urls)


@router.get("/orders/{order_id}/return")
async def order_return(order_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    from ...services.returns import view
    return {"return": view(await _returns(request).for_order(who, order_id))}


@router.get("/me/returns")
async def my_returns(request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"returns": await _returns(request).listing(buyer_id=who.id)}


@router.get("/seller/returns")
async def seller_returns(request: Request, status: Status | None = None,
                         who: Principal = Depends(current_user)) -> dict:
    return {"returns": await _returns(request).listing(seller_id=who.id, status=status)}


@router.get("/admin/returns")
async def admin_returns(request: Request, status: Status | None = "disputed",
                        _: Principal = Depends(admin_user)) -> dict:
    return {"returns": await _returns(request).listing(status=status)}


@router.post("/returns/{return_id}/approve")
async def approve_return(return_id: Id, body: ApproveIn, request: Request,
                         who: Principal = Depends(current_user)) -> dict:
    """The seller approves (all, or `amount` of it) and the buyer is refunded; safe to repeat."""
    return await _returns(request).approve(who, return_id, body.amount, body.note)


@router.post("/returns/{return_id}/reject")
async def reject_return(return_id: Id, body: RejectIn, request: Request,
                        who: Principal = Depends(current_user)) -> dict:
    return await _returns(request).reject(who, return_id, body.note)


@router.post("/returns/{return_id}/dispute")
async def dispute_return(return_id: Id, body: DisputeIn, request: Request,
                         who: Principal = Depends(current_user)) -> dict:
    return await _returns(request).dispute(who, return_id, body.reason)


@router.post("/admin/returns/{return_id}/resolve")
async def resolve_return(return_id: Id, body: ResolveIn, request: Request,
                         who: Principal = Depends(admin_user)) -> dict:
    """An admin decides a dispute: refund `amount` (minor units) or reject it with 0."""
    return await _returns(request).arbitrate(who, return_id, body.amount, body.note)


router.include_router(payment_webhooks.router)
