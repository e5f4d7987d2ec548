"""Bad input is refused with a clear 4xx and a machine-readable code, and changes nothing.

Every test takes a snapshot of a small "world" (a running lot with a bid, a room with a pending
lot, two sellers' products, a pending shop application, a buyer's order, the users' accounts)
before the bad request and checks that the world is exactly the same afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .api import Api, User, error_code, key
from .servers import Server

MISSING = 987_654_321   # an id no row has
VALID = 10_000          # well above the next valid bid: only the bad part of a body can refuse it


@dataclass
class World:
    api: Api
    admin: User
    seller: User     # hosts `room` (running `lot`, one bid by bob) and `pending_room` (a pending lot)
    rival: User      # another approved seller, with `rival_product`
    alice: User      # has `order` (bought a timed lot of the seller's outright)
    bob: User
    lot: int
    room: int
    pending_room: int
    pending_lot: int
    product: int
    rival_product: int
    shop: int
    rival_shop: int
    pending_shop: int  # an application nobody has reviewed yet
    order: int
    http: httpx.Client  # never logs in, so it carries no session cookie: only the headers we send count

    def ids(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in (
            "lot", "room", "pending_room", "pending_lot", "product", "rival_product", "shop",
            "rival_shop", "pending_shop", "order")} | {"missing": MISSING, "bob_id": self.bob.id}

    def send(self, method: str, path: str, as_: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """One request; "{name}" placeholders in the path and in body values become world ids."""
        ids = self.ids()
        h = dict(getattr(self, as_).headers) if as_ else {}
        h |= headers or {}
        return self.http.request(method, path.format(**ids), headers=h, json=_fill(body, ids))

    def state(self) -> dict[str, Any]:
        """Everything a bad request might have touched, as the API shows it."""
        def get(path: str, user: User | None = None) -> Any:  # noqa: ANN401
            r = self.http.get(path, headers=user.headers if user else {})
            assert r.status_code == 200, r.text
            return _strip(r.json())
        return {
            "lot": get(f"/api/v1/auctions/{self.lot}", self.alice),
            "bids": self.api.bids(self.lot),
            "rooms": [get(f"/api/v1/rooms/{r}") for r in (self.room, self.pending_room)],
            "catalog": [get(f"/api/v1/products?shop_id={s}&limit=200") for s in (self.shop, self.rival_shop)],
            "products": [get(f"/api/v1/products/{p}") for p in (self.product, self.rival_product)],
            "shops": [get(f"/api/v1/shops/{s}", self.admin) for s in (self.shop, self.pending_shop)],
            "users": [get("/api/v1/me", u) for u in (self.alice, self.bob, self.seller, self.rival)],
            "orders": [get(f"/api/v1/orders?as_seller={s}", u)
                       for u in (self.alice, self.bob, self.seller) for s in ("false", "true")],
        }


def _fill(body: Any, ids: dict[str, int]) -> Any:  # noqa: ANN401
    if isinstance(body, dict):
        return {k: _fill(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, ids) for v in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}") and body[1:-1] in ids:
        return ids[body[1:-1]]
    return body


def _strip(data: Any) -> Any:  # noqa: ANN401
    """Drop the fields that change on their own (the server's clock)."""
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k != "server_time"}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


@pytest.fixture(scope="module")
def world(server: Server):
    api = Api(server.url)
    seller, rival, alice, bob = api.seller(), api.seller(), api.user("alice"), api.user("bob")
    lot = api.live_lot(seller, duration_seconds=3600, soft_close_seconds=0, starting_price=100)
    assert api.bid(bob, lot["id"], amount=100).status_code == 201
    pending = api.live_lot(seller, start=False)
    rival_product = api.product(rival)

    applicant = api.user("applicant")
    r = api.http.post("/api/v1/shops", headers=applicant.headers, json={
        "name": f"Pending {key()[:8]}", "contact_email": applicant.email})
    assert r.status_code == 201, r.text

    # alice buys a timed lot outright, so she has an order of her own
    timed = api.http.post("/api/v1/auctions", headers=seller.headers, json={
        "product_id": api.product(seller)["id"], "starting_price": 100, "buy_now_price": 5000,
        "duration_seconds": 3600})
    assert timed.status_code == 201, timed.text
    bought = api.http.post(f"/api/v1/auctions/{timed.json()['auction']['id']}/buy-now",
                           headers=alice.headers, json={"idempotency_key": key()})
    assert bought.status_code == 201, bought.text
    [order] = api.orders(alice)

    w = World(api=api, admin=api.admin(), seller=seller, rival=rival, alice=alice, bob=bob,
              lot=lot["id"], room=lot["room_id"], pending_room=pending["room_id"],
              pending_lot=pending["id"], product=lot["product_id"],
              rival_product=rival_product["id"], shop=lot["shop_id"],
              rival_shop=rival_product["shop_id"], pending_shop=r.json()["shop"]["id"],
              order=order["id"], http=httpx.Client(base_url=server.url, timeout=30))
    yield w
    w.http.close()
    api.close()


