"""Pages: the live room a viewer watches and bids in, and the host's console.

The pages render a shell (room title, who you are, where the stream is); everything live arrives
over the room's WebSocket (docs/protocol.md) and is drawn by room.js / host.js.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from ...storage.models import Room
from ..schemas import MAX_ID
from .render import HERE, page_user, render
from .routes import login_redirect

router = APIRouter(include_in_schema=False)

HLS_JS_URL = "/static/vendor/hls.min.js"


def hls_js_url(request: Request) -> str | None:
    """hls.js's URL when it is installed (it is optional), so the page never asks for a 404."""
    candidates = [HERE / "static" / "vendor" / "hls.min.js"]
    hls_dir = getattr(request.app.state.c.settings, "hls_js_dir", None)
    if hls_dir:
        candidates.append(Path(hls_dir) / "hls.min.js")
    return HLS_JS_URL if any(p.is_file() for p in candidates) else None


async def _room(request: Request, room_id: int) -> Room | None:
    if not 1 <= room_id <= MAX_ID:
        return None
    async with request.app.state.c.sessions() as s:
        return await s.get(Room, room_id)


@router.get("/rooms/{room_id}", response_class=HTMLResponse)
async def room_page(request: Request, room_id: int) -> Response:
    who = await page_user(request)
    room = await _room(request, room_id)
    if room is None:
        return render(request, "room.html", who, status=404, room=None)
    is_host = who is not None and (who.id == room.host_id or who.has("admin"))
    return render(request, "room.html", who, room=room, is_host=is_host,
                  hls_js=hls_js_url(request) if room.playback_url else None)


@router.get("/host", response_class=HTMLResponse)
async def host_home(request: Request) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    async with request.app.state.c.sessions() as s:
        rooms = list((await s.execute(
            select(Room).where(Room.host_id == who.id).order_by(Room.scheduled_at.desc()).limit(200))).scalars())
    # Live first, then upcoming (soonest first), then past shows (latest first).
    rank = {"live": 0, "scheduled": 1}
    rooms.sort(key=lambda r: (rank.get(r.status, 2),
                              r.scheduled_at.timestamp() * (1 if r.status == "scheduled" else -1)))
    can_host = who.has("host") or who.has("seller") or who.has("admin")
    default_window_h = max(1, round(request.app.state.c.settings.payment_window_seconds / 3600))
    return render(request, "host.html", who, rooms=rooms, can_host=can_host,
                  default_window_h=default_window_h)


@router.get("/host/rooms/{room_id}", response_class=HTMLResponse)
async def host_room(request: Request, room_id: int) -> Response:
    who = await page_user(request)
    if who is None:
        return login_redirect(request)
    room = await _room(request, room_id)
    if room is None:
        return render(request, "host_room.html", who, status=404, room=None, problem="missing")
    if room.host_id != who.id and not who.has("admin"):
        return render(request, "host_room.html", who, status=403, room=None, problem="forbidden")
    return render(request, "host_room.html", who, room=room, problem=None)
