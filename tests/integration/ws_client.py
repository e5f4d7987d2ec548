"""A test client for the room channel (docs/protocol.md), on the real `websockets` library.

Every socket gets a reader task that records each message with the local receive time
(`_rx`, epoch ms: the same clock as the server's `ts` on this host), so tests can wait for a
message, inspect the whole stream afterwards and measure delivery latency.
"""
from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from .api import Api, User, key

Msg = dict[str, Any]
Pred = Callable[[Msg], bool]


def now_ms() -> int:
    return int(time.time() * 1000)


def token_of(user: User) -> str:
    return user.headers["Authorization"].split(" ", 1)[1]


def ws_url(base_url: str, room_id: int) -> str:
    return base_url.replace("http://", "ws://", 1) + f"/ws/rooms/{room_id}"


class RoomClient:
    """One viewer's socket. `msgs` holds everything received, in order."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.msgs: list[Msg] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    def start_reading(self) -> None:
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = orjson.loads(raw)
                msg["_rx"] = now_ms()
                self.msgs.append(msg)
                self._poke()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            self.closed.set()
            self._poke()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- sending ------------------------------------------------------------------------------
    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(orjson.dumps({"type": type_, **fields}).decode())

    async def bid(self, amount: int | None = None, max_amount: int | None = None,
                  idem: str | None = None, **extra: Any) -> str:
        idem = idem or key()
        fields: dict[str, Any] = {"idempotency_key": idem, **extra}
        if amount is not None:
            fields["amount"] = amount
        if max_amount is not None:
            fields["max_amount"] = max_amount
        await self.send("bid", **fields)
        return idem

    async def chat(self, text: str) -> None:
        await self.send("chat", text=text)

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await asyncio.wait_for(self.closed.wait(), 5)

    # -- reading ------------------------------------------------------------------------------
    @property
    def shared(self) -> list[Msg]:
        return [m for m in self.msgs if not m.get("personal")]

    def personal(self, type_: str | None = None) -> list[Msg]:
        return [m for m in self.msgs if m.get("personal") and (type_ is None or m["type"] == type_)]

    def find(self, pred: Pred, start: int = 0) -> Msg | None:
        for m in self.msgs[start:]:
            if pred(m):
                return m
        return None

    async def wait_for(self, pred: Pred, timeout: float = 5.0, start: int = 0, what: str = "") -> Msg:
        """The first message from index `start` on that matches; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        pos = start
        while True:
            changed = self._changed
            msgs = self.msgs
            while pos < len(msgs):           # each message is looked at once per waiter
                if pred(msgs[pos]):
                    return msgs[pos]
                pos += 1
            left = deadline - time.monotonic()
            if left <= 0 or self.closed.is_set():
                tail = [(m["type"], m.get("seq"), m.get("data")) for m in self.msgs[-8:]]
                raise AssertionError(f"{self.name}: no {what or 'matching message'} within {timeout}s "
                                     f"(closed={self.close_code}); last messages: {tail}")
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                pass

    async def wait_type(self, type_: str, timeout: float = 5.0, start: int = 0, **data: Any) -> Msg:
        def pred(m: Msg) -> bool:
            return m["type"] == type_ and all(m["data"].get(k) == v for k, v in data.items())
        return await self.wait_for(pred, timeout, start, what=f"{type_} {data or ''}")

    async def wait_count(self, pred: Pred, n: int, timeout: float = 5.0, what: str = "") -> None:
        """Until `n` messages matching `pred` arrived."""
        seen = 0

        def counted(m: Msg) -> bool:
            nonlocal seen
            seen += bool(pred(m))
            return seen >= n
        await self.wait_for(counted, timeout, what=what or f"{n} matching messages")

    async def wait_seq(self, seq: int, timeout: float = 5.0) -> None:
        """Until a shared message with seq >= `seq` arrived."""
        await self.wait_for(lambda m: not m.get("personal") and m["seq"] >= seq, timeout,
                            what=f"shared seq >= {seq}")

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code


async def connect(base_url: str, room_id: int, user: User | None = None, *, last_seq: int | None = None,
                  hello: bool = True, token_in: str = "header", name: str = "", read: bool = True,
                  **kw: Any) -> RoomClient:
    """Open a room socket; sends `hello` (with `last_seq` when given) unless hello=False."""
    url = ws_url(base_url, room_id)
    headers = {}
    if user is not None:
        if token_in == "query":
            url += f"?token={token_of(user)}"
        else:
            headers = {"Authorization": f"Bearer {token_of(user)}"}
    kw.setdefault("proxy", None)
    kw.setdefault("open_timeout", 10)
    ws = await websockets.connect(url, additional_headers=headers, **kw)
    client = RoomClient(ws, name or (user.email.split("@")[0] if user else "anonymous"))
    if hello:
        try:
            await client.send("hello", **({} if last_seq is None else {"last_seq": last_seq}))
        except websockets.ConnectionClosed:
            pass  # refused at once (4401/4403/4404): the reader records the close code
    if read:
        client.start_reading()
    return client


