"""After the win: pay → ship → carrier tracking → delivered → completed, funds released → payout.

Through the public API against real server processes on SQLite and PostgreSQL. The carrier is
the one faked edge: the test signs its webhooks with the carrier's secret. The return window
and the funds hold are shortened to seconds through the environment, the way an operator would.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bidcast.payments.webhooks import SIGNATURE_HEADER, sign

from .api import ADMIN_EMAIL, PASSWORD, Api, User, error_code, key
from .conftest import UNTHROTTLED
from .servers import IN_CI, Server, create_pg_database, postgres_reachable

SECRET = "carrier-test-secret"
CARD = "4242424242424242"
PRICE = 10_000


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def lifecycle_server(request, tmp_path_factory):  # noqa: ANN001
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('lifecycle-db') / 'b.db'}"
    else:
        reason = postgres_reachable()
        if reason:
            if IN_CI:
                pytest.fail(reason)
            pytest.skip(reason)
        url, drop = create_pg_database()
    server = Server(url, tmp_path_factory.mktemp(f"lifecycle-{request.param}"), extra_env=UNTHROTTLED | {
        "BIDCAST_RETURN_WINDOW_SECONDS": "3", "BIDCAST_FUNDS_HOLD_SECONDS": "4",
        "BIDCAST_SETTLEMENT_SWEEP_SECONDS": "0.5", "BIDCAST_CARRIER_WEBHOOK_SECRET": SECRET})
    server.migrate()
    server.create_admin(ADMIN_EMAIL, PASSWORD)
    yield server.start()
    server.stop()
    if drop:
        drop()


@pytest.fixture
def api(lifecycle_server: Server):
    client = Api(lifecycle_server.url)
    yield client
    client.close()


def won_orders(api: Api, seller: User, buyer: User, n: int = 1) -> list[dict]:
    """`n` lots won by `buyer` (run side by side), as the buyer's orders, oldest first."""
    lots = [api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=PRICE)
            for _ in range(n)]
    for lot in lots:
        assert api.bid(buyer, lot["id"], amount=PRICE).status_code == 201
    for lot in lots:
        api.wait_closed(lot["id"], timeout=15)
    orders = sorted(api.orders(buyer), key=lambda o: o["id"])
    assert len(orders) == n
    return orders


def pay(api: Api, buyer: User, order_id: int) -> None:
    r = api.http.post(f"/api/v1/orders/{order_id}/pay", headers=buyer.headers,
                      json={"payment_method": CARD, "idempotency_key": key()})
    assert r.status_code == 200, r.text


