from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from ...domain.money import MoneyError, check_currency
from ...errors import AppError
from ...services.accounts import Principal
from .. import views
from ..auth import current_user
from ..schemas import Id, ProductIn, ProductPatch, QueryId

router = APIRouter(prefix="/api/v1", tags=["catalog"])


def _fields(model: ProductIn | ProductPatch) -> dict:
    data = model.model_dump(exclude_unset=isinstance(model, ProductPatch))
    if "image_urls" in data and data["image_urls"] is not None:
        data["image_urls"] = [str(u) for u in data["image_urls"]]
    if "currency" in data:
        try:
            check_currency(data["currency"])
        except MoneyError as e:
            raise AppError(422, e.code, e.message) from None
    return data


@router.post("/products", status_code=201)
async def create(body: ProductIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    product = await request.app.state.c.catalog.create(who, _fields(body))
    return {"product": views.product(product)}


@router.get("/products")
async def search(request: Request, q: str | None = Query(None, max_length=100),
                 category: str | None = None, shop_id: QueryId = None,
                 limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)) -> dict:
    found = await request.app.state.c.catalog.search(q, category, shop_id, limit, offset)
    return {"products": [views.product(p) for p in found]}


@router.get("/products/{product_id}")
async def get(product_id: Id, request: Request) -> dict:
    return {"product": views.product(await request.app.state.c.catalog.get(product_id))}


@router.patch("/products/{product_id}")
async def update(product_id: Id, body: ProductPatch, request: Request,
                 who: Principal = Depends(current_user)) -> dict:
    changes = {k: v for k, v in _fields(body).items() if v is not None}
    product = await request.app.state.c.catalog.update(who, product_id, changes)
    return {"product": views.product(product)}


@router.post("/products/{product_id}/withdraw")
async def withdraw(product_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"product": views.product(await request.app.state.c.catalog.withdraw(who, product_id))}