async def connect_many(base_url: str, room_id: int, users: Iterable[User | None], **kw: Any) -> list[RoomClient]:
    return list(await asyncio.gather(*[connect(base_url, room_id, u, **kw) for u in users]))


async def connect_stalled(base_url: str, room_id: int, rcvbuf: int = 4096, mss: int | None = 536) -> RoomClient:
    """A socket that never reads after the handshake (until `start_reading()`): a tiny kernel
    receive buffer, no compression and a one-frame queue, so the server's writes back up fast."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if mss:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    return await connect(base_url, room_id, sock=sock, compression=None, max_queue=1,
                         ping_interval=None, read=False, name="stalled")


async def close_all(clients: Iterable[RoomClient]) -> None:
    async def one(c: RoomClient) -> None:
        try:
            await asyncio.wait_for(c.ws.close(), 5)
        except Exception:
            c.ws.transport.abort()
        if c._reader is not None:
            c._reader.cancel()
            await asyncio.gather(c._reader, return_exceptions=True)
    await asyncio.gather(*[one(c) for c in clients])


# -- checking streams -----------------------------------------------------------------------------
def check_stream(msgs: list[Msg], who: str = "", resumed_from: int | None = None) -> list[Msg]:
    """Assert the shared messages form a valid stream: a snapshot first (or, for a socket that
    resumed from `resumed_from`, the event right after it), then contiguous seqs, where a later
    snapshot may supersede everything up to its own seq. Returns the events (no snapshots)."""
    shared = [m for m in msgs if not m.get("personal")]
    assert shared, f"{who}: no shared messages"
    if resumed_from is not None and shared[0]["type"] != "snapshot":
        shared = [{"type": "snapshot", "seq": resumed_from}, *shared]
    assert shared[0]["type"] == "snapshot", f"{who}: first shared message is {shared[0]['type']}"
    seq, events = shared[0]["seq"], []
    for m in shared[1:]:
        if m["type"] == "snapshot":
            assert m["seq"] >= seq, f"{who}: snapshot at {m['seq']} goes back from {seq}"
        else:
            assert m["seq"] == seq + 1, f"{who}: {m['type']} has seq {m['seq']} after {seq}"
            events.append(m)
        seq = m["seq"]
    return events


def strip(m: Msg) -> tuple[int, str, Any]:
    """What must be identical for every viewer: seq, type, data (ts too: encoded once)."""
    return m["seq"], m["type"], m["data"], m["ts"]


# -- HTTP (async, so the event loop running the sockets keeps going) -------------------------------
class AsyncApi:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def bid(self, user: User, auction_id: int, amount: int | None = None,
                  max_amount: int | None = None, idem: str | None = None) -> httpx.Response:
        body: dict = {"idempotency_key": idem or key()}
        if amount is not None:
            body["amount"] = amount
        if max_amount is not None:
            body["max_amount"] = max_amount
        return await self.http.post(f"/api/v1/auctions/{auction_id}/bids", headers=user.headers, json=body)

    async def chat(self, user: User, room_id: int, text: str) -> httpx.Response:
        return await self.http.post(f"/api/v1/rooms/{room_id}/chat", headers=user.headers, json={"text": text})

    async def start_next(self, host: User, room_id: int, **overrides: Any) -> dict:
        r = await self.http.post(f"/api/v1/rooms/{room_id}/lots/start-next", headers=host.headers,
                                 json=overrides)
        assert r.status_code == 200, r.text
        return r.json()["lot"]

    async def moderate(self, host: User, room_id: int, user_id: int, action: str) -> None:
        r = await self.http.post(f"/api/v1/rooms/{room_id}/moderation", headers=host.headers,
                                 json={"user_id": user_id, "action": action})
        assert r.status_code == 200, r.text

    async def slow_mode(self, host: User, room_id: int, seconds: int) -> None:
        r = await self.http.put(f"/api/v1/rooms/{room_id}/slow-mode", headers=host.headers,
                                json={"seconds": seconds})
        assert r.status_code == 200, r.text

    async def delete_chat(self, host: User, room_id: int, message_id: int) -> None:
        r = await self.http.delete(f"/api/v1/rooms/{room_id}/chat/{message_id}", headers=host.headers)
        assert r.status_code == 204, r.text


def pending_lot(api: Api, seller: User, **lot: Any) -> dict:
    """A live room with one lot that has not started yet (viewers can join first)."""
    return api.live_lot(seller, start=False, **lot)


def user_named(api: Api, display_name: str, tag: str = "buyer") -> User:
    """A buyer with a given display name (any Unicode; `Api.user` puts the name in the e-mail)."""
    from .api import PASSWORD
    email = f"{tag}-{key()[:10]}@tests.bidcast"
    r = api.http.post("/api/v1/auth/register", json={
        "email": email, "password": PASSWORD, "display_name": display_name, "roles": ["buyer"]})
    assert r.status_code == 201, r.text
    return api.login(email)
