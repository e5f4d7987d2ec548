"""The room channel's wire format: JSON text frames {type, seq, ts, data}.

`seq` is the room's sequence number: contiguous over the room's shared events, so a client can
spot a gap and resume. Personal messages (acks, notices) carry the room's current seq and
`"personal": true`; they are not part of the sequence. `ts` and every time in `data` are the
server's clock in epoch milliseconds.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

# Shared room events whose newer copy makes an older one worthless (a slow client may skip them).
PRICE_EVENTS = frozenset({"bid.accepted", "auction.extended", "likes", "viewers"})


def now_ms() -> int:
    return int(time.time() * 1000)


def text_frame(text: str) -> bytes:
    """A complete unmasked, uncompressed WebSocket text frame (server to client)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def encode(type_: str, seq: int, data: dict[str, Any], ts: int | None = None,
           personal: bool = False) -> str:
    msg: dict[str, Any] = {"type": type_, "seq": seq, "ts": ts if ts is not None else now_ms(),
                           "data": data}
    if personal:
        msg["personal"] = True
    return orjson.dumps(msg).decode()


@dataclass(slots=True)
class RoomEvent:
    room_id: int
    seq: int
    type: str
    data: dict[str, Any]
    ts: int
    to_user: int | None = None
    _text: str | None = field(default=None, repr=False)
    _frame: bytes | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """Encoded once, then the same string goes to every socket."""
        if self._text is None:
            self._text = encode(self.type, self.seq, self.data, self.ts, self.to_user is not None)
        return self._text

    @property
    def frame(self) -> bytes:
        """The same bytes for every socket that takes raw frames."""
        if self._frame is None:
            self._frame = text_frame(self.text)
        return self._frame

    def to_wire(self) -> bytes:
        return orjson.dumps({"room_id": self.room_id, "seq": self.seq, "type": self.type,
                             "data": self.data, "ts": self.ts, "to_user": self.to_user})

    @staticmethod
    def from_wire(raw: bytes | str) -> RoomEvent:
        d = orjson.loads(raw)
        return RoomEvent(d["room_id"], d["seq"], d["type"], d["data"], d["ts"], d.get("to_user"))