def refused(world: World, status: int, code: str, method: str, path: str, as_: str | None = None,
            body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:  # noqa: ANN401
    """Send a request that must be refused with (status, code), and check nothing changed."""
    before = world.state()
    r = world.send(method, path, as_, body, headers)
    assert (r.status_code, error_code(r)) == (status, code), r.text
    assert r.json()["error"]["message"]
    assert world.state() == before
    return r


BIDS = "/api/v1/auctions/{lot}/bids"


# --- bodies that are not JSON objects ----------------------------------------------------------

@pytest.mark.parametrize(("content", "content_type"), [
    pytest.param(b'{"amount": 10000, "idempotency_key": ', "application/json", id="truncated-json"),
    pytest.param(b"{'amount': 10000}", "application/json", id="single-quotes"),
    pytest.param(b"[10000]", "application/json", id="json-array"),
    pytest.param(b"null", "application/json", id="json-null"),
    pytest.param(b"amount=10000", None, id="garbage-without-content-type"),
    pytest.param(b"\x00\xff\xfe\x01", None, id="binary-without-content-type"),
    pytest.param(b"amount=10000&idempotency_key=k1", "application/x-www-form-urlencoded", id="form"),
])
def test_malformed_bid_body_is_400_malformed_json(world: World, content: bytes,
                                                  content_type: str | None) -> None:
    headers = dict(world.alice.headers) | ({"content-type": content_type} if content_type else {})
    before = world.state()
    r = world.http.post(BIDS.format(**world.ids()), headers=headers, content=content)
    assert (r.status_code, error_code(r)) == (400, "malformed_json"), r.text
    assert world.state() == before


# --- bid bodies that are JSON but not a valid bid ----------------------------------------------

@pytest.mark.parametrize(("body", "status", "code"), [
    pytest.param({"amount": -500}, 422, "validation_failed", id="negative"),
    pytest.param({"amount": 0}, 422, "validation_failed", id="zero"),
    pytest.param({"amount": 10000.5}, 422, "validation_failed", id="float"),
    pytest.param({"amount": 10000.0}, 422, "validation_failed", id="whole-float"),
    pytest.param({"amount": "10000"}, 422, "validation_failed", id="string"),
    pytest.param({"amount": True}, 422, "validation_failed", id="bool"),
    pytest.param({"amount": None}, 422, "validation_failed", id="null-amount"),
    pytest.param({"amount": 1_000_000_001}, 422, "validation_failed", id="above-max"),
    pytest.param({"amount": 10**30}, 422, "validation_failed", id="absurd"),
    pytest.param({"max_amount": -1}, 422, "validation_failed", id="negative-max"),
    pytest.param({"max_amount": 10**12}, 422, "validation_failed", id="absurd-max"),
    pytest.param({"amount": VALID, "max_amount": VALID * 2}, 422, "validation_failed", id="both"),
    pytest.param({}, 422, "validation_failed", id="neither"),
    pytest.param({"amount": VALID, "currency": "USD"}, 422, "wrong_currency", id="wrong-currency"),
    pytest.param({"amount": VALID, "currency": "eur"}, 422, "validation_failed", id="not-a-currency"),
    pytest.param({"amount": VALID, "bidder_id": "{bob_id}"}, 422, "validation_failed", id="extra-field"),
    pytest.param({"amount": VALID, "idempotency_key": "k" * 65}, 422, "validation_failed", id="long-key"),
    pytest.param({"amount": VALID, "idempotency_key": "no spaces"}, 422, "validation_failed", id="bad-key"),
])
def test_invalid_bid_is_refused_and_changes_nothing(world: World, body: dict, status: int,
                                                    code: str) -> None:
    refused(world, status, code, "POST", BIDS, "alice", {"idempotency_key": key()} | body)


def test_bid_without_idempotency_key_is_refused(world: World) -> None:
    refused(world, 422, "idempotency_key_required", "POST", BIDS, "alice", {"amount": VALID})
    refused(world, 422, "idempotency_key_required", "POST", "/api/v1/auctions/{lot}/buy-now", "alice", {})


def test_a_refused_request_does_not_use_up_its_idempotency_key(api: Api) -> None:
    seller, alice = api.seller(), api.user("alice")
    aid = api.live_lot(seller, duration_seconds=600)["id"]
    body = {"idempotency_key": "fix-and-retry", "amount": 500}
    r = api.http.post(f"/api/v1/auctions/{aid}/bids", headers=alice.headers, json=body | {"currency": "GBP"})
    assert (r.status_code, error_code(r)) == (422, "wrong_currency")
    r = api.http.post(f"/api/v1/auctions/{aid}/bids", headers=alice.headers, json=body | {"currency": "EUR"})
    assert r.status_code == 201 and r.json()["seq"] == 1 and not r.json()["replayed"], r.text


# --- ids that do not exist ---------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "as_", "body"), [
    ("GET", "/api/v1/auctions/{missing}", None, None),
    ("GET", "/api/v1/auctions/{missing}/bids", None, None),
    ("POST", "/api/v1/auctions/{missing}/bids", "alice", {"amount": VALID, "idempotency_key": "k-404"}),
    ("POST", "/api/v1/auctions/{missing}/buy-now", "alice", {"idempotency_key": "k-404"}),
    ("GET", "/api/v1/products/{missing}", None, None),
    ("PATCH", "/api/v1/products/{missing}", "seller", {"title": "Renamed"}),
    ("POST", "/api/v1/products/{missing}/withdraw", "seller", None),
    ("GET", "/api/v1/rooms/{missing}", None, None),
    ("POST", "/api/v1/rooms/{missing}/go-live", "seller", None),
    ("POST", "/api/v1/rooms/{missing}/lots", "seller", {"product_id": "{product}", "starting_price": 100}),
    ("POST", "/api/v1/rooms/{pending_room}/lots", "seller", {"product_id": "{missing}", "starting_price": 100}),
    ("POST", "/api/v1/rooms/{missing}/lots/start-next", "seller", {}),
    ("GET", "/api/v1/shops/{missing}", None, None),
    ("POST", "/api/v1/admin/shops/{missing}/review", "admin", {"approve": True}),
    ("POST", "/api/v1/admin/users/{missing}/ban", "admin", None),
    ("GET", "/api/v1/orders/{missing}", "alice", None),
])
def test_unknown_ids_are_404_not_found(world: World, method: str, path: str, as_: str | None,
                                       body: dict | None) -> None:
    refused(world, 404, "not_found", method, path, as_, body)


