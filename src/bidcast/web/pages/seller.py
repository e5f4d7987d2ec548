"""Pages: the seller center (shop application, products, orders), the admin's shop review, and
a person's own pages (overview, bids, orders, notifications).

The pages render what the server knows at once (the shop's status, the product being edited,
the admin's queues); lists that change while you look (bids, orders, products) are drawn by
me.js / seller.js from the read-only /api/v1/me/... endpoints. Every change goes through the
JSON API (data-api forms or api()), never through a form post to these routes.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from ...domain.money import CURRENCY_EXPONENTS
from ...services.accounts import Principal
from ...services.catalog import CONDITIONS
from ...storage.models import Order, Product, Shop
from ..schemas import MAX_ID
from .render import page_user, render
from .routes import login_redirect

router = APIRouter(include_in_schema=False)

CONDITION_LABELS = {"new": "New", "like_new": "Like new", "used_good": "Used — good",
                    "used_fair": "Used — fair", "for_parts": "For parts"}
# The common ones first in the currency picker.
CURRENCIES = sorted(CURRENCY_EXPONENTS, key=lambda c: (c not in ("EUR", "USD", "GBP"), c))


def major_units(amount: int, currency: str) -> str:
    """Minor units as the seller types them: 1250 EUR -> "12.50", 1500 JPY -> "1500"."""
    exp = CURRENCY_EXPONENTS.get(currency, 2)
    if exp == 0:
        return str(amount)
    major, minor = divmod(amount, 10**exp)
    return f"{major}.{minor:0{exp}d}"


# -- the seller center --------------------------------------------------------------------------

@router.get("/seller", response_class=HTMLResponse)
async def seller_home(request: Request) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    c = request.app.state.c
    shop = await c.shops.of_owner(who.id)
    stats = None
    if shop is not None and shop.status == "approved":
        async with c.sessions() as s:
            active = (await s.execute(select(func.count(Product.id)).where(
                Product.shop_id == shop.id, Product.status == "active"))).scalar_one()
            unpaid = (await s.execute(select(func.count(Order.id)).where(
                Order.shop_id == shop.id, Order.status == "awaiting_payment"))).scalar_one()
            orders = (await s.execute(select(func.count(Order.id)).where(
                Order.shop_id == shop.id))).scalar_one()
        stats = {"active": active, "unpaid": unpaid, "orders": orders}
    return render(request, "seller.html", who, shop=shop, stats=stats, tab="home")


async def _approved_shop(request: Request, who: Principal) -> Shop | None:
    shop = await request.app.state.c.shops.of_owner(who.id)
    return shop if shop is not None and shop.status == "approved" else None


async def _seller_context(request: Request) -> tuple[Principal, Shop] | Response:
    """The signed-in seller and their approved shop, or where to send them instead."""
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    shop = await _approved_shop(request, who)
    if shop is None:
        return RedirectResponse("/seller", status_code=303)
    return who, shop


@router.get("/seller/products", response_class=HTMLResponse)
async def seller_products(request: Request) -> Response:
    ctx = await _seller_context(request)
    if isinstance(ctx, Response):
        return ctx
    who, shop = ctx
    return render(request, "seller_products.html", who, shop=shop, tab="products")


@router.get("/seller/products/new", response_class=HTMLResponse)
async def seller_product_new(request: Request) -> Response:
    ctx = await _seller_context(request)
    if isinstance(ctx, Response):
        return ctx
    who, shop = ctx
    return await _product_form(request, who, shop, None)


@router.get("/seller/products/{product_id}/edit", response_class=HTMLResponse)
async def seller_product_edit(request: Request, product_id: int) -> Response:
    ctx = await _seller_context(request)
    if isinstance(ctx, Response):
        return ctx
    who, shop = ctx
    product = None
    if 1 <= product_id <= MAX_ID:
        async with request.app.state.c.sessions() as s:
            product = await s.get(Product, product_id)
    if product is None or product.shop_id != shop.id:  # someone else's is as good as missing
        return render(request, "seller_missing.html", who, status=404, tab="products")
    return await _product_form(request, who, shop, product)


async def _product_form(request: Request, who: Principal, shop: Shop,
                        product: Product | None) -> Response:
    async with request.app.state.c.sessions() as s:  # suggestions for the category field
        categories = [c for (c,) in await s.execute(
            select(Product.category).distinct().order_by(Product.category).limit(200))]
    return render(request, "seller_product_form.html", who, shop=shop, product=product,
                  categories=categories,
                  price=major_units(product.price_amount, product.currency) if product else "",
                  images="\n".join(product.image_urls or []) if product else "",
                  conditions=[(c, CONDITION_LABELS.get(c, c)) for c in CONDITIONS],
                  currencies=[(c, CURRENCY_EXPONENTS[c]) for c in CURRENCIES], tab="products")


@router.get("/seller/orders", response_class=HTMLResponse)
async def seller_orders(request: Request) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    shop = await request.app.state.c.shops.of_owner(who.id)
    if shop is None or shop.status != "approved":
        return RedirectResponse("/seller", status_code=303)
    return render(request, "seller_orders.html", who, shop=shop, tab="orders")


# -- the admin's shop review ---------------------------------------------------------------------

REVIEWED_SHOWN = 100  # the most recently reviewed shops listed under approved / rejected

@router.get("/admin/shops", response_class=HTMLResponse)
async def admin_shops(request: Request) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    if not who.has("admin"):
        return render(request, "admin_forbidden.html", who, status=403)
    c = request.app.state.c
    shops = await c.shops.list()
    owners = await c.accounts.display_names({s.owner_id for s in shops})
    by_status: dict[str, list[Shop]] = {"pending": [], "approved": [], "rejected": []}
    for s in shops:
        by_status.setdefault(s.status, []).append(s)
    # Oldest applications first (they have waited longest); reviewed ones newest first.
    for status in ("approved", "rejected"):
        by_status[status].sort(key=lambda s: (s.reviewed_at or s.created_at), reverse=True)
    return render(request, "admin_shops.html", who, pending=by_status["pending"],
                  approved=by_status["approved"], rejected=by_status["rejected"], owners=owners,
                  shown=REVIEWED_SHOWN)


# -- a person's own pages ------------------------------------------------------------------------

ME_PAGES = {"": ("me.html", "home"), "/bids": ("me_bids.html", "bids"),
            "/orders": ("me_orders.html", "orders"),
            "/notifications": ("me_notifications.html", "notifications")}


def _me_page(suffix: str):  # noqa: ANN202
    template, tab = ME_PAGES[suffix]

    async def page(request: Request) -> Response:
        who = await page_user(request)
        if who is None:
            return login_redirect(request)
        return render(request, template, who, tab=tab)
    page.__name__ = f"me_{tab}"
    return page


for _suffix in ME_PAGES:
    router.add_api_route(f"/me{_suffix}", _me_page(_suffix), methods=["GET"],
                         response_class=HTMLResponse)
