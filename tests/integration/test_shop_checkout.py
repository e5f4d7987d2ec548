"""Buying from the shop: a cart across two shops becomes one order per shop, paid with one card,
the sellers' pending balances grow by the sale less commission; retries, races and bad input
never sell a unit twice nor change anything."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from .api import ADMIN_EMAIL, PASSWORD, Api, User, error_code, key
from .servers import IN_CI, Server, create_pg_database, postgres_reachable

CARD = "4242424242424242"
ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "line2": "Flat 2", "city": "London",
           "postal_code": "NW1 6XE", "country": "GB", "phone": "+44 20 7946 0000"}


def commission(amount: int, bps: int = 200) -> int:
    return (amount * bps + 5000) // 10_000  # round half up, as the ledger does


def stock(api: Api, product_id: int) -> int:
    return api.http.get(f"/api/v1/products/{product_id}").json()["product"]["stock"]


def cart(api: Api, user: User) -> dict:
    r = api.http.get("/api/v1/cart", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["cart"]


def add(api: Api, user: User, product_id: int, quantity: int = 1, idem: str | None = None) -> httpx.Response:
    headers = user.headers | ({"Idempotency-Key": idem} if idem else {})
    return api.http.post("/api/v1/cart/lines", headers=headers,
                         json={"product_id": product_id, "quantity": quantity})


def address(api: Api, user: User, **changes) -> dict:
    r = api.http.post("/api/v1/me/addresses", headers=user.headers, json=ADDRESS | changes)
    assert r.status_code == 201, r.text
    return r.json()["address"]


def checkout(api: Api, user: User, idem: str | None = None, **body) -> httpx.Response:
    return api.http.post("/api/v1/checkout", json=body,
                         headers=user.headers | {"Idempotency-Key": idem or key()})


def balance(api: Api, seller: User) -> dict:
    return api.http.get("/api/v1/shops/mine/balance", headers=seller.headers).json()["balance"]


def test_a_cart_from_two_shops_becomes_two_orders_paid_with_one_card(api: Api) -> None:
    shop_a, shop_b, buyer = api.seller(), api.seller(), api.user("buyer")
    a1, a2 = api.product(shop_a, price=1500, stock=5), api.product(shop_a, price=2000, stock=3)
    b1 = api.product(shop_b, price=7000, stock=2)
    first = key()
    assert add(api, buyer, a1["id"], 2, idem=first).status_code == 200
    assert add(api, buyer, a1["id"], 2, idem=first).status_code == 200  # a retried add adds nothing
    assert add(api, buyer, a2["id"]).status_code == 200
    assert add(api, buyer, b1["id"]).status_code == 200
    groups = cart(api, buyer)["groups"]
    assert [(g["shop"]["id"], g["subtotal"]["amount"], [ln["quantity"] for ln in g["lines"]]) for g in groups] == [
        (a1["shop_id"], 5000, [2, 1]), (b1["shop_id"], 7000, [1])]
    home = address(api, buyer)
    assert home["is_default"]

    idem = key()
    r = checkout(api, buyer, idem, shipping={str(b1["shop_id"]): "express"})
    assert r.status_code == 201, r.text
    placed = r.json()["checkout"]
    orders = {o["shop"]["id"]: o for o in placed["orders"]}
    oa, ob = orders[a1["shop_id"]], orders[b1["shop_id"]]
    assert [(ln["product_id"], ln["quantity"], ln["unit_price"]["amount"]) for ln in oa["lines"]] == [
        (a1["id"], 2, 1500), (a2["id"], 1, 2000)]
    assert (oa["shipping"]["method"], oa["shipping"]["amount"], oa["total"]["amount"]) == ("standard", 0, 5000)
    assert (ob["shipping"]["method"], ob["shipping"]["amount"], ob["total"]["amount"]) == ("express", 990, 7990)
    assert oa["shipping_address"] == {k: v for k, v in ADDRESS.items()} and oa["status"] == "awaiting_payment"
    assert oa["pay_by"] and oa["kind"] == "shop"
    assert (stock(api, a1["id"]), stock(api, a2["id"]), stock(api, b1["id"])) == (3, 2, 1)
    assert cart(api, buyer)["groups"] == []  # the lines bought left the cart

    again = checkout(api, buyer, idem, shipping={str(b1["shop_id"]): "express"})
    assert again.status_code == 200 and again.json()["replayed"]
    assert [o["id"] for o in again.json()["checkout"]["orders"]] == [o["id"] for o in placed["orders"]]
    assert (stock(api, a1["id"]), stock(api, b1["id"])) == (3, 1)
    reused = checkout(api, buyer, idem)
    assert reused.status_code == 409 and error_code(reused) == "idempotency_key_reused"

    pay = {"payment_method": CARD, "idempotency_key": key()}
    r = api.http.post(f"/api/v1/checkouts/{placed['id']}/pay", headers=buyer.headers, json=pay)
    assert r.status_code == 200, r.text
    assert r.json()["paid"] and {o["status"] for o in r.json()["checkout"]["orders"]} == {"paid"}
    retry = api.http.post(f"/api/v1/checkouts/{placed['id']}/pay", headers=buyer.headers, json=pay)
    assert retry.status_code == 200 and retry.json()["paid"]
    assert balance(api, shop_a) == {"EUR": {"pending": 5000 - commission(5000)}}
    assert balance(api, shop_b) == {"EUR": {"pending": 7990 - commission(7990)}}
    mine = {o["id"]: o["status"] for o in api.orders(buyer)}
    assert mine == {oa["id"]: "paid", ob["id"]: "paid"}
    assert {o["id"] for o in api.orders(shop_b, as_seller=True)} == {ob["id"]}


def test_buy_now_checks_out_one_line_and_leaves_the_cart_alone(api: Api) -> None:
    seller, buyer = api.seller(), api.user("buyer")
    kept, bought = api.product(seller, price=800, stock=4), api.product(seller, price=1200, stock=4)
    assert add(api, buyer, kept["id"]).status_code == 200
    address(api, buyer)
    r = checkout(api, buyer, lines=[{"product_id": bought["id"], "quantity": 3}])
    assert r.status_code == 201, r.text
    (order,) = r.json()["checkout"]["orders"]
    assert order["total"]["amount"] == 3 * 1200 + 490 and order["shipping"]["amount"] == 490
    assert stock(api, bought["id"]) == 1 and stock(api, kept["id"]) == 4
    assert [ln["product_id"] for g in cart(api, buyer)["groups"] for ln in g["lines"]] == [kept["id"]]


def test_a_declined_card_pays_nothing_and_a_good_one_then_pays_all(api: Api) -> None:
    s1, s2, buyer = api.seller(), api.seller(), api.user("buyer")
    p1, p2 = api.product(s1, price=3000), api.product(s2, price=4000)
    add(api, buyer, p1["id"])
    add(api, buyer, p2["id"])
    address(api, buyer)
    placed = checkout(api, buyer).json()["checkout"]
    r = api.http.post(f"/api/v1/checkouts/{placed['id']}/pay", headers=buyer.headers,
                      json={"payment_method": "4000000000000002", "idempotency_key": key()})
    assert r.status_code == 402 and error_code(r) == "card_declined"
    assert r.json()["error"]["paid_order_ids"] == []
    assert {o["status"] for o in api.orders(buyer)} == {"awaiting_payment"}
    stranger = api.user("stranger")
    r = api.http.post(f"/api/v1/checkouts/{placed['id']}/pay", headers=stranger.headers,
                      json={"payment_method": CARD, "idempotency_key": key()})
    assert r.status_code == 404
    r = api.http.post(f"/api/v1/checkouts/{placed['id']}/pay", headers=buyer.headers,
                      json={"payment_method": CARD, "idempotency_key": key()})
    assert r.status_code == 200 and {o["status"] for o in api.orders(buyer)} == {"paid"}


def test_concurrent_checkouts_for_the_last_units_sell_exactly_the_stock(api: Api) -> None:
    seller = api.seller()
    units, buyers_n = 4, 14
    product = api.product(seller, price=2500, stock=units)
    buyers = [api.user(f"racer{i}") for i in range(buyers_n)]
    for b in buyers:
        address(api, b)
    results: list[httpx.Response] = []
    start = threading.Barrier(buyers_n)
    lock = threading.Lock()

    def run(b: User) -> None:
        with httpx.Client(base_url=api.base_url, timeout=60) as http:
            start.wait()
            r = http.post("/api/v1/checkout", headers=b.headers | {"Idempotency-Key": key()},
                          json={"lines": [{"product_id": product["id"], "quantity": 1}]})
            with lock:
                results.append(r)
    threads = [threading.Thread(target=run, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * units + [409] * (buyers_n - units), [r.text for r in results if r.status_code not in (201, 409)]
    assert {error_code(r) for r in results if r.status_code == 409} == {"out_of_stock"}
    assert stock(api, product["id"]) == 0
    sold = [o for o in api.orders(seller, as_seller=True)]
    assert len(sold) == units


def test_the_same_checkout_sent_at_once_several_times_places_it_once(api: Api) -> None:
    seller, buyer = api.seller(), api.user("buyer")
    product = api.product(seller, price=900, stock=5)
    address(api, buyer)
    idem, results = key(), []
    start = threading.Barrier(4)

    def run() -> None:
        with httpx.Client(base_url=api.base_url, timeout=60) as http:
            start.wait()
            results.append(http.post("/api/v1/checkout", headers=buyer.headers | {"Idempotency-Key": idem},
                                     json={"lines": [{"product_id": product["id"], "quantity": 2}]}))
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201], [r.text for r in results]
    assert len({r.json()["checkout"]["id"] for r in results}) == 1
    assert stock(api, product["id"]) == 3 and len(api.orders(buyer)) == 1


def test_bad_input_is_refused_and_changes_nothing(api: Api) -> None:
    seller, other_shop, buyer = api.seller(), api.seller(), api.user("buyer")
    eur = api.product(seller, price=1000, stock=3)
    usd = api.product(seller, price=1000, stock=3, currency="USD")
    gone = api.product(seller, price=1000, stock=3)
    assert api.http.post(f"/api/v1/products/{gone['id']}/withdraw", headers=seller.headers).status_code == 200
    later = api.product(other_shop, price=500, stock=2)
    assert add(api, buyer, eur["id"], 2).status_code == 200
    assert add(api, buyer, later["id"]).status_code == 200
    before = cart(api, buyer)

    def refused(r: httpx.Response, status: int, code: str | None = None) -> None:
        assert r.status_code == status, r.text
        if code:
            assert error_code(r) == code, r.text

    for quantity in (0, -1, 10**6, "2", 1.5, None):
        refused(add(api, buyer, eur["id"], quantity), 422)  # type: ignore[arg-type]
    refused(add(api, buyer, 10**12), 404, "not_found")
    refused(add(api, buyer, gone["id"]), 409, "product_unavailable")
    refused(add(api, buyer, eur["id"], 2), 409, "insufficient_stock")  # 2 in the cart + 2 > 3
    refused(add(api, buyer, usd["id"]), 409, "currency_mismatch")       # the shop's other line is EUR
    refused(add(api, seller, eur["id"]), 409, "own_product")
    refused(api.http.put(f"/api/v1/cart/lines/{eur['id']}", headers=buyer.headers, json={"quantity": 0}), 422)
    refused(api.http.put(f"/api/v1/cart/lines/{eur['id']}", headers=buyer.headers, json={"quantity": 4}),
            409, "insufficient_stock")
    assert cart(api, buyer) == before

    for bad in ({"country": "XX"}, {"country": "DEU"}, {"postal_code": "!"}, {"phone": "call me"},
                {"name": ""}, {"line1": "x" * 121}, {"city": "a\nb"}, {"extra": 1}):
        refused(api.http.post("/api/v1/me/addresses", headers=buyer.headers, json=ADDRESS | bad), 422)
    assert api.http.get("/api/v1/me/addresses", headers=buyer.headers).json()["addresses"] == []
    refused(checkout(api, buyer), 422, "address_required")
    home = address(api, buyer)
    refused(api.http.post("/api/v1/checkout", headers=buyer.headers, json={}), 400, "idempotency_key_required")
    refused(checkout(api, buyer, address_id=home["id"] + 1000), 404)
    refused(checkout(api, buyer, shipping={str(eur["shop_id"]): "teleport"}), 422)
    refused(checkout(api, buyer, shipping={"999999": "express"}), 422, "unknown_shop")
    refused(checkout(api, buyer, lines=[{"product_id": eur["id"], "quantity": 0}]), 422)
    refused(checkout(api, buyer, lines=[{"product_id": eur["id"], "quantity": 4}]), 409, "out_of_stock")
    refused(checkout(api, buyer, lines=[{"product_id": eur["id"], "quantity": 1},
                                        {"product_id": usd["id"], "quantity": 1}]), 422, "currency_mismatch")
    refused(checkout(api, buyer, lines=[{"product_id": gone["id"], "quantity": 1}]), 409, "product_unavailable")
    refused(checkout(api, buyer, lines=[{"product_id": 10**12, "quantity": 1}]), 404)
    # A line that sold out since it was added fails the whole checkout, naming that line.
    r = api.http.patch(f"/api/v1/products/{later['id']}", headers=other_shop.headers, json={"stock": 0})
    assert r.status_code == 200, r.text
    r = checkout(api, buyer)
    refused(r, 409, "out_of_stock")
    assert r.json()["error"]["product_id"] == later["id"]
    assert stock(api, eur["id"]) == 3 and cart(api, buyer)["count"] == 3
    assert api.orders(buyer) == []
    stranger = api.user("stranger")
    refused(api.http.patch(f"/api/v1/me/addresses/{home['id']}", headers=stranger.headers,
                           json={"city": "Paris"}), 404)
    refused(api.http.get("/api/v1/checkouts/co_" + "0" * 32, headers=buyer.headers), 404)


def test_saved_addresses_keep_one_default(api: Api) -> None:
    buyer = api.user("buyer")
    home = address(api, buyer)
    same = api.http.post("/api/v1/me/addresses", headers=buyer.headers, json=ADDRESS)
    assert same.status_code == 200 and same.json()["address"]["id"] == home["id"]  # a retry: no copy
    work = address(api, buyer, line1="1 Office Park", is_default=True)
    listed = api.http.get("/api/v1/me/addresses", headers=buyer.headers).json()["addresses"]
    assert [(a["id"], a["is_default"]) for a in listed] == [(work["id"], True), (home["id"], False)]
    r = api.http.patch(f"/api/v1/me/addresses/{home['id']}", headers=buyer.headers,
                       json={"city": "Cambridge", "country": "gb"})
    assert r.status_code == 200 and r.json()["address"]["city"] == "Cambridge"
    assert api.http.delete(f"/api/v1/me/addresses/{work['id']}", headers=buyer.headers).status_code == 204
    (left,) = api.http.get("/api/v1/me/addresses", headers=buyer.headers).json()["addresses"]
    assert left["id"] == home["id"] and left["is_default"] and left["country"] == "GB"


# -- an unpaid checkout expires ---------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgres"])
def short_window_server(request: pytest.FixtureRequest, tmp_path: Path):
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    else:
        reason = postgres_reachable()
        if reason:
            if IN_CI:
                pytest.fail(f"CI requires PostgreSQL: {reason}")
            pytest.skip(reason)
        url, drop = create_pg_database()
    server = Server(url, tmp_path, extra_env={"BIDCAST_CHECKOUT_PAYMENT_WINDOW_SECONDS": "3",
                                              "BIDCAST_DEADLINE_SWEEP_SECONDS": "0.5"})
    server.migrate()
    server.create_admin(ADMIN_EMAIL, PASSWORD)
    yield server.start()
    server.stop()
    if drop:
        drop()


def test_stock_returns_when_an_unpaid_checkout_expires_without_a_strike(short_window_server: Server) -> None:
    api = Api(short_window_server.url)
    seller, buyer = api.seller(), api.user("buyer")
    product = api.product(seller, price=1000, stock=3)
    add(api, buyer, product["id"], 2)
    address(api, buyer)
    placed = checkout(api, buyer).json()["checkout"]
    assert stock(api, product["id"]) == 1
    deadline = time.monotonic() + 20
    while api.orders(buyer)[0]["status"] == "awaiting_payment" and time.monotonic() < deadline:
        time.sleep(0.3)
    order = api.http.get(f"/api/v1/orders/{placed['orders'][0]['id']}", headers=buyer.headers).json()["order"]
    assert order["status"] == "cancelled" and order["cancel_reason"] == "not paid in time"
    assert "strike" not in order["events"][-1]["detail"]
    assert stock(api, product["id"]) == 3
    r = api.http.post(f"/api/v1/checkouts/{placed['id']}/pay", headers=buyer.headers,
                      json={"payment_method": CARD, "idempotency_key": key()})
    assert r.status_code == 200 and r.json()["paid"]  # nothing left to pay
    assert r.json()["orders"] == [{"order_id": order["id"], "status": "cancelled"}]
    me = api.http.get("/api/v1/auth/me", headers=buyer.headers)
    if me.status_code == 200:
        assert me.json()["user"].get("banned") is False
    api.close()