@pytest.mark.parametrize("path", ["/api/v1/auctions/{}", "/api/v1/products/{}", "/api/v1/orders/{}"])
def test_ids_beyond_64_bits_are_a_clean_4xx(world: World, path: str) -> None:
    with httpx.Client(base_url=world.api.base_url) as fresh:  # a 500 may drop the connection
        r = fresh.get(path.format(2**63), headers=world.alice.headers)
    assert r.status_code in (404, 422) and error_code(r) in ("not_found", "validation_failed"), r.text


def test_a_non_numeric_id_is_422(world: World) -> None:
    refused(world, 422, "validation_failed", "GET", "/api/v1/auctions/abc")


# --- other people's things ---------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "as_", "body", "status", "code"), [
    pytest.param("POST", "/api/v1/rooms/{pending_room}/lots", "rival",
                 {"product_id": "{rival_product}", "starting_price": 100},
                 403, "forbidden", id="add-lot-to-other-hosts-room"),
    pytest.param("POST", "/api/v1/rooms/{pending_room}/lots", "seller",
                 {"product_id": "{rival_product}", "starting_price": 100},
                 403, "forbidden", id="auction-other-shops-product"),
    pytest.param("POST", "/api/v1/rooms/{pending_room}/lots/start-next", "rival", {},
                 403, "forbidden", id="start-lot-in-other-hosts-room"),
    pytest.param("PUT", "/api/v1/rooms/{pending_room}/lineup", "rival", {"lot_ids": ["{pending_lot}"]},
                 403, "forbidden", id="reorder-other-hosts-room"),
    pytest.param("POST", "/api/v1/rooms/{room}/end", "rival", None,
                 403, "forbidden", id="end-other-hosts-room"),
    pytest.param("POST", "/api/v1/rooms", "alice", {"title": "Mine", "scheduled_at": "2030-01-01T10:00:00Z"},
                 403, "forbidden", id="buyer-schedules-room"),
    pytest.param("POST", "/api/v1/products", "alice",
                 {"title": "x", "category": "misc", "sku": "s1", "price_amount": 100, "stock": 1},
                 403, "no_shop", id="buyer-creates-product"),
    pytest.param("POST", BIDS, "seller", {"amount": VALID, "idempotency_key": "own"},
                 403, "own_lot", id="seller-bids-on-own-lot"),
    pytest.param("GET", "/api/v1/orders/{order}", "bob", None, 404, "not_found", id="read-other-buyers-order"),
    pytest.param("GET", "/api/v1/orders/{order}", "rival", None, 404, "not_found", id="read-other-sellers-order"),
])
def test_other_peoples_resources_are_refused(world: World, method: str, path: str, as_: str,
                                             body: dict | None, status: int, code: str) -> None:
    refused(world, status, code, method, path, as_, body)


