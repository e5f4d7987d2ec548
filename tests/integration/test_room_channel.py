"""The room channel (docs/protocol.md) end to end: real `bidcast serve` processes, real sockets.

Every test drives one fresh room through the public API and watches it with real `websockets`
clients; each runs on SQLite and on PostgreSQL (the session `server` fixture), except the long
slow-client timeout check, which does not depend on the database.
"""
from __future__ import annotations


import asyncio
import collections
import statistics
from collections.abc import Coroutine
from typing import Any

import pytest

from .api import Api, User, key
from .servers import Server
from .ws_client import (AsyncApi, Msg, RoomClient, check_stream, close_all, connect, connect_many,
                        connect_stalled, pending_lot, strip, user_named)

XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
       "\"><svg onload=alert(document.cookie)>", "&lt;b&gt; &amp; </textarea><b>bold?</b>"]


def run(coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def of_type(c: RoomClient, type_: str) -> list[Msg]:
    return [m for m in c.shared if m["type"] == type_]


# -- one stream for everybody ------------------------------------------------------------------
def test_every_viewer_gets_the_same_contiguous_stream_and_only_their_own_notices(server: Server, api: Api) -> None:
    seller = api.seller()
    alice, bob, carol, dave = (api.user(n) for n in ("alice", "bob", "carol", "dave"))
    lot = pending_lot(api, seller, starting_price=100)
    room = lot["room_id"]

    async def scenario() -> None:
        http = AsyncApi(server.url)
        viewers: list[RoomClient] = []
        try:
            # 30 sockets: anonymous viewers, and two sockets each (header and ?token=) for the bidders.
            viewers += await connect_many(server.url, room, [None] * 22)
            for u in (alice, bob, carol, dave):
                viewers.append(await connect(server.url, room, u, token_in="header"))
                viewers.append(await connect(server.url, room, u, token_in="query"))
            assert len(viewers) == 30
            await asyncio.gather(*[v.wait_type("snapshot") for v in viewers])
            by_user = {u.id: [v for v in viewers if v.personal("welcome")[0]["data"]["user"]
                              and v.personal("welcome")[0]["data"]["user"]["id"] == u.id]
                       for u in (alice, bob, carol, dave)}
            assert all(len(socks) == 2 for socks in by_user.values())
            for v in viewers:
                welcome = v.personal("welcome")[0]
                assert welcome["data"]["room_id"] == room and welcome["data"]["resumed_from"] is None
                snap = v.shared[0]
                assert snap["type"] == "snapshot"
                assert {"room", "lot", "lineup", "chat", "viewers", "likes"} <= set(snap["data"])
                assert snap["data"]["room"]["id"] == room and snap["data"]["room"]["status"] == "live"
                assert snap["data"]["lot"] is None and [x["id"] for x in snap["data"]["lineup"]] == [lot["id"]]

            await viewers[0].wait_type("viewers", count=30, timeout=5)
            started = await http.start_next(seller, room, duration_seconds=5, soft_close_seconds=0)
            aid = started["id"]
            await asyncio.gather(*[v.wait_type("lot.started") for v in viewers])
            alice_ws, bob_ws = by_user[alice.id][0], by_user[bob.id][1]

            r1 = await http.bid(alice, aid, amount=200)                      # HTTP
            assert r1.status_code == 201, r1.text
            bob_key = await bob_ws.bid(amount=300)                           # WS: outbids alice
            ack = await bob_ws.wait_type("bid.ack", idempotency_key=bob_key)
            r3 = await http.bid(carol, aid, max_amount=1000)                 # HTTP proxy: outbids bob
            assert r3.status_code == 201, r3.text
            await alice_ws.bid(amount=500)                                   # WS: carol's proxy answers
            await alice_ws.wait_type("bid.ack")
            rc = await http.chat(dave, room, "nice lot")
            assert rc.status_code == 201, rc.text

            # A late joiner's snapshot is the room as of its seq.
            late = await connect(server.url, room, None, name="late")
            viewers.append(late)
            late_snap = await late.wait_type("snapshot")

            closed = await asyncio.gather(*[v.wait_type("auction.closed", timeout=15) for v in viewers])
            assert all(c["seq"] == closed[0]["seq"] for c in closed)
            end = closed[0]["seq"]
            await asyncio.sleep(0.3)  # let any straggling personal notice arrive
        finally:
            await close_all(viewers)
            await http.aclose()

        # Every socket: snapshot, then contiguous seqs; the same events (seq, type, data, ts).
        streams = {id(v): {m["seq"]: strip(m) for m in check_stream(v.msgs, v.name)} for v in viewers}
        start = max(v.shared[0]["seq"] for v in viewers)
        reference = [streams[id(viewers[0])][s] for s in range(start + 1, end + 1)]
        for v in viewers:
            assert [streams[id(v)][s] for s in range(start + 1, end + 1)] == reference, v.name
            snap_seq = v.shared[0]["seq"]
            assert min(streams[id(v)]) == snap_seq + 1, f"{v.name}: first event is not right after its snapshot"

        events = [m for m in check_stream(viewers[0].msgs) if m["seq"] <= end]
        bids = [m["data"] for m in events if m["type"] == "bid.accepted"]
        assert [(b["auction_seq"], b["price"], b["leader"]["id"]) for b in bids] == [
            (1, 200, alice.id), (2, 300, bob.id), (3, 325, carol.id), (4, 550, carol.id)]
        assert r1.json()["seq"] == 1 and r3.json()["seq"] == 3 and ack["data"]["auction_seq"] == 2
        assert [b["bid_count"] for b in bids] == [1, 2, 3, 4]
        chats = [m["data"] for m in events if m["type"] == "chat.message"]
        assert [(c["user"]["id"], c["text"]) for c in chats] == [(dave.id, "nice lot")]
        closed_data = closed[0]["data"]
        assert closed_data["auction_id"] == aid and closed_data["outcome"] == "sold"
        assert closed_data["winner"]["id"] == carol.id and closed_data["price"] == 550
        assert closed_data["order_id"]

        # The late joiner's snapshot folds exactly the events up to its seq.
        s = late_snap["data"]
        assert late_snap["seq"] >= [m["seq"] for m in events if m["type"] == "chat.message"][0]
        assert s["lot"]["id"] == aid and s["lot"]["status"] == "running"
        assert (s["lot"]["price"], s["lot"]["leader"]["id"]) == (550, carol.id)
        assert s["lot"]["min_next_bid"] == bids[-1]["min_next_bid"] and s["lot"]["closes_at"] == bids[-1]["closes_at"]
        assert [(c["id"], c["text"]) for c in s["chat"]] == [(chats[0]["id"], "nice lot")]
        assert s["viewers"] in (30, 31)

        # Personal notices: outbid to the outbid bidder's sockets, won to the winner's; nobody else.
        def notices(v: RoomClient) -> list[tuple[str, int | None]]:
            return [(n["data"]["kind"], n["data"].get("price")) for n in v.personal("notice")]
        expected = {alice.id: [("outbid", 300), ("outbid", 550)], bob.id: [("outbid", 325)],
                    carol.id: [("won", 550)], dave.id: []}
        for uid, socks in by_user.items():
            for v in socks:
                assert notices(v) == expected[uid], v.name
        for v in viewers:
            if not any(v in socks for socks in by_user.values()):
                assert [m["type"] for m in v.personal()] == ["welcome"], v.name
        bob_acks = [m for m in by_user[bob.id][1].personal() if m["type"].startswith("bid.")]
        assert [m["type"] for m in bob_acks] == ["bid.ack"]
        assert by_user[bob.id][0].personal("bid.ack") == [], "an ack goes to the socket that bid"

    run(scenario())


# -- resuming ----------------------------------------------------------------------------------
def test_resume_gets_exactly_the_missed_events_or_a_snapshot(server: Server, api: Api) -> None:
    seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
    lot = api.live_lot(seller, duration_seconds=120)
    room, aid = lot["room_id"], lot["id"]

    async def scenario() -> None:
        http = AsyncApi(server.url)
        clients: list[RoomClient] = []
        try:
            watcher = await connect(server.url, room, None, name="watcher")  # stays connected
            reader = await connect(server.url, room, alice, name="reader")
            clients += [watcher, reader]
            await reader.wait_type("snapshot")
            for amount, who in ((200, bob), (300, alice), (400, bob)):
                assert (await http.bid(who, aid, amount=amount)).status_code == 201
            await reader.wait_type("bid.accepted", auction_seq=3)
            last_seq = reader.shared[-1]["seq"]
            await reader.close()

            # Missed while away: bids over HTTP, a chat line, a bid over another socket.
            bob_ws = await connect(server.url, room, bob, name="bob")
            clients.append(bob_ws)
            assert (await http.bid(alice, aid, amount=500)).status_code == 201
            assert (await http.chat(bob, room, "still here?")).status_code == 201
            await bob_ws.bid(amount=600)
            await bob_ws.wait_type("bid.ack")
            await watcher.wait_type("bid.accepted", auction_seq=5)
            now_seq = watcher.shared[-1]["seq"]

            back = await connect(server.url, room, alice, last_seq=last_seq, name="back")
            clients.append(back)
            await back.wait_seq(now_seq)
            welcome = await back.wait_type("welcome")  # personal: it may follow the backlog
            assert welcome["data"]["resumed_from"] == last_seq
            missed = [strip(m) for m in watcher.shared if last_seq < m["seq"] <= now_seq]
            assert [strip(m) for m in back.shared if m["seq"] <= now_seq] == missed, "exactly the missed events"
            assert missed and missed[0][0] == last_seq + 1
            # ... and the stream goes on without a gap (viewer counts may come in between: compare
            # with the watcher, which never left).
            assert (await http.bid(alice, aid, amount=700)).status_code == 201
            nxt = await back.wait_type("bid.accepted", auction_seq=6)
            await watcher.wait_seq(nxt["seq"])
            assert [strip(m) for m in back.shared] == [strip(m) for m in watcher.shared if last_seq < m["seq"] <= nxt["seq"]]
            check_stream(back.msgs, "back", resumed_from=last_seq)
            assert "snapshot" not in [m["type"] for m in back.shared]

            # Up to date already: nothing replayed, nothing missing.
            head = watcher.shared[-1]["seq"]
            cur = await connect(server.url, room, None, last_seq=head, name="current")
            clients.append(cur)
            assert (await http.bid(bob, aid, amount=800)).status_code == 201
            got = await cur.wait_type("bid.accepted", auction_seq=7)
            await watcher.wait_seq(got["seq"])
            assert [strip(m) for m in cur.shared] == [strip(m) for m in watcher.shared if head < m["seq"] <= got["seq"]]
            assert cur.shared[0]["seq"] == head + 1 and cur.shared[0]["type"] != "snapshot"

            # From the future, from before the room's buffer begins (the room went live and the lot
            # started before anyone watched), or nonsense: a fresh snapshot at the current seq.
            head = got["seq"]
            for bad in (head + 100, 0, -5, "7"):
                c = await connect(server.url, room, None, last_seq=bad, name=f"last_seq={bad}")
                clients.append(c)
                snap = await c.wait_type("snapshot")
                assert c.shared[0] is snap and snap["seq"] >= head, bad
                assert snap["data"]["lot"]["price"] == 800 and snap["data"]["lot"]["bid_count"] == 7
        finally:
            await close_all(clients)
            await http.aclose()

    run(scenario())


# -- a slow client slows nobody ------------------------------------------------------------------
FLOOD_BIDS = 2300   # > the 2,048-event resume buffer, and ~1.2 MB of events per socket


async def _flood(bidder_ws: RoomClient, healthy: list[RoomClient]) -> int:
    """A bidder raises their own maximum FLOOD_BIDS times; returns the last auction_seq."""
    for i in range(FLOOD_BIDS):
        await bidder_ws.bid(max_amount=1_000 + i)
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    await bidder_ws.wait_count(lambda m: m["type"] in ("bid.ack", "bid.rejected"), FLOOD_BIDS, timeout=30)
    top = max(m["data"]["auction_seq"] for m in bidder_ws.personal("bid.ack"))
    refused = collections.Counter(m["data"].get("code") for m in bidder_ws.personal("bid.rejected"))
    assert top > 2_048 + 100, f"most of the flood must be accepted; refused: {dict(refused)}"
    await asyncio.gather(*[h.wait_type("bid.accepted", timeout=15, auction_seq=top) for h in healthy])
    return top


def _flood_room(api: Api) -> tuple[User, User, int]:
    # Long 4-byte display names make every bid.accepted ~0.5 kB (leader.display_name).
    seller, bidder = api.seller(), user_named(api, "\U0001D505" * 60)
    lot = pending_lot(api, seller, duration_seconds=300, soft_close_seconds=0, increments=[[0, 1]])
    return seller, bidder, lot["room_id"]


def test_a_stalled_viewer_does_not_delay_the_others_and_is_coalesced(server: Server, api: Api) -> None:
    seller, bidder, room = _flood_room(api)

    async def scenario() -> None:
        http = AsyncApi(server.url)
        clients: list[RoomClient] = []
        try:
            # Without permessage-deflate: this process must read as fast as the flood comes.
            healthy = await connect_many(server.url, room, [None] * 6, compression=None)
            stalled = await connect_stalled(server.url, room)
            bidder_ws = await connect(server.url, room, bidder)
            clients += [*healthy, stalled, bidder_ws]
            await asyncio.gather(*[c.wait_type("snapshot") for c in [*healthy, bidder_ws]])
            await http.start_next(seller, room)
            started = await healthy[0].wait_type("lot.started")

            top = await _flood(bidder_ws, healthy)

            # Healthy viewers: every event, in order, promptly (server ts vs. local receive time).
            latencies = []
            for h in healthy:
                events = check_stream(h.msgs, h.name)
                assert [m["data"]["auction_seq"] for m in events if m["type"] == "bid.accepted"] == list(range(1, top + 1))
                latencies += [m["_rx"] - m["ts"] for m in events]
            latencies.sort()
            p99 = latencies[int(len(latencies) * 0.99)]
            assert p99 < 500, f"healthy viewers' p99 delivery latency {p99} ms (median {statistics.median(latencies)})"

            # The stalled socket read nothing so far; when it drains it gets a valid stream in which
            # the backlog was coalesced into a snapshot, not delivered late one event at a time.
            stalled.start_reading()
            await stalled.wait_for(lambda m: (m["type"] == "snapshot" and m["data"]["lot"]
                                              and m["data"]["lot"]["bid_count"] == top)
                                   or (m["type"] == "bid.accepted" and m["data"]["auction_seq"] == top),
                                   timeout=15, what="the final price")
            check_stream(stalled.msgs, "stalled")
            coalesced = [m for m in stalled.shared[1:] if m["type"] == "snapshot"]
            assert coalesced, "the stalled client's backlog was never coalesced into a snapshot"
            assert len(stalled.shared) < top / 2, "stale events were delivered one by one"
            assert stalled.close_code is None

            # A resume point older than the 2,048-event buffer gets a snapshot, not a partial backlog.
            old = await connect(server.url, room, None, last_seq=started["seq"], name="too old")
            clients.append(old)
            snap = await old.wait_type("snapshot")
            assert old.shared[0] is snap and snap["data"]["lot"]["bid_count"] == top
        finally:
            await close_all(clients)
            await http.aclose()

    run(scenario(), timeout=90)


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)  # ~15 s; the database plays no part
def test_a_socket_stalled_past_the_send_timeout_is_closed_with_4008_and_can_resume(server: Server, api: Api) -> None:
    """Not left open and silent: its frames cannot be written for 10 s, so the server closes it
    (the close frame queued behind what is already buffered) and the client resumes."""
    seller, bidder, room = _flood_room(api)

    async def scenario() -> None:
        http = AsyncApi(server.url)
        clients: list[RoomClient] = []
        try:
            healthy = await connect(server.url, room, None, compression=None)
            stalled = await connect_stalled(server.url, room)
            bidder_ws = await connect(server.url, room, bidder)
            clients += [healthy, stalled, bidder_ws]
            await asyncio.gather(*[c.wait_type("snapshot") for c in (healthy, bidder_ws)])
            await http.start_next(seller, room)
            top = await _flood(bidder_ws, [healthy])
            # The server's writes backed up a good second before the flood's end: after 10 more
            # seconds a frame has been stuck for longer than SEND_TIMEOUT_S (10 s).
            await asyncio.sleep(10)
            stalled.start_reading()                      # the client wakes up (e.g. the phone's radio)
            try:
                code = await stalled.wait_closed(4)
            except TimeoutError:
                if stalled.shared and stalled.shared[-1]["seq"] >= healthy.shared[-1]["seq"]:
                    pytest.skip("the kernel absorbed the whole flood: the server never had to wait")
                raise AssertionError(
                    f"zombie socket: still open but {healthy.shared[-1]['seq'] - stalled.shared[-1]['seq']} "
                    "events behind and silent") from None
            assert code == 4008 and stalled.close_reason == "too slow"
            events = check_stream(stalled.msgs, "stalled")
            assert events and events[-1]["seq"] < healthy.shared[-1]["seq"]

            # The client reconnects with its last seq and is current again.
            back = await connect(server.url, room, None, last_seq=stalled.shared[-1]["seq"], name="back")
            clients.append(back)
            assert (await http.chat(bidder, room, "welcome back")).status_code == 201
            await back.wait_type("chat.message", text="welcome back")
            replayed = check_stream(back.msgs, "back", resumed_from=stalled.shared[-1]["seq"])
            assert any(m["type"] == "chat.message" for m in replayed)
            assert top == max(m["data"]["auction_seq"] for m in healthy.shared if m["type"] == "bid.accepted")
        finally:
            await close_all(clients)
            await http.aclose()

    run(scenario(), timeout=90)


