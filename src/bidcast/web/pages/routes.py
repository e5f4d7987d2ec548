"""Pages a person opens: discover, log in, sign up (the rest lives in their own modules)."""
from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from ...storage.models import Auction, Product, Room
from .render import page_user, render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def discover(request: Request, q: str | None = None, category: str | None = None) -> HTMLResponse:
    c = request.app.state.c
    who = await page_user(request)
    q = (q or "").strip()[:100] or None
    category = (category or "").strip()[:40] or None
    async with c.sessions() as s:
        live = (await s.execute(select(Room).where(Room.status == "live").order_by(Room.started_at.desc())
                                .limit(24))).scalars().all()
        soon = (await s.execute(select(Room).where(Room.status == "scheduled").order_by(Room.scheduled_at)
                                .limit(12))).scalars().all()
        sold = (await s.execute(select(Auction, Product).join(Product, Product.id == Auction.product_id)
                                .where(Auction.outcome == "sold").order_by(Auction.closed_at.desc())
                                .limit(12))).all()
        current_ids = [r.current_auction_id for r in live if r.current_auction_id]
        current = {}
        if current_ids:
            rows = (await s.execute(select(Auction, Product).join(Product, Product.id == Auction.product_id)
                                    .where(Auction.id.in_(current_ids)))).all()
            current = {a.id: (a, p) for a, p in rows}
        categories = [r for (r,) in await s.execute(select(Product.category).distinct()
                                                     .order_by(Product.category))]
    found = await c.catalog.search(q, category, limit=24) if (q or category) else None
    return render(request, "discover.html", who, live=live, soon=soon, sold=sold, current=current,
                  found=found, q=q or "", category=category or "", categories=categories)


@router.get("/login", response_class=HTMLResponse)
async def login(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", await page_user(request), next=_safe_next(next))


@router.get("/register", response_class=HTMLResponse)
async def register(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "register.html", await page_user(request), next=_safe_next(next))


def _safe_next(target: str) -> str:
    """Only a plain path on this site: never an open redirect (`//x`, `/\\x`, tabs, schemes)."""
    if (not target.startswith("/") or "\\" in target or "{" in target
            or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    return target


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
