"""A winner who does not pay in time loses the order, and the unit goes back on sale."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from .api import ADMIN_EMAIL, PASSWORD, Api
from .servers import Server


@pytest.fixture
def short_deadline_server(tmp_path: Path):
    server = Server(f"sqlite:///{tmp_path / 'b.db'}", tmp_path, extra_env={
        "BIDCAST_PAYMENT_WINDOW_SECONDS": "9", "BIDCAST_DEADLINE_SWEEP_SECONDS": "0.5"})
    server.migrate()
    server.create_admin(ADMIN_EMAIL, PASSWORD)
    yield server.start()
    server.stop()


def test_an_unpaid_win_is_cancelled_with_a_strike_and_a_paid_one_is_kept(short_deadline_server: Server) -> None:
    api = Api(short_deadline_server.url)
    seller, slow, quick = api.seller(), api.user("slow"), api.user("quick")
    product_stock = []
    for buyer in (slow, quick):
        lot = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0)  # 9 s to pay
        assert api.bid(buyer, lot["id"], amount=500).status_code == 201
        api.wait_closed(lot["id"], timeout=15)
        product_stock.append(lot["product_id"])
    (paid,) = api.orders(quick)
    r = api.http.post(f"/api/v1/orders/{paid['id']}/pay", headers=quick.headers,
                      json={"payment_method": "4242424242424242", "idempotency_key": "pay-1"})
    assert r.status_code == 200, r.text
    (unpaid,) = api.orders(slow)
    assert unpaid["status"] == "awaiting_payment" and unpaid["pay_by"]
    stock_before = api.http.get(f"/api/v1/products/{product_stock[0]}").json()["product"]["stock"]

    deadline = time.monotonic() + 15
    while api.orders(slow)[0]["status"] == "awaiting_payment" and time.monotonic() < deadline:
        time.sleep(0.3)
    order = api.http.get(f"/api/v1/orders/{unpaid['id']}", headers=slow.headers).json()["order"]
    assert order["status"] == "cancelled" and order["cancel_reason"] == "not paid in time"
    assert [e["kind"] for e in order["events"]] == ["created", "cancelled"]
    assert "strike 1" in order["events"][-1]["detail"]
    assert api.http.get(f"/api/v1/products/{product_stock[0]}").json()["product"]["stock"] == stock_before + 1
    assert api.orders(quick)[0]["status"] == "paid"
    api.close()


def test_a_show_sets_its_own_payment_window(api: Api) -> None:
    seller, buyer = api.seller(), api.user("winner")
    r = api.http.post("/api/v1/rooms", headers=seller.headers, json={
        "title": "Too short", "scheduled_at": "2030-01-01T10:00:00Z", "payment_window_seconds": 60})
    assert r.status_code == 422  # under an hour is no fair chance to pay
    lot = api.live_lot(seller, room_fields={"payment_window_seconds": 2 * 3600},
                       duration_seconds=5, soft_close_seconds=0)
    assert api.bid(buyer, lot["id"], amount=300).status_code == 201
    closed = api.wait_closed(lot["id"], timeout=15)
    (order,) = api.orders(buyer)
    from datetime import datetime
    window = (datetime.fromisoformat(order["pay_by"]) - datetime.fromisoformat(closed["closes_at"]))
    assert abs(window.total_seconds() - 2 * 3600) < 5, (order["pay_by"], closed["closes_at"])
    detail = api.http.get(f"/api/v1/orders/{order['id']}", headers=buyer.headers).json()["order"]
    assert "pay within 2 h" in detail["events"][0]["detail"]