def order(api: Api, user: User, order_id: int) -> dict:
    r = api.http.get(f"/api/v1/orders/{order_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["order"]


def carrier_post(api: Api, event: dict, secret: str = SECRET, at: float | None = None,
                 carrier: str = "dhl", body: bytes | None = None) -> httpx.Response:
    body = body if body is not None else json.dumps(event).encode()
    signature = sign(body, secret, int(at if at is not None else time.time()))
    return api.http.post(f"/api/v1/carriers/{carrier}/events", content=body,
                         headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"})


def tracking(number: str, event: str, event_id: str | None = None) -> dict:
    return {"id": event_id or key(), "tracking_number": number, "event": event,
            "occurred_at": "2026-01-05T10:00:00Z", "detail": f"{event} scan"}


def ledger_of(api: Api, seller: User) -> dict:
    r = api.http.get("/api/v1/shops/mine/ledger", headers=seller.headers)
    assert r.status_code == 200, r.text
    return r.json()


def revenue(api: Api) -> int:
    r = api.http.get("/api/v1/admin/revenue", headers=api.admin().headers)
    assert r.status_code == 200, r.text
    return r.json()["revenue"].get("EUR", 0)


def wait_for(predicate, timeout: float = 20.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_win_pay_ship_track_deliver_settle_and_pay_out(api: Api) -> None:
    seller, buyer = api.seller(), api.user("buyer")
    revenue_before = revenue(api)
    (o,) = won_orders(api, seller, buyer)
    pay(api, buyer, o["id"])
    ship = f"/api/v1/orders/{o['id']}/ship"
    parcel = {"carrier": "dhl", "tracking_number": "jd01 4600 0012"}

    # Only the seller ships, with a known carrier and a plausible tracking number.
    assert api.http.post(ship, headers=buyer.headers, json=parcel).status_code == 403
    r = api.http.post(ship, headers=seller.headers, json=parcel | {"carrier": "pigeon"})
    assert r.status_code == 422 and error_code(r) == "unknown_carrier"
    r = api.http.post(ship, headers=seller.headers, json=parcel | {"tracking_number": "12 34 5!"})
    assert r.status_code == 422 and error_code(r) == "invalid_tracking_number"
    r = api.http.post(ship, headers=seller.headers, json=parcel)
    assert r.status_code == 200, r.text
    shipped = r.json()["order"]
    assert (shipped["status"], shipped["fulfilment_state"]) == ("shipped", "shipped")
    assert shipped["tracking"]["tracking_number"] == "JD0146000012"
    again = api.http.post(ship, headers=seller.headers, json=parcel)  # a retry
    assert again.status_code == 200 and again.json()["replayed"]
    r = api.http.post(ship, headers=seller.headers, json=parcel | {"tracking_number": "OTHER-123456"})
    assert r.status_code == 409 and error_code(r) == "already_shipped"

    # Too late to cancel, for either side.
    for who in (buyer, seller):
        r = api.http.post(f"/api/v1/orders/{o['id']}/cancel", headers=who.headers, json={"reason": "too late"})
        assert r.status_code == 409 and error_code(r) == "not_cancellable"

    # The carrier reports: in transit (once; a replay and forgeries are refused), then delivered.
    in_transit = tracking("JD0146000012", "in_transit")
    body = json.dumps(in_transit).encode()
    r = carrier_post(api, in_transit, body=body)
    assert r.status_code == 200, r.text
    assert order(api, buyer, o["id"])["fulfilment_state"] == "in_transit"
    r = carrier_post(api, in_transit, body=body)
    assert r.status_code == 409 and error_code(r) == "replayed"
    forged = tracking("JD0146000012", "delivered")
    r = carrier_post(api, forged, secret="not-the-secret")
    assert r.status_code == 401 and error_code(r) == "bad_signature"
    r = carrier_post(api, forged, at=time.time() - 3600)
    assert r.status_code == 401 and error_code(r) == "stale_timestamp"
    r = api.http.post("/api/v1/carriers/dhl/events", content=json.dumps(forged).encode())
    assert r.status_code == 401 and error_code(r) == "missing_signature"
    r = carrier_post(api, forged, carrier="pigeon")
    assert r.status_code == 404 and error_code(r) == "unknown_carrier"
    r = carrier_post(api, tracking("NOPE-999999", "delivered"))
    assert r.status_code == 404 and error_code(r) == "unknown_parcel"
    r = carrier_post(api, tracking("JD0146000012", "lost_in_space"))
    assert r.status_code == 422 and error_code(r) == "invalid_event"
    assert order(api, buyer, o["id"])["status"] == "shipped"  # none of those moved it

    r = carrier_post(api, tracking("JD0146000012", "delivered"))
    assert r.status_code == 200, r.text
    delivered = order(api, seller, o["id"])
    assert (delivered["status"], delivered["fulfilment_state"]) == ("delivered", "delivered")
    assert delivered["delivered_at"] and delivered["funds_released_at"] is None
    assert ledger_of(api, seller)["balance"]["EUR"] == {"pending": 9_800, "available": 0, "paid_out": 0}

    # Return window (3 s) and hold (4 s) pass: completed, and the seller's share is available.
    done = wait_for(lambda: (lambda v: v if v["funds_released_at"] else None)(order(api, buyer, o["id"])))
    assert done, "funds were not released"
    assert done["status"] == "completed" and done["completed_at"]
    assert [e["kind"] for e in done["events"]] == [
        "created", "paid", "shipped", "in_transit", "delivered", "completed", "funds_released"]
    assert [e["actor"] for e in done["events"]][1:3] == ["buyer", "seller"]
    assert [t["event"] for t in done["tracking"]["events"]] == ["in_transit", "delivered"]
    assert done["lines"] == [{"product_id": o["product_id"], "title": "Test lot", "quantity": 1,
                              "unit_price": {"amount": PRICE, "currency": "EUR"}}]
    ledger = ledger_of(api, seller)
    assert ledger["balance"]["EUR"] == {"pending": 0, "available": 9_800, "paid_out": 0}  # price − 2 %
    assert revenue(api) - revenue_before == 200

    # Payouts: never above what is available; concurrent requests cannot spend the same money.
    payouts = "/api/v1/shops/mine/payouts"
    r = api.http.post(payouts, headers=seller.headers, json={"amount": 9_801, "idempotency_key": key()})
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    assert api.http.post(payouts, headers=buyer.headers,
                         json={"amount": 1, "idempotency_key": key()}).status_code == 403

    # Ten requests of €20 released at once against €98 available: exactly four can be paid.
    clients = [httpx.Client(base_url=api.base_url, timeout=30) for _ in range(10)]
    for client in clients:  # connections open before the start line
        assert client.get("/api/v1/shops/mine/payouts", headers=seller.headers).status_code == 200
    start = threading.Barrier(len(clients))

    def attempt(client: httpx.Client) -> int:
        start.wait()
        return client.post(payouts, headers=seller.headers,
                           json={"amount": 2_000, "idempotency_key": key()}).status_code
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            codes = sorted(pool.map(attempt, clients))
    finally:
        for client in clients:
            client.close()
    assert codes == [201] * 4 + [409] * 6, codes
    assert ledger_of(api, seller)["balance"]["EUR"] == {"pending": 0, "available": 1_800, "paid_out": 8_000}
    last = {"amount": 1_800, "currency": "EUR", "idempotency_key": key()}
    first = api.http.post(payouts, headers=seller.headers, json=last)
    retry = api.http.post(payouts, headers=seller.headers, json=last)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["replayed"] and retry.json()["payout"]["id"] == first.json()["payout"]["id"]
    assert ledger_of(api, seller)["balance"]["EUR"] == {"pending": 0, "available": 0, "paid_out": 9_800}
    listed = api.http.get(payouts, headers=seller.headers).json()["payouts"]
    assert sorted(p["amount"]["amount"] for p in listed) == [1_800] + [2_000] * 4


def test_cancel_before_shipping_restocks_and_refunds_a_paid_order(api: Api) -> None:
    seller, buyer, stranger = api.seller(), api.user("buyer"), api.user("stranger")
    unpaid, paid = won_orders(api, seller, buyer, n=2)
    pay(api, buyer, paid["id"])
    revenue_before = revenue(api)
    stock = lambda pid: api.http.get(f"/api/v1/products/{pid}").json()["product"]["stock"]  # noqa: E731
    stock_before = stock(unpaid["product_id"])
    cancel = f"/api/v1/orders/{unpaid['id']}/cancel"

    r = api.http.post(cancel, headers=buyer.headers, json={"reason": "x"})
    assert r.status_code == 422
    assert api.http.post(cancel, headers=stranger.headers, json={"reason": "not mine"}).status_code == 404
    r = api.http.post(cancel, headers=buyer.headers, json={"reason": "changed my mind"})
    assert r.status_code == 200, r.text
    view = r.json()["order"]
    assert (view["status"], view["cancel_reason"], r.json()["refund"]) == ("cancelled", "changed my mind", None)
    assert view["events"][-1] | {"at": None} == {  # a won lot left unpaid: a strike, as at the deadline
        "kind": "cancelled", "detail": "by the buyer: changed my mind; buyer strike 1",
        "actor": "buyer", "actor_name": "buyer", "at": None}
    assert stock(unpaid["product_id"]) == stock_before + 1
    again = api.http.post(cancel, headers=buyer.headers, json={"reason": "changed my mind"})
    assert again.status_code == 200 and again.json()["order"]["events"] == view["events"]  # a retry
    r = api.http.post(f"/api/v1/orders/{unpaid['id']}/pay", headers=buyer.headers,
                      json={"payment_method": CARD, "idempotency_key": key()})
    assert r.status_code == 409

    # The seller cancels a paid order: the whole capture goes back, through provider and ledger.
    r = api.http.post(f"/api/v1/orders/{paid['id']}/cancel", headers=seller.headers,
                      json={"reason": "damaged in the warehouse"})
    assert r.status_code == 200, r.text
    assert r.json()["refund"]["status"] == "succeeded" and r.json()["refund"]["amount"] == PRICE
    view = order(api, buyer, paid["id"])
    assert (view["status"], view["payment_state"], view["refunded"]["amount"]) == ("cancelled", "refunded", PRICE)
    assert [e["kind"] for e in view["events"]][-2:] == ["cancelled", "refunded"]
    assert view["actions"] == []
    r = api.http.post(f"/api/v1/orders/{paid['id']}/ship", headers=seller.headers,
                      json={"carrier": "ups", "tracking_number": "1Z999AA10123456784"})
    assert r.status_code == 409 and error_code(r) == "not_shippable"
    again = api.http.post(f"/api/v1/orders/{paid['id']}/cancel", headers=seller.headers,
                          json={"reason": "damaged in the warehouse"})
    assert again.status_code == 200 and again.json()["refund"] is None  # nothing refunded twice
    ledger = ledger_of(api, seller)
    assert ledger["balance"]["EUR"]["pending"] == 0
    assert sorted(e["kind"] for e in ledger["entries"]) == ["order_paid", "refund"]
    assert revenue(api) == revenue_before - 200  # the commission went back with the refund

    # The seller's list filters by status.
    r = api.http.get("/api/v1/orders", headers=seller.headers, params={"as_seller": True, "status": "cancelled"})
    assert sorted(x["id"] for x in r.json()["orders"]) == [unpaid["id"], paid["id"]]
    r = api.http.get("/api/v1/orders", headers=seller.headers, params={"as_seller": True, "status": "paid"})
    assert r.json()["orders"] == []
    r = api.http.get("/api/v1/orders", headers=seller.headers, params={"as_seller": True, "status": "lost"})
    assert r.status_code == 422 and error_code(r) == "invalid_status"


def notifications(api: Api, user: User) -> list[dict]:
    r = api.http.get("/api/v1/me/notifications", headers=user.headers, params={"limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["notifications"]


def test_a_winner_who_cancels_unpaid_gets_strikes_until_banned_from_bidding(api: Api) -> None:
    seller, buyer = api.seller(), api.user("buyer")
    won = won_orders(api, seller, buyer, n=3)
    for n, o in enumerate(won, start=1):
        r = api.http.post(f"/api/v1/orders/{o['id']}/cancel", headers=buyer.headers,
                          json={"reason": "found it cheaper"})
        assert r.status_code == 200, r.text
        assert r.json()["order"]["events"][-1]["detail"] == f"by the buyer: found it cheaper; buyer strike {n}"
        again = api.http.post(f"/api/v1/orders/{o['id']}/cancel", headers=buyer.headers,
                              json={"reason": "found it cheaper"})
        assert again.status_code == 200 and again.json()["order"]["events"] == r.json()["order"]["events"]
    mine = [x for x in notifications(api, buyer) if x["kind"] == "order_cancelled"]
    assert len(mine) == 3 and all("strike" in x["title"] for x in mine), mine
    assert any("3 of 3" in (x["body"] or "") for x in mine)
    told = [x for x in notifications(api, seller) if x["kind"] == "order_cancelled"]
    assert len(told) == 3 and all("runner-up" in (x["body"] or "") for x in told), told
    # Three strikes: no more bidding (as after three missed payment deadlines).
    lot = api.live_lot(seller, duration_seconds=30, soft_close_seconds=0, starting_price=PRICE)
    r = api.bid(buyer, lot["id"], amount=PRICE)
    assert r.status_code == 403 and error_code(r) == "banned", r.text


def test_the_seller_cancelling_or_a_paid_order_cancelled_costs_no_strike(api: Api) -> None:
    seller, buyer = api.seller(), api.user("buyer")
    unpaid, paid = won_orders(api, seller, buyer, n=2)
    pay(api, buyer, paid["id"])
    r = api.http.post(f"/api/v1/orders/{unpaid['id']}/cancel", headers=seller.headers, json={"reason": "sold out"})
    assert r.status_code == 200 and "strike" not in r.json()["order"]["events"][-1]["detail"]
    r = api.http.post(f"/api/v1/orders/{paid['id']}/cancel", headers=buyer.headers, json={"reason": "changed mind"})
    assert r.status_code == 200 and r.json()["refund"]["status"] == "succeeded"
    assert "strike" not in r.json()["order"]["events"][-2]["detail"]
    assert not [x for x in notifications(api, buyer) if "strike" in x["title"]]


def test_a_partly_refunded_paid_order_can_still_ship(api: Api) -> None:
    seller, buyer = api.seller(), api.user("buyer")
    o, o2 = won_orders(api, seller, buyer, n=2)
    pay(api, buyer, o["id"])
    r = api.http.post(f"/api/v1/orders/{o['id']}/refunds", headers=seller.headers,
                      json={"amount": 1_500, "reason": "scratch on the box", "idempotency_key": key()})
    assert r.status_code in (200, 201), r.text
    assert order(api, buyer, o["id"])["payment_state"] == "partially_refunded"
    r = api.http.post(f"/api/v1/orders/{o['id']}/ship", headers=seller.headers,
                      json={"carrier": "dhl", "tracking_number": "PART-REFUND-1"})
    assert r.status_code == 200, r.text
    shipped = order(api, buyer, o["id"])
    assert (shipped["status"], shipped["payment_state"]) == ("shipped", "partially_refunded")
    # Refunded in full, it does not ship.
    pay(api, buyer, o2["id"])
    r = api.http.post(f"/api/v1/orders/{o2['id']}/refunds", headers=seller.headers,
                      json={"amount": PRICE, "reason": "lost it", "idempotency_key": key()})
    assert r.status_code in (200, 201), r.text
    r = api.http.post(f"/api/v1/orders/{o2['id']}/ship", headers=seller.headers,
                      json={"carrier": "dhl", "tracking_number": "FULL-REFUND-1"})
    assert r.status_code == 409 and error_code(r) == "not_shippable", r.text


def test_order_pages_for_buyer_and_seller_and_nobody_else(api: Api) -> None:
    seller, buyer, stranger = api.seller(), api.user("buyer"), api.user("stranger")
    (o,) = won_orders(api, seller, buyer)

    def browser(user: User) -> httpx.Client:
        client = httpx.Client(base_url=api.base_url, timeout=30, follow_redirects=False)
        assert client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 200
        return client
    b, s, x = browser(buyer), browser(seller), browser(stranger)
    try:
        page = b.get(f"/orders/{o['id']}")
        assert page.status_code == 200 and f'data-order-id="{o["id"]}"' in page.text
        assert 'href="/me/orders"' in page.text
        assert 'href="/seller/orders"' in s.get(f"/orders/{o['id']}").text
        assert x.get(f"/orders/{o['id']}").status_code == 404
        assert x.get("/orders/99999999999").status_code == 404
        assert 'data-orders-view="buyer"' in b.get("/me/orders").text
        orders = s.get("/seller/orders")
        assert 'data-orders-view="seller"' in orders.text and 'data-testid="status-filter"' in orders.text
        balance = s.get("/seller/balance")
        assert balance.status_code == 200 and 'data-testid="payout-form"' in balance.text
        assert b.get("/seller/balance").status_code == 303  # no shop: back to the seller center
        assert "/static/orders.js" in orders.text and b.get("/static/orders.js").status_code == 200
    finally:
        for client in (b, s, x):
            client.close()
