"""A crowd for a live room, over real HTTP and WebSockets: viewers, bidders, chatters, a host.

Used by the demo (a room that keeps selling) and by the benchmarks. It only talks to the
public API, as any client would.

Every member speaks WebSocket through `RoomSocket`, a client reduced to what a crowd needs: the
HTTP upgrade, masked frames out, pongs for the server's keepalive pings, a clean close, and the
server's frames walked in place as they arrive. The load generator shares the machine with the
server in the benchmarks: a full WebSocket client per member (frame objects, UTF-8 checks, a
queue and a task wake-up per message) cost it more CPU than the server spent writing the frames,
and its own backlog then showed up as latency of the server. So a message's arrival time is read
when its bytes arrive (`data_received`), and only members that act on messages (bidders,
sampled viewers) decode them. Viewers whose delivery latency is not measured and chatters read
their socket a few times a second (the kernel buffers what arrives in between), while the server
still writes every frame to every one of them.
"""
from __future__ import annotations

import asyncio
import base64
import collections
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

CHAT_LINES = ["what a piece!", "is it working?", "shipping to Lyon?", "love this 😍", "too rich for me",
              "go go go", "nice condition", "how old is it?", "last lot was a steal", "👏👏"]
PASSWORD = "simulated-crowd"
SERVER_ERRORS = frozenset({"storage_unavailable", "owner_unavailable", "writer_restarting", "internal"})
# WebSocket handshakes in flight at once: a burst of thousands overflows the server's accept
# backlog, and every dropped SYN costs its client a retransmission timeout (1 s, then 3 s ...).
CONNECTS_AT_ONCE = 100
CHEAP_READ_EVERY_S = 0.25  # how often an unmeasured viewer reads what arrived
VALUE_TO_START = 10.0      # a lot starts at a tenth of its list price; bidders value it around that
EAGER_BID_CHANCE = 0.2     # an eager bidder in range bids at this share of its looks


