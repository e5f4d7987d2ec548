"""The room channel across two server processes: one PostgreSQL database, one Redis.

Viewers on process A and on process B must see one stream: the same events under the same
seqs, contiguous, whichever process took the bid or the chat line. Needs PostgreSQL and Redis:
in CI (CI=true) their absence fails the module; elsewhere it is skipped with the reason.
"""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from .api import ADMIN_EMAIL, PASSWORD, Api
from .servers import (IN_CI, REDIS_URL, Server, create_pg_database, forget_redis_rooms,
                      postgres_reachable, redis_reachable)
from .ws_client import (AsyncApi, RoomClient, check_stream, close_all, connect, connect_many,
                        pending_lot, strip)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two `bidcast serve` processes over a fresh PostgreSQL database, fanning out through Redis."""
    for reason in (postgres_reachable(), redis_reachable()):
        if reason:
            if IN_CI:
                pytest.fail(f"CI requires PostgreSQL and Redis: {reason}")
            pytest.skip(reason)
    url, drop = create_pg_database()
    forget_redis_rooms()
    servers: list[Server] = []
    try:
        for name in ("a", "b"):
            srv = Server(url, tmp_path_factory.mktemp(f"cluster-{name}"), extra_env={"BIDCAST_REDIS_URL": REDIS_URL})
            if not servers:
                srv.migrate()
                srv.create_admin(ADMIN_EMAIL, PASSWORD)
            servers.append(srv.start())
        yield servers[0], servers[1]
    finally:
        for srv in servers:
            srv.stop()
        drop()


def test_viewers_on_two_processes_see_one_ordered_stream(cluster: tuple[Server, Server]) -> None:
    a, b = cluster
    api = Api(a.url)
    seller = api.seller()
    alice, bob, carol = (api.user(n) for n in ("alice", "bob", "carol"))
    lot = pending_lot(api, seller, starting_price=100)
    room = lot["room_id"]
    api.close()

    async def scenario() -> None:
        http_a, http_b = AsyncApi(a.url), AsyncApi(b.url)
        on_a: list[RoomClient] = []
        on_b: list[RoomClient] = []
        try:
            on_a += await connect_many(a.url, room, [None] * 4, name="A")
            on_b += await connect_many(b.url, room, [None] * 4, name="B")
            alice_a, carol_a = await connect(a.url, room, alice, name="alice@A"), await connect(a.url, room, carol, name="carol@A")
            alice_b, bob_b = await connect(b.url, room, alice, name="alice@B"), await connect(b.url, room, bob, name="bob@B")
            on_a += [alice_a, carol_a]
            on_b += [alice_b, bob_b]
            everyone = on_a + on_b
            await asyncio.gather(*[c.wait_type("snapshot") for c in everyone])
            # Presence is summed over both processes.
            await asyncio.gather(on_a[0].wait_type("viewers", count=12, timeout=8),
                                 on_b[0].wait_type("viewers", count=12, timeout=8))

            # The host starts the lot on A; bids come through B (HTTP and socket); chat through A.
            started = await http_a.start_next(seller, room, duration_seconds=5, soft_close_seconds=0)
            aid = started["id"]
            await asyncio.gather(*[c.wait_type("lot.started") for c in everyone])
            r1 = await http_b.bid(alice, aid, amount=200)
            assert r1.status_code == 201, r1.text
            k2 = await bob_b.bid(amount=300)
            assert (await bob_b.wait_type("bid.ack", idempotency_key=k2))["data"]["auction_seq"] == 2
            assert (await http_a.chat(carol, room, "go go go")).status_code == 201
            r3 = await http_b.bid(carol, aid, max_amount=1000)
            assert r3.status_code == 201, r3.text
            await alice_a.chat("<script>alert(1)</script>")
            k4 = await alice_b.bid(amount=500)
            assert (await alice_b.wait_type("bid.ack", idempotency_key=k4))["data"]["auction_seq"] == 4
            for c in (on_a[1], on_b[1]):
                for _ in range(5):
                    await c.send("like")
            await asyncio.gather(*[c.wait_for(lambda m: m["type"] == "likes" and m["data"]["total"] == 10, timeout=5)
                                   for c in everyone])

            closed = await asyncio.gather(*[c.wait_type("auction.closed", timeout=15) for c in everyone])
            end = closed[0]["seq"]
            assert {c["seq"] for c in closed} == {end}
            await asyncio.sleep(0.3)
        finally:
            await close_all(on_a + on_b)
            await http_a.aclose()
            await http_b.aclose()

        everyone = on_a + on_b
        streams = {c.name + str(i): {m["seq"]: strip(m) for m in check_stream(c.msgs, c.name)}
                   for i, c in enumerate(everyone)}
        start = max(c.shared[0]["seq"] for c in everyone)
        reference = [streams["A0"][s] for s in range(start + 1, end + 1)]
        for name, stream in streams.items():
            assert [stream.get(s) for s in range(start + 1, end + 1)] == reference, name
        events = [m for m in check_stream(on_b[0].msgs) if m["seq"] <= end]
        bids = [m["data"] for m in events if m["type"] == "bid.accepted"]
        assert [(x["auction_seq"], x["price"], x["leader"]["id"]) for x in bids] == [
            (1, 200, alice.id), (2, 300, bob.id), (3, 325, carol.id), (4, 550, carol.id)]
        chats = [m["data"]["text"] for m in events if m["type"] == "chat.message"]
        assert chats == ["go go go", "<script>alert(1)</script>"]
        assert [m["type"] for m in events].count("lot.started") == 1
        assert [m["type"] for m in events].count("auction.closed") == 1
        assert closed[0]["data"]["winner"]["id"] == carol.id and closed[0]["data"]["price"] == 550

        # Personal messages reach the user's sockets on both processes, and nobody else's.
        def notices(c: RoomClient) -> list[tuple[str, int]]:
            return [(n["data"]["kind"], n["data"]["price"]) for n in c.personal("notice")]
        assert notices(alice_a) == notices(alice_b) == [("outbid", 300), ("outbid", 550)]
        assert notices(bob_b) == [("outbid", 325)]
        assert notices(carol_a) == [("won", 550)]
        for c in on_a[:4] + on_b[:4]:
            assert [m["type"] for m in c.personal()] == ["welcome"], c.name
        assert alice_a.personal("bid.ack") == [] and len(alice_b.personal("bid.ack")) == 1

    run(scenario())


def test_a_late_joiner_on_the_other_process_gets_the_current_lot(cluster: tuple[Server, Server]) -> None:
    """The host starts the lot on A; bids go through B while nobody watches on A; then a viewer
    joins on A: its snapshot must show the current price, not the lot as A started it."""
    a, b = cluster
    api = Api(a.url)
    seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
    lot = pending_lot(api, seller, starting_price=100)
    room = lot["room_id"]
    api.close()

    async def scenario() -> None:
        http_a, http_b = AsyncApi(a.url), AsyncApi(b.url)
        clients: list[RoomClient] = []
        try:
            watcher = await connect(b.url, room, None, name="watcher@B")
            clients.append(watcher)
            await watcher.wait_type("snapshot")
            aid = (await http_a.start_next(seller, room, duration_seconds=120))["id"]
            for who, amount in ((alice, 200), (bob, 300)):
                assert (await http_b.bid(who, aid, amount=amount)).status_code == 201
            last = await watcher.wait_type("bid.accepted", auction_seq=2)

            late = await connect(a.url, room, None, name="late@A")
            clients.append(late)
            snap = await late.wait_type("snapshot")
            assert snap["seq"] >= last["seq"]
            got = snap["data"]["lot"]
            assert (got["price"], (got["leader"] or {}).get("id"), got["bid_count"]) == (300, bob.id, 2), got

            # ... and from there both processes agree on every following event.
            assert (await http_b.bid(alice, aid, amount=400)).status_code == 201
            nxt = await asyncio.gather(*[c.wait_type("bid.accepted", auction_seq=3) for c in clients])
            assert strip(nxt[0]) == strip(nxt[1])
            check_stream(late.msgs, "late")
        finally:
            await close_all(clients)
            await http_a.aclose()
            await http_b.aclose()

    run(scenario())


def test_a_room_ban_closes_the_users_sockets_on_every_process(cluster: tuple[Server, Server]) -> None:
    """The host bans on A; the banned user's socket on B closes, and B refuses them at once."""
    a, b = cluster
    api = Api(a.url)
    seller, mallory = api.seller(), api.user("mallory")
    room = pending_lot(api, seller)["room_id"]
    api.close()

    async def scenario() -> None:
        http_a, http_b = AsyncApi(a.url), AsyncApi(b.url)
        clients: list[RoomClient] = []
        try:
            sock_b = await connect(b.url, room, mallory, name="mallory@B")
            clients.append(sock_b)
            await sock_b.wait_type("snapshot")
            await http_a.moderate(seller, room, mallory.id, "ban")
            assert await sock_b.wait_closed(5) == 4403, "the ban notice reaches B and closes the socket"
            again = await connect(b.url, room, mallory, name="mallory again@B")
            clients.append(again)
            try:
                code = await again.wait_closed(1)
            except TimeoutError:
                code = None
            chat = await http_b.chat(mallory, room, "still here")
            assert (code, chat.status_code) == (4403, 403), "rejoined B right after the ban"
        finally:
            await close_all(clients)
            await http_a.aclose()
            await http_b.aclose()

    run(scenario())


