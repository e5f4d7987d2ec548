"""The room channel: one WebSocket per viewer per room (protocol in docs/protocol.md)."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from itsdangerous import BadSignature

from .. import metrics
from ..domain.money import MAX_AMOUNT
from ..errors import AppError
from ..realtime.connection import Connection
from ..realtime.hub import RoomHub
from ..realtime.protocol import encode
from ..realtime.urgency import BIDS
from .schemas import MAX_ID
from ..services.accounts import Principal
from ..services.bid_results import BidResult
from ..services.ownership import worker_id
from .auth import SESSION_COOKIE

router = APIRouter()
log = logging.getLogger("bidcast.ws")
HELLO_WAIT_S = 2.0
MAX_FRAME = 4096
LIKES_PER_S = 10
KILL_GRACE_S = 30.0
WORKER = worker_id()


async def socket_user(ws: WebSocket) -> tuple[Principal | None, bool]:
    """(user, token_was_bad). Cookies count only for same-origin pages (no cross-site hijack)."""
    accounts = ws.app.state.c.accounts
    token = ws.query_params.get("token")
    header = ws.headers.get("authorization", "")
    if not token and header[:7].lower() == "bearer ":
        token = header[7:].strip()
    if not token and (cookie := ws.cookies.get(SESSION_COOKIE)):
        origin = ws.headers.get("origin")
        if origin and urlsplit(origin).netloc != ws.headers.get("host"):
            return None, False
        try:
            token = ws.app.state.signer.unsign(cookie).decode()
        except BadSignature:
            return None, True
    if not token:
        return None, False
    who = await accounts.authenticate(token)
    return who, who is None


@router.websocket("/ws/rooms/{room_id}")
async def room_socket(ws: WebSocket, room_id: int) -> None:
    c = ws.app.state.c
    who, bad_token = await socket_user(ws)
    hub = await c.hubs.get(room_id) if 1 <= room_id <= MAX_ID else None
    await ws.accept()
    if hub is None:
        await ws.close(4404, "room not found")
        return
    if bad_token:
        await ws.close(4401, "invalid or expired token")
        return
    if who is not None and await c.chat.is_banned(room_id, who.id):
        await ws.close(4403, "removed from this room")
        return
    last_seq, first = await _hello(ws)
    conn = Connection(ws.send_text, ws.close, who.id if who else None, hub.snapshot_text,
                      lambda code, reason: kill_socket(ws, code, reason), raw_transport(ws))
    hub.join(conn, last_seq)
    conn.start()
    metrics.VIEWERS.inc()
    conn.push_direct(encode("welcome", hub.seq, {
        "user": {"id": who.id, "display_name": who.display_name} if who else None,
        "room_id": room_id, "resumed_from": last_seq, "worker": WORKER}, personal=True))
    session = _Session(ws, c, hub, conn, who)
    tasks: set[asyncio.Task] = set()
    try:
        if first is not None:
            session.handle(first, tasks)
        while True:
            raw = await ws.receive_text()
            if len(raw) > MAX_FRAME:
                session.error("frame_too_large", f"Messages are at most {MAX_FRAME} bytes.")
                continue
            session.handle(raw, tasks)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        metrics.VIEWERS.dec()
        hub.leave(conn)
        for t in tasks:
            t.cancel()
        await conn.stop()


class SocketTap:
    """ASGI middleware: remembers the server's protocol object of each WebSocket, before the
    framework wraps `send`, so the room channel can write pre-built frames to its transport."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "websocket":
            scope["bidcast.ws_protocol"] = getattr(send, "__self__", None)
        await self.app(scope, receive, send)


def _server_transport(ws: WebSocket):  # noqa: ANN202
    owner = ws.scope.get("bidcast.ws_protocol")
    return owner, getattr(owner, "transport", None)


def raw_transport(ws: WebSocket):  # noqa: ANN201
    """The socket's transport, where the server exposes it and nothing compresses frames.

    With uvicorn, room events are then written as pre-built frames (one encoding for the whole
    room) instead of going through the ASGI message path once per socket. Any other server, or a
    negotiated compression extension, gets the portable queued path."""
    owner, transport = _server_transport(ws)
    if transport is None or not hasattr(transport, "get_write_buffer_size"):
        return None
    conn = getattr(owner, "conn", None)
    if conn is None or getattr(conn, "extensions", None):
        return None
    return transport


def kill_socket(ws: WebSocket, code: int, reason: str) -> None:
    """Close a socket whose client stopped reading: queue a close frame behind what is already
    buffered and let the transport close once it drains (or abort it after a grace period).

    The ASGI layer cannot do this: its close waits for the very buffer that is stuck. We reach
    the server's transport where the server exposes it, and fall back to a normal close."""
    _, transport = _server_transport(ws)
    if transport is None or transport.is_closing():
        asyncio.get_running_loop().create_task(ws.close(code, reason))
        return
    payload = code.to_bytes(2, "big") + reason.encode()[:120]
    transport.write(bytes([0x88, len(payload)]) + payload)
    transport.close()
    asyncio.get_running_loop().call_later(KILL_GRACE_S, transport.abort)


async def _hello(ws: WebSocket) -> tuple[int | None, str | None]:
    """Wait briefly for `hello {last_seq}`; any other first message is handled after joining."""
    try:
        raw = await asyncio.wait_for(ws.receive_text(), HELLO_WAIT_S)
    except TimeoutError:
        return None, None
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, raw
    if isinstance(msg, dict) and msg.get("type") == "hello":
        last = msg.get("last_seq", (msg.get("data") or {}).get("last_seq"))
        return (last if isinstance(last, int) and not isinstance(last, bool) and last >= 0 else None), None
    return None, raw


