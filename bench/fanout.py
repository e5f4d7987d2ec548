"""Fan-out of one room on one server process: N viewers, K price events a second.

Measures delivery latency (receive time − the event's server `ts`: p50, p99, max) and deliveries
per second, for each N; then bids over the WebSocket (acks/s, ack p99) while viewers watch.
The server runs in its own process; viewers and the driver run in this one (one core each).

    .venv/bin/python bench/fanout.py --quick
    .venv/bin/python bench/fanout.py --viewers 1000,5000,10000 --rate 10 --seconds 15
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import (TMP, ServerProcess, environment, fresh_sqlite_url, latency_summary,  # noqa: E402
                     migrate, proc_cpu_seconds, table, utc_stamp, write_results)
from wsload import Viewer, open_viewers  # noqa: E402

from bidcast.domain.increments import DEFAULT as DEFAULT_LADDER  # noqa: E402

P99_TARGET_MS = 250.0
PASSWORD = "bidcast-demo"


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def login(h: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    r = await h.post("/api/v1/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    return r.json()["token"]


async def user_token(h: httpx.AsyncClient, n: int) -> str:
    email = f"fan-{n}-{uuid.uuid4().hex[:6]}@bench.bidcast"
    r = await h.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD * 2,
                                                     "display_name": f"Bidder {n}"})
    r.raise_for_status()
    return await login(h, email, PASSWORD * 2)


async def start_lot(h: httpx.AsyncClient) -> int:
    seller = {"Authorization": f"Bearer {await login(h, 'seller@bidcast.test')}"}
    r = await h.post("/api/v1/rooms/1/lots/start-next", headers=seller,
                     json={"duration_seconds": 3600, "soft_close_seconds": 10})
    r.raise_for_status()
    return r.json()["lot"]["id"]


async def price_driver(h: httpx.AsyncClient, tokens: list[str], auction_id: int, rate: float,
                       stop: asyncio.Event) -> int:
    """K accepted bids a second (each one a bid.accepted event), alternating bidders."""
    price = (await h.get(f"/api/v1/auctions/{auction_id}")).json()["auction"]["min_next_bid"]
    sent, i, accepted = 0, 0, 0
    period = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
        r = await h.post(f"/api/v1/auctions/{auction_id}/bids", headers=headers,
                         json={"amount": price, "idempotency_key": uuid.uuid4().hex})
        body = r.json()
        price = DEFAULT_LADDER.next_bid(body["price"]) if r.status_code < 300 else \
            (body["error"].get("min_next_bid") or price + 100)
        accepted += r.status_code < 300
        sent += 1
        i += 1
        next_at += period
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    return accepted


async def fanout_case(server: ServerProcess, n: int, rate: float, seconds: float, sample_every: int,
                      tokens: list[str], auction_id: int) -> dict[str, Any]:
    path = "/ws/rooms/1"
    t0 = time.monotonic()
    viewers = await open_viewers("127.0.0.1", server.port, path, n, sample_every)
    connect_s = time.monotonic() - t0
    await asyncio.sleep(2.0)  # snapshots delivered, viewer counts settled
    alive = [v for v in viewers if v.upgraded and not v.closed.done()]
    for v in viewers:
        v.latencies.clear()
    before = sum(v.frames for v in viewers)
    cpu0 = proc_cpu_seconds(server.proc.pid)
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as h:
        driver = asyncio.create_task(price_driver(h, tokens, auction_id, rate, stop))
        start = time.monotonic()
        await asyncio.sleep(seconds)
        stop.set()
        sent = await driver
        window = time.monotonic() - start
    await asyncio.sleep(1.0)  # let the tail drain
    cpu1 = proc_cpu_seconds(server.proc.pid)
    delivered = sum(v.frames for v in viewers) - before
    lat = sorted(x / 1000 for v in viewers for x in v.latencies)
    closed = sum(1 for v in viewers if v.closed.done())
    for v in viewers:
        if v.transport:
            v.transport.close()
    await asyncio.sleep(1.0)
    summary = latency_summary(lat)
    return {"viewers": n, "connected": len(alive), "dropped": closed, "rate": rate,
            "price_events": sent, "connect_s": round(connect_s, 2),
            "deliveries": delivered, "deliveries_per_s": round(delivered / window, 1),
            "expected_per_s": round(len(alive) * sent / window, 1),
            "delivery": summary, "p50_ms": summary.get("p50_ms"), "p99_ms": summary.get("p99_ms"),
            "max_ms": summary.get("max_ms"),
            "server_cpu_pct": round(100 * (cpu1 - cpu0) / window, 1) if cpu0 is not None and cpu1 else None,
            "within_target": bool(summary.get("p99_ms") is not None and summary["p99_ms"] <= P99_TARGET_MS
                                  and closed == 0)}


async def ws_bids_case(server: ServerProcess, viewers_n: int, bidders: int, bids_per_s: float,
                       seconds: float, tokens: list[str]) -> dict[str, Any]:
    """Bids over the socket at a fixed total rate while viewers watch: acks/s and ack latency."""
    viewers = await open_viewers("127.0.0.1", server.port, "/ws/rooms/1", viewers_n, 50)
    sent_at: dict[str, float] = {}
    acks: list[float] = []
    codes: dict[str, int] = {}
    state = {"min_next": None}

    def on_message(msg: dict, now_ms: float) -> None:
        t = msg["type"]
        if t in ("bid.ack", "bid.rejected"):
            key = msg["data"].get("idempotency_key")
            if key in sent_at:
                acks.append((now_ms - sent_at.pop(key)) / 1000)
                code = "accepted" if t == "bid.ack" else msg["data"].get("code")
                codes[code] = codes.get(code, 0) + 1
        elif t == "bid.accepted":
            state["min_next"] = msg["data"]["min_next_bid"]
        elif t == "snapshot" and msg["data"].get("lot"):
            state["min_next"] = msg["data"]["lot"]["min_next_bid"]

    loop = asyncio.get_running_loop()
    bid_socks: list[Viewer] = []
    for i in range(bidders):
        _, proto = await loop.create_connection(
            lambda i=i: Viewer(f"/ws/rooms/1?token={tokens[i % len(tokens)]}",
                               f"127.0.0.1:{server.port}", False, on_message), "127.0.0.1", server.port)
        bid_socks.append(proto)
    await asyncio.gather(*[b.connected for b in bid_socks])
    await asyncio.sleep(2.0)
    period = 1.0 / bids_per_s
    start = next_at = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        sock = bid_socks[sent % bidders]
        key = uuid.uuid4().hex
        sent_at[key] = time.time() * 1000
        sock.send({"type": "bid", "amount": state["min_next"] or 100, "idempotency_key": key})
        sent += 1
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    window = time.monotonic() - start
    await asyncio.sleep(2.0)
    for v in [*viewers, *bid_socks]:
        if v.transport:
            v.transport.close()
    await asyncio.sleep(1.0)
    summary = latency_summary(sorted(acks))
    return {"viewers": viewers_n, "bidders": bidders, "target_bids_per_s": bids_per_s,
            "sent": sent, "answered": len(acks), "unanswered": len(sent_at),
            "acks_per_s": round(len(acks) / window, 1), "ack": summary,
            "p50_ms": summary.get("p50_ms"), "p99_ms": summary.get("p99_ms"), "codes": codes}


async def run(a: argparse.Namespace, url: str, cleanup) -> dict[str, Any]:  # noqa: ANN001
    from bidcast.config import Settings
    from bidcast.demo import seed
    workdir = TMP / f"fanout-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True, exist_ok=True)
    await seed(Settings(database_url=url, media_dir=str(workdir / "media")))
    server = ServerProcess(url, workdir).start()
    results: dict[str, Any] = {"fanout": [], "ws_bids": None}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as h:
            tokens = [await user_token(h, i) for i in range(max(4, a.bidders))]
            auction_id = await start_lot(h)
        for n in a.viewers:
            row = await fanout_case(server, n, a.rate, a.seconds, a.sample_every, tokens[:4], auction_id)
            results["fanout"].append(row)
            print(f"  {n:>6} viewers: {row['deliveries_per_s']:>10,.0f} deliveries/s  p50 {row['p50_ms']} ms"
                  f"  p99 {row['p99_ms']} ms  max {row['max_ms']} ms  dropped {row['dropped']}", flush=True)
        if not a.skip_ws_bids:
            results["ws_bids"] = await ws_bids_case(server, a.ws_bid_viewers, a.bidders, a.bids_per_s,
                                                    a.seconds, tokens)
    finally:
        server.stop()
        cleanup()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1k and 5k viewers, 5 s each (about 30 s)")
    p.add_argument("--viewers", default="1000,5000,10000")
    p.add_argument("--rate", type=float, default=10.0, help="price events per second")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--sample-every", type=int, default=10, help="decode 1 in N viewers' frames")
    p.add_argument("--bidders", type=int, default=50)
    p.add_argument("--bids-per-s", type=float, default=1000.0)
    p.add_argument("--ws-bid-viewers", type=int, default=5000)
    p.add_argument("--skip-ws-bids", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.viewers, a.seconds, a.ws_bid_viewers = "1000,3000", 5.0, 2000
    a.viewers = [int(x) for x in str(a.viewers).split(",")]
    fd_limit = raise_fd_limit()
    started = utc_stamp()
    t0 = time.monotonic()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    url, cleanup = fresh_sqlite_url("fanout")
    migrate(url)
    results = asyncio.run(run(a, url, cleanup))
    held = [r["viewers"] for r in results["fanout"] if r["within_target"]]
    payload = {"benchmark": "fanout", "started_at": started, "wall_seconds": round(time.monotonic() - t0, 1),
               "config": {k: v for k, v in vars(a).items()}, "fd_limit": fd_limit,
               "environment": environment(), "targets": {"delivery_p99_ms": P99_TARGET_MS,
                                                          "deliveries_per_s": 100_000, "viewers": 10_000},
               "most_viewers_within_p99": max(held) if held else None, **results}
    print(table(results["fanout"], [("viewers", "viewers"), ("connected", "connected"),
                                     ("deliveries_per_s", "deliveries/s"), ("p50_ms", "p50 ms"),
                                     ("p99_ms", "p99 ms"), ("max_ms", "max ms"), ("dropped", "dropped"),
                                     ("server_cpu_pct", "server cpu %")]))
    if results["ws_bids"]:
        w = results["ws_bids"]
        print(f"bids over WebSocket with {w['viewers']} viewers: {w['acks_per_s']} acks/s "
              f"(target {w['target_bids_per_s']}/s), ack p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms")
    write_results("fanout", payload)
    print(json.dumps({"benchmark": "fanout", "most_viewers_within_p99": payload["most_viewers_within_p99"],
                      "fanout": [{k: r[k] for k in ("viewers", "deliveries_per_s", "p50_ms", "p99_ms", "max_ms",
                                                    "dropped")} for r in results["fanout"]],
                      "ws_bids": results["ws_bids"] and {k: results["ws_bids"][k] for k in (
                          "viewers", "acks_per_s", "p50_ms", "p99_ms", "unanswered")}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