@pytest.fixture
def product_server(server: Server) -> Server:
    return server


def test_only_the_owning_shop_edits_or_withdraws_a_product(product_server: Server) -> None:
    api = Api(product_server.url)
    api.http.timeout = httpx.Timeout(5)
    try:
        seller, rival = api.seller(), api.seller()
        pid = api.product(seller)["id"]
        original = api.http.get(f"/api/v1/products/{pid}").json()["product"]

        r = api.http.patch(f"/api/v1/products/{pid}", headers=rival.headers, json={"title": "Hijacked"})
        assert (r.status_code, error_code(r)) == (403, "forbidden"), r.text
        r = api.http.post(f"/api/v1/products/{pid}/withdraw", headers=rival.headers)
        assert (r.status_code, error_code(r)) == (403, "forbidden"), r.text
        assert api.http.get(f"/api/v1/products/{pid}").json()["product"] == original

        r = api.http.patch(f"/api/v1/products/{pid}", headers=seller.headers, json={"title": "Renamed"})
        assert r.status_code == 200 and r.json()["product"]["title"] == "Renamed", r.text
        r = api.http.post(f"/api/v1/products/{pid}/withdraw", headers=seller.headers)
        assert r.status_code == 200 and r.json()["product"]["status"] == "withdrawn", r.text
        r = api.http.patch(f"/api/v1/products/{pid}", headers=seller.headers, json={"title": "Again"})
        assert (r.status_code, error_code(r)) == (409, "withdrawn"), r.text
    finally:
        api.close()


def test_the_buyer_and_the_seller_can_read_the_order(world: World) -> None:
    for who in (world.alice, world.seller):
        r = world.http.get(f"/api/v1/orders/{world.order}", headers=who.headers)
        assert r.status_code == 200 and r.json()["order"]["buyer_id"] == world.alice.id


@pytest.mark.parametrize("as_", ["alice", "seller"])
@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/admin/users/{bob_id}/ban", None),
    ("POST", "/api/v1/admin/users/{bob_id}/unban", None),
    ("POST", "/api/v1/admin/users/{bob_id}/roles/admin", None),
    ("GET", "/api/v1/admin/shops", None),
    ("POST", "/api/v1/admin/shops/{pending_shop}/review", {"approve": True}),
])
def test_admin_endpoints_are_403_for_non_admins(world: World, as_: str, method: str, path: str,
                                                body: dict | None) -> None:
    refused(world, 403, "forbidden", method, path, as_, body)


# --- who is asking -----------------------------------------------------------------------------

