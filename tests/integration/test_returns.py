"""Returns over the API: deliver → request → approve/reject → dispute → admin; refunds in the ledger."""
from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from bidcast.payments.webhooks import sign

from .api import ADMIN_EMAIL, PASSWORD, Api, User, error_code, key
from .conftest import UNTHROTTLED, database_url
from .servers import Server

CARRIER_SECRET = "carrier-test-secret"
REPLY_S = 4


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def rserver(request, tmp_path_factory):
    url = database_url(request.param, request, tmp_path_factory)
    srv = Server(url, tmp_path_factory.mktemp(f"returns-{request.param}"), extra_env=UNTHROTTLED | {
        "BIDCAST_CARRIER_WEBHOOK_SECRET": CARRIER_SECRET, "BIDCAST_RETURN_REPLY_SECONDS": str(REPLY_S),
        "BIDCAST_RETURNS_SWEEP_SECONDS": "0.5"})
    srv.migrate()
    srv.create_admin(ADMIN_EMAIL, PASSWORD)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def rapi(rserver: Server):
    client = Api(rserver.url)
    yield client
    client.close()


def delivered_order(api: Api, final_sale: bool = False) -> tuple[User, User, dict]:
    """Won, paid, shipped and delivered through the public endpoints (carrier webhook included)."""
    seller, buyer = api.seller(), api.user("buyer")
    aid = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=10_000,
                       **({"final_sale": True} if final_sale else {}))["id"]
    assert api.bid(buyer, aid, amount=10_000).status_code == 201
    api.wait_closed(aid, timeout=15)
    (order,) = api.orders(buyer)
    oid = order["id"]
    r = api.http.post(f"/api/v1/orders/{oid}/pay", headers=buyer.headers,
                      json={"payment_method": "4242424242424242", "idempotency_key": key()})
    assert r.status_code == 200, r.text
    tracking = f"TRK{uuid.uuid4().hex[:10].upper()}"
    r = api.http.post(f"/api/v1/orders/{oid}/ship", headers=seller.headers,
                      json={"carrier": "dhl", "tracking_number": tracking})
    assert r.status_code == 200, r.text
    body = json.dumps({"id": uuid.uuid4().hex, "tracking_number": tracking, "event": "delivered",
                       "occurred_at": datetime.now(UTC).isoformat()}).encode()
    r = api.http.post("/api/v1/carriers/dhl/events", content=body,
                      headers={"Bidcast-Signature": sign(body, CARRIER_SECRET, int(time.time()))})
    assert r.status_code == 200, r.text
    return seller, buyer, order


def ask(api: Api, buyer: User, order_id: int, **extra) -> object:
    return api.http.post(f"/api/v1/orders/{order_id}/return", headers=buyer.headers,
                         json={"reason": "arrived broken", "photo_urls": ["https://img.example/1.jpg"]} | extra)


def balance(api: Api, seller: User) -> dict:
    return api.http.get("/api/v1/shops/mine/balance", headers=seller.headers).json()["balance"]


def test_partial_approval_refunds_through_provider_and_ledger(rapi: Api) -> None:
    seller, buyer, order = delivered_order(rapi)
    assert error_code(ask(rapi, buyer, order["id"], photo_urls=["javascript:alert(1)"])) == "invalid_photo_url"
    assert error_code(ask(rapi, buyer, order["id"], photo_urls=[f"https://x.example/{i}" for i in range(6)])) \
        == "too_many_photos"
    r = ask(rapi, buyer, order["id"])
    assert r.status_code == 201, r.text
    ret = r.json()["return"]
    assert ret["status"] == "requested"
    assert ask(rapi, buyer, order["id"]).json()["replayed"] is True
    assert rapi.http.post(f"/api/v1/returns/{ret['id']}/approve", headers=buyer.headers, json={}).status_code == 403
    too_much = rapi.http.post(f"/api/v1/returns/{ret['id']}/approve", headers=seller.headers, json={"amount": 10_001})
    assert error_code(too_much) == "refund_exceeds_captured"
    ok = rapi.http.post(f"/api/v1/returns/{ret['id']}/approve", headers=seller.headers, json={"amount": 4_000})
    assert ok.status_code == 200, ok.text
    assert ok.json()["return"]["status"] == "refunded"
    again = rapi.http.post(f"/api/v1/returns/{ret['id']}/approve", headers=seller.headers, json={"amount": 4_000})
    assert again.status_code == 200
    refunds = rapi.http.get(f"/api/v1/orders/{order['id']}/refunds", headers=buyer.headers).json()["refunds"]
    assert [r["amount"] for r in refunds] == [4_000]  # once, though approved twice
    # 9 800 after the sale; 4 000 back = 3 920 from the seller + 80 of commission.
    assert balance(rapi, seller) == {"EUR": {"pending": 5_880}}
    detail = rapi.http.get(f"/api/v1/orders/{order['id']}", headers=buyer.headers).json()["order"]
    assert detail["payment_state"] == "partially_refunded"


