"""The winner pays for the lot: the card is charged once and the sale is posted to the ledger."""
from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from bidcast.storage.db import create_engine

from .api import ADMIN_EMAIL, PASSWORD, Api, User, error_code, key
from .conftest import UNTHROTTLED, database_url
from .servers import Server


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


def sql(server: Server, statement: str, **params) -> list[tuple]:
    """Run one statement on the server's database (the sandbox's tables play the card network's)."""
    async def run() -> list[tuple]:
        engine = create_engine(server.database_url, synchronous="normal")
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement), params)
                return [tuple(r) for r in result.fetchall()] if result.returns_rows else []
        finally:
            await engine.dispose()
    return asyncio.run(run())


def provider_net(server: Server, order_id: int) -> int:
    """What the card network kept of every intent for the order: captured minus refunded."""
    rows = sql(server, "SELECT captured, refunded FROM sandbox_intents WHERE reference = :ref",
               ref=f"order:{order_id}")
    return sum(captured - refunded for captured, refunded in rows)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def quiet_server(request, tmp_path_factory):
    """Webhooks go nowhere and the deadline sweep sleeps: only the paying request can make
    things right, as with BIDCAST_SANDBOX_STORE=memory or an outbox that gave up."""
    url = database_url(request.param, request, tmp_path_factory)
    srv = Server(url, tmp_path_factory.mktemp(f"pay-{request.param}"), extra_env=UNTHROTTLED | {
        "BIDCAST_PAYMENT_WEBHOOK_URL": "http://127.0.0.1:9/unreachable",
        "BIDCAST_DEADLINE_SWEEP_SECONDS": "3600"})
    srv.migrate()
    srv.create_admin(ADMIN_EMAIL, PASSWORD)
    srv.start()
    yield srv
    srv.stop()


def _pay_all_at_once(server: Server, who: User, order_id: int, keys: list[str]) -> list[httpx.Response]:
    start = threading.Barrier(len(keys))

    def pay(idem: str) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            start.wait()
            return http.post(f"/api/v1/orders/{order_id}/pay", headers=who.headers,
                             json={"payment_method": "4242424242424242", "idempotency_key": idem})
    out: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda k=k: out.append(pay(k))) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_pays_with_different_keys_charge_the_card_once(quiet_server: Server) -> None:
    api = Api(quiet_server.url)
    seller, winner, order = _won_order(api)
    answers = _pay_all_at_once(quiet_server, winner, order["id"], [key() for _ in range(4)])
    ok = [r for r in answers if r.status_code == 200]
    assert len(ok) == 1, [r.text for r in answers]
    assert {error_code(r) for r in answers if r.status_code != 200} <= {"payment_in_progress", "not_payable"}
    # No webhook will come: whatever a losing attempt captured was returned by its own request.
    assert provider_net(quiet_server, order["id"]) == 10_000
    assert sql(quiet_server, "SELECT count(*) FROM ledger_transactions WHERE kind = 'order_paid' "
               "AND reference = :ref", ref=f"order:{order['id']}") == [(1,)]
    balance = api.http.get("/api/v1/shops/mine/balance", headers=seller.headers).json()["balance"]
    assert balance == {"EUR": {"pending": 9_800}}
    paid_again = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers,
                               json={"payment_method": "4242424242424242", "idempotency_key": key()})
    assert paid_again.status_code == 409 and error_code(paid_again) == "not_payable"
    api.close()


def test_no_charge_once_the_time_to_pay_is_over(quiet_server: Server) -> None:
    api = Api(quiet_server.url)
    _, winner, order = _won_order(api)
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    sql(quiet_server, "UPDATE orders SET pay_by = :past WHERE id = :id", past=past, id=order["id"])
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=winner.headers,
                      json={"payment_method": "4242424242424242", "idempotency_key": key()})
    assert r.status_code == 409 and error_code(r) == "payment_window_over", r.text
    assert sql(quiet_server, "SELECT count(*) FROM sandbox_intents WHERE reference = :ref",
               ref=f"order:{order['id']}") == [(0,)]  # the card network never heard of it
    assert api.orders(winner)[0]["status"] == "awaiting_payment"  # the deadline sweep cancels it
    api.close()


def test_a_pay_racing_a_cancel_keeps_money_only_for_a_paid_order(quiet_server: Server) -> None:
    api = Api(quiet_server.url)
    seller, winner, order = _won_order(api)
    start = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def call(name: str, path: str, who: User, body: dict) -> None:
        with httpx.Client(base_url=quiet_server.url, timeout=30) as http:
            start.wait()
            answers[name] = http.post(f"/api/v1/orders/{order['id']}/{path}", headers=who.headers, json=body)
    threads = [threading.Thread(target=call, args=("pay", "pay", winner, {
                   "payment_method": "4242424242424242", "idempotency_key": key()})),
               threading.Thread(target=call, args=("cancel", "cancel", seller, {"reason": "sold out"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["cancel"].status_code in (200, 409), answers["cancel"].text
    assert answers["pay"].status_code in (200, 409), answers["pay"].text
    (status,) = sql(quiet_server, "SELECT status FROM orders WHERE id = :id", id=order["id"])[0]
    # Paid: the card keeps the price. Cancelled (before or after the payment): it keeps nothing,
    # without any webhook: a capture that lost the race was returned by the paying request.
    assert provider_net(quiet_server, order["id"]) == (10_000 if status == "paid" else 0), \
        (status, answers["pay"].text, answers["cancel"].text)
    api.close()
