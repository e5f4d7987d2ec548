"""The signed-in person's own activity: read-only views of their bids, orders, sales, products
and the notifications derived from them. Nobody else's data is ever reachable from here."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from ...services.accounts import Principal
from ...services.activity import Activity
from .. import views
from ..auth import current_user
from ..schemas import QueryId

router = APIRouter(prefix="/api/v1", tags=["me"])

Limit = Annotated[int, Query(ge=1, le=200)]
BidState = Literal["leading", "outbid", "won", "lost", "unsold"]


def activity(request: Request) -> Activity:
    c = request.app.state.c
    return Activity(c.sessions, c.engine)


@router.get("/me/bids")
async def my_bids(request: Request, state: BidState | None = None, auction_id: QueryId = None,
                  limit: Limit = 100, who: Principal = Depends(current_user)) -> dict:
    """Lots I bid on with my state on each: leading, outbid (running), won, lost, unsold (closed)."""
    return {"bids": await activity(request).bids(who.id, limit, auction_id, state)}


@router.get("/me/orders")
async def my_orders(request: Request, limit: Limit = 100,
                    who: Principal = Depends(current_user)) -> dict:
    """What I won or bought, with the product and shop, newest first."""
    return {"orders": await activity(request).orders(who.id, as_seller=False, limit=limit)}


@router.get("/me/sales")
async def my_sales(request: Request, limit: Limit = 100,
                   who: Principal = Depends(current_user)) -> dict:
    """My shop's orders, with the product and the buyer's display name, newest first."""
    return {"orders": await activity(request).orders(who.id, as_seller=True, limit=limit)}


@router.get("/me/products")
async def my_products(request: Request, limit: Limit = 200,
                      who: Principal = Depends(current_user)) -> dict:
    """My shop and all of its products, withdrawn ones included."""
    shop, products = await activity(request).shop_products(who.id, limit)
    return {"shop": views.shop(shop) if shop else None,
            "products": [views.product(p) for p in products]}


# GET /me/notifications (stored, paged, unread filter): web/api/notifications.py


@router.get("/me/summary")
async def my_summary(request: Request, who: Principal = Depends(current_user)) -> dict:
    """Counts of my lots by state, orders awaiting payment, my live lots and the latest news."""
    return {"user": views.user(who)} | await activity(request).summary(who.id)
