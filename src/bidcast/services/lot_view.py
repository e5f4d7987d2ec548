"""The public view of a lot, as the live room shows it (no secret maximums)."""
from __future__ import annotations

from typing import Any

from ..domain.auction import AuctionState
from ..storage.models import Auction, Product


def ms(ts: float | None) -> int | None:
    return None if ts is None else int(ts * 1000)


def lot_public(row: Auction, st: AuctionState, product: Product | None,
               names: dict[int, str]) -> dict[str, Any]:
    def person(uid: int | None) -> dict[str, Any] | None:
        return {"id": uid, "display_name": names.get(uid, "")} if uid else None

    return {
        "id": row.id, "room_id": row.room_id, "position": row.position,
        "product": None if product is None else {
            "id": product.id, "title": product.title, "condition": product.condition,
            "category": product.category, "description": product.description,
            "image_url": (product.image_urls or [None])[0]},
        "format": row.format, "currency": row.currency, "starting_price": row.starting_price,
        "buy_now_price": row.buy_now_price, "soft_close_seconds": row.soft_close_seconds,
        "duration_seconds": row.duration_seconds,
        "reserve_price_set": row.reserve_price is not None,
        "reserve_met": None if row.reserve_price is None else (st.price or 0) >= row.reserve_price,
        "status": st.status.value, "price": st.price, "min_next_bid": st.min_next_bid(),
        "leader": person(st.leader_id), "opens_at": ms(st.opens_at), "closes_at": ms(st.closes_at),
        "bid_count": st.bid_count, "auction_seq": st.last_seq, "outcome": st.outcome.value if st.outcome else None,
        "winner": person(st.winner_id), "final_price": st.final_price,
        "final_sale": bool(row.final_sale),
    }
