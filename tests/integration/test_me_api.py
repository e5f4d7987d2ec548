"""A person's own activity (/api/v1/me/...): bids with their state, orders, sales and their
notifications, on SQLite and PostgreSQL. Nobody sees anyone else's."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from .api import PASSWORD, Api, User, error_code


def get(api: Api, user: User | None, path: str, **params) -> dict:  # noqa: ANN003
    r = api.http.get(path, headers=user.headers if user else {}, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def states(api: Api, user: User) -> dict[int, str]:
    return {b["auction_id"]: b["state"] for b in get(api, user, "/api/v1/me/bids")["bids"]}


def test_bids_orders_and_notifications_for_winner_loser_and_a_stranger(api: Api) -> None:
    seller, alice, bob, carol = api.seller(), api.user("alice"), api.user("bob"), api.user("carol")
    lot = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=1000)
    reserve_lot = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=100,
                               reserve_price=50_000)
    aid, rid = lot["id"], reserve_lot["id"]

    assert api.bid(alice, aid, max_amount=3000).status_code == 201
    assert api.bid(bob, aid, amount=1500).status_code == 201      # alice's proxy answers: bob outbid
    assert api.bid(bob, aid, max_amount=5000).status_code == 201  # bob leads at 3100, alice outbid
    assert api.bid(alice, rid, amount=200).status_code == 201

    # While running: bob leads, alice is outbid; each sees their own maximum only.
    assert states(api, bob) == {aid: "leading"}
    assert states(api, alice) == {aid: "outbid", rid: "leading"}
    mine = get(api, alice, "/api/v1/me/bids", auction_id=aid)["bids"]
    assert len(mine) == 1 and mine[0]["your_max"] == {"amount": 3000, "currency": "EUR"}
    assert mine[0]["price"]["amount"] == 3100 and mine[0]["url"] == f"/rooms/{lot['room_id']}"
    assert get(api, bob, "/api/v1/me/bids", state="outbid")["bids"] == []

    api.wait_closed(aid, timeout=20)
    api.wait_closed(rid, timeout=20)

    # Closed: the winner won, the loser lost, the reserve lot ended unsold.
    assert states(api, bob) == {aid: "won"}
    assert states(api, alice) == {aid: "lost", rid: "unsold"}
    won = get(api, bob, "/api/v1/me/bids")["bids"][0]
    assert won["price"]["amount"] == 3100 and won["order"]["status"] == "awaiting_payment"
    assert get(api, alice, "/api/v1/me/bids", auction_id=aid)["bids"][0]["order"] is None
    assert [b["auction_id"] for b in get(api, alice, "/api/v1/me/bids", state="unsold")["bids"]] == [rid]

    # Orders: the buyer's with the product, the seller's sale with the buyer's name.
    orders = get(api, bob, "/api/v1/me/orders")["orders"]
    assert [(o["auction_id"], o["total"]["amount"], o["status"], o["product"]["title"]) for o in orders] == [
        (aid, 3100, "awaiting_payment", "Test lot")]
    assert get(api, alice, "/api/v1/me/orders")["orders"] == []
    sales = get(api, seller, "/api/v1/me/sales")["orders"]
    assert [(s["id"], s["buyer"]["id"], s["buyer"]["display_name"]) for s in sales] == [
        (orders[0]["id"], bob.id, "bob")]

    # Notifications (stored, newest first): bob was outbid, then won (pay now); alice was outbid.
    news = get(api, bob, "/api/v1/me/notifications")["notifications"]
    assert [n["kind"] for n in news] == ["won", "outbid"]
    assert news[0]["link"] == f"/me/orders#order-{orders[0]['id']}" and news[0]["unread"] is True
    assert [(n["kind"], n["link"]) for n in get(api, alice, "/api/v1/me/notifications")["notifications"]] == [
        ("outbid", f"/rooms/{lot['room_id']}")]
    assert [n["kind"] for n in get(api, bob, "/api/v1/me/summary")["notifications"]] == ["won", "outbid"]

    # A stranger sees none of it.
    assert get(api, carol, "/api/v1/me/bids")["bids"] == []
    assert get(api, carol, "/api/v1/me/notifications")["notifications"] == []
    assert get(api, carol, "/api/v1/me/orders")["orders"] == []
    assert get(api, carol, "/api/v1/me/sales")["orders"] == []
    assert get(api, carol, "/api/v1/me/bids", auction_id=aid)["bids"] == []
    summary = get(api, carol, "/api/v1/me/summary")
    assert summary["bids"] == dict.fromkeys(("leading", "outbid", "won", "lost", "unsold"), 0)
    assert summary["notifications"] == [] and summary["live"] == []
    assert get(api, bob, "/api/v1/me/summary")["orders"] == {"total": 1, "awaiting_payment": 1}


def test_me_endpoints_need_a_login_and_valid_query_ids(api: Api) -> None:
    alice = api.user("alice")
    anonymous = httpx.Client(base_url=api.base_url, timeout=30)  # api.http keeps login cookies
    for path in ("bids", "orders", "sales", "products", "notifications", "summary"):
        r = anonymous.get(f"/api/v1/me/{path}")
        assert r.status_code == 401 and error_code(r) == "unauthenticated", path
    anonymous.close()
    for params in ({"auction_id": 0}, {"auction_id": 2**63}, {"auction_id": "x"},
                   {"state": "winning"}, {"limit": 0}, {"limit": 201}):
        r = api.http.get("/api/v1/me/bids", headers=alice.headers, params=params)
        assert r.status_code == 422 and error_code(r) == "validation_failed", params


def test_my_products_include_withdrawn_ones_and_only_my_shops(api: Api) -> None:
    seller, rival, buyer = api.seller(), api.seller(), api.user("buyer")
    kept, gone = api.product(seller), api.product(seller)
    api.product(rival)
    r = api.http.post(f"/api/v1/products/{gone['id']}/withdraw", headers=seller.headers)
    assert r.status_code == 200, r.text
    body = get(api, seller, "/api/v1/me/products")
    assert body["shop"]["status"] == "approved"
    assert [(p["id"], p["status"]) for p in body["products"]] == [(gone["id"], "withdrawn"),
                                                                    (kept["id"], "active")]
    assert get(api, buyer, "/api/v1/me/products") == {"shop": None, "products": []}


@contextmanager
def page_client(api: Api, user: User | None) -> Iterator[httpx.Client]:
    """A client holding `user`'s session cookie, as a browser would (no bearer token)."""
    with httpx.Client(base_url=api.base_url, timeout=30, follow_redirects=False) as client:
        if user is not None:
            r = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
            assert r.status_code == 200, r.text
        yield client