@dataclass
class Stats:
    events: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    bids_sent: int = 0
    acks: int = 0
    rejections: int = 0
    chats: int = 0
    lots_started: int = 0
    reconnects: int = 0
    # bid sent -> bid.ack / bid.rejected: (ms, seconds since its lot started, seconds left in it)
    acks_at: list[tuple[float, float, float]] = field(default_factory=list)
    rejected_by: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)    # server-side failures, by code
    lot_ids: list[int] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    in_flight: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # key -> (sent, since lot start, left)
    lot_seen: dict[int, float] = field(default_factory=dict)   # lot -> when a bidder first saw it start

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        by_ack = sorted(self.acks_at, reverse=True)
        acks = [a for a, _, _ in reversed(by_ack)]
        early = sorted(a for a, since, _ in by_ack if since < 1.0)  # bids sent in a lot's first second

        def pct(v: list[float], p: float) -> float | None:
            return round(v[min(len(v) - 1, int(p * len(v)))], 1) if v else None
        took = max(1e-9, time.time() - self.started_at)
        return {"events": self.events, "delivery_p50_ms": pct(lat, 0.5), "delivery_p99_ms": pct(lat, 0.99),
                "delivery_samples": len(lat),
                "bids_sent": self.bids_sent, "acks": self.acks, "rejections": self.rejections,
                "accepted_per_s": round(self.acks / took, 1),
                "ack_p50_ms": pct(acks, 0.5), "ack_p99_ms": pct(acks, 0.99), "ack_samples": len(acks),
                "ack_lot_start_p50_ms": pct(early, 0.5), "ack_lot_start_p99_ms": pct(early, 0.99),
                "ack_lot_start_samples": len(early),
                "slowest_acks": [[round(a, 1), round(b, 1), round(c, 1)]
                                 for a, b, c in by_ack[:max(5, len(acks) // 100)]],
                "unanswered_bids": len(self.in_flight), "rejected_by": self.rejected_by,
                "errors": self.errors, "chats": self.chats, "lots_started": self.lots_started,
                "lot_ids": self.lot_ids, "reconnects": self.reconnects, "seconds": round(took, 1)}


class Crowd:
    def __init__(self, base_url: str, room_id: int, stats: Stats) -> None:
        self.base = base_url.rstrip("/")
        self.ws_base = "ws" + self.base[4:]
        self.room_id = room_id
        self.stats = stats
        self.http = httpx.AsyncClient(base_url=self.base, timeout=30)
        self.show_over = asyncio.Event()
        self.connect_gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
        self.members = 0                    # sockets expected in the room
        self.joined: set[int] = set()       # members connected at least once
        self.all_in = asyncio.Event()
        self._pacer: _Pacer | None = None

    def _joined(self, member: int) -> None:
        self.joined.add(member)
        if len(self.joined) >= self.members:
            self.all_in.set()

    async def account(self, tag: str, n: int) -> str:
        email = f"sim-{tag}-{n}@crowd.bidcast.test"
        r = await self.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        if r.status_code != 200:
            await self.http.post("/api/v1/auth/register", json={
                "email": email, "password": PASSWORD, "display_name": f"{tag.title()} {n}"})
            r = await self.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        return r.json()["token"]

    async def member(self, token: str | None, on_message: OnMessage | None, stop: asyncio.Event,
                     sample: bool = True, on_open: Callable[[RoomSocket], None] | None = None,
                     paced: bool = False) -> None:
        """Stay in the room, reconnecting and resuming from the last seq seen, until `stop`.
        `on_message(sock, msg, arrived)` gets every message, decoded (arrived: perf_counter when
        its bytes came in); with `sample`, shared events' delivery latency is recorded; with
        neither, frames are only counted. `on_open(sock)` is called on every (re)connection;
        `paced`: read a few times a second (a member that only sends, or only watches)."""
        u = urlsplit(self.ws_base)
        host, port = u.hostname or "127.0.0.1", u.port or (443 if u.scheme == "wss" else 80)
        path = f"/ws/rooms/{self.room_id}" + (f"?token={token}" if token else "")
        tls = True if u.scheme == "wss" else None
        loop = asyncio.get_running_loop()
        if paced and self._pacer is None:
            self._pacer = _Pacer(CHEAP_READ_EVERY_S)
        me = id(asyncio.current_task())
        last_seq: list[int | None] = [None]
        stats = self.stats

        def handle(sock: RoomSocket, msg: dict[str, Any], arrived: float, wall_ms: float) -> None:
            if not msg.get("personal"):
                last_seq[0] = msg["seq"]
                if sample and msg["type"] != "snapshot":
                    stats.latencies_ms.append(wall_ms - msg["ts"])
            if on_message is not None:
                on_message(sock, msg, arrived)

        decode = handle if (on_message is not None or sample) else None
        while not stop.is_set():
            sock = RoomSocket(stats, f"{host}:{port}", path, self._pacer if paced else None, decode,
                              hello_seq=last_seq[0])
            try:
                async with self.connect_gate:
                    await asyncio.wait_for(loop.create_connection(lambda s=sock: s, host, port, ssl=tls), 20)
                    await asyncio.wait_for(asyncio.shield(sock.opened), 20)
                self._joined(me)
                if on_open is not None:
                    on_open(sock)
                stopping = loop.create_task(stop.wait())
                try:
                    await asyncio.wait({stopping, sock.lost}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopping.cancel()
                if stop.is_set():
                    sock.close()
                    return
                self.stats.reconnects += 1
                if not sock.closed_cleanly:
                    await asyncio.sleep(0.2 + 0.5 * random.random())
            except (OSError, TimeoutError):
                sock.abort()
                self.stats.reconnects += 1
                await asyncio.sleep(0.2 + 0.5 * random.random())

    async def cheap_viewer(self, stop: asyncio.Event) -> None:
        """An anonymous viewer that is not measured: stays in the room at almost no CPU cost
        (frames counted, not decoded; read a few times a second)."""
        await self.member(None, None, stop, sample=False, paced=True)


class _Pacer:
    """Lets cheap viewers read their sockets every `period` seconds, not at every frame: one read
    (and one wake-up of the load generator) per period instead of one per write of the server."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._parked: collections.deque[tuple[float, RoomSocket]] = collections.deque()
        self._task: asyncio.Task | None = None

    def park(self, viewer: RoomSocket) -> None:
        loop = asyncio.get_running_loop()
        viewer.pause()
        self._parked.append((loop.time() + self.period, viewer))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        parked = self._parked
        while parked:
            await asyncio.sleep(0.01)
            now = loop.time()
            while parked and parked[0][0] <= now:
                parked.popleft()[1].resume()


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A complete client-to-server WebSocket frame (clients must mask; RFC 6455 5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    m = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    body = (int.from_bytes(payload, "big") ^ m).to_bytes(n, "big") if n else b""
    return head + mask + body


def take_upgrade_response(buf: bytearray) -> bool | None:
    """The server's answer to a client's upgrade request, read off the front of `buf`: None while
    it is incomplete, then whether it switched protocols (its headers are removed from `buf`)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    status = bytes(buf[:12])
    del buf[:end + 4]
    return status == b"HTTP/1.1 101"


class RoomSocket(asyncio.Protocol):
    """One member's WebSocket (see the module's docstring). Server frames are walked in place:
    pings answered, a close honoured, text messages decoded for `decode` (fragmented ones
    reassembled) or else only counted."""

    def __init__(self, stats: Stats, host: str, path: str, pacer: _Pacer | None = None,
                 decode: Decoded | None = None, hello_seq: int | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.stats = stats
        self.pacer = pacer
        self.decode = decode
        self.hello_seq = hello_seq
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self._fragments: bytearray | None = None
        self.upgraded = False
        self.paused = False
        self.closed_cleanly = False
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        buf = self.buf
        buf += data
        if not self.upgraded:
            switched = take_upgrade_response(buf)
            if switched is None:
                return
            if not switched:
                self.opened.set_exception(ConnectionError("upgrade refused"))
                self.abort()
                return
            self.upgraded = True
            self.send({"type": "hello", "last_seq": self.hello_seq})
            self.opened.set_result(None)
        self._walk(arrived)
        if self.pacer is not None and not self.transport.is_closing():
            self.pacer.park(self)

    # -- frames --------------------------------------------------------------------------------
    def send(self, msg: dict[str, Any]) -> bool:
        """One JSON text message; False when the socket is already closing."""
        t = self.transport
        if t is None or t.is_closing() or not self.upgraded:
            return False
        t.write(client_frame(0x1, orjson.dumps(msg)))
        return True

    def _walk(self, arrived: float) -> None:
        buf, pos, size, frames = self.buf, 0, len(self.buf), 0
        messages: list[bytes] = []
        while size - pos >= 2:
            n, h = buf[pos + 1] & 0x7F, 2
            if n == 126:
                if size - pos < 4:
                    break
                n, h = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, h = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + h + n
            if end > size:
                break
            op, fin = buf[pos] & 0x0F, buf[pos] & 0x80
            if op == 0x9:
                self.transport.write(client_frame(0xA, bytes(buf[pos + h:end])))
            elif op == 0x8:
                self.closed_cleanly = True
                self.transport.write(client_frame(0x8, bytes(buf[pos + h:pos + h + 2])))
                self.transport.close()
                break
            elif op in (0x1, 0x2, 0x0):
                if self.decode is None:
                    frames += 1 if fin else 0
                elif op != 0x0 and fin:
                    messages.append(bytes(buf[pos + h:end]))
                elif op != 0x0:
                    self._fragments = bytearray(buf[pos + h:end])
                elif self._fragments is not None:
                    self._fragments += buf[pos + h:end]
                    if fin:
                        messages.append(bytes(self._fragments))
                        self._fragments = None
            pos = end
        if pos:
            del buf[:pos]
        self.stats.events += frames
        if messages:
            wall_ms = time.time() * 1000 - (time.perf_counter() - arrived) * 1000
            for raw in messages:
                self.decode(self, orjson.loads(raw), arrived, wall_ms)  # type: ignore[misc]

    # -- control ---------------------------------------------------------------------------------
    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.transport.is_closing():
            self.paused = False
            self.transport.resume_reading()

    def close(self, code: int = 1000) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(client_frame(0x8, code.to_bytes(2, "big")))
            t.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


OnMessage = Callable[[RoomSocket, dict[str, Any], float], None]
Decoded = Callable[[RoomSocket, dict[str, Any], float, float], None]


class Bidder:
    """Bids on lots it likes, up to a private valuation, in one of three styles: eager (bids the
    next step now and then while the price is below its valuation), proxy (sets its maximum once,
    at a moment of its own in the second half of the lot) and sniper (only in the last 3 seconds, so soft close extends
    the lot). Valuations spread around the product's list price (ten times the starting price),
    so the price climbs through the ladder for the whole lot instead of jumping at its start."""

    def __init__(self, crowd: Crowd, style: str) -> None:
        self.crowd, self.style = crowd, style
        self.me: int | None = None
        self.lot: dict[str, Any] | None = None
        self.valuation: dict[int, int] = {}
        self.proxy_at: dict[int, float] = {}  # a proxy sets its maximum with this many ms left
        self.offset_ms = 0.0

    def on_event(self, sock: RoomSocket, msg: dict[str, Any], arrived: float) -> None:
        t, d = msg["type"], msg["data"]
        self.offset_ms = msg["ts"] - time.time() * 1000
        if t == "welcome" and d.get("user"):
            self.me = d["user"]["id"]
        elif t == "snapshot":
            self.lot = d.get("lot")
        elif t == "lot.started":
            self.lot = d["lot"]
            self.crowd.stats.lot_seen.setdefault(d["lot"]["id"], arrived)
        elif t == "bid.accepted" and self.lot and self.lot["id"] == d["auction_id"]:
            self.lot.update(price=d["price"], min_next_bid=d["min_next_bid"], leader=d["leader"],
                            closes_at=d["closes_at"])
        elif t == "auction.extended" and self.lot and self.lot["id"] == d["auction_id"]:
            self.lot["closes_at"] = d["closes_at"]
        elif t == "auction.closed" and self.lot and self.lot["id"] == d["auction_id"]:
            self.lot["status"] = "closed"
        elif t in ("bid.ack", "bid.rejected"):
            st = self.crowd.stats
            sent = st.in_flight.pop(d.get("idempotency_key") or "", None)
            if sent is not None:
                st.acks_at.append(((arrived - sent[0]) * 1000, sent[1], sent[2]))
            if t == "bid.ack":
                st.acks += 1
            else:
                st.rejections += 1
                code = d.get("code") or "?"
                st.rejected_by[code] = st.rejected_by.get(code, 0) + 1
                if code in SERVER_ERRORS:
                    st.error(code)

    def act(self, sock: RoomSocket) -> None:
        lot = self.lot
        if not lot or lot.get("status") != "running" or self.me is None:
            return
        if (lot.get("leader") or {}).get("id") == self.me:
            return
        worth = self.valuation.setdefault(
            lot["id"], int(lot["starting_price"] * VALUE_TO_START * random.lognormvariate(0.0, 0.35)))
        nxt = lot["min_next_bid"]
        if nxt > worth:
            return
        left_ms = lot["closes_at"] - (time.time() * 1000 + self.offset_ms)
        if self.style == "sniper" and left_ms > 3000:
            return
        if self.style == "proxy" and left_ms > self.proxy_at.setdefault(lot["id"], random.uniform(3000, 15000)):
            return
        if self.style == "eager" and random.random() > EAGER_BID_CHANCE:
            return
        body: dict[str, Any] = {"type": "bid", "auction_id": lot["id"], "idempotency_key": uuid.uuid4().hex}
        if self.style == "proxy":
            body["max_amount"] = worth
            self.valuation[lot["id"]] = 0  # one maximum per lot
        else:
            body["amount"] = nxt
        sent = time.perf_counter()
        if sock.send(body):
            self.crowd.stats.bids_sent += 1
            since = sent - self.crowd.stats.lot_seen.get(lot["id"], float("-inf"))
            self.crowd.stats.in_flight[body["idempotency_key"]] = (sent, since, left_ms / 1000)


async def run_bidder(crowd: Crowd, n: int, style: str, stop: asyncio.Event, pace: float,
                     token: str | None = None) -> None:
    token = token or await crowd.account("bidder", n)
    bidder = Bidder(crowd, style)
    holder: dict[str, RoomSocket] = {}

    def on_open(sock: RoomSocket) -> None:
        holder["sock"] = sock

    async def loop() -> None:
        while not stop.is_set():
            await asyncio.sleep(pace * random.uniform(0.5, 1.5))
            if (sock := holder.get("sock")) is not None:
                bidder.act(sock)
    await asyncio.gather(crowd.member(token, bidder.on_event, stop, on_open=on_open), loop())


async def run_chatter(crowd: Crowd, n: int, stop: asyncio.Event, per_second: float,
                      token: str | None = None) -> None:
    token = token or await crowd.account("chatter", n)
    holder: dict[str, RoomSocket] = {}

    def on_open(sock: RoomSocket) -> None:
        holder["sock"] = sock

    async def loop() -> None:
        while not stop.is_set():
            await asyncio.sleep(random.expovariate(per_second))
            sock = holder.get("sock")
            if sock is not None and sock.send({"type": "chat", "text": random.choice(CHAT_LINES)}):
                if random.random() < 0.3:
                    sock.send({"type": "like"})
                crowd.stats.chats += 1
    await asyncio.gather(crowd.member(token, None, stop, sample=False, on_open=on_open, paced=True), loop())


async def run_host(crowd: Crowd, email: str, password: str, stop: asyncio.Event,
                   lot_seconds: int, soft_close: int | None = None, max_lots: int = 0) -> None:
    """Keeps the show going: starts the next lot when one closes, refills and restocks the lineup.
    Survives server restarts: any failure waits a moment and tries again."""
    h: dict[str, str] = {}
    while not stop.is_set():
        try:
            if not h:
                r = await crowd.http.post("/api/v1/auth/login", json={"email": email, "password": password})
                r.raise_for_status()
                h = {"Authorization": f"Bearer {r.json()['token']}"}
            if max_lots and crowd.stats.lots_started >= max_lots:
                await _wait_closed(crowd, h, stop)
                return
            lot = {"duration_seconds": lot_seconds}
            if soft_close is not None:
                lot["soft_close_seconds"] = soft_close
            r = await crowd.http.post(f"/api/v1/rooms/{crowd.room_id}/lots/start-next", headers=h,
                                      json=lot)
            code = r.json().get("error", {}).get("code") if r.status_code >= 400 else None
            if r.status_code == 200:
                crowd.stats.lots_started += 1
                if crowd.stats.lots_started == 1:
                    crowd.stats.started_at = time.time()  # rates count from the first lot
                crowd.stats.lot_ids.append(r.json()["lot"]["id"])
            elif code in ("no_pending_lot", "out_of_stock"):
                await _refill(crowd, h, restock_only=code == "out_of_stock")
            elif code == "room_not_live":
                await crowd.http.post(f"/api/v1/rooms/{crowd.room_id}/go-live", headers=h)
            elif r.status_code == 401:
                h = {}
        except (httpx.HTTPError, ValueError, KeyError):
            h = {}
        await asyncio.sleep(1.0)


async def _wait_closed(crowd: Crowd, h: dict[str, str], stop: asyncio.Event) -> None:
    """After the last lot: until it has closed, then the show is over."""
    last = crowd.stats.lot_ids[-1] if crowd.stats.lot_ids else None
    while last is not None and not stop.is_set():
        r = await crowd.http.get(f"/api/v1/auctions/{last}", headers=h)
        if r.status_code == 200 and r.json()["auction"]["status"] == "closed":
            break
        await asyncio.sleep(0.5)
    crowd.show_over.set()


async def _refill(crowd: Crowd, h: dict[str, str], restock_only: bool = False) -> None:
    mine = (await crowd.http.get("/api/v1/shops/mine", headers=h)).json()["shop"]
    products = (await crowd.http.get("/api/v1/products", params={"shop_id": mine["id"]})).json()["products"]
    for p in products:
        if p["stock"] < 1:
            await crowd.http.patch(f"/api/v1/products/{p['id']}", headers=h, json={"stock": 3})
        if restock_only:
            continue
        await crowd.http.post(f"/api/v1/rooms/{crowd.room_id}/lots", headers=h, json={
            "product_id": p["id"], "starting_price": max(100, p["price"]["amount"] // 10)})


async def simulate(base_url: str, room_id: int, viewers: int, bidders: int, chatters: int,
                   seconds: float, host: tuple[str, str] | None = None, lot_seconds: int = 30,
                   chat_per_second: float = 0.3, bid_pace: float = 1.0, soft_close: int | None = None,
                   lots: int = 0, sample_every: int = 1) -> dict[str, Any]:
    """Run the crowd for `seconds` (0: until interrupted), or with `lots` until the host's
    last lot has closed. Viewers' delivery latency is sampled on one viewer in `sample_every`."""
    stats = Stats()
    crowd = Crowd(base_url, room_id, stats)
    stop = asyncio.Event()

    styles = ["eager", "sniper", "proxy"]
    # Accounts first (password hashing is slow on purpose), so a show measures the show.
    sem = asyncio.Semaphore(8)

    async def account(tag: str, n: int) -> str:
        async with sem:
            return await crowd.account(tag, n)
    b_tokens = await asyncio.gather(*[account("bidder", i) for i in range(bidders)])
    c_tokens = await asyncio.gather(*[account("chatter", i) for i in range(chatters)])
    crowd.members = viewers + bidders + chatters
    tasks = [asyncio.create_task(crowd.member(None, None, stop, sample=True) if i % sample_every == 0
                                 else crowd.cheap_viewer(stop))
             for i in range(viewers)]
    tasks += [asyncio.create_task(run_bidder(crowd, i, styles[i % 3], stop, bid_pace, b_tokens[i]))
              for i in range(bidders)]
    tasks += [asyncio.create_task(run_chatter(crowd, i, stop, chat_per_second, c_tokens[i]))
              for i in range(chatters)]
    if host:
        try:  # everyone is in the room before the first lot
            await asyncio.wait_for(crowd.all_in.wait(), 60 + crowd.members / 50)
        except TimeoutError:
            pass
        await asyncio.sleep(2.0)
        tasks.append(asyncio.create_task(run_host(crowd, host[0], host[1], stop, lot_seconds,
                                                  soft_close, lots)))
    try:
        if lots and host:
            try:
                await asyncio.wait_for(crowd.show_over.wait(), seconds or None)
            except TimeoutError:
                pass
        elif seconds > 0:
            await asyncio.sleep(seconds)
        else:
            await asyncio.Event().wait()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await crowd.http.aclose()
    return stats.summary()
