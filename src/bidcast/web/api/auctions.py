from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from ...errors import AppError
from ...services.accounts import Principal
from ...storage.auction_store import state_of
from ...storage.models import Auction
from .. import views
from ..auth import current_user, optional_user
from ..schemas import BidIn, BuyNowIn, Id, QueryId, TimedAuctionIn

router = APIRouter(prefix="/api/v1", tags=["auctions"])


async def auction_views(request: Request, rows: list[Auction], viewer: Principal | None) -> list[dict]:
    c = request.app.state.c
    states = [state_of(r) for r in rows]  # committed state, the same on every process
    names = await c.accounts.display_names({s.leader_id for s in states if s.leader_id})
    return [views.auction(r, s, viewer, names) for r, s in zip(rows, states, strict=True)]


def _key(body_key: str | None, header_key: str | None) -> str:
    key = body_key or header_key
    if not key:
        raise AppError(422, "idempotency_key_required",
                       "Send an idempotency_key (or Idempotency-Key header) so a retry never bids twice.")
    if len(key) > 64:
        raise AppError(422, "validation_failed", "The idempotency key is at most 64 characters.")
    return key


@router.post("/auctions", status_code=201)
async def create_timed(body: TimedAuctionIn, request: Request,
                       who: Principal = Depends(current_user)) -> dict:
    from .rooms import lot_settings
    settings = lot_settings(body, request)
    if body.duration_seconds is None:
        raise AppError(422, "validation_failed", "duration_seconds: a timed auction needs a duration")
    auction = await request.app.state.c.rooms.create_timed(who, settings, body.opens_at)
    return {"auction": (await auction_views(request, [auction], who))[0]}


@router.get("/auctions")
async def list_auctions(request: Request, status: str | None = None, room_id: QueryId = None,
                        viewer: Principal | None = Depends(optional_user)) -> dict:
    rows = await request.app.state.c.auctions.list(status, room_id)
    return {"auctions": await auction_views(request, rows, viewer)}


@router.get("/auctions/{auction_id}")
async def get_auction(auction_id: Id, request: Request,
                      viewer: Principal | None = Depends(optional_user)) -> dict:
    row, _ = await request.app.state.c.auctions.get(auction_id)
    return {"auction": (await auction_views(request, [row], viewer))[0]}


@router.get("/auctions/{auction_id}/bids")
async def list_bids(auction_id: Id, request: Request, after_seq: int = Query(0, ge=0),
                    limit: int = Query(100, ge=1, le=1000)) -> dict:
    c = request.app.state.c
    bids = await c.auctions.bids(auction_id, after_seq, limit)
    names = await c.accounts.display_names({b.bidder_id for b in bids})
    return {"bids": [views.bid(b, names) for b in bids]}


@router.post("/auctions/{auction_id}/bids", status_code=201,
             responses={409: {"description": "Bid rejected (too_low, auction_closed, ...)"}})
async def place_bid(auction_id: Id, body: BidIn, request: Request,
                    who: Principal = Depends(current_user),
                    idempotency_key: str | None = Header(None)) -> JSONResponse:
    c = request.app.state.c
    key = _key(body.idempotency_key, idempotency_key)
    row_currency = await _currency(request, auction_id)
    if body.currency is not None and body.currency != row_currency:
        raise AppError(422, "wrong_currency", f"This auction is in {row_currency}.")
    kind, value = ("max", body.max_amount) if body.max_amount is not None else ("direct", body.amount)
    assert value is not None
    res = await c.bidding.place(auction_id, who, kind, value, key)
    return JSONResponse(views.bid_result(res, who.id), status_code=res.http_status)


@router.post("/auctions/{auction_id}/buy-now", status_code=201)
async def buy_now(auction_id: Id, request: Request, body: BuyNowIn | None = None,
                  who: Principal = Depends(current_user),
                  idempotency_key: str | None = Header(None)) -> JSONResponse:
    c = request.app.state.c
    key = _key(body.idempotency_key if body else None, idempotency_key)
    row, _ = await c.auctions.get(auction_id)
    if row.buy_now_price is None:
        raise AppError(409, "no_buy_now", "This lot has no buy-now price.")
    res = await c.bidding.place(auction_id, who, "buy_now", row.buy_now_price, key)
    return JSONResponse(views.bid_result(res, who.id), status_code=res.http_status)


async def _currency(request: Request, auction_id: int) -> str:
    c = request.app.state.c
    live = c.engine.live_state(auction_id)
    if live is not None:
        return live.rules.currency
    row, _ = await c.auctions.get(auction_id)
    return row.currency
