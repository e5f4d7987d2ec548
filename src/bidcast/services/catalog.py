"""Catalog: approved sellers create, edit and withdraw products."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import AppError, conflict, forbidden, not_found
from ..storage.models import Product, Shop
from .accounts import Principal
from .shops import Shops

CONDITIONS = ("new", "like_new", "used_good", "used_fair", "for_parts")
EDITABLE = ("title", "description", "image_urls", "category", "condition", "price_amount", "stock")


class Catalog:
    def __init__(self, sessions: async_sessionmaker, shops: Shops) -> None:
        self._sessions = sessions
        self._shops = shops

    async def create(self, who: Principal, fields: dict[str, Any]) -> Product:
        shop = await self._shops.approved_shop_of(who)
        product = Product(shop_id=shop.id, **fields)
        try:
            async with self._sessions.begin() as s:
                s.add(product)
        except IntegrityError:
            raise conflict("sku_taken", "Your shop already has a product with this SKU.") from None
        return product

    async def get(self, product_id: int) -> Product:
        async with self._sessions() as s:
            product = await s.get(Product, product_id)
        if product is None:
            raise not_found("Product")
        return product

    async def update(self, who: Principal, product_id: int, changes: dict[str, Any]) -> Product:
        async with self._sessions.begin() as s:
            product = await self._owned(s, who, product_id)
            if product.status == "withdrawn":
                raise conflict("withdrawn", "A withdrawn product cannot be edited.")
            for key, value in changes.items():
                if key not in EDITABLE:
                    raise AppError(422, "not_editable", f"{key} cannot be changed.")
                setattr(product, key, value)
        return product

    async def withdraw(self, who: Principal, product_id: int) -> Product:
        async with self._sessions.begin() as s:
            product = await self._owned(s, who, product_id)
            product.status = "withdrawn"
        return product

    async def _owned(self, s, who: Principal, product_id: int) -> Product:  # noqa: ANN001
        product = await s.get(Product, product_id, with_for_update=True)
        if product is None:
            raise not_found("Product")
        # The same session: on SQLite a second one would wait for the write lock this one holds.
        shop = (await s.execute(select(Shop).where(Shop.owner_id == who.id))).scalar_one_or_none()
        if shop is None or shop.id != product.shop_id:
            raise forbidden("This product belongs to another shop.")
        return product

    async def search(self, q: str | None = None, category: str | None = None,
                     shop_id: int | None = None, limit: int = 50, offset: int = 0) -> list[Product]:
        stmt = select(Product).where(Product.status == "active")
        if q:
            like = f"%{q.lower()}%"
            stmt = stmt.where(or_(func.lower(Product.title).like(like),
                                  func.lower(Product.description).like(like)))
        if category:
            stmt = stmt.where(Product.category == category)
        if shop_id:
            stmt = stmt.where(Product.shop_id == shop_id)
        stmt = stmt.order_by(Product.id.desc()).limit(limit).offset(offset)
        async with self._sessions() as s:
            return list((await s.execute(stmt)).scalars())
