"""How resources look in the API. A leader's maximum is shown to the leader alone."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from ..domain.auction import AuctionState
from ..services.accounts import Principal
from ..services.bid_results import BidResult
from ..storage.auction_store import to_dt
from ..storage.models import Auction, Bid, Order, Product, Room, Shop


def iso(dt: datetime | float | None) -> str | None:
    if dt is None:
        return None
    if isinstance(dt, (int, float)):
        dt = to_dt(dt)
    return dt.isoformat().replace("+00:00", "Z")  # type: ignore[union-attr]


def user(p: Principal, *, private: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": p.id, "display_name": p.display_name}
    if private:
        out |= {"email": p.email, "roles": sorted(p.roles), "banned": p.banned}
    return out


def shop(s: Shop, *, private: bool = True) -> dict[str, Any]:
    out = {"id": s.id, "owner_id": s.owner_id, "name": s.name, "description": s.description,
           "status": s.status, "created_at": iso(s.created_at)}
    if private:
        out |= {"contact_email": s.contact_email, "review_reason": s.review_reason,
                "reviewed_at": iso(s.reviewed_at)}
    return out


def product(p: Product) -> dict[str, Any]:
    return {"id": p.id, "shop_id": p.shop_id, "title": p.title, "description": p.description,
            "image_urls": p.image_urls, "category": p.category, "condition": p.condition,
            "sku": p.sku, "price": {"amount": p.price_amount, "currency": p.currency},
            "stock": p.stock, "status": p.status, "updated_at": iso(p.updated_at)}


def room(r: Room) -> dict[str, Any]:
    return {"id": r.id, "host_id": r.host_id, "title": r.title, "cover_url": r.cover_url,
            "playback_url": r.playback_url, "scheduled_at": iso(r.scheduled_at), "status": r.status,
            "started_at": iso(r.started_at), "ended_at": iso(r.ended_at),
            "current_auction_id": r.current_auction_id,
            "payment_window_seconds": r.payment_window_seconds}


def auction(row: Auction, st: AuctionState, viewer: Principal | None,
            names: dict[int, str]) -> dict[str, Any]:
    mine = viewer is not None and viewer.id == st.leader_id
    return {
        "id": row.id, "room_id": row.room_id, "position": row.position, "product_id": row.product_id,
        "shop_id": row.shop_id, "seller_id": row.seller_id, "host_id": row.host_id,
        "format": row.format, "currency": row.currency, "starting_price": row.starting_price,
        "reserve_price_set": row.reserve_price is not None,
        "reserve_met": None if row.reserve_price is None else (st.price or 0) >= row.reserve_price,
        "buy_now_price": row.buy_now_price, "soft_close_seconds": row.soft_close_seconds,
        "duration_seconds": row.duration_seconds, "increments": st.rules.ladder.as_list(),
        "status": st.status.value, "opens_at": iso(st.opens_at), "closes_at": iso(st.closes_at),
        "price": st.price, "min_next_bid": st.min_next_bid(), "bid_count": st.bid_count,
        "last_seq": st.last_seq,
        "leader": ({"id": st.leader_id, "display_name": names.get(st.leader_id, "")}
                   if st.leader_id else None),
        "your_max": st.leader_max if mine else None,
        "outcome": st.outcome.value if st.outcome else None,
        "winner_id": st.winner_id, "final_price": st.final_price,
        "final_sale": bool(row.final_sale),
        "server_time": iso(time.time()),
    }


def bid_result(r: BidResult, bidder_id: int) -> dict[str, Any]:
    if r.accepted:
        return {"status": "accepted", "auction_id": r.auction_id, "seq": r.seq, "kind": r.kind,
                "value": r.value, "price": r.price, "leader_id": r.leader_id,
                "leading": r.leader_id == bidder_id,
                "closes_at": iso(r.closes_at), "extended": r.extended, "replayed": r.replayed}
    return {"error": {"code": r.code, "message": r.message, "min_next_bid": r.min_next,
                      "auction_id": r.auction_id, "replayed": r.replayed}}


def bid(b: Bid, names: dict[int, str]) -> dict[str, Any]:
    return {"seq": b.seq, "bidder": {"id": b.bidder_id, "display_name": names.get(b.bidder_id, "")},
            "price": b.price_after, "leader_id": b.leader_after, "at": iso(b.created_at)}


def order(o: Order) -> dict[str, Any]:
    return {"id": o.id, "buyer_id": o.buyer_id, "seller_id": o.seller_id, "shop_id": o.shop_id,
            "product_id": o.product_id, "auction_id": o.auction_id,
            "total": {"amount": o.amount, "currency": o.currency}, "status": o.status,
            "created_at": iso(o.created_at), "pay_by": iso(o.pay_by), "paid_at": iso(o.paid_at),
            "cancel_reason": o.cancel_reason}
