"""A server killed with SIGKILL mid-auction loses no acknowledged bid, and the auction still closes.

Each test runs its own server processes over its own database (SQLite file or a fresh PostgreSQL
database), kills the first one with SIGKILL, and starts a new process on the same database: the
new process takes over the running auctions at startup.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from .api import ADMIN_EMAIL, PASSWORD, Api, User, error_code, key
from .servers import IN_CI, Server, create_pg_database, postgres_reachable

# Scripted bids from two users: (who, kind, value) and what the bidder is told (price, leader).
SCRIPT = [
    ("alice", "amount", 1000, 1000, "alice"),
    ("bob", "amount", 1050, 1050, "bob"),
    ("alice", "max_amount", 3000, 1100, "alice"),   # alice's secret maximum takes the lead
    ("bob", "amount", 2000, 2050, "alice"),         # her proxy answers one step above bob
    ("bob", "max_amount", 5000, 3100, "bob"),       # bob's maximum beats hers by one step
]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bidcast.db'}"
        return
    reason = postgres_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    url, drop = create_pg_database()
    yield url
    drop()


@pytest.fixture
def start_server(database: str, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Starts `bidcast serve` processes on the one (migrated) database; all are stopped at the end."""
    setup = Server(database, tmp_path)
    setup.migrate()
    setup.create_admin(ADMIN_EMAIL, PASSWORD)
    started: list[Server] = []

    def start() -> Server:
        server = Server(database, tmp_path)
        started.append(server)
        return server.start()
    yield start
    for server in started:
        server.stop()


def place_scripted_bids(api: Api, auction_id: int, users: dict[str, User]) -> list[tuple[User, dict, dict]]:
    """Place the SCRIPT; returns (bidder, request body, acknowledgement) per bid."""
    acked = []
    for seq, (who, kind, value, price, leader) in enumerate(SCRIPT, start=1):
        body = {kind: value, "idempotency_key": key()}
        r = api.http.post(f"/api/v1/auctions/{auction_id}/bids", headers=users[who].headers, json=body)
        assert r.status_code == 201, r.text
        ack = r.json()
        assert (ack["seq"], ack["price"], ack["leader_id"]) == (seq, price, users[leader].id), ack
        acked.append((users[who], body, ack))
    return acked


def seconds_until(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() - time.time()


def history(api: Api, auction_id: int) -> list[tuple[int, int, int, int]]:
    return [(b["seq"], b["bidder"]["id"], b["price"], b["leader_id"]) for b in api.bids(auction_id)]


def as_history(acked: list[tuple[User, dict, dict]]) -> list[tuple[int, int, int, int]]:
    return [(ack["seq"], who.id, ack["price"], ack["leader_id"]) for who, _, ack in acked]


def retry(api: Api, auction_id: int, who: User, body: dict):  # noqa: ANN201
    return api.http.post(f"/api/v1/auctions/{auction_id}/bids", headers=who.headers, json=body)


def assert_one_order(api: Api, auction_id: int, winner: User, loser: User, seller: User, price: int) -> None:
    mine = [(o["total"]["amount"], o["status"]) for o in api.orders(winner) if o["auction_id"] == auction_id]
    assert mine == [(price, "awaiting_payment")]
    assert not [o for o in api.orders(loser) if o["auction_id"] == auction_id]
    sold = [o["buyer_id"] for o in api.orders(seller, as_seller=True) if o["auction_id"] == auction_id]
    assert sold == [winner.id]


def test_acknowledged_bids_survive_sigkill_and_the_auction_closes_after_restart(
        start_server: Callable[[], Server]) -> None:
    first = start_server()
    api = Api(first.url)
    seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
    aid = api.live_lot(seller, duration_seconds=10, soft_close_seconds=0, starting_price=1000)["id"]
    acked = place_scripted_bids(api, aid, {"alice": alice, "bob": bob})
    api.close()

    first.kill9()
    api = Api(start_server().url)
    try:
        # Every acknowledged bid is still there, exactly as acknowledged.
        assert history(api, aid) == as_history(acked)
        view = api.auction(aid, bob)
        assert view["status"] == "running", "restart took longer than the lot; raise its duration"
        assert (view["price"], view["leader"]["id"], view["your_max"]) == (3100, bob.id, 5000)

        # A retry of an acknowledged bid is answered from the record, not placed again.
        who, body, ack = acked[-1]
        r = retry(api, aid, who, body)
        assert r.status_code == 200 and r.json()["replayed"], r.text
        assert (r.json()["seq"], r.json()["price"]) == (ack["seq"], ack["price"])

        # Bidding goes on where it stopped: the next seq, bob's proxy still defending.
        r = api.bid(alice, aid, amount=3200)
        assert r.status_code == 201, r.text
        assert (r.json()["seq"], r.json()["price"], r.json()["leader_id"]) == (6, 3300, bob.id)

        # The restarted process closes the lot at its deadline, once.
        view = api.wait_closed(aid, timeout=seconds_until(view["closes_at"]) + 10)
        assert (view["outcome"], view["winner_id"], view["final_price"]) == ("sold", bob.id, 3300)
        assert history(api, aid)[-1] == (6, alice.id, 3300, bob.id) and len(api.bids(aid)) == 6
        assert_one_order(api, aid, bob, alice, seller, 3300)
    finally:
        api.close()


def test_an_auction_overdue_while_the_server_was_down_closes_at_once_on_restart(
        start_server: Callable[[], Server]) -> None:
    first = start_server()
    api = Api(first.url)
    seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
    aid = api.live_lot(seller, duration_seconds=5, soft_close_seconds=0, starting_price=1000)["id"]
    acked = place_scripted_bids(api, aid, {"alice": alice, "bob": bob})
    closes_at = api.auction(aid)["closes_at"]
    api.close()

    first.kill9()
    time.sleep(max(0.0, seconds_until(closes_at)) + 1)  # the deadline passes with nobody running
    api = Api(start_server().url)
    try:
        view = api.wait_closed(aid, timeout=5)
        assert (view["outcome"], view["winner_id"], view["final_price"]) == ("sold", bob.id, 3100)
        assert history(api, aid) == as_history(acked)
        assert_one_order(api, aid, bob, alice, seller, 3100)

        # Retrying an acknowledged bid after the close still gets the original answer ...
        who, body, ack = acked[1]
        r = retry(api, aid, who, body)
        assert r.status_code == 200 and r.json()["replayed"], r.text
        assert (r.json()["seq"], r.json()["price"]) == (ack["seq"], ack["price"])
        # ... while a new bid is too late.
        r = api.bid(alice, aid, amount=9000)
        assert (r.status_code, error_code(r)) == (409, "auction_closed"), r.text
        assert len(api.bids(aid)) == len(SCRIPT)
    finally:
        api.close()
