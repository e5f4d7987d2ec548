"""Pages: the buyer's return request for one order (then its status and history), the seller's
returns to answer, and the admin's disputes to decide.

Shells rendered by the server (who may see them, what the order allows); static/returns.js draws
the lists and makes every change through the JSON API (docs/returns.md). Deadlines are counted
against the server's clock, which the page carries in `data-server-now`.
"""
from __future__ import annotations

import time
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from ...domain import returns as rules
from ...errors import AppError
from ...storage.models import ReturnRequest, utcnow
from ...storage.payment_store import captured_payment
from ..schemas import MAX_ID
from .render import page_user, render
from .routes import login_redirect
from .seller import _seller_context

router = APIRouter(include_in_schema=False)

REASONS = [("damaged", "Arrived damaged"), ("not_as_described", "Not as described"),
           ("wrong_item", "Wrong item sent"), ("missing_parts", "Parts or accessories missing"),
           ("changed_mind", "No longer needed"), ("other", "Other")]
STATUSES = [("requested", "to answer"), ("approved", "approved"), ("auto_approved", "approved automatically"),
            ("rejected", "rejected"), ("disputed", "disputed"), ("resolved", "dispute rejected"),
            ("refunded", "refunded")]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _why_not(order, window_s: float) -> str | None:
    """Why this order cannot be returned now (None: it can), in the buyer's words."""
    try:
        rules.check_eligible(order.status, order.delivered_at.timestamp() if order.delivered_at else None,
                             utcnow().timestamp(), window_s, order.final_sale)
    except rules.ReturnError as e:
        return e.message
    return None


@router.get("/orders/{order_id}/return", response_class=HTMLResponse)
async def return_page(request: Request, order_id: int) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    c = request.app.state.c
    try:
        if not 1 <= order_id <= MAX_ID:
            raise AppError(404, "not_found", "Order not found.")
        order = await c.orders.get(who, order_id)
    except AppError:
        return render(request, "order_missing.html", who, status=404)
    async with c.sessions() as s:
        existing = (await s.execute(select(ReturnRequest.id).where(
            ReturnRequest.order_id == order_id))).scalar_one_or_none()
        payment = await captured_payment(s, order_id)
    refundable = max(0, (payment.captured if payment else 0) - (order.refunded_amount or 0))
    window_ends = ((order.delivered_at + timedelta(seconds=c.returns.window_s)).isoformat()
                   if order.delivered_at else None)
    role = "buyer" if who.id == order.buyer_id else "seller" if who.id == order.seller_id else "admin"
    return render(request, "return_request.html", who, order=order, order_id=order_id, role=role,
                  has_return=existing is not None, why_not=_why_not(order, c.returns.window_s),
                  refundable=refundable, window_ends=window_ends, reasons=REASONS,
                  max_photos=rules.MAX_PHOTOS, reply_hours=c.settings.return_reply_hours,
                  server_now=_now_ms())


@router.get("/seller/returns", response_class=HTMLResponse)
async def seller_returns(request: Request, status: str | None = None) -> Response:
    ctx = await _seller_context(request)
    if isinstance(ctx, Response):
        return ctx
    who, shop = ctx
    reply_h = request.app.state.c.settings.return_reply_hours
    return render(request, "seller_returns.html", who, shop=shop, tab="returns", statuses=STATUSES,
                  selected=status if status in dict(STATUSES) else "", reply_hours=reply_h,
                  server_now=_now_ms())


@router.get("/admin/returns", response_class=HTMLResponse)
async def admin_returns(request: Request, status: str | None = None) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    if not who.has("admin"):
        return render(request, "admin_forbidden.html", who, status=403)
    shown = [s for s in STATUSES if s[0] in ("disputed", "resolved", "refunded")]
    return render(request, "admin_returns.html", who, statuses=shown,
                  selected=status if status in dict(shown) else "disputed", server_now=_now_ms())
