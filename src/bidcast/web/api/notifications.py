"""The notification center (a person's own notifications and e-mail settings) and, mounted
from here, the second-chance offer endpoints."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, model_validator

from ...services.accounts import Principal
from ...services.notifications import NotificationCenter
from ..auth import current_user
from ..schemas import MAX_ID, In, QueryId
from . import second_chance

router = APIRouter(prefix="/api/v1", tags=["notifications"])
router.include_router(second_chance.router)

NotificationId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
KindName = Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[a-z_]+$")]


def center(request: Request) -> NotificationCenter:
    return request.app.state.c.notifications


@router.get("/me/notifications")
async def list_notifications(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                             cursor: QueryId = None, unread: bool = False,
                             who: Principal = Depends(current_user)) -> dict:
    """Newest first. Pass `next_cursor` back as `cursor` for older ones; `unread=true`: unread only."""
    return await center(request).page(who.id, limit, cursor, unread)


@router.get("/me/notifications/unread-count")
async def unread_count(request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"unread": await center(request).unread_count(who.id)}


class MarkReadIn(In):
    ids: Annotated[list[NotificationId], Field(min_length=1, max_length=200)] | None = None
    all: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> MarkReadIn:
        if (self.ids is None) == (self.all is None):
            raise ValueError("give either ids or all: true")
        return self


@router.post("/me/notifications/read")
async def mark_read(body: MarkReadIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    """Mark the given notifications (or all) read; safe to repeat. Returns the unread count."""
    return await center(request).mark_read(who.id, None if body.all else body.ids)


class SettingsIn(In):
    email_enabled: bool | None = None
    muted_kinds: Annotated[list[KindName], Field(max_length=40)] | None = None


@router.get("/me/notification-settings")
async def get_settings(request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"settings": await center(request).settings(who.id)}


@router.put("/me/notification-settings")
async def put_settings(body: SettingsIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    """E-mail on or off, and the kinds not to e-mail (in-app notifications always stay)."""
    return {"settings": await center(request).update_settings(who.id, body.email_enabled, body.muted_kinds)}