def test_rejection_dispute_and_admin_full_refund(rapi: Api) -> None:
    seller, buyer, order = delivered_order(rapi)
    ret = ask(rapi, buyer, order["id"]).json()["return"]
    assert rapi.http.post(f"/api/v1/returns/{ret['id']}/dispute", headers=buyer.headers,
                          json={"reason": "no"}).status_code == 409
    r = rapi.http.post(f"/api/v1/returns/{ret['id']}/reject", headers=seller.headers, json={"note": "used"})
    assert r.json()["return"]["status"] == "rejected"
    r = rapi.http.post(f"/api/v1/returns/{ret['id']}/dispute", headers=buyer.headers,
                       json={"reason": "it was broken on arrival"})
    assert r.json()["return"]["status"] == "disputed"
    admin = rapi.admin()
    disputed = rapi.http.get("/api/v1/admin/returns", headers=admin.headers).json()["returns"]
    assert ret["id"] in [d["id"] for d in disputed]
    assert rapi.http.post(f"/api/v1/admin/returns/{ret['id']}/resolve", headers=buyer.headers,
                          json={"amount": 1, "note": "x"}).status_code == 403
    r = rapi.http.post(f"/api/v1/admin/returns/{ret['id']}/resolve", headers=admin.headers,
                       json={"amount": 10_000, "note": "photos show damage"})
    assert r.status_code == 200, r.text
    assert r.json()["return"]["status"] == "refunded"
    detail = rapi.http.get(f"/api/v1/orders/{order['id']}", headers=buyer.headers).json()["order"]
    assert detail["payment_state"] == "refunded" and detail["fulfilment_state"] == "returned"
    assert set(balance(rapi, seller).get("EUR", {}).values()) <= {0}


def test_an_unanswered_return_is_approved_automatically(rapi: Api) -> None:
    _, buyer, order = delivered_order(rapi)
    ret = ask(rapi, buyer, order["id"]).json()["return"]
    deadline = time.monotonic() + REPLY_S + 10
    while True:
        got = rapi.http.get(f"/api/v1/orders/{order['id']}/return", headers=buyer.headers).json()["return"]
        if got["status"] == "refunded" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got["status"] == "refunded" and got["refund_amount"] == 10_000, got
    assert got["id"] == ret["id"]


def test_final_sale_and_undelivered_orders_cannot_be_returned(rapi: Api) -> None:
    seller, buyer = rapi.seller(), rapi.user("buyer")
    aid = rapi.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=1_000)["id"]
    assert rapi.bid(buyer, aid, amount=1_000).status_code == 201
    rapi.wait_closed(aid, timeout=15)
    (order,) = rapi.orders(buyer)
    assert error_code(ask(rapi, buyer, order["id"])) == "not_delivered"
    assert ask(rapi, rapi.user("stranger"), order["id"]).status_code == 404


