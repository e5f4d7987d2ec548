from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...services.accounts import Principal
from .. import views
from ...errors import not_found
from ..auth import admin_user, current_user, optional_user
from ..schemas import Id, ReviewIn, ShopIn

router = APIRouter(prefix="/api/v1", tags=["shops"])


@router.post("/shops", status_code=201)
async def apply(body: ShopIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    shop = await request.app.state.c.shops.apply(who, body.name, body.description, body.contact_email)
    return {"shop": views.shop(shop)}


@router.get("/shops/mine")
async def my_shop(request: Request, who: Principal = Depends(current_user)) -> dict:
    shop = await request.app.state.c.shops.of_owner(who.id)
    return {"shop": views.shop(shop) if shop else None}


@router.get("/shops/{shop_id}")
async def get_shop(shop_id: Id, request: Request,
                   viewer: Principal | None = Depends(optional_user)) -> dict:
    shop = await request.app.state.c.shops.get(shop_id)
    private = viewer is not None and (viewer.id == shop.owner_id or viewer.has("admin"))
    if not private and shop.status != "approved":
        raise not_found("Shop")  # applications are between the applicant and the reviewers
    return {"shop": views.shop(shop, private=private)}


@router.get("/admin/shops")
async def list_shops(request: Request, status: str | None = None,
                     _: Principal = Depends(admin_user)) -> dict:
    return {"shops": [views.shop(s) for s in await request.app.state.c.shops.list(status)]}


@router.post("/admin/shops/{shop_id}/review")
async def review(shop_id: Id, body: ReviewIn, request: Request,
                 admin: Principal = Depends(admin_user)) -> dict:
    shop = await request.app.state.c.shops.review(admin, shop_id, body.approve, body.reason)
    return {"shop": views.shop(shop)}
