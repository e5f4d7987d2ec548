from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import StringConstraints

from ...services.accounts import Principal
from .. import views
from ..auth import admin_user, current_user
from ..schemas import Id, In

router = APIRouter(prefix="/api/v1", tags=["admin", "orders"])


@router.post("/admin/users/{user_id}/ban")
async def ban(user_id: Id, request: Request, _: Principal = Depends(admin_user)) -> dict:
    return {"user": views.user(await request.app.state.c.accounts.set_banned(user_id, True))}


@router.post("/admin/users/{user_id}/unban")
async def unban(user_id: Id, request: Request, _: Principal = Depends(admin_user)) -> dict:
    return {"user": views.user(await request.app.state.c.accounts.set_banned(user_id, False))}


@router.post("/admin/users/{user_id}/roles/{role}")
async def grant(user_id: Id, role: str, request: Request, _: Principal = Depends(admin_user)) -> dict:
    return {"user": views.user(await request.app.state.c.accounts.grant_role(user_id, role))}


@router.get("/orders")
async def my_orders(request: Request, as_seller: bool = False, status: str | None = None,
                    who: Principal = Depends(current_user)) -> dict:
    """My orders (as_seller: my shop's), newest first, each with lines, states, tracking, events."""
    return {"orders": await request.app.state.c.orders.listing(who, as_seller, status)}


@router.get("/orders/{order_id}")
async def get_order(order_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    """Lines, status, payment and fulfilment state, tracking and the audit trail (services/orders.py)."""
    return {"order": await request.app.state.c.orders.detail(who, order_id)}


class PayIn(In):
    # A sandbox test card number or a provider token; Bidcast never stores it.
    payment_method: Annotated[str, StringConstraints(min_length=4, max_length=64)]
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]


@router.post("/orders/{order_id}/pay")
async def pay_order(order_id: Id, body: PayIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    return await request.app.state.c.payments.pay(who, order_id, body.payment_method, body.idempotency_key)


@router.get("/shops/mine/balance")
async def my_balance(request: Request, who: Principal = Depends(current_user)) -> dict:
    shop = await request.app.state.c.shops.of_owner(who.id)
    if shop is None:
        return {"balance": {}}
    return {"balance": await request.app.state.c.payments.seller_balance(shop.id)}
