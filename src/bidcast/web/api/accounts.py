from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from ...services.accounts import Principal
from .. import views
from ..auth import clear_session_cookies, current_user, set_session_cookies, token_of
from ..schemas import LoginIn, RegisterIn

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/auth/register", status_code=201)
async def register(body: RegisterIn, request: Request) -> dict:
    who = await request.app.state.c.accounts.register(body.email, body.password, body.display_name,
                                                      set(body.roles))
    return {"user": views.user(who)}


@router.post("/auth/login")
async def login(body: LoginIn, request: Request, response: Response) -> dict:
    token, who = await request.app.state.c.accounts.login(body.email, body.password)
    csrf = set_session_cookies(request, response, token)
    return {"token": token, "token_type": "bearer", "csrf_token": csrf, "user": views.user(who)}


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, response: Response,
                 _: Principal = Depends(current_user)) -> Response:
    token, _cookie = token_of(request)
    if token:
        await request.app.state.c.accounts.logout(token)
    clear_session_cookies(response)
    response.status_code = 204
    return response


@router.get("/me")
async def me(who: Principal = Depends(current_user)) -> dict:
    return {"user": views.user(who)}