class _Session:
    def __init__(self, ws: WebSocket, c: Any, hub: RoomHub, conn: Connection, who: Principal | None) -> None:
        self.ws, self.c, self.hub, self.conn, self.who = ws, c, hub, conn, who
        self._likes_window = (0.0, 0)
        self._bid_order = asyncio.Lock()

    def send(self, type_: str, data: dict[str, Any]) -> None:
        self.conn.push_direct(encode(type_, self.hub.seq, data, personal=True))

    def error(self, code: str, message: str, **extra: Any) -> None:
        self.send("error", {"code": code, "message": message, **extra})

    def handle(self, raw: str, tasks: set[asyncio.Task]) -> None:
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.error("malformed_json", "Messages are JSON objects with a type.")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self.error("bad_message", "Messages are JSON objects with a type.")
            return
        if isinstance(msg.get("data"), dict):
            msg = {**msg["data"], "type": msg["type"]}
        kind = msg["type"]
        if kind == "ping":
            self.send("pong", {"echo": msg.get("echo")})
        elif kind == "hello":
            self.send("error", {"code": "already_joined", "message": "Reconnect to resume from a seq."})
        elif kind == "like":
            self._like()
        elif kind in ("bid", "chat"):
            if self.who is None:
                self.error("unauthenticated", "Log in to bid and chat.")
                return
            coro = self._bid(msg, time.perf_counter()) if kind == "bid" else self._chat(msg)
            task = asyncio.get_running_loop().create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            self.error("unknown_type", f"Unknown message type {kind!r}.")

    def _like(self) -> None:
        now = time.monotonic()
        start, n = self._likes_window
        if now - start >= 1.0:
            start, n = now, 0
        if n < LIKES_PER_S:
            self.c.hubs.like(self.hub.room_id)
        self._likes_window = (start, n + 1)

    async def _chat(self, msg: dict[str, Any]) -> None:
        text = msg.get("text")
        if not isinstance(text, str):
            self.error("validation_failed", "chat needs a text.")
            return
        try:
            assert self.who is not None
            await self.c.chat.post(self.hub.room_id, self.who, text)
        except AppError as e:
            self.error(e.code, e.message, **e.extra)
        except Exception:
            log.exception("chat over the socket failed")
            self.error("storage_unavailable", "The message could not be saved; retry it.")

    async def _bid(self, msg: dict[str, Any], read_at: float) -> None:
        assert self.who is not None
        key = msg.get("idempotency_key")
        amount, max_amount = msg.get("amount"), msg.get("max_amount")
        lot = self.hub.view.get("lot")
        auction_id = msg.get("auction_id") or (lot["id"] if lot else None)
        problem = _bid_problem(key, amount, max_amount, auction_id)
        if problem:
            self.send("bid.rejected", {"code": "validation_failed", "message": problem,
                                       "idempotency_key": key})
            return
        kind, value = ("max", max_amount) if max_amount is not None else ("direct", amount)
        with BIDS.carrying():  # room fan-out holds back until this bid is answered (urgency.py)
            await self._place(auction_id, kind, value, key)
        metrics.BID_STAGE.labels("socket").observe(time.perf_counter() - read_at)

    async def _place(self, auction_id: int, kind: str, value: int, key: str) -> None:
        assert self.who is not None
        try:
            # One socket's bids reach the writer in the order they were sent: the checks before it
            # may wait on a cache miss, so they run one bid at a time; deciding is not waited for
            # here (tasks start in the order they are created), so a socket still pipelines.
            async with self._bid_order:
                banned = await self.c.bidding.admit(auction_id, self.who)
                decided = asyncio.get_running_loop().create_task(
                    self.c.bidding.decide(auction_id, self.who, kind, value, key, banned))
            res = await decided
        except AppError as e:
            self.send("bid.rejected", {"code": e.code, "message": e.message, "idempotency_key": key,
                                       "auction_id": auction_id})
            return
        except Exception:
            log.exception("bid over the socket failed")
            self.send("bid.rejected", {"code": "storage_unavailable", "idempotency_key": key,
                                       "message": "The bid could not be saved; retry it.",
                                       "auction_id": auction_id})
            return
        self.send(*_bid_answer(res, key, self.who.id))


def _bid_problem(key: Any, amount: Any, max_amount: Any, auction_id: Any) -> str | None:
    if not isinstance(key, str) or not 1 <= len(key) <= 64:
        return "A bid needs an idempotency_key of 1 to 64 characters."
    if (amount is None) == (max_amount is None):
        return "Give exactly one of amount or max_amount."
    value = amount if amount is not None else max_amount
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_AMOUNT:
        return f"Amounts are whole minor units from 1 to {MAX_AMOUNT}."
    if not isinstance(auction_id, int) or isinstance(auction_id, bool) or not 1 <= auction_id <= MAX_ID:
        return "There is no lot to bid on right now."
    return None


def _bid_answer(res: BidResult, key: str, bidder_id: int) -> tuple[str, dict[str, Any]]:
    if res.accepted:
        return "bid.ack", {"auction_id": res.auction_id, "auction_seq": res.seq, "price": res.price,
                           "leading": res.leader_id == bidder_id, "idempotency_key": key,
                           "closes_at": int(res.closes_at * 1000) if res.closes_at else None,
                           "replayed": res.replayed}
    return "bid.rejected", {"auction_id": res.auction_id, "code": res.code, "message": res.message,
                            "min_next_bid": res.min_next, "idempotency_key": key}