# -- bids over the socket ----------------------------------------------------------------------
def test_socket_bids_ack_reject_and_replay(server: Server, api: Api) -> None:
    seller, alice, bob = api.seller(), api.user("alice"), api.user("bob")
    lot = api.live_lot(seller, duration_seconds=120)
    room, aid = lot["room_id"], lot["id"]

    async def scenario() -> None:
        http = AsyncApi(server.url)
        clients: list[RoomClient] = []
        try:
            viewers = await connect_many(server.url, room, [None] * 5)
            a, b = await connect(server.url, room, alice), await connect(server.url, room, bob)
            anon = viewers[0]
            clients += [*viewers, a, b]
            await asyncio.gather(*[c.wait_type("snapshot") for c in clients])

            k1 = await a.bid(amount=200)
            ack = await a.wait_type("bid.ack", idempotency_key=k1)
            assert ack.get("personal") is True
            d = ack["data"]
            assert (d["auction_id"], d["auction_seq"], d["price"], d["leading"], d["replayed"]) == (aid, 1, 200, True, False)
            assert isinstance(d["closes_at"], int)
            seen = await asyncio.gather(*[v.wait_type("bid.accepted", auction_seq=1) for v in [*viewers, b]])
            assert {(s["seq"], s["data"]["price"], s["data"]["leader"]["id"]) for s in seen} == {(seen[0]["seq"], 200, alice.id)}
            assert [m["type"] for m in viewers[1].personal()] == ["welcome"], "acks are personal"

            # A retried key gets the original answer and bids once, over the socket or over HTTP.
            await a.bid(amount=200, idem=k1)
            again = await a.wait_for(lambda m: m["type"] == "bid.ack" and m["data"]["replayed"], what="replayed ack")
            assert (again["data"]["auction_seq"], again["data"]["price"]) == (1, 200)
            r = await http.bid(alice, aid, amount=200, idem=k1)
            assert r.status_code == 200 and r.json()["seq"] == 1 and r.json()["replayed"]
            await a.bid(amount=999, idem=k1)
            reused = await a.wait_type("bid.rejected", idempotency_key=k1)
            assert reused["data"]["code"] == "idempotency_key_reused"

            # Too low: rejected to the bidder only, with the minimum.
            k2 = await b.bid(amount=201)
            rej = await b.wait_type("bid.rejected", idempotency_key=k2)
            assert rej["data"]["code"] == "too_low" and rej["data"]["min_next_bid"] == 225
            k3 = await b.bid(max_amount=225)
            assert (await b.wait_type("bid.ack", idempotency_key=k3))["data"]["auction_seq"] == 2
            await anon.wait_type("bid.accepted", auction_seq=2)
            assert [m["data"]["auction_seq"] for m in anon.shared if m["type"] == "bid.accepted"] == [1, 2]

            # Who you are: a bad token is refused (4401), as is a room that does not exist (4404).
            forged = User(alice.id, alice.email, {"Authorization": "Bearer not-a-token"})
            for bad in (await connect(server.url, room, forged, token_in="query"),
                        await connect(server.url, room, forged, token_in="header")):
                clients.append(bad)
                assert await bad.wait_closed(5) == 4401
            nowhere = await connect(server.url, 987_654_321, alice)
            clients.append(nowhere)
            assert await nowhere.wait_closed(5) == 4404

            # Malformed bids and anonymous bids change nothing.
            await b.send("bid", amount=1000)
            assert (await b.wait_type("bid.rejected", idempotency_key=None))["data"]["code"] == "validation_failed"
            await b.send("bid", amount=True, idempotency_key=key())
            await b.wait_for(lambda m: m["type"] == "bid.rejected" and "Amounts" in m["data"]["message"])
            await anon.bid(amount=5000)
            err = await anon.wait_type("error")
            assert err["data"]["code"] == "unauthenticated" and err.get("personal") is True
            await anon.send("ping", echo="x")
            assert (await anon.wait_type("pong"))["data"]["echo"] == "x"
            assert api.auction(aid)["bid_count"] == 2
            assert [m["data"]["auction_seq"] for m in anon.shared if m["type"] == "bid.accepted"] == [1, 2]
        finally:
            await close_all(clients)
            await http.aclose()

    run(scenario())


