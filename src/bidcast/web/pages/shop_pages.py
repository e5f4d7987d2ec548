"""Shop pages: a product, a shop's storefront, the cart and the checkout.

Product and shop pages are rendered on the server (they are what search results and shared links
open); the cart and checkout are shells drawn by cart.js / checkout.js from the shop API.
"""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from ...storage.models import Product, Shop
from ..schemas import MAX_ID
from .render import page_user, render
from .routes import login_redirect

router = APIRouter(include_in_schema=False)
CONDITION_LABELS = {"new": "New", "like_new": "Like new", "used_good": "Used – good",
                    "used_fair": "Used – fair", "for_parts": "For parts"}


@router.get("/products/{product_id}", response_class=HTMLResponse)
async def product_page(request: Request, product_id: int) -> Response:
    who = await page_user(request)
    product = shop = None
    if 1 <= product_id <= MAX_ID:
        async with request.app.state.c.sessions() as s:
            product = await s.get(Product, product_id)
            shop = await s.get(Shop, product.shop_id) if product else None
    if product is None or shop is None:
        return render(request, "product.html", who, status=404, product=None)
    on_sale = product.status == "active" and shop.status == "approved"
    return render(request, "product.html", who, product=product, shop=shop, on_sale=on_sale,
                  own=who is not None and who.id == shop.owner_id,
                  condition=CONDITION_LABELS.get(product.condition, product.condition))


@router.get("/shops/{shop_id}", response_class=HTMLResponse)
async def shop_page(request: Request, shop_id: int) -> Response:
    who = await page_user(request)
    shop, products = None, []
    if 1 <= shop_id <= MAX_ID:
        async with request.app.state.c.sessions() as s:
            shop = await s.get(Shop, shop_id)
            if shop is not None and shop.status == "approved":
                products = list((await s.execute(
                    select(Product).where(Product.shop_id == shop_id, Product.status == "active")
                    .order_by(Product.id.desc()).limit(200))).scalars())
    if shop is None or shop.status != "approved":
        return render(request, "shop.html", who, status=404, shop=None)
    return render(request, "shop.html", who, shop=shop, products=products)


@router.get("/cart", response_class=HTMLResponse)
async def cart_page(request: Request) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    return render(request, "cart.html", who)


@router.get("/me/addresses", response_class=HTMLResponse)
async def addresses_page(request: Request) -> Response:
    """The address book: a shell drawn by addresses.js from /api/v1/me/addresses."""
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    return render(request, "me_addresses.html", who, tab="addresses")


@router.get("/checkout", response_class=HTMLResponse)
async def checkout_page(request: Request, product_id: int | None = None, quantity: int = 1,
                        id: str | None = None) -> Response:
    """Step 2 and 3 of checking out: the cart, one product ("buy now"), or a placed checkout
    (?id=co_…) still to be paid."""
    who = await page_user(request)
    if who is None:
        return _login_then_back(request)
    product_id = product_id if product_id and 1 <= product_id <= MAX_ID else None
    quantity = min(max(quantity, 1), 999)
    checkout_id = id if id and id.startswith("co_") and len(id) == 35 and id[3:].isalnum() else None
    return render(request, "checkout.html", who, product_id=product_id, quantity=quantity,
                  checkout_id=checkout_id)


def _login_then_back(request: Request) -> Response:
    """To the login page and back here afterwards, with the same query ("buy now" survives)."""
    response = login_redirect(request)
    if request.url.query:
        response.headers["location"] = f"/login?next={quote(request.url.path + '?' + request.url.query)}"
    return response
