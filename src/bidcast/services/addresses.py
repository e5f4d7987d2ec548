"""Saved shipping addresses: a person's address book, one of them the default.

Checkout copies the chosen address into the order (orders.shipping_address), so editing or
deleting an address later never changes where an order already placed is going. Writes for one
person are serialized by locking their user row; the database also keeps at most one default
(a partial unique index).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..errors import AppError, not_found
from ..storage.models import Address, User

MAX_ADDRESSES = 20
FIELDS = ("name", "line1", "line2", "city", "postal_code", "country", "phone")
# ISO 3166-1 alpha-2 country codes (officially assigned).
COUNTRIES = frozenset(["AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"])


def check_country(code: str) -> str:
    if code not in COUNTRIES:
        raise AppError(422, "invalid_country", f"{code!r} is not an ISO 3166 country code.")
    return code


def snapshot(a: Address) -> dict[str, Any]:
    """What an order keeps: the address as it was when the order was placed."""
    return {f: getattr(a, f) for f in FIELDS}


def view(a: Address) -> dict[str, Any]:
    return {"id": a.id, **snapshot(a), "is_default": a.is_default}


class Addresses:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def list(self, user_id: int) -> list[Address]:
        async with self._sessions() as s:
            return list((await s.execute(select(Address).where(Address.user_id == user_id)
                                         .order_by(Address.is_default.desc(), Address.id))).scalars())

    async def create(self, user_id: int, fields: dict[str, Any], make_default: bool = False) -> tuple[Address, bool]:
        """Adds an address; the same address sent twice (a retried request) is stored once.
        Returns (address, created)."""
        check_country(fields["country"])
        fields = {"line2": ""} | fields
        async with self._sessions.begin() as s:
            await _lock_user(s, user_id)
            mine = list((await s.execute(select(Address).where(Address.user_id == user_id))).scalars())
            same = next((a for a in mine if snapshot(a) == {f: fields[f] for f in FIELDS}), None)
            if same is not None:
                if make_default and not same.is_default:
                    await _set_default(s, user_id, same)
                return same, False
            if len(mine) >= MAX_ADDRESSES:
                raise AppError(409, "too_many_addresses", f"You can keep up to {MAX_ADDRESSES} addresses.")
            address = Address(user_id=user_id, is_default=False, **{f: fields[f] for f in FIELDS})
            s.add(address)
            await s.flush()
            if make_default or not mine:
                await _set_default(s, user_id, address)
        return address, True

    async def update(self, user_id: int, address_id: int, changes: dict[str, Any],
                     make_default: bool | None = None) -> Address:
        if "country" in changes:
            check_country(changes["country"])
        async with self._sessions.begin() as s:
            await _lock_user(s, user_id)
            address = await self._mine(s, user_id, address_id)
            for key, value in changes.items():
                if key in FIELDS:
                    setattr(address, key, value)
            if make_default and not address.is_default:
                await _set_default(s, user_id, address)
        return address

    async def set_default(self, user_id: int, address_id: int) -> Address:
        return await self.update(user_id, address_id, {}, make_default=True)

    async def delete(self, user_id: int, address_id: int) -> None:
        async with self._sessions.begin() as s:
            await _lock_user(s, user_id)
            address = await self._mine(s, user_id, address_id)
            was_default = address.is_default
            await s.delete(address)
            await s.flush()
            if was_default:  # the oldest one left takes over
                heir = (await s.execute(select(Address).where(Address.user_id == user_id)
                                        .order_by(Address.id).limit(1))).scalar_one_or_none()
                if heir is not None:
                    heir.is_default = True

    async def chosen(self, s: AsyncSession, user_id: int, address_id: int | None) -> Address:
        """The address a checkout ships to: the one named, else the person's default."""
        if address_id is not None:
            return await self._mine(s, user_id, address_id)
        found = (await s.execute(select(Address).where(Address.user_id == user_id,
                                                       Address.is_default.is_(True)))).scalar_one_or_none()
        if found is None:
            raise AppError(422, "address_required", "Add a shipping address first.")
        return found

    @staticmethod
    async def _mine(s: AsyncSession, user_id: int, address_id: int) -> Address:
        address = await s.get(Address, address_id)
        if address is None or address.user_id != user_id:
            raise not_found("Address")
        return address


async def _lock_user(s: AsyncSession, user_id: int) -> None:
    await s.execute(select(User.id).where(User.id == user_id).with_for_update())


async def _set_default(s: AsyncSession, user_id: int, address: Address) -> None:
    await s.execute(update(Address).where(Address.user_id == user_id, Address.id != address.id,
                                          Address.is_default.is_(True)).values(is_default=False))
    await s.flush()
    address.is_default = True
    await s.flush()
