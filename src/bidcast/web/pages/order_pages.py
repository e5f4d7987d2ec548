"""Pages: one order (for its buyer and its seller) and the seller's balance and payouts.

Shells rendered by the server; static/orders.js draws them from /api/v1 and makes every change
through the JSON API. The seller's order list is /seller/orders (seller.py) and the buyer's
/me/orders, both drawn by orders.js too.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...domain.money import CURRENCY_EXPONENTS
from ...errors import AppError
from ..schemas import MAX_ID
from .render import page_user, render
from .routes import login_redirect

router = APIRouter(include_in_schema=False)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: int) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    try:
        if not 1 <= order_id <= MAX_ID:
            raise AppError(404, "not_found", "Order not found.")
        order = await request.app.state.c.orders.get(who, order_id)
    except AppError:
        return render(request, "order_missing.html", who, status=404)
    seller = who.id == order.seller_id
    return render(request, "order_detail.html", who, order_id=order_id,
                  back="/seller/orders" if seller else "/me/orders",
                  back_text="Shop orders" if seller else "Your orders")


@router.get("/seller/balance", response_class=HTMLResponse)
async def seller_balance(request: Request) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    c = request.app.state.c
    shop = await c.shops.of_owner(who.id)
    if shop is None or shop.status != "approved":
        return RedirectResponse("/seller", status_code=303)
    st = c.settings
    hold = (f"{st.funds_hold_seconds:g} seconds" if st.funds_hold_seconds is not None
            else f"{st.funds_hold_days} days")
    first = st.default_currency
    currencies = [first] + sorted(cur for cur in CURRENCY_EXPONENTS if cur != first)
    return render(request, "seller_balance.html", who, shop=shop, tab="balance", hold=hold,
                  currencies=currencies)
