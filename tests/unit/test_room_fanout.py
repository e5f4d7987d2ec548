"""Batched fan-out in a room hub: one write per socket per flush, seq order kept, and no duplicate
or gap for a socket that joins, resumes or catches up while a batch is pending.

Pure logic on RoomHub and Connection with fake transports (no server, no sockets).
"""
from __future__ import annotations

import asyncio
from typing import Any

import orjson

from bidcast.realtime import connection as connection_mod
from bidcast.realtime import hub as hub_mod
from bidcast.realtime.connection import HIGH_WATER, Connection
from bidcast.realtime.hub import RoomHub
from bidcast.realtime.protocol import RoomEvent, now_ms

INTERVAL = 0.05


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffered = 0

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False


def frames(data: bytes) -> list[dict[str, Any]]:
    """Split concatenated unmasked server frames into their JSON messages."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x81, "a text frame, final"
        n, i = data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        out.append(orjson.loads(data[i:i + n]))
        i += n
    return out


class Socket:
    """A raw-mode connection on a fake transport, plus what it received."""

    def __init__(self, hub: RoomHub, raw: bool = True) -> None:
        self.t = FakeTransport()
        self.sent: list[str] = []

        async def send(text: str) -> None:
            self.sent.append(text)

        async def close(code: int, reason: str) -> None:
            pass
        self.conn = Connection(send, close, None, hub.snapshot_text, transport=self.t if raw else None)

    def messages(self) -> list[dict[str, Any]]:
        if self.conn.raw:
            return [m for w in self.t.writes for m in frames(w)]
        return [orjson.loads(s) for s in self.sent]

    def seqs(self) -> list[tuple[str, int]]:
        return [("snapshot" if m["type"] == "snapshot" else "ev", m["seq"]) for m in self.messages()]


def new_hub(interval: float = INTERVAL) -> RoomHub:
    view = {"room": {"id": 1}, "lot": None, "lineup": [], "chat": [], "likes": 0, "viewers": 0}
    return RoomHub(1, view, 0, interval=interval)


def chat(seq: int) -> RoomEvent:
    return RoomEvent(1, seq, "chat.message", {"id": seq, "user": {"id": 1, "display_name": "A"},
                                              "text": f"line {seq}", "at": now_ms()}, now_ms())


def assert_stream(seqs: list[tuple[str, int]]) -> None:
    """After an optional leading snapshot, events are contiguous: no gap, no duplicate."""
    last = None
    for kind, seq in seqs:
        if kind == "snapshot":
            assert last is None or seq >= last
        else:
            assert last is None or seq == last + 1, seqs
        last = seq


def run(coro_fn) -> None:
    asyncio.run(coro_fn())


async def settle(seconds: float = 0.0) -> None:
    await asyncio.sleep(seconds)
    for _ in range(5):
        await asyncio.sleep(0)


def test_events_of_one_iteration_go_out_in_one_write_in_order() -> None:
    async def main() -> None:
        hub = new_hub()
        a = Socket(hub)
        hub.join(a.conn, None)
        for seq in (1, 2, 3):
            hub.on_event(chat(seq))
        assert len(a.t.writes) == 1  # only the join's snapshot so far: nothing written inline
        await settle()
        assert len(a.t.writes) == 2
        assert [m["seq"] for m in frames(a.t.writes[1])] == [1, 2, 3]
        assert_stream(a.seqs())
    run(main)


def test_leading_edge_then_waits_for_the_interval() -> None:
    async def main() -> None:
        hub = new_hub()
        a = Socket(hub)
        hub.join(a.conn, None)
        hub.on_event(chat(1))
        await settle()
        assert [m["seq"] for m in a.messages()[1:]] == [1]   # idle room: written at once
        hub.on_event(chat(2))
        hub.on_event(chat(3))
        await settle()
        assert len(a.messages()) == 2                          # within the interval: held back
        await settle(INTERVAL)
        assert [m["seq"] for m in frames(a.t.writes[-1])] == [2, 3]
        assert_stream(a.seqs())
    run(main)


def test_interval_zero_writes_each_event_at_once() -> None:
    async def main() -> None:
        hub = new_hub(0)
        a = Socket(hub)
        hub.join(a.conn, None)
        hub.on_event(chat(1))
        hub.on_event(chat(2))
        assert [len(frames(w)) for w in a.t.writes] == [1, 1, 1]
    run(main)


def test_join_while_a_batch_is_pending_gets_no_duplicate() -> None:
    async def main() -> None:
        hub = new_hub()
        a = Socket(hub)
        hub.join(a.conn, None)
        hub.on_event(chat(1))
        hub.on_event(chat(2))
        b = Socket(hub)
        hub.join(b.conn, None)            # its snapshot already includes 1 and 2
        hub.on_event(chat(3))             # after the join: b must get it
        await settle(INTERVAL)
        hub.on_event(chat(4))
        await settle(INTERVAL * 2)
        assert a.seqs() == [("snapshot", 0), ("ev", 1), ("ev", 2), ("ev", 3), ("ev", 4)]
        assert b.seqs() == [("snapshot", 2), ("ev", 3), ("ev", 4)]
    run(main)


def test_resume_while_a_batch_is_pending_gets_backlog_once() -> None:
    async def main() -> None:
        hub = new_hub()
        a = Socket(hub)
        hub.join(a.conn, None)
        for seq in (1, 2, 3):
            hub.on_event(chat(seq))
        await settle()
        hub.on_event(chat(4))
        hub.on_event(chat(5))             # 4 and 5 pending
        b = Socket(hub)
        hub.join(b.conn, 2)               # resume after 2: backlog 3, 4, 5 from the buffer
        hub.on_event(chat(6))
        await settle(INTERVAL * 2)
        assert [s for _, s in b.seqs()] == [3, 4, 5, 6]
        assert_stream(b.seqs())
        assert [s for _, s in a.seqs()] == [0, 1, 2, 3, 4, 5, 6]
        assert hub.missed_since(4) is not None and len(hub.missed_since(4)) == 2
    run(main)


def test_slow_client_catch_up_snapshot_covers_the_pending_batch() -> None:
    async def main() -> None:
        hub = new_hub()
        a = Socket(hub)
        hub.join(a.conn, None)
        a.t.buffered = HIGH_WATER + 1
        hub.on_event(chat(1))
        await settle()                    # behind: 1 is skipped, a snapshot will supersede it
        a.t.buffered = 0
        hub.on_event(chat(2))             # pending when the snapshot is taken at seq 2
        await asyncio.sleep(connection_mod.DRAIN_POLL_S * 2)
        await settle(INTERVAL * 2)
        hub.on_event(chat(3))
        await settle(INTERVAL * 2)
        assert a.seqs() == [("snapshot", 0), ("snapshot", 2), ("ev", 3)]
    run(main)


def test_a_big_flush_is_sliced_and_a_socket_joining_in_between_is_served_once(monkeypatch) -> None:
    monkeypatch.setattr(hub_mod, "FLUSH_SLICE", 2)

    async def main() -> None:
        hub = new_hub()
        socks = [Socket(hub) for _ in range(5)]
        for s in socks:
            hub.join(s.conn, None)
        hub.on_event(chat(1))
        await asyncio.sleep(0)            # the flush starts: first slice only
        written = sum(len(s.t.writes) == 2 for s in socks)
        assert written == 2
        late = Socket(hub)
        hub.join(late.conn, None)         # between slices: its snapshot covers seq 1
        hub.on_event(chat(2))             # waits for the running flush, then follows it
        await settle(INTERVAL * 2)
        for s in socks:
            assert s.seqs() == [("snapshot", 0), ("ev", 1), ("ev", 2)]
        assert late.seqs() == [("snapshot", 1), ("ev", 2)]
    run(main)


def test_queued_mode_enqueues_each_event_once() -> None:
    async def main() -> None:
        hub = new_hub()
        a = Socket(hub, raw=False)
        hub.join(a.conn, None)
        a.conn.start()
        await settle()
        hub.on_event(chat(1))
        hub.on_event(chat(2))
        b = Socket(hub, raw=False)
        hub.join(b.conn, None)            # 1 and 2 pending: its snapshot covers them
        b.conn.start()
        await settle()
        hub.on_event(chat(3))
        await settle(INTERVAL * 2)
        await a.conn.stop()
        await b.conn.stop()
        assert a.seqs() == [("snapshot", 0), ("ev", 1), ("ev", 2), ("ev", 3)]
        assert b.seqs() == [("snapshot", 2), ("ev", 3)]
    run(main)


def test_a_flush_holds_back_while_a_bid_is_in_flight_and_goes_out_once_it_is_answered() -> None:
    from bidcast.realtime.urgency import BIDS

    async def main() -> None:
        hub = RoomHub(1, new_hub().view, 0, interval=INTERVAL, hold=1.0)
        a = Socket(hub)
        hub.join(a.conn, None)
        with BIDS.carrying():
            hub.on_event(chat(1))
            await settle(0.02)
            assert len(a.messages()) == 1          # the snapshot only: the bid goes first
        await settle(0.01)
        assert [m["seq"] for m in a.messages()[1:]] == [1]
        assert_stream(a.seqs())
    run(main)


def test_a_held_flush_goes_out_after_the_hold_even_if_bids_keep_coming() -> None:
    from bidcast.realtime.urgency import BIDS

    async def main() -> None:
        hub = RoomHub(1, new_hub().view, 0, interval=INTERVAL, hold=0.03)
        a = Socket(hub)
        hub.join(a.conn, None)
        with BIDS.carrying():
            hub.on_event(chat(1))
            hub.on_event(chat(2))
            await settle(0.01)
            assert len(a.messages()) == 1
            await settle(0.05)                     # past the hold: viewers are not starved
            assert [m["seq"] for m in a.messages()[1:]] == [1, 2]
            hub.on_event(chat(3))                  # the next flush has a hold of its own
            await settle(INTERVAL + 0.05)
            assert [m["seq"] for m in a.messages()[1:]] == [1, 2, 3]
        assert BIDS.count == 0
        assert_stream(a.seqs())
    run(main)
