from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from ...services.accounts import Principal
from ..auth import current_user
from ..schemas import Id, In

router = APIRouter(prefix="/api/v1", tags=["chat"])


class ChatIn(In):
    text: Annotated[str, Field(max_length=2000)]


class ModerationIn(In):
    user_id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    action: Literal["mute", "unmute", "ban", "unban"]


class SlowModeIn(In):
    seconds: Annotated[int, Field(ge=0, le=600)]


@router.post("/rooms/{room_id}/chat", status_code=201)
async def post(room_id: Id, body: ChatIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"message": await request.app.state.c.chat.post(room_id, who, body.text)}


@router.delete("/rooms/{room_id}/chat/{message_id}", status_code=204)
async def delete(room_id: Id, message_id: Id, request: Request,
                 who: Principal = Depends(current_user)) -> None:
    await request.app.state.c.chat.delete(room_id, who, message_id)


@router.post("/rooms/{room_id}/moderation")
async def moderate(room_id: Id, body: ModerationIn, request: Request,
                   who: Principal = Depends(current_user)) -> dict:
    await request.app.state.c.chat.restrict(room_id, who, body.user_id, body.action)
    return {"room_id": room_id, "user_id": body.user_id, "action": body.action}


@router.put("/rooms/{room_id}/slow-mode")
async def slow_mode(room_id: Id, body: SlowModeIn, request: Request,
                    who: Principal = Depends(current_user)) -> dict:
    await request.app.state.c.chat.set_slow_mode(room_id, who, body.seconds)
    return {"room_id": room_id, "slow_mode_seconds": body.seconds}