def test_pages_behind_login_admin_and_shop_ownership(api: Api) -> None:
    seller, rival, buyer = api.seller(), api.seller(), api.user("buyer")
    own, theirs = api.product(seller), api.product(rival)
    pending = api.user("applicant")
    r = api.http.post("/api/v1/shops", headers=pending.headers, json={
        "name": f"Pending {pending.id}", "contact_email": pending.email})
    assert r.status_code == 201, r.text
    pages = ["/seller", "/seller/products", "/seller/products/new", f"/seller/products/{own['id']}/edit",
             "/seller/orders", "/admin/shops", "/me", "/me/bids", "/me/orders", "/me/notifications"]

    with page_client(api, None) as anonymous:
        for path in pages:
            r = anonymous.get(path)
            assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path

    with page_client(api, buyer) as b:
        for path in ("/me", "/me/bids", "/me/orders", "/me/notifications"):
            r = b.get(path)
            assert r.status_code == 200 and "data-me-view" in r.text, path
            assert "script-src 'self'" in r.headers["content-security-policy"]
        assert 'data-testid="shop-apply-form"' in b.get("/seller").text
        for path in ("/seller/products", "/seller/products/new", "/seller/orders"):
            assert b.get(path).headers.get("location") == "/seller", path
        r = b.get("/admin/shops")
        assert r.status_code == 403 and 'data-testid="forbidden"' in r.text

    with page_client(api, pending) as p:
        assert 'data-status="pending"' in p.get("/seller").text

    with page_client(api, seller) as s:
        assert 'data-status="approved"' in s.get("/seller").text
        r = s.get(f"/seller/products/{own['id']}/edit")
        assert r.status_code == 200 and 'data-testid="product-form"' in r.text and 'value="10.00"' in r.text
        for missing in (theirs["id"], 987_654_321, 2**63):
            r = s.get(f"/seller/products/{missing}/edit")
            assert r.status_code == 404 and 'data-testid="product-missing"' in r.text, missing

    with page_client(api, api.admin()) as a:
        r = a.get("/admin/shops")
        assert r.status_code == 200 and 'data-testid="admin-pending-shop"' in r.text
        assert f"Pending {pending.id}" in r.text