# -- chat --------------------------------------------------------------------------------------
def test_chat_is_inert_text_with_limits_and_host_moderation(server: Server, api: Api) -> None:
    host = api.seller()
    alice, bob, carol, dave, erin = (api.user(n) for n in ("alice", "bob", "carol", "dave", "erin"))
    room = pending_lot(api, host)["room_id"]

    async def scenario() -> None:
        http = AsyncApi(server.url)
        clients: list[RoomClient] = []
        try:
            v = await connect(server.url, room, None, name="viewer")
            a, b, c, d, e = [await connect(server.url, room, u) for u in (alice, bob, carol, dave, erin)]
            clients += [v, a, b, c, d, e]
            await asyncio.gather(*[x.wait_type("snapshot") for x in clients])

            # Markup is data: the same string comes back, over the socket and over HTTP.
            await a.chat(XSS[0])
            got = [await v.wait_type("chat.message", text=XSS[0])]
            for who, text in zip((alice, alice, carol), XSS[1:], strict=True):  # a burst is 3 messages
                r = await http.chat(who, room, text)
                assert r.status_code == 201 and r.json()["message"]["text"] == text, r.text
                got.append(await v.wait_type("chat.message", text=text))
            for m, text, who in zip(got, XSS, ("alice", "alice", "alice", "carol"), strict=True):
                assert m["data"]["text"] == text and m["data"]["user"]["display_name"] == who
                assert isinstance(m["data"]["id"], int) and isinstance(m["data"]["at"], int)

            # Control characters are stripped; nothing left is an error.
            await b.chat("bell\x07 null\x00 esc\x1b[31m del\x7f ok")
            cleaned = await v.wait_for(lambda m: m["type"] == "chat.message" and m["data"]["user"]["id"] == bob.id)
            assert cleaned["data"]["text"] == "bell null esc[31m del ok"
            await b.chat("\x00\x01\x02   ")
            assert (await b.wait_type("error"))["data"]["code"] == "empty_message"
            await c.chat("x" * 301)
            assert (await c.wait_type("error"))["data"]["code"] == "message_too_long"
            await c.chat("\U0001F600" * 300)  # 300 characters (1,200 bytes) is fine
            await v.wait_for(lambda m: m["type"] == "chat.message" and m["data"]["user"]["id"] == carol.id)
            await v.send("chat", text="hi")
            assert (await v.wait_type("error"))["data"]["code"] == "unauthenticated"

            # Burst of 3, then one a second.
            for i in range(6):
                await d.chat(f"spam {i}")
            await d.wait_count(lambda m: m["type"] == "error", 3, what="3 errors")
            await v.wait_count(lambda m: m["type"] == "chat.message" and m["data"]["user"]["id"] == dave.id, 3)
            await asyncio.sleep(0.3)
            errors = d.personal("error")
            assert [m["data"]["code"] for m in errors] == ["rate_limited"] * 3
            assert all(0 < m["data"]["retry_after"] <= 1 for m in errors)
            spam = [m for m in v.shared if m["type"] == "chat.message" and m["data"]["user"]["id"] == dave.id]
            assert len(spam) == 3

            # Slow mode, set by the host.
            await http.slow_mode(host, room, 30)
            await v.wait_type("room.updated", slow_mode_seconds=30)
            await e.chat("first")
            await v.wait_for(lambda m: m["type"] == "chat.message" and m["data"]["text"] == "first")
            await e.chat("second")
            slow = await e.wait_type("error", code="slow_mode")
            assert 0 < slow["data"]["retry_after"] <= 30
            await http.slow_mode(host, room, 0)
            await v.wait_type("room.updated", slow_mode_seconds=0)

            # Mute, unmute.
            await http.moderate(host, room, carol.id, "mute")
            assert (await c.wait_type("notice", kind="mute"))
            await c.chat("can you hear me")
            assert (await c.wait_type("error", code="muted"))
            assert (await http.chat(carol, room, "over http?")).status_code == 403
            await http.moderate(host, room, carol.id, "unmute")
            await c.wait_type("notice", kind="unmute")
            await c.chat("back")
            await v.wait_for(lambda m: m["type"] == "chat.message" and m["data"]["text"] == "back")
            assert not [n for n in a.personal("notice")], "moderation notices are personal"

            # Delete: everybody sees chat.deleted, and a new joiner's snapshot no longer has it.
            first_id = got[0]["data"]["id"]
            await http.delete_chat(host, room, first_id)
            await asyncio.gather(*[x.wait_type("chat.deleted", id=first_id) for x in (v, a, b, c, d, e)])
            fresh = await connect(server.url, room, None, name="fresh")
            clients.append(fresh)
            chat = (await fresh.wait_type("snapshot"))["data"]["chat"]
            assert first_id not in [m["id"] for m in chat]
            assert [m["text"] for m in chat if m["text"] in XSS] == XSS[1:]

            # Non-hosts cannot moderate.
            r = await http.http.post(f"/api/v1/rooms/{room}/moderation", headers=alice.headers,
                                     json={"user_id": bob.id, "action": "ban"})
            assert r.status_code == 403

            # Ban: the socket closes with 4403, and the user cannot come back.
            await http.moderate(host, room, bob.id, "ban")
            assert await b.wait_closed(5) == 4403
            again = await connect(server.url, room, bob, name="bob again")
            clients.append(again)
            assert await again.wait_closed(5) == 4403
            assert (await http.chat(bob, room, "let me in")).status_code == 403
            assert a.close_code is None and v.close_code is None
        finally:
            await close_all(clients)
            await http.aclose()

    run(scenario())


