"""Turns the auction writer's events into room events, plus the personal notices they imply."""
from __future__ import annotations

from typing import Any

from .broker import Broker


def auction_events_to_room(broker: Broker):  # noqa: ANN201
    def sink(room_id: int | None, events: list[dict[str, Any]]) -> None:
        if room_id is None:
            return
        for event in events:
            data = {k: v for k, v in event.items() if k != "type"}
            broker.publish(room_id, event["type"], data)
            kind = event["type"]
            if kind == "bid.accepted" and event.get("outbid_id") and event["outbid_id"] != event["leader"]["id"]:
                broker.publish(room_id, "notice", {
                    "kind": "outbid", "auction_id": event["auction_id"], "price": event["price"],
                    "min_next_bid": event["min_next_bid"],
                    "message": "You were outbid."}, to_user=event["outbid_id"])
            elif kind == "auction.closed" and event.get("winner"):
                broker.publish(room_id, "notice", {
                    "kind": "won", "auction_id": event["auction_id"], "price": event["price"],
                    "order_id": event.get("order_id"),
                    "message": "You won — pay now to secure your item."}, to_user=event["winner"]["id"])
    return sink
