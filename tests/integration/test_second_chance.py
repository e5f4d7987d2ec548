"""Second-chance offers and payment-due reminders, on SQLite and PostgreSQL, with a 9-second
payment window: a winner who does not pay is reminded once and then loses the order; the seller
offers the lot to the runner-up at their highest bid, who pays it, declines it or lets it lapse
(no strike either way)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .api import Api, User, error_code
from .notify_servers import server_with
from .servers import Server

SHORT = {"BIDCAST_PAYMENT_WINDOW_SECONDS": "9", "BIDCAST_DEADLINE_SWEEP_SECONDS": "0.5",
         "BIDCAST_REMINDER_SWEEP_SECONDS": "0.3"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def short_server(request, tmp_path_factory) -> Iterator[Server]:  # noqa: ANN001
    tmp: Path = tmp_path_factory.mktemp(f"second-{request.param}")
    with server_with(request.param, tmp, SHORT) as server:
        yield server


@pytest.fixture
def api(short_server: Server) -> Iterator[Api]:
    client = Api(short_server.url)
    yield client
    client.close()


def order(api: Api, user: User, order_id: int) -> dict:
    r = api.http.get(f"/api/v1/orders/{order_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["order"]


def kinds(api: Api, user: User) -> list[str]:
    r = api.http.get("/api/v1/me/notifications", headers=user.headers, params={"limit": 100})
    return [n["kind"] for n in r.json()["notifications"]]


def stock(api: Api, product_id: int) -> int:
    return api.http.get(f"/api/v1/products/{product_id}").json()["product"]["stock"]


def wait_status(api: Api, user: User, order_id: int, status: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while (o := order(api, user, order_id))["status"] != status and time.monotonic() < deadline:
        time.sleep(0.3)
    assert o["status"] == status, o
    return o


def offer(api: Api, user: User, order_id: int):  # noqa: ANN201
    return api.http.post(f"/api/v1/orders/{order_id}/second-chance", headers=user.headers)


def test_unpaid_win_reminded_once_then_offered_to_the_runner_up(api: Api) -> None:
    seller, stranger = api.seller(), api.user("stranger")
    low, runner, winner = api.user("low"), api.user("runner"), api.user("winner")
    decliner, w2 = api.user("decliner"), api.user("winner2")
    idle, w3 = api.user("idle"), api.user("winner3")
    alone = api.user("alone")
    lot = {name: api.live_lot(seller, duration_seconds=5, soft_close_seconds=0)
           for name in ("paid", "declined", "lapsed", "lonely")}
    bids = [(low, "paid", 200, None), (runner, "paid", 300, None), (winner, "paid", None, 2000),
            (runner, "paid", 500, None),          # the runner-up's highest accepted bid: 500
            (decliner, "declined", 400, None), (w2, "declined", 800, None),
            (idle, "lapsed", 300, None), (w3, "lapsed", 600, None), (alone, "lonely", 300, None)]
    for user, name, amount, max_amount in bids:
        r = api.bid(user, lot[name]["id"], amount=amount, max_amount=max_amount)
        assert r.status_code == 201, r.text
    for name in lot:
        api.wait_closed(lot[name]["id"], timeout=20)
    won = {name: api.orders(u)[0] for name, u in
           (("paid", winner), ("declined", w2), ("lapsed", w3), ("lonely", alone))}

    # Not offerable while the winner may still pay.
    r = offer(api, seller, won["paid"]["id"])
    assert r.status_code == 409 and error_code(r) == "not_offerable"

    cancelled = wait_status(api, winner, won["paid"]["id"], "cancelled")
    assert cancelled["cancel_reason"] == "not paid in time"
    assert kinds(api, winner).count("payment_due") == 1 and "order_cancelled" in kinds(api, winner)
    for name, u in (("declined", w2), ("lapsed", w3), ("lonely", alone)):
        wait_status(api, u, won[name]["id"], "cancelled")
    product = lot["paid"]["product_id"]
    before = stock(api, product)

    # Who may offer, and to whom.
    preview = api.http.get(f"/api/v1/orders/{won['paid']['id']}/second-chance", headers=seller.headers).json()
    assert preview["runner_up"] == {"id": runner.id, "display_name": "runner",
                                    "amount": {"amount": 500, "currency": "EUR"}}
    for user, status, code in ((winner, 403, "forbidden"), (stranger, 404, "not_found")):
        r = offer(api, user, won["paid"]["id"])
        assert r.status_code == status and error_code(r) == code, r.text
    listed = api.http.get("/api/v1/me/second-chances", headers=seller.headers).json()["offerable"]
    assert {o["order_id"] for o in listed} == {won[n]["id"] for n in ("paid", "declined", "lapsed")}

    r = offer(api, seller, won["paid"]["id"])
    assert r.status_code == 201, r.text
    new_id = r.json()["offered"]["order_id"]
    assert r.json()["offered"]["amount"] == {"amount": 500, "currency": "EUR"}
    assert stock(api, product) == before - 1
    r = offer(api, seller, won["paid"]["id"])
    assert r.status_code == 409 and error_code(r) == "already_offered"
    assert r.json()["error"]["offer_order_id"] == new_id
    r = offer(api, seller, new_id)   # an offer is not offered on
    assert r.status_code == 409 and error_code(r) == "not_offerable"

    assert "second_chance" in kinds(api, runner)
    mine = api.http.get("/api/v1/me/second-chance-offers", headers=runner.headers).json()["offers"]
    assert [(o["order_id"], o["amount"]["amount"]) for o in mine] == [(new_id, 500)]
    fresh = order(api, runner, new_id)
    assert fresh["status"] == "awaiting_payment" and fresh["total"]["amount"] == 500 and fresh["pay_by"]
    assert "second-chance offer" in fresh["events"][0]["detail"]
    assert order(api, seller, won["paid"]["id"])["events"][-1]["kind"] == "second_chance_offered"
    r = api.http.post(f"/api/v1/orders/{new_id}/pay", headers=runner.headers,
                      json={"payment_method": "4242424242424242", "idempotency_key": "second-1"})
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert "paid" in kinds(api, seller)

    # Declined: cancelled, the unit back, no strike; only the buyer can decline, once.
    declined_product = lot["declined"]["product_id"]
    before = stock(api, declined_product)
    r = offer(api, seller, won["declined"]["id"])
    assert r.status_code == 201, r.text
    offer_id = r.json()["offered"]["order_id"]
    assert stock(api, declined_product) == before - 1
    r = api.http.post(f"/api/v1/orders/{offer_id}/decline", headers=seller.headers)
    assert r.status_code == 403
    r = api.http.post(f"/api/v1/orders/{won['lapsed']['id']}/decline", headers=w3.headers)
    assert r.status_code == 409 and error_code(r) == "not_declinable"   # not an offer
    r = api.http.post(f"/api/v1/orders/{offer_id}/decline", headers=decliner.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = api.http.post(f"/api/v1/orders/{offer_id}/decline", headers=decliner.headers)
    assert r.status_code == 409 and error_code(r) == "not_declinable"
    gone = order(api, decliner, offer_id)
    assert gone["cancel_reason"] == "offer declined" and stock(api, declined_product) == before
    assert all("strike" not in (e["detail"] or "") for e in gone["events"])

    # Nobody else bid: nothing to offer.
    r = offer(api, seller, won["lonely"]["id"])
    assert r.status_code == 409 and error_code(r) == "no_runner_up"

    # Let lapse: cancelled at the deadline, without a strike, after one reminder.
    r = offer(api, seller, won["lapsed"]["id"])
    assert r.status_code == 201, r.text
    lapsed_id = r.json()["offered"]["order_id"]
    lapsed = wait_status(api, idle, lapsed_id, "cancelled")
    assert lapsed["cancel_reason"] == "not paid in time"
    assert all("strike" not in (e["detail"] or "") for e in lapsed["events"])
    assert kinds(api, idle).count("payment_due") == 1
    assert "strike 1" in order(api, w3, won["lapsed"]["id"])["events"][-2]["detail"]
    r = offer(api, seller, won["lapsed"]["id"])
    assert r.status_code == 409 and error_code(r) == "already_offered"


def test_a_winner_who_cancels_unpaid_is_struck_and_the_lot_offered_to_the_runner_up(api: Api) -> None:
    seller, runner, winner = api.seller(), api.user("runner"), api.user("winner")
    loser, w2 = api.user("loser"), api.user("winner2")
    walked = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0)
    dropped = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0)
    for user, lot, amount in ((runner, walked, 300), (winner, walked, 700), (loser, dropped, 300),
                              (w2, dropped, 600)):
        r = api.bid(user, lot["id"], amount=amount)
        assert r.status_code == 201, r.text
    for lot in (walked, dropped):
        api.wait_closed(lot["id"], timeout=20)
    (won,), (won2,) = api.orders(winner), api.orders(w2)

    # The winner walks away before the deadline: a strike, and the seller may offer the lot.
    r = api.http.post(f"/api/v1/orders/{won['id']}/cancel", headers=winner.headers,
                      json={"reason": "bought one elsewhere"})
    assert r.status_code == 200, r.text
    assert r.json()["order"]["events"][-1]["detail"].endswith("buyer strike 1")
    # The seller cancelling an unpaid order is not a non-payment: nothing to offer.
    r = api.http.post(f"/api/v1/orders/{won2['id']}/cancel", headers=seller.headers,
                      json={"reason": "the item broke"})
    assert r.status_code == 200, r.text
    listed = api.http.get("/api/v1/me/second-chances", headers=seller.headers).json()["offerable"]
    assert [o["order_id"] for o in listed] == [won["id"]]
    r = offer(api, seller, won2["id"])
    assert r.status_code == 409 and error_code(r) == "not_offerable"

    before = stock(api, walked["product_id"])
    r = offer(api, seller, won["id"])
    assert r.status_code == 201, r.text
    assert r.json()["offered"]["runner_up_id"] == runner.id
    assert r.json()["offered"]["amount"] == {"amount": 300, "currency": "EUR"}
    assert stock(api, walked["product_id"]) == before - 1
    assert "second_chance" in kinds(api, runner)
    r = offer(api, seller, won["id"])
    assert r.status_code == 409 and error_code(r) == "already_offered"
