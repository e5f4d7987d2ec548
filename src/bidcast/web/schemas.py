"""Request bodies: validated at the edge, with limits that keep absurd input out."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..domain.money import MAX_AMOUNT

# Row ids are 64-bit; anything outside is a client error, not a database overflow.
MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Amount = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140)]
LongText = Annotated[str, StringConstraints(max_length=5000)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
# Absolute http(s) URLs, or files this server hosts under /media.
ImageUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500,
                                            pattern=r"^(https?://[^\s]+|/media/[^\s]+)$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(In):
    email: Email
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)]
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    roles: list[Literal["buyer", "host"]] = ["buyer"]


class LoginIn(In):
    email: Email
    password: Annotated[str, StringConstraints(max_length=200)]


class ShopIn(In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
    description: LongText = ""
    contact_email: Email


class ReviewIn(In):
    approve: bool
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class ProductIn(In):
    title: Text
    description: LongText = ""
    image_urls: Annotated[list[ImageUrl], Field(max_length=10)] = []
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    condition: Literal["new", "like_new", "used_good", "used_fair", "for_parts"] = "new"
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    price_amount: Amount
    currency: Currency = "EUR"
    stock: Annotated[int, Field(strict=True, ge=0, le=1_000_000)]


class ProductPatch(In):
    title: Text | None = None
    description: LongText | None = None
    image_urls: Annotated[list[ImageUrl], Field(max_length=10)] | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    condition: Literal["new", "like_new", "used_good", "used_fair", "for_parts"] | None = None
    price_amount: Amount | None = None
    stock: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] | None = None


class RoomIn(In):
    title: Text
    scheduled_at: datetime
    cover_url: AnyHttpUrl | None = None
    playback_url: AnyHttpUrl | None = None
    # How long winners in this show have to pay (1 h to 7 days); default: the platform's.
    payment_window_seconds: Annotated[int, Field(strict=True, ge=3600, le=7 * 24 * 3600)] | None = None


class LotIn(In):
    product_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    starting_price: Amount
    format: Literal["standard", "sudden_death"] = "standard"
    reserve_price: Amount | None = None
    buy_now_price: Amount | None = None
    duration_seconds: Annotated[int, Field(ge=5, le=30 * 24 * 3600)] | None = None
    soft_close_seconds: Annotated[int, Field(ge=0, le=300)] | None = None
    increments: Annotated[list[tuple[int, int]], Field(min_length=1, max_length=50)] | None = None
    final_sale: bool = False  # no returns; shown to bidders before they bid


class TimedAuctionIn(LotIn):
    opens_at: datetime | None = None


class StartLotIn(In):
    lot_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    duration_seconds: Annotated[int, Field(ge=5, le=3600)] | None = None
    soft_close_seconds: Annotated[int, Field(ge=0, le=300)] | None = None
    reserve_price: Amount | None = None


class ReorderIn(In):
    lot_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(max_length=500)]


class BidIn(In):
    amount: Amount | None = None
    max_amount: Amount | None = None
    currency: Currency | None = None
    idempotency_key: Key | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> BidIn:
        if (self.amount is None) == (self.max_amount is None):
            raise ValueError("give exactly one of amount (a bid) or max_amount (a maximum bid)")
        return self


class BuyNowIn(In):
    idempotency_key: Key | None = None
