"""Refunds go back through the provider and the ledger, once per key, never above the capture."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .api import Api, User, error_code, key
from .servers import Server
from .test_order_payment import sql


def paid_order(api: Api, price: int = 10_000) -> tuple[User, User, dict]:
    seller, winner = api.seller(), api.user("winner")
    aid = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=price)["id"]
    assert api.bid(winner, aid, amount=price).status_code == 201
    api.wait_closed(aid, timeout=15)
    (order,) = api.orders(winner)
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers,
                      json={"payment_method": "4242424242424242", "idempotency_key": key()})
    assert r.status_code == 200, r.text
    return seller, winner, order


def refund(api: Api, who: User, order_id: int, amount: int, idem: str | None = None) -> httpx.Response:
    return api.http.post(f"/api/v1/orders/{order_id}/refunds", headers=who.headers,
                         json={"amount": amount, "reason": "damaged", "idempotency_key": idem or key()})


def balance(api: Api, seller: User) -> dict:
    return api.http.get("/api/v1/shops/mine/balance", headers=seller.headers).json()["balance"]


def test_a_retried_refund_refunds_once_and_the_ledger_gives_back_commission(api: Api) -> None:
    seller, winner, order = paid_order(api)
    idem = key()
    first = refund(api, seller, order["id"], 2_500, idem)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["refund"]["status"] == "succeeded" and not body["replayed"]
    assert body["order"]["payment_state"] == "partially_refunded"
    again = refund(api, seller, order["id"], 2_500, idem)
    assert again.status_code == 200 and again.json()["replayed"]
    assert again.json()["refund"]["id"] == body["refund"]["id"]
    reused = refund(api, seller, order["id"], 1_000, idem)
    assert reused.status_code == 409 and error_code(reused) == "idempotency_key_reused"
    # 9 800 pending after the sale; 2 500 refunded = 2 450 from the seller + 50 of commission.
    assert balance(api, seller) == {"EUR": {"pending": 7_350}}
    refunds = api.http.get(f"/api/v1/orders/{order['id']}/refunds", headers=winner.headers).json()["refunds"]
    assert [r["amount"] for r in refunds] == [2_500]
    events = api.http.get(f"/api/v1/orders/{order['id']}", headers=winner.headers).json()["order"]["events"]
    assert any(e["kind"] == "refunded" for e in events)


def test_refunds_never_exceed_the_capture_even_concurrently(api: Api) -> None:
    seller, _, order = paid_order(api)
    too_much = refund(api, seller, order["id"], 10_001)
    assert too_much.status_code == 409 and error_code(too_much) == "refund_exceeds_captured"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: refund(api, seller, order["id"], 3_000), range(8)))
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) == 3, [r.text for r in results]
    assert all(error_code(r) == "refund_exceeds_captured" for r in results if r.status_code != 200)
    last = refund(api, seller, order["id"], 1_000)
    assert last.status_code == 200 and last.json()["order"]["payment_state"] == "refunded"
    assert set(balance(api, seller).get("EUR", {}).values()) <= {0}  # the seller gave everything back
    assert error_code(refund(api, seller, order["id"], 1)) == "refund_exceeds_captured"


def test_only_the_seller_or_an_admin_refunds(api: Api) -> None:
    _, winner, order = paid_order(api)
    assert refund(api, winner, order["id"], 100).status_code == 403
    assert refund(api, api.user("stranger"), order["id"], 100).status_code == 404
    bad = api.http.post(f"/api/v1/orders/{order['id']}/refunds", headers=api.admin().headers,
                        json={"amount": -5, "reason": "x", "idempotency_key": key()})
    assert bad.status_code == 422
    assert refund(api, api.admin(), order["id"], 100).status_code == 200


def test_a_refund_refused_once_succeeds_when_retried_with_the_same_key(api: Api, server: Server) -> None:
    seller, winner, order = paid_order(api)
    (intent_id,) = sql(server, "SELECT provider_intent_id FROM payments WHERE order_id = :id AND status = 'succeeded'",
                       id=order["id"])[0]
    # The card network has already given the money back another way: it refuses Bidcast's refund.
    sql(server, "UPDATE sandbox_intents SET refunded = captured WHERE id = :id", id=intent_id)
    idem = f"cancel:{order['id']}"  # a fixed key, as a cancellation's refund uses
    refused = refund(api, seller, order["id"], 2_500, idem)
    assert refused.status_code == 409 and error_code(refused) == "refund_failed", refused.text
    again = refund(api, seller, order["id"], 2_500, idem)
    assert again.status_code == 409 and error_code(again) == "refund_failed"
    assert sql(server, "SELECT refunded_amount, payment_state FROM orders WHERE id = :id",
               id=order["id"]) == [(0, "paid")]  # nothing stays reserved
    # The network takes that back: the same key now refunds, once.
    sql(server, "UPDATE sandbox_intents SET refunded = 0 WHERE id = :id", id=intent_id)
    done = refund(api, seller, order["id"], 2_500, idem)
    assert done.status_code == 200, done.text
    assert done.json()["refund"]["status"] == "succeeded" and done.json()["order"]["refunded_amount"] == 2_500
    replay = refund(api, seller, order["id"], 2_500, idem)
    assert replay.status_code == 200 and replay.json()["replayed"]
    assert sql(server, "SELECT refunded FROM sandbox_intents WHERE id = :id", id=intent_id) == [(2_500,)]
    assert sql(server, "SELECT count(*) FROM sandbox_refunds WHERE intent_id = :id", id=intent_id) == [(1,)]
    assert balance(api, seller) == {"EUR": {"pending": 7_350}}
    refunds = api.http.get(f"/api/v1/orders/{order['id']}/refunds", headers=winner.headers).json()["refunds"]
    assert [(r["amount"], r["status"]) for r in refunds] == [(2_500, "succeeded")]