def test_a_final_sale_lot_is_shown_as_such_and_cannot_be_returned(rapi: Api) -> None:
    seller, buyer, order = delivered_order(rapi, final_sale=True)
    assert rapi.http.get(f"/api/v1/auctions/{order['auction_id']}").json()["auction"]["final_sale"] is True
    detail = rapi.http.get(f"/api/v1/orders/{order['id']}", headers=buyer.headers).json()["order"]
    assert detail["status"] == "delivered" and detail["final_sale"] is True
    r = ask(rapi, buyer, order["id"])
    assert r.status_code == 409 and error_code(r) == "final_sale", r.text
    assert rapi.http.get(f"/api/v1/orders/{order['id']}/return", headers=buyer.headers).status_code == 404
    assert rapi.http.get("/api/v1/seller/returns", headers=seller.headers).json()["returns"] == []


def test_final_sale_is_exposed_before_bidding_and_must_be_a_boolean(rapi: Api) -> None:
    seller = rapi.seller()
    lot = rapi.live_lot(seller, start=False, final_sale=True)
    assert lot["final_sale"] is True
    plain = rapi.live_lot(seller, start=False)
    assert plain["final_sale"] is False
    assert rapi.http.get(f"/api/v1/auctions/{lot['id']}").json()["auction"]["final_sale"] is True
    product = rapi.product(seller)
    r = rapi.http.post("/api/v1/auctions", headers=seller.headers, json={
        "product_id": product["id"], "starting_price": 500, "duration_seconds": 3600, "final_sale": True})
    assert r.status_code == 201, r.text
    assert r.json()["auction"]["final_sale"] is True
    bad = rapi.http.post("/api/v1/auctions", headers=seller.headers, json={
        "product_id": product["id"], "starting_price": 500, "duration_seconds": 3600, "final_sale": "maybe"})
    assert bad.status_code == 422


def refund_directly(api: Api, seller: User, order_id: int, amount: int) -> None:
    r = api.http.post(f"/api/v1/orders/{order_id}/refunds", headers=seller.headers,
                      json={"amount": amount, "reason": "goodwill", "idempotency_key": key()})
    assert r.status_code in (200, 201), r.text


def test_nothing_left_to_refund_means_no_return(rapi: Api) -> None:
    seller, buyer, order = delivered_order(rapi)
    refund_directly(rapi, seller, order["id"], 10_000)
    r = ask(rapi, buyer, order["id"])
    assert r.status_code == 409 and error_code(r) == "nothing_to_refund", r.text
    assert rapi.http.get(f"/api/v1/orders/{order['id']}/return", headers=buyer.headers).status_code == 404
    # Partly refunded: the rest may still be returned.
    seller, buyer, order = delivered_order(rapi)
    refund_directly(rapi, seller, order["id"], 3_000)
    r = ask(rapi, buyer, order["id"])
    assert r.status_code == 201, r.text
    r = rapi.http.post(f"/api/v1/returns/{r.json()['return']['id']}/approve", headers=seller.headers, json={})
    assert r.status_code == 200 and r.json()["return"]["refund_amount"] == 7_000, r.text


def test_a_return_left_with_nothing_to_refund_is_closed_not_retried_forever(rapi: Api) -> None:
    seller, buyer, order = delivered_order(rapi)
    ret = ask(rapi, buyer, order["id"]).json()["return"]
    refund_directly(rapi, seller, order["id"], 10_000)  # the seller refunds in full, outside the return
    r = rapi.http.post(f"/api/v1/returns/{ret['id']}/approve", headers=seller.headers, json={})
    assert r.status_code == 409 and error_code(r) == "nothing_to_refund", r.text
    deadline = time.monotonic() + REPLY_S + 10
    while True:  # the reply window passes: the sweep closes it instead of failing on it every time
        got = rapi.http.get(f"/api/v1/orders/{order['id']}/return", headers=buyer.headers).json()["return"]
        if got["status"] != "requested" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got["status"] == "resolved" and got["refund_amount"] is None, got
    assert "Nothing was left to refund" in got["resolution_note"]
    refunds = rapi.http.get(f"/api/v1/orders/{order['id']}/refunds", headers=buyer.headers).json()["refunds"]
    assert [x["amount"] for x in refunds] == [10_000]
