"""A live lot from start to close, through the public API, on SQLite and PostgreSQL."""
from __future__ import annotations

import time

import httpx

from .api import Api, key


def test_proxy_bidding_and_close_creates_the_winners_order(api: Api) -> None:
    seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
    lot = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=1000)
    aid = lot["id"]

    r = api.bid(alice, aid, max_amount=3000)
    assert r.status_code == 201 and r.json()["price"] == 1000 and r.json()["leading"]
    r = api.bid(bob, aid, amount=1500)  # alice's proxy answers one step above
    assert r.status_code == 201 and r.json()["price"] == 1550 and not r.json()["leading"]
    r = api.bid(bob, aid, max_amount=5000)
    assert r.json()["leading"] and r.json()["price"] == 3100

    view = api.auction(aid, alice)
    assert view["leader"]["id"] == bob.id and view["your_max"] is None
    assert api.auction(aid, bob)["your_max"] == 5000

    time.sleep(max(0.0, lot["duration_seconds"] - 1) + 1.5)
    view = api.auction(aid)
    assert view["status"] == "closed" and view["outcome"] == "sold"
    assert view["winner_id"] == bob.id and view["final_price"] == 3100
    orders = api.http.get("/api/v1/orders", headers=bob.headers).json()["orders"]
    assert [(o["auction_id"], o["total"]["amount"], o["status"]) for o in orders] == [
        (aid, 3100, "awaiting_payment")]
    late = api.bid(alice, aid, amount=9000)
    assert late.status_code == 409 and late.json()["error"]["code"] == "auction_closed"


def test_retried_bid_returns_the_original_outcome_and_bids_once(api: Api) -> None:
    seller, alice = api.seller(), api.user("alice")
    aid = api.live_lot(seller)["id"]
    first = api.bid(alice, aid, amount=200, idem="retry-1")
    again = api.bid(alice, aid, amount=200, idem="retry-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["seq"] == first.json()["seq"] and again.json()["replayed"]
    assert len(api.bids(aid)) == 1
    other = api.bid(alice, aid, amount=500, idem="retry-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_seller_cannot_bid_and_banned_user_is_refused(api: Api) -> None:
    seller, mallory = api.seller(), api.user("mallory")
    aid = api.live_lot(seller)["id"]
    r = api.bid(seller, aid, amount=500)
    assert r.status_code == 403 and r.json()["error"]["code"] == "own_lot"
    assert api.http.post(f"/api/v1/admin/users/{mallory.id}/ban", headers=api.admin().headers).status_code == 200
    r = api.bid(mallory, aid, amount=500)
    assert r.status_code == 403 and r.json()["error"]["code"] == "banned"
    assert api.auction(aid)["bid_count"] == 0


def test_shop_applications_are_private_until_approved(api: Api) -> None:
    applicant, stranger = api.user("applicant"), api.user("stranger")
    r = api.http.post("/api/v1/shops", headers=applicant.headers, json={
        "name": f"Pending {key()[:8]}", "description": "d", "contact_email": applicant.email})
    shop_id = r.json()["shop"]["id"]
    assert api.http.get(f"/api/v1/shops/{shop_id}", headers=stranger.headers).status_code == 404
    mine = api.http.get(f"/api/v1/shops/{shop_id}", headers=applicant.headers).json()["shop"]
    assert mine["contact_email"] == applicant.email
    api.http.post(f"/api/v1/admin/shops/{shop_id}/review", headers=api.admin().headers, json={"approve": True})
    with httpx.Client(base_url=api.base_url) as anonymous:  # no cookies from earlier logins
        public = anonymous.get(f"/api/v1/shops/{shop_id}").json()["shop"]
    assert public["status"] == "approved" and "contact_email" not in public