def test_a_user_banned_from_the_room_cannot_bid_through_the_other_process(cluster: tuple[Server, Server]) -> None:
    """The host bans on A (which runs the lot's writer); the banned user bids through B."""
    a, b = cluster
    api, api_b = Api(a.url), Api(b.url)
    try:
        seller, mallory = api.seller(), api.user("mallory")
        lot = api.live_lot(seller, duration_seconds=120)
        r = api.http.post(f"/api/v1/rooms/{lot['room_id']}/moderation", headers=seller.headers,
                          json={"user_id": mallory.id, "action": "ban"})
        assert r.status_code == 200, r.text
        assert api.bid(mallory, lot["id"], amount=500).status_code == 403, "refused on A"
        r = api_b.bid(mallory, lot["id"], amount=500)
        assert r.status_code == 403, f"B: {r.status_code} {r.text}"
    finally:
        api.close()
        api_b.close()


def test_bids_through_both_processes_are_all_decided(cluster: tuple[Server, Server]) -> None:
    a, b = cluster
    api, api_b = Api(a.url), Api(b.url)
    try:
        seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
        aid = api.live_lot(seller, duration_seconds=120)["id"]    # started on A
        answers = [(client.bid(who, aid, amount=amount).status_code, name)
                   for client, who, amount, name in ((api_b, alice, 200, "B"), (api, bob, 300, "A"),
                                                     (api_b, alice, 400, "B"), (api, bob, 500, "A"))]
        assert answers == [(201, "B"), (201, "A"), (201, "B"), (201, "A")]
        assert api.auction(aid)["price"] == api_b.auction(aid)["price"] == 500
    finally:
        api.close()
        api_b.close()
