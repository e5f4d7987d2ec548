"""Flash sales in a live room, through real server processes over SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from .api import ADMIN_EMAIL, PASSWORD, Api, User, error_code, key
from .conftest import database_url
from .servers import Server
from .ws_client import close_all, connect

PAY = {"payment_method": "4242424242424242"}


def _run(coro):
    """Run a coroutine on a loop of its own (the caller may already be inside one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _db(url: str, sql_fn):
    """Read the server's database directly, to check the invariants behind the API."""
    async def go():
        from bidcast.storage.db import create_engine, session_factory
        eng = create_engine(url)
        try:
            async with session_factory(eng)() as s:
                return await sql_fn(s)
        finally:
            await eng.dispose()
    return _run(go())


def provision_buyers(url: str, n: int) -> list[User]:
    """n buyer accounts with API tokens, inserted as rows: 500 argon2 sign-ups would take minutes."""
    async def make(s):
        from sqlalchemy import insert, select

        from bidcast.services.accounts import hash_token
        from bidcast.storage.models import AuthToken, utcnow
        from bidcast.storage.models import User as U
        tag = secrets.token_hex(4)
        await s.execute(insert(U), [dict(email=f"crowd{i}-{tag}@tests.bidcast", display_name=f"Crowd {i}",
                                         password_hash="no-login", roles="buyer", banned=False)
                                    for i in range(n)])
        rows = (await s.execute(select(U.id, U.email).where(U.email.like(f"%-{tag}@tests.bidcast")))).all()
        tokens = {uid: secrets.token_urlsafe(32) for uid, _ in rows}
        await s.execute(insert(AuthToken), [dict(user_id=uid, token_hash=hash_token(t), kind="api",
                                                 expires_at=utcnow() + timedelta(hours=2))
                                            for uid, t in tokens.items()])
        await s.commit()
        return [User(uid, email, {"Authorization": f"Bearer {tokens[uid]}"}) for uid, email in rows]
    return _db(url, make)


def live_room(api: Api, seller: User, stock: int = 10, price: int = 2_000) -> tuple[dict, dict]:
    product = api.product(seller, price=price, stock=stock)
    r = api.http.post("/api/v1/rooms", headers=seller.headers,
                      json={"title": "Flash room", "scheduled_at": "2030-01-01T10:00:00Z"})
    assert r.status_code == 201, r.text
    room = r.json()["room"]
    assert api.http.post(f"/api/v1/rooms/{room['id']}/go-live", headers=seller.headers).status_code == 200
    return room, product


def launch(api: Api, seller: User, room: dict, product: dict, **kw) -> dict:
    body = {"product_id": product["id"], "quantity": 3, "sale_price": 1_500, "duration_seconds": 30,
            "per_buyer_limit": 2} | kw
    r = api.http.post(f"/api/v1/rooms/{room['id']}/flash-sales", headers=seller.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()["sale"]


def buy(api: Api, user: User, sale_id: int, quantity: int = 1, idem: str | None = None) -> httpx.Response:
    return api.http.post(f"/api/v1/flash-sales/{sale_id}/purchase", json={"quantity": quantity},
                         headers=user.headers | {"Idempotency-Key": idem or key()})


def sale(api: Api, sale_id: int, user: User | None = None) -> dict:
    r = api.http.get(f"/api/v1/flash-sales/{sale_id}", headers=user.headers if user else {})
    assert r.status_code == 200, r.text
    return r.json()


def stock_of(api: Api, product: dict) -> int:
    return api.http.get(f"/api/v1/products/{product['id']}").json()["product"]["stock"]


def test_buyers_get_units_within_their_limit_until_sold_out(api: Api) -> None:
    seller, a, b, c = api.seller(), api.user("a"), api.user("b"), api.user("c")
    room, product = live_room(api, seller, stock=10)
    s = launch(api, seller, room, product, quantity=3, per_buyer_limit=2, sale_price=1_500)
    assert s["state"] == "running" and s["left"] == 3 and s["regular_price"] == 2_000
    assert stock_of(api, product) == 7                       # reserved at launch

    r = buy(api, a, s["id"], 2, idem="a-1")
    assert r.status_code == 201, r.text
    order = r.json()["purchase"]["order"]
    assert order["kind"] == "flash" and order["amount"] == 3_000 and order["status"] == "awaiting_payment"
    assert order["pay_by"] - time.time() * 1000 < 10 * 60 * 1000 + 5_000   # a short window
    again = buy(api, a, s["id"], 2, idem="a-1")
    assert again.status_code == 200 and again.json()["purchase"]["replayed"]
    assert again.json()["purchase"]["order"]["id"] == order["id"]
    assert error_code(buy(api, a, s["id"], 1, idem="a-1")) == "idempotency_key_reused"
    assert error_code(buy(api, a, s["id"], 1)) == "limit_reached"
    assert error_code(buy(api, b, s["id"], 2)) == "not_enough_left"
    assert buy(api, b, s["id"], 1).status_code == 201
    r = buy(api, c, s["id"], 1)
    assert r.status_code == 409 and error_code(r) == "sold_out" and r.json()["error"]["left"] == 0
    assert error_code(buy(api, seller, s["id"], 1)) == "own_sale"
    assert sale(api, s["id"], a)["mine"] == {"bought": 2}
    assert sale(api, s["id"])["sale"]["sold"] == 3

    # The buyer pays with the ordinary pay endpoint.
    r = api.http.post(f"/api/v1/orders/{order['id']}/pay", headers=a.headers, json=PAY | {"idempotency_key": key()})
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    (mine,) = [o for o in api.orders(a) if o["id"] == order["id"]]
    assert mine["status"] == "paid"

    # Ending a sold-out sale gives nothing back; ending twice happens once.
    r = api.http.post(f"/api/v1/flash-sales/{s['id']}/end", headers=seller.headers)
    assert r.json()["ended"] and r.json()["sale"]["state"] == "ended" and r.json()["sale"]["returned"] == 0
    assert not api.http.post(f"/api/v1/flash-sales/{s['id']}/end", headers=seller.headers).json()["ended"]
    assert stock_of(api, product) == 7
    assert error_code(buy(api, c, s["id"], 1)) == "not_running"
    replay = buy(api, a, s["id"], 2, idem="a-1")            # a retry after the end still finds its order
    assert replay.status_code == 200 and replay.json()["purchase"]["order"]["id"] == order["id"]


def test_unsold_units_go_back_to_stock_when_the_sale_ends_by_the_clock(api: Api) -> None:
    seller, a = api.seller(), api.user("a")
    room, product = live_room(api, seller, stock=10)
    s = launch(api, seller, room, product, quantity=6, duration_seconds=5, per_buyer_limit=3)
    assert buy(api, a, s["id"], 2).status_code == 201
    assert stock_of(api, product) == 4
    deadline = time.monotonic() + 15
    while sale(api, s["id"])["sale"]["state"] != "ended":
        assert time.monotonic() < deadline, "the sale did not end"
        time.sleep(0.3)
    ended = sale(api, s["id"])["sale"]
    assert ended["returned"] == 4 and ended["sold"] == 2
    assert stock_of(api, product) == 8                      # 10 - 2 sold, exactly once
    assert error_code(buy(api, a, s["id"], 1)) == "not_running"
    # A new sale may follow in the same room.
    assert launch(api, seller, room, product, quantity=1, per_buyer_limit=1)["quantity"] == 1


def test_a_cancelled_flash_order_gives_its_units_back_to_the_running_sale(api: Api) -> None:
    seller, a = api.seller(), api.user("a")
    room, product = live_room(api, seller, stock=10)
    s = launch(api, seller, room, product, quantity=3, per_buyer_limit=2, duration_seconds=60)
    r = buy(api, a, s["id"], 2)
    assert r.status_code == 201, r.text
    first = r.json()["purchase"]["order"]["id"]
    r = api.http.post(f"/api/v1/orders/{first}/cancel", headers=a.headers, json={"reason": "wrong size"})
    assert r.status_code == 200, r.text
    assert "strike" not in r.json()["order"]["events"][-1]["detail"]       # a flash order: no strike
    # Back on sale, not in the shop's stock; the buyer's count drops (as at the payment deadline).
    assert sale(api, s["id"])["sale"]["sold"] == 0 and sale(api, s["id"])["sale"]["left"] == 3
    assert sale(api, s["id"], a)["mine"] == {"bought": 0}
    assert stock_of(api, product) == 7
    time.sleep(0.6)                                          # the writer's counts refresh
    r = buy(api, a, s["id"], 2)
    assert r.status_code == 201, r.text                      # the limit is free again
    second = r.json()["purchase"]["order"]["id"]
    # After the sale's end, a cancelled order's units go back to the shop's stock, once.
    api.http.post(f"/api/v1/flash-sales/{s['id']}/end", headers=seller.headers)
    assert stock_of(api, product) == 8                       # the one unsold unit
    r = api.http.post(f"/api/v1/orders/{second}/cancel", headers=seller.headers, json={"reason": "out of stock"})
    assert r.status_code == 200, r.text
    assert stock_of(api, product) == 10
    again = api.http.post(f"/api/v1/orders/{second}/cancel", headers=seller.headers, json={"reason": "out of stock"})
    assert again.status_code == 200 and stock_of(api, product) == 10


def test_bad_input_is_refused_with_a_code_and_changes_nothing(api: Api) -> None:
    seller, other, buyer = api.seller(), api.seller(), api.user("b")
    room, product = live_room(api, seller, stock=5, price=2_000)
    url = f"/api/v1/rooms/{room['id']}/flash-sales"
    base = {"product_id": product["id"], "quantity": 2, "sale_price": 1_000, "duration_seconds": 30,
            "per_buyer_limit": 1}
    cases = [
        (seller, base | {"quantity": 6}, 409, "out_of_stock"),
        (seller, base | {"sale_price": 2_001}, 422, "invalid_price"),
        (seller, base | {"per_buyer_limit": 3}, 422, "invalid_limit"),
        (seller, base | {"duration_seconds": 2}, 422, "validation_failed"),
        (seller, base | {"quantity": "2"}, 422, "validation_failed"),
        (seller, base | {"product_id": 999_999_999}, 404, "not_found"),
        (other, base, 403, "forbidden"),                              # not the room's host
    ]
    for who, body, status, code in cases:
        r = api.http.post(url, headers=who.headers, json=body)
        assert (r.status_code, error_code(r)) == (status, code), (body, r.text)
    assert stock_of(api, product) == 5
    s = launch(api, seller, room, product, **{k: v for k, v in base.items() if k != "product_id"})
    r = api.http.post(url, headers=seller.headers, json=base)
    assert (r.status_code, error_code(r)) == (409, "flash_running")
    pid = s["id"]
    assert error_code(buy(api, buyer, pid, 0)) == "invalid_quantity"
    assert error_code(buy(api, buyer, pid, -1)) == "invalid_quantity"
    r = api.http.post(f"/api/v1/flash-sales/{pid}/purchase", headers=buyer.headers, json={"quantity": 1})
    assert (r.status_code, error_code(r)) == (422, "idempotency_key_required")
    r = api.http.post(f"/api/v1/flash-sales/{pid}/purchase", headers=buyer.headers | {"Idempotency-Key": key()},
                      json={"quantity": "1"})
    assert error_code(r) == "validation_failed"
    assert buy(api, buyer, 999_999_999).status_code == 404
    r = httpx.post(f"{api.base_url}/api/v1/flash-sales/{pid}/purchase", json={"quantity": 1},
                   headers={"Idempotency-Key": key()})        # nobody logged in
    assert r.status_code == 401
    assert api.http.post(f"/api/v1/flash-sales/{pid}/end", headers=other.headers).status_code == 403
    assert sale(api, pid)["sale"]["sold"] == 0
    r = api.http.post("/api/v1/rooms", headers=seller.headers,
                      json={"title": "Not yet live", "scheduled_at": "2030-01-01T10:00:00Z"})
    r = api.http.post(f"/api/v1/rooms/{r.json()['room']['id']}/flash-sales", headers=seller.headers, json=base)
    assert (r.status_code, error_code(r)) == (409, "room_not_live")


def test_500_concurrent_buyers_over_http_buy_exactly_the_stock(server: Server, api: Api) -> None:
    seller = api.seller()
    quantity, limit = 120, 2
    room, product = live_room(api, seller, stock=200)
    crowd = provision_buyers(server.database_url, 500)
    s = launch(api, seller, room, product, quantity=quantity, per_buyer_limit=limit,
               duration_seconds=120, sale_price=900)

    async def run() -> tuple[list[tuple[int, int, int]], list]:
        viewer = await connect(server.url, room["id"])
        await viewer.wait_type("snapshot")
        results: list[tuple[int, int, int]] = []       # (buyer, status, units)
        async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                     limits=httpx.Limits(max_connections=100)) as http:
            async def one(u: User, q: int, idem: str) -> None:
                dropped = False
                for attempt in range(4):   # a dropped connection is retried with the same key
                    try:
                        r = await http.post(f"/api/v1/flash-sales/{s['id']}/purchase", json={"quantity": q},
                                            headers=u.headers | {"Idempotency-Key": idem})
                        break
                    except httpx.TransportError:
                        dropped = True
                        if attempt == 3:
                            raise
                        await asyncio.sleep(0.2)
                assert r.status_code in (200, 201, 409), r.text
                # A replay (200) repeats an earlier answer: count it only when that answer was lost.
                units = r.json()["purchase"]["quantity"] if r.status_code == 201 or (
                    dropped and r.status_code == 200) else 0
                results.append((u.id, r.status_code, units))

            async def buyer(i: int, u: User) -> None:
                first = key()
                # Each buyer tries twice (1 or 2 units) and retries its first request once.
                await asyncio.gather(one(u, 1 + i % 2, first), one(u, 1, key()))
                await one(u, 1 + i % 2, first)
            await asyncio.gather(*(buyer(i, u) for i, u in enumerate(crowd)))
        await viewer.wait_for(lambda m: m["type"] == "flash.stock" and m["data"]["left"] == 0,
                              timeout=10, what="flash.stock left=0")
        r = httpx.post(f"{server.url}/api/v1/flash-sales/{s['id']}/end", headers=seller.headers)
        assert r.status_code == 200 and r.json()["ended"]
        ended = await viewer.wait_type("flash.ended", timeout=10)
        await close_all([viewer])
        return results, [viewer.msgs, ended]

    results, (msgs, ended) = asyncio.run(run())
    sold_units = sum(u for _, _, u in results)
    assert sold_units == quantity                           # exactly the stock, never more
    per_buyer: dict[int, int] = {}
    for b, _, u in results:
        per_buyer[b] = per_buyer.get(b, 0) + u
    assert max(per_buyer.values()) <= limit

    from sqlalchemy import func, select

    from bidcast.storage.models import FlashBuyer, Order, OrderLine

    async def facts(db):
        lines = (await db.execute(select(func.sum(OrderLine.quantity), func.count(Order.id))
                                  .join(Order, Order.id == OrderLine.order_id)
                                  .where(Order.flash_sale_id == s["id"]))).one()
        over = (await db.execute(select(func.count()).select_from(
            select(Order.buyer_id).join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.flash_sale_id == s["id"]).group_by(Order.buyer_id)
            .having(func.sum(OrderLine.quantity) > limit).subquery()))).scalar()
        held = (await db.execute(select(func.sum(FlashBuyer.units)).where(FlashBuyer.sale_id == s["id"]))).scalar()
        return lines, over, held
    (line_units, orders), over, held = _db(server.database_url, facts)
    assert line_units == quantity and held == quantity and over == 0
    assert orders == sum(1 for _, st, _ in results if st == 201)
    view = sale(api, s["id"])["sale"]
    assert view["sold"] == quantity and view["returned"] == 0 and view["state"] == "ended"
    assert stock_of(api, product) == 200 - quantity

    stock = [m["data"] for m in msgs if m["type"] == "flash.stock"]
    assert stock and stock[-1]["left"] == 0
    versions = [d["version"] for d in stock]
    assert versions == sorted(versions)                     # one process: in order
    lefts = [d["left"] for d in stock]
    assert lefts == sorted(lefts, reverse=True)             # counting down
    assert ended["data"]["outcome"] == "sold_out" and ended["data"]["sold"] == quantity


