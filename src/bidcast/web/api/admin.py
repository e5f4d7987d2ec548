from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...services.accounts import Principal
from .. import views
from ..schemas import Id
from ..auth import admin_user, current_user

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
async def my_orders(request: Request, as_seller: bool = False,
                    who: Principal = Depends(current_user)) -> dict:
    return {"orders": [views.order(o) for o in await request.app.state.c.orders.mine(who, as_seller)]}


@router.get("/orders/{order_id}")
async def get_order(order_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"order": views.order(await request.app.state.c.orders.get(who, order_id))}