def test_a_user_banned_from_the_room_cannot_bid_over_http(server: Server, api: Api) -> None:
    host, mallory = api.seller(), api.user("mallory")
    lot = api.live_lot(host, duration_seconds=120)
    r = api.http.post(f"/api/v1/rooms/{lot['room_id']}/moderation", headers=host.headers,
                      json={"user_id": mallory.id, "action": "ban"})
    assert r.status_code == 200, r.text
    r = api.bid(mallory, lot["id"], amount=500)
    assert r.status_code == 403, f"{r.status_code} {r.text}"
    assert api.auction(lot["id"])["bid_count"] == 0


# -- likes and viewers ------------------------------------------------------------------------
def test_likes_are_aggregated_and_viewer_counts_follow_joins_and_leaves(server: Server, api: Api) -> None:
    room = pending_lot(api, api.seller())["room_id"]

    async def scenario() -> None:
        clients: list[RoomClient] = []
        try:
            clients += await connect_many(server.url, room, [None] * 6)
            watcher = clients[0]
            await watcher.wait_type("viewers", count=6, timeout=5)

            # 3 sockets x 30 likes in a burst: at most 10 a second count per socket.
            for c in clients[1:4]:
                for _ in range(30):
                    await c.send("like")
            await watcher.wait_for(lambda m: m["type"] == "likes" and m["data"]["total"] >= 30, timeout=5)
            await asyncio.sleep(1.2)
            likes = of_type(watcher, "likes")
            assert likes[-1]["data"]["total"] == 30
            assert sum(m["data"]["delta"] for m in likes) == 30
            assert 1 <= len(likes) <= 3, f"{len(likes)} likes events for one burst"
            for c in clients[1:]:
                assert [(m["seq"], m["data"]) for m in of_type(c, "likes")] == [(m["seq"], m["data"]) for m in likes]

            # Leaves are counted too, at most one viewers event a second.
            await close_all(clients[4:])
            await watcher.wait_type("viewers", count=4, timeout=5)
            counts = of_type(watcher, "viewers")
            gaps = [b["ts"] - a["ts"] for a, b in zip(counts, counts[1:])]
            assert all(g >= 900 for g in gaps), gaps
            late = await connect(server.url, room, None, name="late")
            clients.append(late)
            snap = (await late.wait_type("snapshot"))["data"]
            assert snap["likes"] == 30 and snap["viewers"] == 4
            await watcher.wait_type("viewers", count=5, timeout=5)
            check_stream(watcher.msgs, "watcher")
        finally:
            await close_all(clients)

    run(scenario())


def test_a_platform_ban_reaches_a_socket_opened_before_it(server: Server, api: Api) -> None:
    """An admin's ban applies at once, even to a socket authenticated long before it."""
    seller, mallory = api.seller(), api.user("mallory")
    lot = api.live_lot(seller, duration_seconds=120)
    room, aid = lot["room_id"], lot["id"]

    async def scenario() -> None:
        clients: list[RoomClient] = []
        try:
            m = await connect(server.url, room, mallory)
            clients.append(m)
            await m.wait_type("snapshot")
            r = api.http.post(f"/api/v1/admin/users/{mallory.id}/ban", headers=api.admin().headers)
            assert r.status_code == 200, r.text
            key = await m.bid(amount=500)
            rejected = await m.wait_type("bid.rejected", idempotency_key=key, timeout=10)
            assert rejected["data"]["code"] == "banned"
            assert api.auction(aid)["bid_count"] == 0
        finally:
            await close_all(clients)

    run(scenario())