@pytest.fixture(params=["sqlite", "postgres"])
def short_window_server(request, tmp_path_factory):
    url = database_url(request.param, request, tmp_path_factory)
    srv = Server(url, tmp_path_factory.mktemp(f"flash-{request.param}"), extra_env={
        "BIDCAST_FLASH_PAYMENT_WINDOW_SECONDS": "2", "BIDCAST_DEADLINE_SWEEP_SECONDS": "0.5"})
    srv.migrate()
    srv.create_admin(ADMIN_EMAIL, PASSWORD)
    yield srv.start()
    srv.stop()


def test_an_unpaid_flash_order_gives_its_units_back_to_the_sale_without_a_strike(
        short_window_server: Server, tmp_path: Path) -> None:
    api = Api(short_window_server.url)
    seller, slow = api.seller(), api.user("slow")
    room, product = live_room(api, seller, stock=5)
    s = launch(api, seller, room, product, quantity=2, per_buyer_limit=2, duration_seconds=60)
    r = buy(api, slow, s["id"], 2)
    assert r.status_code == 201
    order_id = r.json()["purchase"]["order"]["id"]
    deadline = time.monotonic() + 15
    while sale(api, s["id"])["sale"]["sold"] != 0:
        assert time.monotonic() < deadline, "the unpaid order's units did not come back"
        time.sleep(0.3)
    (o,) = [o for o in api.orders(slow) if o["id"] == order_id]
    assert o["status"] == "cancelled"
    me = api.http.get("/api/v1/me", headers=slow.headers).json()
    assert me.get("user", me).get("strikes", 0) == 0
    assert sale(api, s["id"], slow)["mine"] == {"bought": 0}
    time.sleep(0.6)                                          # the writer's counts refresh
    assert buy(api, slow, s["id"], 2).status_code == 201     # back on sale, limit freed
    assert stock_of(api, product) == 3
    api.http.post(f"/api/v1/flash-sales/{s['id']}/end", headers=seller.headers)
    deadline = time.monotonic() + 15
    while stock_of(api, product) != 5:                       # the second order expires after the end
        assert time.monotonic() < deadline, "units of an order cancelled after the end went missing"
        time.sleep(0.3)
    api.close()
