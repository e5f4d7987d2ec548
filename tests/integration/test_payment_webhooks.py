"""The provider's webhooks over real HTTP: signed ones reconcile, forged/stale/replayed are refused."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from bidcast.payments.webhooks import sign

from .api import Api, User, error_code, key
from .servers import Server
from .test_order_payment import sql

EXTRA_STEP = "4000002500003155"
URL = "/api/v1/payments/webhooks"


def secret(server: Server) -> str:
    # The server's default: derived from its secret key (docs/payments.md).
    return hmac.new(server.secret_key.encode(), b"bidcast.payment-webhooks", hashlib.sha256).hexdigest()


def won_order(api: Api) -> tuple[User, dict]:
    seller, winner = api.seller(), api.user("winner")
    aid = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=5_000)["id"]
    assert api.bid(winner, aid, amount=5_000).status_code == 201
    api.wait_closed(aid, timeout=15)
    (order,) = api.orders(winner)
    return winner, order


def wait_status(api: Api, user: User, order_id: int, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        order = api.http.get(f"/api/v1/orders/{order_id}", headers=user.headers).json()["order"]
        if order["status"] == status or time.monotonic() > deadline:
            assert order["status"] == status, order
            return order
        time.sleep(0.2)


def post(api: Api, body: bytes, header: str):
    return api.http.post(URL, content=body, headers={"Content-Type": "application/json", "Bidcast-Signature": header})


def test_an_extra_confirmation_step_is_settled_by_the_providers_webhook(api: Api, server: Server) -> None:
    winner, order = won_order(api)
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers,
                      json={"payment_method": EXTRA_STEP, "idempotency_key": key()})
    assert r.status_code == 402 and error_code(r) == "requires_action"
    intent_id = r.json()["error"]["intent_id"]
    stranger = api.user("stranger")
    assert api.http.post(f"/api/v1/payments/sandbox/intents/{intent_id}/authenticate",
                         headers=stranger.headers, json={}).status_code == 404
    r = api.http.post(f"/api/v1/payments/sandbox/intents/{intent_id}/authenticate",
                      headers=winner.headers, json={"succeed": True})
    assert r.status_code == 200 and r.json()["intent"]["status"] == "authorized"
    # Nobody calls pay again: the signed payment.authorized webhook captures and settles.
    paid = wait_status(api, winner, order["id"], "paid")
    assert paid["payment_state"] == "paid"

    event = {"id": f"evt_{uuid.uuid4().hex}", "type": "payment.captured", "created": int(time.time()),
             "data": {"object": {"id": intent_id}}}
    body = json.dumps(event).encode()
    good = sign(body, secret(server), int(time.time()))
    first = post(api, body, good)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "already_paid"  # reconciling twice changes nothing
    replay = post(api, body, good)
    assert replay.status_code == 409 and error_code(replay) == "replayed"
    retry = post(api, body, sign(body, secret(server), int(time.time()) + 1))  # the provider's own retry
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    events = api.http.get(f"/api/v1/orders/{order['id']}", headers=winner.headers).json()["order"]["events"]
    assert [e["kind"] for e in events].count("paid") == 1


def test_forged_stale_and_malformed_deliveries_are_refused(api: Api, server: Server) -> None:
    event = {"id": f"evt_{uuid.uuid4().hex}", "type": "payment.captured", "created": int(time.time()),
             "data": {"object": {"id": "pi_doesnotexist"}}}
    body = json.dumps(event).encode()
    now = int(time.time())
    forged = post(api, body, sign(body, "not-the-secret", now))
    assert forged.status_code == 401 and error_code(forged) == "bad_signature"
    tampered = post(api, body.replace(b"pi_doesnotexist", b"pi_other"), sign(body, secret(server), now))
    assert tampered.status_code == 401 and error_code(tampered) == "bad_signature"
    stale = post(api, body, sign(body, secret(server), now - 3600))
    assert stale.status_code == 400 and error_code(stale) == "stale_timestamp"
    assert error_code(api.http.post(URL, content=body)) == "missing_signature"
    assert error_code(post(api, body, "t=abc,v1=00")) == "malformed_signature"
    not_json = b"not json"
    assert error_code(post(api, not_json, sign(not_json, secret(server), now))) == "invalid_payload"
    unknown = post(api, body, sign(body, secret(server), now))
    assert unknown.status_code == 200 and unknown.json()["outcome"] == "unknown_intent"


def test_a_bank_step_passed_after_the_order_was_cancelled_charges_nothing(api: Api, server: Server) -> None:
    winner, order = won_order(api)
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers,
                      json={"payment_method": EXTRA_STEP, "idempotency_key": key()})
    assert r.status_code == 402 and error_code(r) == "requires_action"
    intent_id = r.json()["error"]["intent_id"]
    r = api.http.post(f"/api/v1/orders/{order['id']}/cancel", headers=winner.headers,
                      json={"reason": "changed my mind"})
    assert r.status_code == 200, r.text
    r = api.http.post(f"/api/v1/payments/sandbox/intents/{intent_id}/authenticate",
                      headers=winner.headers, json={"succeed": True})
    assert r.status_code == 200 and r.json()["intent"]["status"] == "authorized"
    deadline = time.monotonic() + 15
    while not authorized_event_delivered(server, intent_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert authorized_event_delivered(server, intent_id)
    # Never captured: the hold is left to lapse, the buyer was not charged and refunded.
    assert sql(server, "SELECT status, captured, refunded FROM sandbox_intents WHERE id = :id",
               id=intent_id) == [("authorized", 0, 0)]
    assert wait_status(api, winner, order["id"], "cancelled")["payment_state"] != "paid"


def authorized_event_delivered(server: Server, intent_id: str) -> bool:
    rows = sql(server, "SELECT payload, delivered FROM sandbox_events WHERE type = 'payment.authorized'")
    for payload, delivered in rows:
        event = json.loads(payload) if isinstance(payload, str) else payload
        if event["data"]["object"]["id"] == intent_id:
            return bool(delivered)
    return False
