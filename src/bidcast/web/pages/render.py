"""Server-rendered pages: Jinja2 templates with autoescaping and strict security headers."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature

from ...services.accounts import Principal
from ..auth import CSRF_COOKIE, SESSION_COOKIE

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.autoescape = True

# No inline scripts or styles anywhere: every script is a same-origin module.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
       "media-src 'self' blob: https:; worker-src 'self' blob:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}


async def page_user(request: Request) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        token = request.app.state.signer.unsign(cookie).decode()
    except BadSignature:
        return None
    return await request.app.state.c.accounts.authenticate(token)


def render(request: Request, name: str, who: Principal | None, status: int = 200,
           **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"me": who, **context}, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    if not request.cookies.get(CSRF_COOKIE):
        # Pages' scripts echo this cookie in X-CSRF-Token; set it before anyone logs in.
        import secrets
        response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), samesite="strict",
                            secure=request.url.scheme == "https")
    return response


def money(amount: int | None, currency: str = "EUR") -> str:
    if amount is None:
        return "—"
    if currency in ("JPY", "KRW"):
        return f"{amount:,} {currency}"
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency)
    major, minor = divmod(amount, 100)
    text = f"{major:,}.{minor:02d}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


templates.env.filters["money"] = money