PROTECTED = [
    ("POST", BIDS, {"amount": VALID, "idempotency_key": "anon"}),
    ("POST", "/api/v1/auctions/{lot}/buy-now", {"idempotency_key": "anon"}),
    ("POST", "/api/v1/products", {"title": "x", "category": "misc", "sku": "anon", "price_amount": 100,
                                  "stock": 1}),
    ("PATCH", "/api/v1/products/{product}", {"title": "Renamed"}),
    ("POST", "/api/v1/products/{product}/withdraw", None),
    ("POST", "/api/v1/rooms", {"title": "Room", "scheduled_at": "2030-01-01T10:00:00Z"}),
    ("POST", "/api/v1/rooms/{pending_room}/lots/start-next", {}),
    ("POST", "/api/v1/shops", {"name": "Anonymous shop", "contact_email": "a@b.example"}),
    ("POST", "/api/v1/admin/users/{bob_id}/ban", None),
    ("GET", "/api/v1/orders", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
@pytest.mark.parametrize(("headers", "code"), [
    pytest.param({}, "unauthenticated", id="no-token"),
    pytest.param({"Authorization": "Basic YWxpY2U6cHc="}, "unauthenticated", id="not-bearer"),
    pytest.param({"Authorization": "Bearer not-a-real-token"}, "invalid_token", id="invalid-token"),
])
def test_writes_and_private_reads_need_a_valid_token(world: World, method: str, path: str, body: dict | None,
                                   headers: dict, code: str) -> None:
    refused(world, 401, code, method, path, None, body, headers)


def test_a_logged_out_token_is_refused(world: World) -> None:
    session = world.api.login(world.alice.email)
    assert world.api.http.post("/api/v1/auth/logout", headers=session.headers).status_code == 204
    refused(world, 401, "invalid_token", "POST", BIDS, None, {"amount": VALID, "idempotency_key": key()},
            session.headers)


@pytest.mark.parametrize("csrf", [None, "wrong"])
def test_a_session_cookie_without_its_csrf_token_cannot_write(world: World, csrf: str | None) -> None:
    browser = Api(world.api.base_url)  # logging in sets the session and CSRF cookies in its jar
    try:
        browser.login(world.alice.email)
        before = world.state()
        r = browser.http.post(BIDS.format(**world.ids()), json={"amount": VALID, "idempotency_key": key()},
                              headers={"X-CSRF-Token": csrf} if csrf else {})
        assert (r.status_code, error_code(r)) == (403, "csrf_failed"), r.text
        assert world.state() == before
    finally:
        browser.close()


# --- bad catalog and lot input -----------------------------------------------------------------

PRODUCT = {"title": "Lamp", "category": "misc", "price_amount": 2500, "currency": "EUR", "stock": 3}


@pytest.mark.parametrize(("change", "code"), [
    pytest.param({"currency": "XYZ"}, "unknown_currency", id="unknown-currency"),
    pytest.param({"currency": "eur"}, "validation_failed", id="lowercase-currency"),
    pytest.param({"stock": -1}, "validation_failed", id="negative-stock"),
    pytest.param({"stock": 1.5}, "validation_failed", id="fractional-stock"),
    pytest.param({"price_amount": 0}, "validation_failed", id="zero-price"),
    pytest.param({"price_amount": 1_000_000_001}, "validation_failed", id="absurd-price"),
    pytest.param({"title": "   "}, "validation_failed", id="blank-title"),
    pytest.param({"image_urls": ["javascript:alert(1)"]}, "validation_failed", id="bad-image-url"),
    pytest.param({"shop_id": "{rival_shop}"}, "validation_failed", id="extra-field-shop-id"),
    pytest.param({"status": "withdrawn"}, "validation_failed", id="extra-field-status"),
])
def test_bad_new_product_is_422_and_not_created(world: World, change: dict, code: str) -> None:
    refused(world, 422, code, "POST", "/api/v1/products", "seller", PRODUCT | {"sku": key()[:12]} | change)


@pytest.mark.parametrize("change", [
    pytest.param({"stock": -1}, id="negative-stock"),
    pytest.param({"price_amount": -5}, id="negative-price"),
    pytest.param({"currency": "USD"}, id="currency-is-fixed"),
    pytest.param({"sku": "other"}, id="sku-is-fixed"),
    pytest.param({"shop_id": "{rival_shop}"}, id="shop-is-fixed"),
    pytest.param({"condition": "mint"}, id="unknown-condition"),
])
def test_bad_product_edit_is_422_and_leaves_the_product_alone(world: World, change: dict) -> None:
    refused(world, 422, "validation_failed", "PATCH", "/api/v1/products/{product}", "seller", change)


@pytest.mark.parametrize(("lot", "code"), [
    pytest.param({"starting_price": 0}, "validation_failed", id="zero-start"),
    pytest.param({"starting_price": 500, "reserve_price": 100}, "invalid_rules", id="reserve-below-start"),
    pytest.param({"starting_price": 500, "buy_now_price": 500}, "invalid_rules", id="buy-now-not-above-start"),
    pytest.param({"duration_seconds": 1}, "validation_failed", id="too-short"),
    pytest.param({"soft_close_seconds": -1}, "validation_failed", id="negative-soft-close"),
    pytest.param({"increments": [[10, 5]]}, "invalid_rules", id="ladder-not-from-zero"),
    pytest.param({"format": "dutch"}, "validation_failed", id="unknown-format"),
])
def test_bad_lot_is_422_and_not_added(world: World, lot: dict, code: str) -> None:
    body = {"product_id": "{product}", "starting_price": 100} | lot
    refused(world, 422, code, "POST", "/api/v1/rooms/{pending_room}/lots", "seller", body)
