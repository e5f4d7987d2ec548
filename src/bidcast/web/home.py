"""Health checks and a plain landing page until the full web app arrives."""
from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import text

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> dict:
    async with request.app.state.c.db.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ready"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request) -> HTMLResponse:
    c = request.app.state.c
    rooms = await c.rooms.list()
    running = await c.auctions.list(status="running")
    items = "".join(f"<li>{html.escape(r.title)} — {html.escape(r.status)}</li>" for r in rooms)
    lots = "".join(f"<li>Auction #{a.id}: {a.price or a.starting_price} {html.escape(a.currency)}"
                   f" ({a.bid_count} bids)</li>" for a in running)
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        "<title>Bidcast</title><h1>Bidcast</h1>"
        f"<h2>Rooms</h2><ul>{items or '<li>none yet</li>'}</ul>"
        f"<h2>Running auctions</h2><ul>{lots or '<li>none</li>'}</ul>"
        "<p>API: <a href=/docs>/docs</a> · <a href=/openapi.json>/openapi.json</a></p>")
