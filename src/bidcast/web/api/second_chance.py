"""Second-chance offers: the seller offers a lot whose winner did not pay to the runner-up."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...services.accounts import Principal
from ..auth import current_user
from ..schemas import Id

router = APIRouter(tags=["orders"])


@router.get("/orders/{order_id}/second-chance")
async def preview(order_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    """Seller only: the runner-up and amount an offer would go to, or the offer already made."""
    return await request.app.state.c.second_chances.preview(who, order_id)


@router.post("/orders/{order_id}/second-chance", status_code=201)
async def offer(order_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    """Seller only, once per order: a new order for the runner-up at their highest bid."""
    return await request.app.state.c.second_chances.offer(who, order_id)


@router.post("/orders/{order_id}/decline")
async def decline(order_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    """The runner-up declines a second-chance offer: cancelled, unit back in stock, no strike."""
    return await request.app.state.c.second_chances.decline(who, order_id)


@router.get("/me/second-chances")
async def offerable(request: Request, who: Principal = Depends(current_user)) -> dict:
    """My shop's unpaid auction orders that can still be offered to a runner-up."""
    return {"offerable": await request.app.state.c.second_chances.offerable(who)}


@router.get("/me/second-chance-offers")
async def open_offers(request: Request, who: Principal = Depends(current_user)) -> dict:
    """Offers made to me that still wait for my payment (pay them like any order, or decline)."""
    return {"offers": await request.app.state.c.second_chances.open_offers(who)}
