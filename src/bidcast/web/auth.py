"""Who is asking: a bearer token (API clients) or a signed session cookie (pages, with CSRF)."""
from __future__ import annotations

import hmac
import secrets

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, Signer

from ..errors import AppError
from ..services.accounts import Principal

SESSION_COOKIE = "bidcast_session"
CSRF_COOKIE = "bidcast_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def signer(request: Request) -> Signer:
    return request.app.state.signer


def token_of(request: Request) -> tuple[str | None, bool]:
    """The presented token and whether it came from the cookie."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            return signer(request).unsign(cookie).decode(), True
        except BadSignature:
            return None, True
    return None, False


async def optional_user(request: Request) -> Principal | None:
    token, from_cookie = token_of(request)
    if not token:
        return None
    who = await request.app.state.c.accounts.authenticate(token)
    if who is None:
        raise AppError(401, "invalid_token", "Your session has expired; log in again.")
    if from_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise AppError(403, "csrf_failed", "Missing or wrong CSRF token.")
    return who


async def current_user(who: Principal | None = Depends(optional_user)) -> Principal:
    if who is None:
        raise AppError(401, "unauthenticated", "Log in first.")
    return who


async def admin_user(who: Principal = Depends(current_user)) -> Principal:
    if not who.has("admin"):
        raise AppError(403, "forbidden", "Admins only.")
    return who


def set_session_cookies(request: Request, response: Response, token: str) -> str:
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, signer(request).sign(token).decode(), httponly=True,
                        samesite="lax", secure=secure, max_age=14 * 24 * 3600)
    csrf = secrets.token_urlsafe(24)
    # Readable by the page's scripts on purpose: they echo it in the X-CSRF-Token header.
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="strict", secure=secure,
                        max_age=14 * 24 * 3600)
    return csrf


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
