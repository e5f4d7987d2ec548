from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...services.accounts import Principal
from ...services.rooms import LotSettings
from .. import views
from ..auth import current_user, optional_user
from ..schemas import Id, LotIn, ReorderIn, RoomIn, StartLotIn
from .auctions import auction_views

router = APIRouter(prefix="/api/v1", tags=["rooms"])


def lot_settings(body: LotIn, request: Request) -> LotSettings:
    s = request.app.state.c.settings
    return LotSettings(
        product_id=body.product_id, starting_price=body.starting_price, format=body.format,
        reserve_price=body.reserve_price, buy_now_price=body.buy_now_price,
        duration_seconds=body.duration_seconds or s.lot_duration_seconds,
        soft_close_seconds=(s.soft_close_seconds if body.soft_close_seconds is None
                            else body.soft_close_seconds),
        increments=[list(b) for b in body.increments] if body.increments else None,
        final_sale=body.final_sale)


@router.post("/rooms", status_code=201)
async def schedule(body: RoomIn, request: Request, who: Principal = Depends(current_user)) -> dict:
    room = await request.app.state.c.rooms.schedule(
        who, body.title, body.scheduled_at, str(body.cover_url) if body.cover_url else None,
        str(body.playback_url) if body.playback_url else None, body.payment_window_seconds)
    return {"room": views.room(room)}


@router.get("/rooms")
async def list_rooms(request: Request, status: str | None = None) -> dict:
    return {"rooms": [views.room(r) for r in await request.app.state.c.rooms.list(status)]}


@router.get("/rooms/{room_id}")
async def get_room(room_id: Id, request: Request,
                   viewer: Principal | None = Depends(optional_user)) -> dict:
    c = request.app.state.c
    room = await c.rooms.get(room_id)
    lineup = await c.rooms.lineup(room_id)
    return {"room": views.room(room), "lineup": await auction_views(request, lineup, viewer)}


@router.post("/rooms/{room_id}/go-live")
async def go_live(room_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"room": views.room(await request.app.state.c.rooms.set_status(who, room_id, "go_live"))}


@router.post("/rooms/{room_id}/end")
async def end(room_id: Id, request: Request, who: Principal = Depends(current_user)) -> dict:
    return {"room": views.room(await request.app.state.c.rooms.set_status(who, room_id, "end"))}


@router.post("/rooms/{room_id}/lots", status_code=201)
async def add_lot(room_id: Id, body: LotIn, request: Request,
                  who: Principal = Depends(current_user)) -> dict:
    lot = await request.app.state.c.rooms.add_lot(who, room_id, lot_settings(body, request))
    return {"lot": (await auction_views(request, [lot], who))[0]}


@router.put("/rooms/{room_id}/lineup")
async def reorder(room_id: Id, body: ReorderIn, request: Request,
                  who: Principal = Depends(current_user)) -> dict:
    lineup = await request.app.state.c.rooms.reorder(who, room_id, body.lot_ids)
    return {"lineup": await auction_views(request, lineup, who)}


@router.post("/rooms/{room_id}/lots/start-next")
async def start_next(room_id: Id, request: Request, body: StartLotIn | None = None,
                     who: Principal = Depends(current_user)) -> dict:
    body = body or StartLotIn()
    overrides = body.model_dump(exclude_none=True, exclude={"lot_id"})
    lot = await request.app.state.c.rooms.start_next(who, room_id, body.lot_id, overrides)
    return {"lot": (await auction_views(request, [lot], who))[0]}
