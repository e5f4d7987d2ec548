"""`bidcast serve --workers N`: several worker processes behind one port, sharing PostgreSQL and Redis.

Viewers on different workers see one ordered stream; bids that land on any worker are decided
by the auction's one writer (the holder of its lease); killing that worker with SIGKILL moves
the lease to another within seconds without losing an acknowledged bid, and the lot still
closes once with one order. Needs PostgreSQL and Redis: in CI their absence fails the module,
elsewhere it is skipped with the reason. These servers use their own Redis database number.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from typing import Any

import httpx
import pytest

from .api import ADMIN_EMAIL, PASSWORD, Api, User, key
from .servers import (
    IN_CI,
    Server,
    create_pg_database,
    postgres_reachable,
    redis_reachable,
)
from .workers_db import Db, forget_redis, redis_url_for_workers
from .ws_client import (
    AsyncApi,
    RoomClient,
    check_stream,
    close_all,
    connect,
    pending_lot,
    strip,
)

REDIS = redis_url_for_workers()
UNTHROTTLED = {"BIDCAST_BID_BURST": "1000000", "BIDCAST_BID_RATE_PER_S": "1000000"}


def run(coro: Coroutine[Any, Any, Any], timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def needs_pg_and_redis() -> None:
    for reason in (postgres_reachable(), redis_reachable(REDIS)):
        if reason:
            if IN_CI:
                pytest.fail(f"CI requires PostgreSQL and Redis: {reason}")
            pytest.skip(reason)


def start_cluster(tmp_path_factory: pytest.TempPathFactory, workers: int) -> Iterator[tuple[Server, Db]]:
    needs_pg_and_redis()
    url, drop = create_pg_database()
    forget_redis(REDIS)
    srv = Server(url, tmp_path_factory.mktemp(f"workers-{workers}"), workers=workers, extra_env={
        "BIDCAST_REDIS_URL": REDIS, "BIDCAST_LOG_FORMAT": "json", "BIDCAST_LOG_LEVEL": "info",
        **UNTHROTTLED})
    try:
        srv.migrate()
        srv.create_admin(ADMIN_EMAIL, PASSWORD)
        srv.start()
        yield srv, Db(url)
    finally:
        srv.stop()
        drop()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Db]]:
    yield from start_cluster(tmp_path_factory, 2)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Db]]:
    yield from start_cluster(tmp_path_factory, 3)


async def spread_viewers(url: str, room: int, workers: int, users: list[User | None],
                         name: str = "v") -> list[RoomClient]:
    """Open sockets until they sit on every worker (the kernel hands accepts to any of them)."""
    clients: list[RoomClient] = []
    for i, user in enumerate(users + [None] * 40):
        c = await connect(url, room, user, name=f"{name}{i}")
        await c.wait_type("welcome")
        clients.append(c)
        if i + 1 >= len(users) and len({worker_of(c) for c in clients}) >= workers:
            break
    assert len({worker_of(c) for c in clients}) == workers, [worker_of(c) for c in clients]
    return clients


def worker_of(c: RoomClient) -> str:
    return next(m for m in c.msgs if m["type"] == "welcome")["data"]["worker"]


class Bidders:
    """Bidders sending rising direct bids over HTTP (a new connection each: spread over workers);
    a 503 or a dropped connection is retried with the same idempotency key, as clients should."""

    def __init__(self, url: str, users: list[User], auction_id: int) -> None:
        self.url, self.users, self.auction_id = url, users, auction_id
        self.acked: dict[str, tuple[int, int, int]] = {}   # key -> (seq, bidder, price)
        self.workers: set[str] = set()
        self.retries = 0
        self.stop = asyncio.Event()

    async def one(self, http: httpx.AsyncClient, user: User, amount: int) -> dict | None:
        idem = key()
        cut_since: float | None = None
        while True:
            try:
                r = await http.post(f"/api/v1/auctions/{self.auction_id}/bids", headers=user.headers,
                                    json={"idempotency_key": idem, "amount": amount})
            except httpx.TransportError:
                # The worker holding this connection died: no answer, so retry with the same key.
                cut_since = cut_since or time.monotonic()
                assert time.monotonic() - cut_since < 15, "the port stopped answering"
                self.retries += 1
                await asyncio.sleep(0.1)
                continue
            self.workers.add(r.headers.get("x-bidcast-worker", "?"))
            if r.status_code == 503:
                self.retries += 1
                await asyncio.sleep(0.1)
                continue
            body = r.json()
            if r.status_code in (200, 201):
                self.acked[idem] = (body["seq"], user.id, body["price"])
            return body

    async def loop(self, user: User, base: int, step: int) -> None:
        amount = base
        async with httpx.AsyncClient(base_url=self.url, timeout=30,
                                     limits=httpx.Limits(max_keepalive_connections=0)) as http:
            while not self.stop.is_set():
                body = await self.one(http, user, amount)
                if body and body.get("error", {}).get("code") == "auction_closed":
                    return
                if body and body.get("error", {}).get("min_next_bid"):
                    amount = body["error"]["min_next_bid"]
                else:
                    amount += step


def check_bids_table(db: Db, auction_id: int, acked: dict[str, tuple[int, int, int]]) -> list[tuple]:
    rows = run(db.bids(auction_id))
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(rows) + 1)), f"seqs not contiguous: {seqs}"
    prices = [r[2] for r in rows]
    assert all(a < b for a, b in zip(prices, prices[1:])), f"prices not increasing: {prices}"
    stored = {(r[0], r[1], r[2]) for r in rows}
    lost = [v for v in acked.values() if v not in stored]
    assert not lost, f"acknowledged bids missing from the bids table: {lost}"
    return rows


def test_more_than_one_worker_needs_postgres_and_redis(tmp_path) -> None:
    env = {**os.environ, "BIDCAST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "BIDCAST_REDIS_URL": ""}
    r = subprocess.run([sys.executable, "-m", "bidcast", "serve", "--workers", "2"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "PostgreSQL" in r.stderr and "Redis" in r.stderr


def test_two_workers_one_stream_one_writer(two: tuple[Server, Db]) -> None:
    srv, db = two
    api = Api(srv.url)
    seller = api.seller()
    users = [api.user(f"b{i}") for i in range(8)]
    lot = pending_lot(api, seller, starting_price=100)
    room = lot["room_id"]
    api.close()

    async def scenario() -> tuple[list[RoomClient], Bidders, int]:
        http = AsyncApi(srv.url)
        viewers = await spread_viewers(srv.url, room, 2, [users[0], users[1]])
        try:
            await asyncio.gather(*[c.wait_type("snapshot") for c in viewers])
            started = await http.start_next(seller, room, duration_seconds=5, soft_close_seconds=0)
            aid = started["id"]
            bidders = Bidders(srv.url, users, aid)
            await asyncio.gather(*[c.wait_type("lot.started") for c in viewers])
            # Socket bids from users whose sockets sit on different workers, too.
            for c, amount, u in ((viewers[0], 5000, users[0]), (viewers[1], 6000, users[1])):
                k = await c.bid(amount=amount)
                m = await c.wait_for(lambda m, k=k: m["type"] in ("bid.ack", "bid.rejected")
                                     and m["data"].get("idempotency_key") == k, timeout=10)
                assert m["type"] == "bid.ack", m
                bidders.acked[k] = (m["data"]["auction_seq"], u.id, m["data"]["price"])
            loops = [asyncio.create_task(bidders.loop(u, 7000 + 10 * i, 80)) for i, u in enumerate(users)]
            await asyncio.gather(*loops)
            await asyncio.gather(*[c.wait_type("auction.closed", timeout=15) for c in viewers])
            await asyncio.sleep(0.3)
            return viewers, bidders, aid
        finally:
            await close_all(viewers)
            await http.aclose()

    viewers, bidders, aid = run(scenario())
    # Bids reached both workers, and one writer decided them all.
    assert len(bidders.workers) == 2, bidders.workers
    rows = check_bids_table(db, aid, bidders.acked)
    assert len(rows) >= 10
    lease = run(db.lease(aid))
    assert lease is not None and lease[1] == 1, f"the lease changed hands: {lease}"
    assert run(db.orders(aid)) == 1
    # Every viewer, whichever worker it sits on, saw the same ordered stream.
    streams = [{m["seq"]: strip(m) for m in check_stream(c.msgs, c.name)} for c in viewers]
    start = max(c.shared[0]["seq"] for c in viewers)
    end = max(streams[0])
    for s in streams[1:]:
        assert [s.get(q) for q in range(start + 1, end + 1)] == [streams[0].get(q) for q in range(start + 1, end + 1)]
    events = [e for e in streams[0].values() if e[1] == "bid.accepted"]
    assert [e[2]["auction_seq"] for e in events] == [r[0] for r in rows]
    assert [e[1] for e in streams[0].values()].count("auction.closed") == 1


def test_metrics_and_json_logs(two: tuple[Server, Db]) -> None:
    srv, _ = two
    r = httpx.get(f"{srv.url}/readyz", headers={"X-Request-ID": "trace-abc-123"})
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert r.headers["x-request-id"] == "trace-abc-123"
    bad = httpx.get(f"{srv.url}/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert bad.headers["x-request-id"] != "bad id\twith spaces" and len(bad.headers["x-request-id"]) == 32
    api = Api(srv.url)
    lot = api.live_lot(api.seller(), starting_price=100)
    buyer = api.user("metered")
    assert api.bid(buyer, lot["id"], amount=150).status_code == 201
    assert api.bid(buyer, lot["id"], amount=120).status_code == 409  # own lead: self_outbid
    api.close()
    text = httpx.get(f"{srv.url}/metrics").text
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line and not line.startswith("#")}
    assert samples['bidcast_bids_total{outcome="accepted",reason=""}'] >= 1
    assert sum(v for k, v in samples.items() if k.startswith('bidcast_bids_total{outcome="rejected"')) >= 1
    assert sum(v for k, v in samples.items() if k.startswith("bidcast_bid_ack_seconds_count")) >= 2
    for name in ("bidcast_bids_total", "bidcast_bid_ack_seconds_bucket", "bidcast_viewers",
                 "bidcast_fanout_seconds_bucket", "bidcast_lease_changes_total",
                 "bidcast_bids_forwarded_total", "bidcast_db_errors_total", "bidcast_redis_errors_total",
                 "bidcast_socket_overflows_total"):
        assert name in text, name
    time.sleep(0.3)
    assert srv.log_path is not None
    lines = [json.loads(line) for line in srv.log_path.read_text().splitlines() if line.startswith("{")]
    mine = [x for x in lines if x.get("request_id") == "trace-abc-123"]
    assert mine and mine[0]["path"] == "/readyz" and mine[0]["status"] == 200
    assert mine[0]["method"] == "GET" and mine[0]["duration_ms"] >= 0 and mine[0]["worker"]


def test_kill_the_owner_mid_auction(three: tuple[Server, Db]) -> None:
    srv, db = three
    api = Api(srv.url)
    seller = api.seller()
    users = [api.user(f"k{i}") for i in range(6)]
    lot = pending_lot(api, seller, starting_price=100)
    room = lot["room_id"]
    api.close()

    async def scenario() -> dict[str, Any]:
        http = AsyncApi(srv.url)
        viewers = await spread_viewers(srv.url, room, 3, [])
        resumed: list[tuple[RoomClient, int]] = []
        try:
            await asyncio.gather(*[c.wait_type("snapshot") for c in viewers])
            started = await http.start_next(seller, room, duration_seconds=12, soft_close_seconds=0)
            aid = started["id"]
            bidders = Bidders(srv.url, users, aid)
            loops = [asyncio.create_task(bidders.loop(u, 200 + 10 * i, 60)) for i, u in enumerate(users)]
            await asyncio.sleep(2.5)
            owner, epoch, _ = await db.lease(aid)
            pid = int(owner.split(":")[1])
            acked_before = len(bidders.acked)
            os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            while True:
                lease = await db.lease(aid)
                if lease[0] != owner and lease[2] > time.time() * 1000:
                    break
                assert time.monotonic() - killed_at < 8, f"no takeover after 8 s: {lease}"
                await asyncio.sleep(0.1)
            takeover_s = time.monotonic() - killed_at
            # Sockets on the dead worker were cut: reconnect to the port and resume.
            dead = [c for c in viewers if worker_of(c).endswith(f":{pid}")]
            assert dead, "no viewer sat on the owner"
            for c in dead:
                await c.wait_closed(10)
                last = max(m["seq"] for m in c.shared)
                again = await connect(srv.url, room, None, last_seq=last, name=c.name + "'")
                resumed.append((again, last))
            await asyncio.gather(*loops)
            live = [c for c in viewers if c not in dead] + [c for c, _ in resumed]
            await asyncio.gather(*[c.wait_type("auction.closed", timeout=20) for c in live])
            await asyncio.sleep(0.3)
            return {"aid": aid, "bidders": bidders, "takeover_s": takeover_s, "epoch": epoch,
                    "acked_before": acked_before, "dead": dead, "resumed": resumed,
                    "live": [c for c in viewers if c not in dead]}
        finally:
            await close_all(viewers + [c for c, _ in resumed])
            await http.aclose()

    out = run(scenario(), timeout=120)
    aid, bidders = out["aid"], out["bidders"]
    print(f"takeover after {out['takeover_s']:.2f} s; {len(bidders.acked)} bids acknowledged, "
          f"{bidders.retries} retried after a 503")
    assert out["takeover_s"] < 8
    assert out["acked_before"] > 0 and len(bidders.acked) > out["acked_before"], "bidding did not go on"
    check_bids_table(db, aid, bidders.acked)
    assert run(db.lease(aid))[1] > out["epoch"]
    assert run(db.orders(aid)) == 1
    closed = run(db.auction(aid))
    assert closed[0] == "closed" and closed[1] == max(v[2] for v in bidders.acked.values())
    # Resumed viewers: no gap between what they had and what they got after reconnecting.
    reference = {m["seq"]: strip(m) for m in check_stream(out["live"][0].msgs, "ref")}
    for c, last in out["resumed"]:
        events = check_stream(c.msgs, c.name, resumed_from=last)
        for m in events:
            assert reference.get(m["seq"]) == strip(m), (c.name, m["seq"])
        assert [m["type"] for m in events].count("auction.closed") == 1


def test_sigterm_hands_the_auction_over_at_once(three: tuple[Server, Db]) -> None:
    """A worker told to stop closes its sockets with 1012 (clients reconnect elsewhere), finishes
    its batches and releases its leases: another worker writes the auction within about a second,
    not after the lease's TTL."""
    srv, db = three
    api = Api(srv.url)
    seller = api.seller()
    users = [api.user(f"t{i}") for i in range(4)]
    lot = pending_lot(api, seller, starting_price=100)
    room = lot["room_id"]
    api.close()

    async def scenario() -> dict[str, Any]:
        http = AsyncApi(srv.url)
        viewers = await spread_viewers(srv.url, room, 3, [])
        try:
            started = await http.start_next(seller, room, duration_seconds=8, soft_close_seconds=0)
            aid = started["id"]
            bidders = Bidders(srv.url, users, aid)
            loops = [asyncio.create_task(bidders.loop(u, 200 + 10 * i, 60)) for i, u in enumerate(users)]
            await asyncio.sleep(1.5)
            owner, epoch, _ = await db.lease(aid)
            pid = int(owner.split(":")[1])
            os.kill(pid, signal.SIGTERM)
            sent = time.monotonic()
            while (lease := await db.lease(aid))[0] == owner:
                assert time.monotonic() - sent < 8, "no hand-over"
                await asyncio.sleep(0.05)
            handover_s = time.monotonic() - sent
            assert srv.proc is not None and srv.proc.poll() is None, "the supervisor exited"
            on_it = [c for c in viewers if worker_of(c).endswith(f":{pid}")]
            codes = [await c.wait_closed(10) for c in on_it]
            await asyncio.gather(*loops)
            return {"aid": aid, "bidders": bidders, "handover_s": handover_s, "codes": codes,
                    "epoch": epoch, "new_epoch": lease[1]}
        finally:
            await close_all(viewers)
            await http.aclose()

    out = run(scenario(), timeout=90)
    print(f"hand-over after SIGTERM: {out['handover_s']:.2f} s")
    assert out["handover_s"] < 2.5, out["handover_s"]
    assert out["codes"] and set(out["codes"]) == {1012}, out["codes"]
    assert out["new_epoch"] == out["epoch"] + 1
    check_bids_table(db, out["aid"], out["bidders"].acked)
    assert run(db.orders(out["aid"])) == 1 or run(db.auction(out["aid"]))[1] is None
