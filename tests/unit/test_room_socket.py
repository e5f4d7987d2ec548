"""The load generator's WebSocket client: whatever way the server's bytes are cut into reads,
every message comes out once, whole and in order; pings are answered; a close is honoured.

Pure logic on RoomSocket with a fake transport (the simulator's integration is the show bench
and `bidcast simulate` against a real server)."""
from __future__ import annotations

import asyncio
import os

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcast.simulate import RoomSocket, Stats


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return bytes((first, 126)) + n.to_bytes(2, "big") + payload
    return bytes((first, 127)) + n.to_bytes(8, "big") + payload


def unmask(frame: bytes) -> tuple[int, bytes]:
    """A client frame's opcode and payload (clients mask every frame)."""
    assert frame[1] & 0x80, "client frames are masked"
    n, i = frame[1] & 0x7F, 2
    if n == 126:
        n, i = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, i = int.from_bytes(frame[2:10], "big"), 10
    mask, body = frame[i:i + 4], frame[i + 4:i + 4 + n]
    return frame[0] & 0x0F, bytes(b ^ mask[k % 4] for k, b in enumerate(body))


def opened_socket(decode) -> tuple[RoomSocket, FakeTransport]:  # noqa: ANN001
    sock = RoomSocket(Stats(), "127.0.0.1:1", "/ws/rooms/1", decode=decode, hello_seq=7)
    t = FakeTransport()
    sock.connection_made(t)  # type: ignore[arg-type]
    sock.data_received(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    return sock, t


messages = st.lists(st.dictionaries(st.sampled_from(["type", "seq", "text"]),
                                    st.one_of(st.integers(0, 10**6), st.text(max_size=300)),
                                    min_size=1), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(msgs=messages, cuts=st.lists(st.integers(1, 400), max_size=60), fragment=st.booleans(),
       big=st.booleans())
def test_every_message_comes_out_once_in_order_however_the_bytes_are_cut(msgs, cuts, fragment, big) -> None:
    async def main() -> None:
        got: list[dict] = []
        sock, t = opened_socket(lambda s, m, arrived, wall: got.append(m))
        assert unmask(t.writes[1]) == (0x1, b'{"type":"hello","last_seq":7}')
        payloads = [orjson.dumps(m) for m in msgs]
        if big:
            payloads.append(orjson.dumps({"type": "snapshot", "blob": "x" * 70_000}))
        stream = b""
        for i, p in enumerate(payloads):
            if fragment and i % 2 and len(p) > 2:
                stream += server_frame(0x1, p[:2], fin=False) + server_frame(0x9, b"hb")
                stream += server_frame(0x0, p[2:])
            else:
                stream += server_frame(0x1, p)
        pos = 0
        for c in cuts:
            sock.data_received(stream[pos:pos + c])
            pos += c
        sock.data_received(stream[pos:])
        assert got == [orjson.loads(p) for p in payloads]
        pongs = [unmask(w) for w in t.writes[2:]]
        assert all(p == (0xA, b"hb") for p in pongs)
        assert len(pongs) == sum(1 for i, p in enumerate(payloads) if fragment and i % 2 and len(p) > 2)
    asyncio.run(main())


def test_a_socket_that_decodes_nothing_only_counts_and_a_close_is_answered() -> None:
    async def main() -> None:
        sock, t = opened_socket(None)
        sock.data_received(server_frame(0x1, b'{"type":"chat.message"}') * 3
                           + server_frame(0x8, (1001).to_bytes(2, "big")))
        assert sock.stats.events == 3
        assert sock.closed_cleanly and t.closing
        assert unmask(t.writes[-1]) == (0x8, (1001).to_bytes(2, "big"))
        assert not sock.send({"type": "chat", "text": "late"})  # closing: nothing more goes out
    asyncio.run(main())


def test_sent_messages_are_masked_json_text_frames() -> None:
    async def main() -> None:
        sock, t = opened_socket(None)
        body = {"type": "bid", "amount": 1200, "idempotency_key": os.urandom(8).hex()}
        assert sock.send(body)
        assert unmask(t.writes[-1]) == (0x1, orjson.dumps(body))
    asyncio.run(main())
