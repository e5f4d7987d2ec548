"""The notification center and e-mail, on SQLite and PostgreSQL, against a real local SMTP
server: a won lot notifies in the app and by e-mail; outbid notices coalesce per lot; read marks
and unread counts; an SMTP outage is retried and then given up, never sending twice; opt-outs."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .api import PASSWORD, Api, User, error_code, key
from .notify_servers import FAST_MAIL, Smtp, server_with
from .servers import Server


@pytest.fixture(scope="module")
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def mail_server(request, smtp: Smtp, tmp_path_factory) -> Iterator[Server]:  # noqa: ANN001
    tmp: Path = tmp_path_factory.mktemp(f"mail-{request.param}")
    with server_with(request.param, tmp, FAST_MAIL | {"BIDCAST_SMTP_URL": smtp.url}) as server:
        yield server


@pytest.fixture
def api(mail_server: Server) -> Iterator[Api]:
    client = Api(mail_server.url)
    yield client
    client.close()


def notes(api: Api, user: User, **params) -> dict:  # noqa: ANN003
    r = api.http.get("/api/v1/me/notifications", headers=user.headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def unread(api: Api, user: User) -> int:
    r = api.http.get("/api/v1/me/notifications/unread-count", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["unread"]


def until(check: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"timed out waiting for {what}"
            return value
        time.sleep(0.15)


def outbids(api: Api, user: User) -> list[dict]:
    return [n for n in notes(api, user, limit=100)["notifications"] if n["kind"] == "outbid"]


def lot_with_title(api: Api, seller: User, title: str, duration: int = 120) -> dict:
    r = api.http.post("/api/v1/products", headers=seller.headers, json={
        "title": title, "category": "misc", "sku": key()[:12], "price_amount": 1000,
        "currency": "EUR", "stock": 3})
    assert r.status_code == 201, r.text
    return api.live_lot(seller, duration_seconds=duration, soft_close_seconds=0,
                        product_id=r.json()["product"]["id"])


def test_a_win_shows_in_the_center_and_arrives_by_email(api: Api, smtp: Smtp) -> None:
    seller, winner, loser = api.seller(), api.user("winner"), api.user("loser")
    lot = lot_with_title(api, seller, "Vase <b>& co</b>", duration=5)
    assert api.bid(loser, lot["id"], amount=200).status_code == 201
    assert api.bid(winner, lot["id"], max_amount=900).status_code == 201
    api.wait_closed(lot["id"], timeout=20)
    (order,) = api.orders(winner)

    won = until(lambda: [n for n in notes(api, winner)["notifications"] if n["kind"] == "won"], what="won")
    assert won[0]["title"] == "You won Vase <b>& co</b>" and won[0]["unread"] is True
    assert won[0]["link"] == f"/me/orders#order-{order['id']}"
    assert unread(api, winner) == 1
    sold = [n for n in notes(api, seller)["notifications"] if n["kind"] == "sold"]
    assert [n["link"] for n in sold] == [f"/orders/{order['id']}"]

    (mail,) = smtp.inbox.wait_for(winner.email)
    assert mail["Subject"] == "You won Vase <b>& co</b>" and mail["From"] == "Bidcast <mail@bidcast.test>"
    text = mail.get_body(("plain",)).get_content()
    assert f"https://bidcast.test/me/orders#order-{order['id']}" in text
    html = mail.get_body(("html",)).get_content()
    assert "Vase &lt;b&gt;&amp; co&lt;/b&gt;" in html and "<b>&" not in html
    until(lambda: notes(api, winner)["notifications"][0]["email"] == "sent", what="sent state")
    # The loser was outbid (and told by e-mail); the winner never was.
    assert [n["title"] for n in outbids(api, loser)] == ["You were outbid on Vase <b>& co</b>"]
    assert outbids(api, winner) == []
    assert [m["Subject"] for m in smtp.inbox.wait_for(loser.email)] == ["You were outbid on Vase <b>& co</b>"]


def test_outbid_notices_coalesce_per_lot_and_read_marks_count(api: Api, smtp: Smtp) -> None:
    seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
    one, two = api.live_lot(seller, duration_seconds=300), api.live_lot(seller, duration_seconds=300)
    price = 100
    for _ in range(4):  # alice leads, bob outbids her: four times on lot one
        assert api.bid(alice, one["id"], amount=price).status_code == 201
        price += 100
        assert api.bid(bob, one["id"], amount=price).status_code == 201
        price += 100
    assert api.bid(alice, two["id"], amount=100).status_code == 201
    assert api.bid(bob, two["id"], amount=200).status_code == 201

    def settled() -> list[dict] | None:
        rows = outbids(api, alice)
        return rows if len(rows) == 2 and "8.00 EUR" in rows[-1]["body"] else None
    rows = until(settled, what="coalesced outbid notices")
    assert [n["link"] for n in rows] == [f"/rooms/{two['room_id']}", f"/rooms/{one['room_id']}"]
    assert all(n["unread"] for n in rows) and unread(api, alice) == 2
    # Bob was outbid by alice three times on lot one: one row, at the price she last bid.
    (bobs,) = outbids(api, bob)
    assert bobs["link"] == f"/rooms/{one['room_id']}" and "7.00 EUR" in bobs["body"]
    first_one = rows[1]["id"]

    # Read marks: only one's own, repeatable; a new outbid after reading makes a new row.
    r = api.http.post("/api/v1/me/notifications/read", headers=bob.headers, json={"ids": [first_one]})
    assert r.status_code == 200 and r.json()["marked"] == 0
    for _ in range(2):
        r = api.http.post("/api/v1/me/notifications/read", headers=alice.headers, json={"ids": [first_one]})
        assert r.status_code == 200 and r.json()["unread"] == 1
    assert api.bid(alice, one["id"], amount=price).status_code == 201
    assert api.bid(bob, one["id"], amount=price + 100).status_code == 201
    until(lambda: len(outbids(api, alice)) == 3, what="a new row")
    rows = outbids(api, alice)
    assert [n["unread"] for n in rows] == [True, True, False] and unread(api, alice) == 2
    assert [n["id"] for n in notes(api, alice, unread="true")["notifications"]] == [rows[0]["id"], rows[1]["id"]]

    # Cursor pages: newest first, no repeats, no gaps.
    seen, cursor = [], None
    while True:
        page = notes(api, alice, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [n["id"] for n in page["notifications"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [n["id"] for n in notes(api, alice, limit=100)["notifications"]] and len(seen) == 3

    r = api.http.post("/api/v1/me/notifications/read", headers=alice.headers, json={"all": True})
    assert r.status_code == 200 and r.json() == {"marked": 2, "unread": 0}
    # One e-mail per notification row, never one per outbid: three rows, three e-mails.
    until(lambda: all(n["email"] == "sent" for n in outbids(api, alice)), what="all sent")
    assert len(smtp.inbox.to(alice.email)) == 3


def test_bad_input_and_strangers(api: Api) -> None:
    alice = api.user("alice")
    for body in ({}, {"ids": []}, {"ids": [1], "all": True}, {"all": False}, {"ids": [0]},
                 {"ids": ["x"]}, {"ids": list(range(1, 202))}, {"all": True, "extra": 1}):
        r = api.http.post("/api/v1/me/notifications/read", headers=alice.headers, json=body)
        assert r.status_code == 422 and error_code(r) == "validation_failed", body
    for params in ({"cursor": 0}, {"cursor": "x"}, {"limit": 0}, {"limit": 101}, {"unread": "maybe"}):
        r = api.http.get("/api/v1/me/notifications", headers=alice.headers, params=params)
        assert r.status_code == 422 and error_code(r) == "validation_failed", params
    r = api.http.put("/api/v1/me/notification-settings", headers=alice.headers, json={"muted_kinds": ["nope"]})
    assert r.status_code == 422 and error_code(r) == "unknown_kind"
    anonymous = httpx.Client(base_url=api.base_url, timeout=30)
    for method, path in (("GET", "/api/v1/me/notifications"), ("GET", "/api/v1/me/notifications/unread-count"),
                         ("POST", "/api/v1/me/notifications/read"), ("GET", "/api/v1/me/notification-settings")):
        r = anonymous.request(method, path, json={"all": True} if method == "POST" else None)
        assert r.status_code == 401 and error_code(r) == "unauthenticated", path
    anonymous.close()


def test_smtp_outage_is_retried_then_given_up_and_nothing_is_sent_twice(api: Api, smtp: Smtp) -> None:
    seller, leader = api.seller(), api.user("leader")
    brief, long = api.user("brief"), api.user("long")
    lot = api.live_lot(seller, duration_seconds=300)
    price = 100

    def outbid(user: User) -> None:
        nonlocal price
        assert api.bid(user, lot["id"], amount=price).status_code == 201
        assert api.bid(leader, lot["id"], amount=price + 100).status_code == 201
        price += 200

    smtp.stop()
    try:
        outbid(brief)                # a short outage: the third attempt (after ~1.5 s) gets through
        time.sleep(1.0)
    finally:
        smtp.start()
    until(lambda: [n["email"] for n in outbids(api, brief)] == ["sent"], what="delivery after the outage")
    smtp.stop()
    try:
        outbid(long)                 # a long outage: three attempts, then failed
        until(lambda: [n["email"] for n in outbids(api, long)] == ["failed"], what="failed state")
    finally:
        smtp.start()
    time.sleep(1.5)
    assert len(smtp.inbox.to(brief.email)) == 1
    assert smtp.inbox.to(long.email) == []
    assert [n["email"] for n in outbids(api, long)] == ["failed"]  # never picked up again


def test_email_opt_outs_keep_the_in_app_notification(api: Api, smtp: Smtp) -> None:
    seller, leader = api.seller(), api.user("leader")
    muted, off, keen = api.user("muted"), api.user("off"), api.user("keen")
    r = api.http.put("/api/v1/me/notification-settings", headers=muted.headers, json={"muted_kinds": ["outbid"]})
    assert r.status_code == 200 and r.json()["settings"]["muted_kinds"] == ["outbid"]
    r = api.http.put("/api/v1/me/notification-settings", headers=off.headers, json={"email_enabled": False})
    assert r.status_code == 200 and r.json()["settings"]["email_enabled"] is False
    got = api.http.get("/api/v1/me/notification-settings", headers=off.headers).json()["settings"]
    assert got["email_enabled"] is False and got["muted_kinds"] == [] and "outbid" in got["kinds"]
    lot = api.live_lot(seller, duration_seconds=300)
    price = 100
    for user in (muted, off, keen):
        assert api.bid(user, lot["id"], amount=price).status_code == 201
        assert api.bid(leader, lot["id"], amount=price + 100).status_code == 201
        price += 200
    until(lambda: [n["email"] for n in outbids(api, keen)] == ["sent"], what="keen's e-mail")
    for user in (muted, off):
        until(lambda u=user: [n["email"] for n in outbids(api, u)] == ["skipped"], what="skipped")
        assert smtp.inbox.to(user.email) == [] and unread(api, user) == 1
    assert len(smtp.inbox.to(keen.email)) == 1


def test_pages_show_the_center_and_the_unread_badge(api: Api) -> None:
    user = api.user("reader")
    with httpx.Client(base_url=api.base_url, timeout=30) as browser:
        assert 'data-notify-badge' not in browser.get("/").text  # nobody logged in
        r = browser.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert r.status_code == 200
        home = browser.get("/").text
        assert 'data-notify-badge' in home and "/static/notify_badge.js" in home
        page = browser.get("/me/notifications")
        assert page.status_code == 200 and 'data-testid="notifications"' in page.text
        assert "/static/notifications.js" in page.text and 'id="email-settings"' in page.text
        # Cookie-authenticated writes need the CSRF header, like every other write.
        r = browser.post("/api/v1/me/notifications/read", json={"all": True})
        assert r.status_code == 403 and error_code(r) == "csrf_failed"
        r = browser.post("/api/v1/me/notifications/read", json={"all": True},
                         headers={"X-CSRF-Token": browser.cookies["bidcast_csrf"]})
        assert r.status_code == 200
