"""The winner pays for the lot: the card is charged once and the sale is posted to the ledger."""
from __future__ import annotations

from .api import Api, User, key


def _won_order(api: Api) -> tuple[User, User, dict]:
    seller, winner = api.seller(), api.user("winner")
    aid = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=10_000)["id"]
    assert api.bid(winner, aid, amount=10_000).status_code == 201
    api.wait_closed(aid, timeout=15)
    (order,) = api.orders(winner)
    return seller, winner, order


def test_the_winner_pays_once_and_the_seller_sees_the_sale_minus_commission(api: Api) -> None:
    seller, winner, order = _won_order(api)
    pay = {"payment_method": "4242424242424242", "idempotency_key": key()}
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers, json=pay)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paid"
    again = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers, json=pay)
    assert again.status_code == 200 and again.json()["replayed"]
    other_key = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers,
                              json=pay | {"idempotency_key": key()})
    assert other_key.status_code == 409 and other_key.json()["error"]["code"] == "not_payable"
    assert api.orders(winner)[0]["status"] == "paid"
    balance = api.http.get("/api/v1/shops/mine/balance", headers=seller.headers).json()["balance"]
    assert balance == {"EUR": {"pending": 9_800}}  # €100.00 less the 2 % commission


def test_a_declined_card_leaves_the_order_awaiting_payment(api: Api) -> None:
    _, winner, order = _won_order(api)
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers,
                      json={"payment_method": "4000000000000002", "idempotency_key": key()})
    assert r.status_code == 402 and r.json()["error"]["code"] == "card_declined"
    assert api.orders(winner)[0]["status"] == "awaiting_payment"
    stranger = api.user("stranger")
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=stranger.headers,
                      json={"payment_method": "4242424242424242", "idempotency_key": key()})
    assert r.status_code == 404
