"""The fixed-price shop: cart, saved addresses, checkout (one order per shop) and paying it."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import Field, StringConstraints
from sqlalchemy import select

from ...errors import AppError, not_found
from ...services.accounts import Principal
from ...services.addresses import view as address_view
from ...services.cart import MAX_LINES, MAX_QUANTITY
from ...storage.models import Product, Room, Shop
from .. import views
from ..auth import current_user
from ..schemas import MAX_ID, Id, In, Key

router = APIRouter(prefix="/api/v1", tags=["shop"])

Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
ProductId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
CheckoutId = Annotated[str, StringConstraints(pattern=r"^co_[0-9a-f]{32}$")]


def _line(max_length: int, min_length: int = 1):
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length,
                                            max_length=max_length, pattern=r"^[^\x00-\x1f\x7f]*$")]


PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,10}$")]
Country = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-]{5,22}$")]


class CartLineIn(In):
    product_id: ProductId
    quantity: Quantity = 1


class QuantityIn(In):
    quantity: Quantity


class AddressIn(In):
    name: _line(80)
    line1: _line(120)
    line2: _line(120, 0) = ""
    city: _line(80)
    postal_code: PostalCode
    country: Country
    phone: Phone
    is_default: bool = False


class AddressPatch(In):
    name: _line(80) | None = None
    line1: _line(120) | None = None
    line2: _line(120, 0) | None = None
    city: _line(80) | None = None
    postal_code: PostalCode | None = None
    country: Country | None = None
    phone: Phone | None = None
    is_default: bool | None = None


class CheckoutIn(In):
    # Omitted: the person's default address.
    address_id: Annotated[int, Field(strict=True, ge=1, le=MAX_ID)] | None = None
    # Shop id → method; shops left out ship standard.
    shipping: Annotated[dict[int, Literal["standard", "express"]], Field(max_length=MAX_LINES)] = {}
    # Omitted: the whole cart. Given: just these lines ("buy now"), the cart is left alone.
    lines: Annotated[list[CartLineIn], Field(min_length=1, max_length=MAX_LINES)] | None = None


class PayIn(In):
    payment_method: Annotated[str, StringConstraints(min_length=4, max_length=64)]
    idempotency_key: Key


# -- cart -----------------------------------------------------------------------------------------

@router.get("/cart")
async def get_cart(request: Request, who: Principal = Depends(current_user)) -> dict:
    """My cart: lines grouped by shop, each group with its subtotal and shipping options."""
    return {"cart": await request.app.state.c.cart.view(who.id)}


@router.get("/cart/count")
async def cart_count(request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"count": await request.app.state.c.cart.count(who.id)}


@router.post("/cart/lines")
async def add_to_cart(body: CartLineIn, request: Request, who: Principal = Depends(current_user),
                      idempotency_key: Key | None = Header(None)) -> dict:
    """Adds units of a product (to its line if there is one); a retry with the same
    Idempotency-Key adds nothing more."""
    cart = request.app.state.c.cart
    await cart.add(who, body.product_id, body.quantity, idempotency_key)
    return {"cart": await cart.view(who.id)}


@router.put("/cart/lines/{product_id}")
async def set_quantity(product_id: Id, body: QuantityIn, request: Request,
                       who: Principal = Depends(current_user)) -> dict:
    cart = request.app.state.c.cart
    await cart.set(who, product_id, body.quantity)
    return {"cart": await cart.view(who.id)}


@router.delete("/cart/lines/{product_id}")
async def remove_line(product_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    cart = request.app.state.c.cart
    await cart.remove(who, product_id)
    return {"cart": await cart.view(who.id)}


# -- saved addresses ------------------------------------------------------------------------------

@router.get("/me/addresses")
async def my_addresses(request: Request, who: Principal = Depends(current_user)) -> dict:
    """My saved addresses, the default first."""
    return {"addresses": [address_view(a) for a in await request.app.state.c.addresses.list(who.id)]}


@router.post("/me/addresses", status_code=201)
async def add_address(body: AddressIn, request: Request, response: Response,
                      who: Principal = Depends(current_user)) -> dict:
    """Saves an address (the first one becomes the default). Sending the same address again
    returns the saved one (200) instead of a copy."""
    fields = body.model_dump(exclude={"is_default"})
    address, created = await request.app.state.c.addresses.create(who.id, fields, body.is_default)
    if not created:
        response.status_code = 200
    return {"address": address_view(address)}


@router.patch("/me/addresses/{address_id}")
async def edit_address(address_id: Id, body: AddressPatch, request: Request,
                       who: Principal = Depends(current_user)) -> dict:
    changes = {k: v for k, v in body.model_dump(exclude={"is_default"}).items() if v is not None}
    address = await request.app.state.c.addresses.update(who.id, address_id, changes, body.is_default)
    return {"address": address_view(address)}


@router.post("/me/addresses/{address_id}/default")
async def make_default(address_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"address": address_view(await request.app.state.c.addresses.set_default(who.id, address_id))}


@router.delete("/me/addresses/{address_id}", status_code=204)
async def delete_address(address_id: Id, request: Request, who: Principal = Depends(current_user)) -> Response:
    await request.app.state.c.addresses.delete(who.id, address_id)
    return Response(status_code=204)


@router.get("/cart/quote")
async def quote(request: Request, product_id: Annotated[int, Query(ge=1, le=MAX_ID)],
                quantity: Annotated[int, Query(ge=1, le=MAX_QUANTITY)] = 1,
                who: Principal = Depends(current_user)) -> dict:
    """One product on its own ("buy now"), priced like a cart group with its shipping options."""
    return {"group": await request.app.state.c.cart.quote(who, product_id, quantity)}


# -- checkout -------------------------------------------------------------------------------------

@router.post("/checkout", status_code=201)
async def checkout(body: CheckoutIn, request: Request, response: Response,
                   who: Principal = Depends(current_user),
                   idempotency_key: Key | None = Header(None)) -> dict:
    """Places one order per shop for the cart (or the given lines), reserving the stock; the
    orders await payment until pay_by. Idempotency-Key is required: a retry returns the same
    checkout (200, replayed) instead of new orders."""
    if idempotency_key is None:
        raise AppError(400, "idempotency_key_required", "Send an Idempotency-Key header.")
    lines = None if body.lines is None else [(l.product_id, l.quantity) for l in body.lines]
    view, replayed = await request.app.state.c.checkouts.place(
        who, idempotency_key, body.address_id, dict(body.shipping), lines)
    if replayed:
        response.status_code = 200
    return {"checkout": view, "replayed": replayed}


@router.get("/checkouts/{checkout_id}")
async def get_checkout(checkout_id: CheckoutId, request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"checkout": await request.app.state.c.checkouts.view(who, checkout_id)}


@router.post("/checkouts/{checkout_id}/pay")
async def pay_checkout(checkout_id: CheckoutId, body: PayIn, request: Request,
                       who: Principal = Depends(current_user)) -> dict:
    """Pays every order of the checkout with one card; safe to retry with the same key."""
    c = request.app.state.c
    result = await c.checkouts.pay(who, checkout_id, body.payment_method, body.idempotency_key)
    return result | {"checkout": await c.checkouts.view(who, checkout_id)}


# -- the host's shop in a live room ---------------------------------------------------------------

@router.get("/rooms/{room_id}/shop")
async def room_shop(room_id: Id, request: Request) -> dict:
    """The host's shop and its products on sale, for the room's Shop panel."""
    async with request.app.state.c.sessions() as s:
        room = await s.get(Room, room_id)
        if room is None:
            raise not_found("Room")
        shop = (await s.execute(select(Shop).where(Shop.owner_id == room.host_id,
                                                   Shop.status == "approved"))).scalar_one_or_none()
        products = [] if shop is None else list((await s.execute(
            select(Product).where(Product.shop_id == shop.id, Product.status == "active",
                                  Product.stock > 0).order_by(Product.id.desc()).limit(60))).scalars())
    return {"shop": views.shop(shop, private=False) if shop else None,
            "products": [views.product(p) for p in products]}
