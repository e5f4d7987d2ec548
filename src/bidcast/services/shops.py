"""Shop onboarding: a seller applies, an admin approves or rejects with a reason."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import AppError, conflict, forbidden, not_found
from ..storage.models import Shop, User, utcnow
from .accounts import Accounts, Principal


class Shops:
    def __init__(self, sessions: async_sessionmaker, accounts: Accounts) -> None:
        self._sessions = sessions
        self._accounts = accounts

    async def apply(self, who: Principal, name: str, description: str, contact_email: str) -> Shop:
        shop = Shop(owner_id=who.id, name=name, description=description, contact_email=contact_email)
        try:
            async with self._sessions.begin() as s:
                existing = (await s.execute(select(Shop).where(Shop.owner_id == who.id))).scalar_one_or_none()
                if existing is not None:
                    if existing.status != "rejected":
                        raise conflict("shop_exists", "You already have a shop or a pending application.")
                    # A rejected applicant may apply again: the same row goes back to review.
                    existing.name, existing.description = name, description
                    existing.contact_email, existing.status = contact_email, "pending"
                    existing.review_reason = existing.reviewed_at = existing.reviewed_by = None
                    shop = existing
                else:
                    s.add(shop)
        except IntegrityError:
            raise conflict("shop_name_taken", "A shop with this name already exists.") from None
        return shop

    async def get(self, shop_id: int) -> Shop:
        async with self._sessions() as s:
            shop = await s.get(Shop, shop_id)
        if shop is None:
            raise not_found("Shop")
        return shop

    async def of_owner(self, owner_id: int) -> Shop | None:
        async with self._sessions() as s:
            return (await s.execute(select(Shop).where(Shop.owner_id == owner_id))).scalar_one_or_none()

    async def approved_shop_of(self, who: Principal) -> Shop:
        shop = await self.of_owner(who.id)
        if shop is None:
            raise AppError(403, "no_shop", "Apply for a shop first.")
        if shop.status != "approved":
            raise AppError(403, "shop_not_approved", "Your shop has not been approved yet.")
        return shop

    async def list(self, status: str | None = None) -> list[Shop]:
        async with self._sessions() as s:
            q = select(Shop).order_by(Shop.id)
            if status:
                q = q.where(Shop.status == status)
            return list((await s.execute(q)).scalars())

    async def review(self, admin: Principal, shop_id: int, approve: bool, reason: str | None) -> Shop:
        if not admin.has("admin"):
            raise forbidden("Only admins review shops.")
        if not approve and not (reason and reason.strip()):
            raise AppError(422, "reason_required", "A rejection needs a reason.")
        async with self._sessions.begin() as s:
            shop = await s.get(Shop, shop_id, with_for_update=True)
            if shop is None:
                raise not_found("Shop")
            if shop.status != "pending":
                raise conflict("already_reviewed", f"This shop is already {shop.status}.")
            shop.status = "approved" if approve else "rejected"
            shop.review_reason, shop.reviewed_by, shop.reviewed_at = reason, admin.id, utcnow()
            if approve:
                owner = await s.get(User, shop.owner_id)
                assert owner is not None
                owner.roles = ",".join(sorted(set(owner.roles.split(",")) | {"seller", "host"}))
        self._accounts.forget_cached()
        return shop
