"""A crowd for a live room, over real HTTP and WebSockets: viewers, bidders, chatters, a host.

Used by the demo (a room that keeps selling) and by the benchmarks. It only talks to the
public API, as any client would.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

CHAT_LINES = ["what a piece!", "is it working?", "shipping to Lyon?", "love this 😍", "too rich for me",
              "go go go", "nice condition", "how old is it?", "last lot was a steal", "👏👏"]
PASSWORD = "simulated-crowd"


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

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
        return {"events": self.events, "delivery_p50_ms": pct(0.5), "delivery_p99_ms": pct(0.99),
                "bids_sent": self.bids_sent, "acks": self.acks, "rejections": self.rejections,
                "chats": self.chats, "lots_started": self.lots_started, "reconnects": self.reconnects}


class Crowd:
    def __init__(self, base_url: str, room_id: int, stats: Stats) -> None:
        self.base = base_url.rstrip("/")
        self.ws_base = "ws" + self.base[4:]
        self.room_id = room_id
        self.stats = stats
        self.http = httpx.AsyncClient(base_url=self.base, timeout=30)

    async def account(self, tag: str, n: int) -> str:
        email = f"sim-{tag}-{n}@crowd.bidcast.test"
        r = await self.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        if r.status_code != 200:
            await self.http.post("/api/v1/auth/register", json={
                "email": email, "password": PASSWORD, "display_name": f"{tag.title()} {n}"})
            r = await self.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        return r.json()["token"]

    async def member(self, token: str | None, on_event, stop: asyncio.Event, sample: bool = True) -> None:  # noqa: ANN001
        """Stay in the room (reconnecting and resuming) and feed each message to on_event."""
        url = f"{self.ws_base}/ws/rooms/{self.room_id}" + (f"?token={token}" if token else "")
        last_seq: int | None = None
        while not stop.is_set():
            try:
                async with websockets.connect(url, max_queue=None, open_timeout=20) as ws:
                    await ws.send(json.dumps({"type": "hello", "last_seq": last_seq}))
                    while not stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            continue
                        msg = json.loads(raw)
                        if not msg.get("personal"):
                            last_seq = msg["seq"]
                            self.stats.events += 1
                            if sample and msg["type"] != "snapshot":
                                self.stats.latencies_ms.append(time.time() * 1000 - msg["ts"])
                        await on_event(ws, msg)
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                self.stats.reconnects += 1
                await asyncio.sleep(0.5 + random.random())


class Bidder:
    """Bids on lots it likes, up to a private valuation, in one of three styles."""

    def __init__(self, crowd: Crowd, style: str) -> None:
        self.crowd, self.style = crowd, style
        self.me: int | None = None
        self.lot: dict[str, Any] | None = None
        self.valuation: dict[int, int] = {}
        self.offset_ms = 0.0

    async def on_event(self, ws, msg: dict[str, Any]) -> None:  # noqa: ANN001
        t, d = msg["type"], msg["data"]
        self.offset_ms = msg["ts"] - time.time() * 1000
        if t == "welcome" and d.get("user"):
            self.me = d["user"]["id"]
        elif t == "snapshot":
            self.lot = d.get("lot")
        elif t == "lot.started":
            self.lot = d["lot"]
        elif t == "bid.accepted" and self.lot and self.lot["id"] == d["auction_id"]:
            self.lot.update(price=d["price"], min_next_bid=d["min_next_bid"], leader=d["leader"],
                            closes_at=d["closes_at"])
        elif t == "auction.extended" and self.lot and self.lot["id"] == d["auction_id"]:
            self.lot["closes_at"] = d["closes_at"]
        elif t == "auction.closed" and self.lot and self.lot["id"] == d["auction_id"]:
            self.lot["status"] = "closed"
        elif t == "bid.ack":
            self.crowd.stats.acks += 1
        elif t == "bid.rejected":
            self.crowd.stats.rejections += 1

    async def act(self, ws) -> None:  # noqa: ANN001
        lot = self.lot
        if not lot or lot.get("status") != "running" or self.me is None:
            return
        if (lot.get("leader") or {}).get("id") == self.me:
            return
        worth = self.valuation.setdefault(lot["id"], int(lot["starting_price"] * random.uniform(1.2, 4.0)))
        nxt = lot["min_next_bid"]
        if nxt > worth:
            return
        left_ms = lot["closes_at"] - (time.time() * 1000 + self.offset_ms)
        if self.style == "sniper" and left_ms > 3000:
            return
        if self.style == "eager" and random.random() > 0.5:
            return
        body: dict[str, Any] = {"type": "bid", "auction_id": lot["id"], "idempotency_key": uuid.uuid4().hex}
        if self.style == "proxy":
            body["max_amount"] = worth
            self.valuation[lot["id"]] = 0  # one maximum per lot
        else:
            body["amount"] = nxt
        self.crowd.stats.bids_sent += 1
        await ws.send(json.dumps(body))


async def run_bidder(crowd: Crowd, n: int, style: str, stop: asyncio.Event, pace: float) -> None:
    token = await crowd.account("bidder", n)
    bidder = Bidder(crowd, style)
    ws_holder: dict[str, Any] = {}

    async def on_event(ws, msg) -> None:  # noqa: ANN001
        ws_holder["ws"] = ws
        await bidder.on_event(ws, msg)

    async def loop() -> None:
        while not stop.is_set():
            await asyncio.sleep(pace * random.uniform(0.5, 1.5))
            ws = ws_holder.get("ws")
            if ws is not None:
                try:
                    await bidder.act(ws)
                except websockets.WebSocketException:
                    pass
    await asyncio.gather(crowd.member(token, on_event, stop), loop())


async def run_chatter(crowd: Crowd, n: int, stop: asyncio.Event, per_second: float) -> None:
    token = await crowd.account("chatter", n)
    holder: dict[str, Any] = {}

    async def on_event(ws, msg) -> None:  # noqa: ANN001
        holder["ws"] = ws

    async def loop() -> None:
        while not stop.is_set():
            await asyncio.sleep(random.expovariate(per_second))
            ws = holder.get("ws")
            if ws is not None:
                try:
                    await ws.send(json.dumps({"type": "chat", "text": random.choice(CHAT_LINES)}))
                    if random.random() < 0.3:
                        await ws.send(json.dumps({"type": "like"}))
                    crowd.stats.chats += 1
                except websockets.WebSocketException:
                    pass
    await asyncio.gather(crowd.member(token, on_event, stop, sample=False), loop())


async def run_host(crowd: Crowd, email: str, password: str, stop: asyncio.Event,
                   lot_seconds: int) -> None:
    """Keeps the show going: starts the next lot when one closes, refills and restocks the lineup.
    Survives server restarts: any failure waits a moment and tries again."""
    h: dict[str, str] = {}
    while not stop.is_set():
        try:
            if not h:
                r = await crowd.http.post("/api/v1/auth/login", json={"email": email, "password": password})
                r.raise_for_status()
                h = {"Authorization": f"Bearer {r.json()['token']}"}
            r = await crowd.http.post(f"/api/v1/rooms/{crowd.room_id}/lots/start-next", headers=h,
                                      json={"duration_seconds": lot_seconds})
            code = r.json().get("error", {}).get("code") if r.status_code >= 400 else None
            if r.status_code == 200:
                crowd.stats.lots_started += 1
            elif code in ("no_pending_lot", "out_of_stock"):
                await _refill(crowd, h, restock_only=code == "out_of_stock")
            elif code == "room_not_live":
                await crowd.http.post(f"/api/v1/rooms/{crowd.room_id}/go-live", headers=h)
            elif r.status_code == 401:
                h = {}
        except (httpx.HTTPError, ValueError, KeyError):
            h = {}
        await asyncio.sleep(1.0)


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
                   chat_per_second: float = 0.3, bid_pace: float = 1.0) -> dict[str, Any]:
    stats = Stats()
    crowd = Crowd(base_url, room_id, stats)
    stop = asyncio.Event()

    async def quiet(ws, msg) -> None:  # noqa: ANN001
        return None
    styles = ["eager", "sniper", "proxy"]
    tasks = [asyncio.create_task(crowd.member(None, quiet, stop)) for _ in range(viewers)]
    tasks += [asyncio.create_task(run_bidder(crowd, i, styles[i % 3], stop, bid_pace)) for i in range(bidders)]
    tasks += [asyncio.create_task(run_chatter(crowd, i, stop, chat_per_second)) for i in range(chatters)]
    if host:
        tasks.append(asyncio.create_task(run_host(crowd, host[0], host[1], stop, lot_seconds)))
    try:
        if seconds > 0:
            await asyncio.sleep(seconds)
        else:
            await asyncio.Event().wait()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await crowd.http.aclose()
    return stats.summary()
