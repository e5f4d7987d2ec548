"""How a flash sale looks to the room: the API's view, the snapshot's entry and the events."""
from __future__ import annotations

import time
from typing import Any

from ..domain.flash_sale import state_label
from ..storage.flash_store import terms_of
from ..storage.models import FlashSale


def ms(dt) -> int:
    return int(dt.timestamp() * 1000)


def sale_public(sale: FlashSale, image_url: str | None = None) -> dict[str, Any]:
    """Times are the server's clock in epoch milliseconds (docs/protocol.md)."""
    ended = sale.status != "running"
    return {"id": sale.id, "room_id": sale.room_id, "product_id": sale.product_id,
            "title": sale.title, "image_url": image_url, "currency": sale.currency,
            "sale_price": sale.sale_price, "regular_price": sale.regular_price,
            "quantity": sale.quantity, "sold": sale.sold,
            "left": 0 if ended else max(0, sale.quantity - sale.sold),
            "per_buyer_limit": sale.per_buyer_limit, "starts_at": ms(sale.starts_at),
            "ends_at": ms(sale.ends_at), "ended_at": ms(sale.ended_at) if sale.ended_at else None,
            "returned": sale.returned, "version": sale.version,
            "state": state_label(terms_of(sale), ended, sale.sold, time.time())}


def stock_event(sale_id: int, quantity: int, sold: int, version: int) -> dict[str, Any]:
    left = max(0, quantity - sold)
    return {"sale_id": sale_id, "sold": sold, "left": left, "quantity": quantity,
            "version": version, "state": "sold_out" if left == 0 else "running"}


async def current_flash(s, room_id: int) -> dict[str, Any] | None:
    """The room's latest flash sale, for the room's snapshot (None when it never had one)."""
    from sqlalchemy import select
    sale = (await s.execute(select(FlashSale).where(FlashSale.room_id == room_id)
                            .order_by(FlashSale.id.desc()).limit(1))).scalar_one_or_none()
    return sale_public(sale) if sale is not None else None
