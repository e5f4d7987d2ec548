"""A live show end to end, 1 worker against 2 workers, on PostgreSQL + Redis.

For each worker count: a fresh database with the demo shop and room, `bidcast serve --workers N`
and, in a separate process, `bidcast simulate` as the crowd: viewers, bidders (eager, sniper and
proxy styles, bidding over their sockets), chatters, and the host starting lots with soft close
one after another. Reported side by side: accepted bids/s, bid ack p50/p99 (sent → ack on the
bidder's socket), delivery p50/p99 (event's server time → receipt by sampled viewers), errors,
server CPU per worker and where a worker's CPU goes (py-spy). Afterwards every lot is checked
against the bids table: exactly one outcome, the winner holds the highest bid, the price follows
the ladder, one order per sold lot and none for an unsold one.

The crowd's accounts are created in the database before the show, sharing one argon2 hash made
with the cheapest parameters (a hash carries its own parameters, so each login verifies in about a
millisecond): with the production parameters, signing up and logging in 360 simulated users cost
the server over a minute of hashing before the show could start.
`--fanout-ms 0,50` runs every worker count once per fan-out interval (BIDCAST_FANOUT_INTERVAL_MS).

Usage: .venv/bin/python bench/show.py [--quick] [--viewers 2000 --bidders 300 --lots 6 ...]
Writes bench/results/show-latest.json and a timestamped copy.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from _common import (
    REPO,
    ServerProcess,
    environment,
    fresh_pg_url,
    migrate,
    proc_cpu_seconds,
    table,
    utc_stamp,
    write_results,
)

REDIS_URL = os.environ.get("BIDCAST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
HOST = ("seller@bidcast.test", "bidcast-demo")
ACK_P99_TARGET_MS, DELIVERY_P99_TARGET_MS = 50, 250


def forget_redis() -> None:
    import redis
    r = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(r.scan_iter(match="bidcast:*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i:i + 500])
    finally:
        r.close()


def profile(pid: int, seconds: int, out: Path) -> list[tuple[str, float]]:
    """py-spy samples of one worker: the functions where its CPU time goes (self time, %)."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return [("py-spy not installed (pip install py-spy)", 0.0)]
    r = subprocess.run([str(spy), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "50",
                        "--format", "raw", "--output", str(out), "--nonblocking"],
                       capture_output=True, text=True)
    if r.returncode != 0 or not out.exists():
        return [(f"py-spy failed: {r.stderr.strip()[-200:]}", 0.0)]
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        leaf = stack.split(";")[-1]
        own[leaf.split(" (")[0] + " (" + leaf.split(" (")[-1].split(":")[0].split("/")[-1]] += int(n)
        total += int(n)
    return [(name, round(100 * n / total, 1)) for name, n in own.most_common(12)] if total else []


async def check_outcomes(url: str, lot_ids: list[int]) -> dict[str, Any]:
    """Every lot: closed once, the winner is the last leader and holds the highest bid, one order."""
    conn = await asyncpg.connect(url)
    wrong: list[str] = []
    checked = 0
    try:
        for aid in lot_ids:
            a = await conn.fetchrow("SELECT status, outcome, winner_id, final_price, reserve_price, "
                                    "starting_price FROM auctions WHERE id = $1", aid)
            bids = await conn.fetch("SELECT seq, bidder_id, kind, value, price_after, leader_after "
                                    "FROM bids WHERE auction_id = $1 ORDER BY seq", aid)
            orders = await conn.fetch("SELECT buyer_id, amount FROM orders WHERE auction_id = $1", aid)
            checked += 1
            if a["status"] != "closed":
                wrong.append(f"lot {aid} is {a['status']}")
                continue
            if [b["seq"] for b in bids] != list(range(1, len(bids) + 1)):
                wrong.append(f"lot {aid}: seqs are not contiguous")
            if not bids:
                if a["outcome"] == "sold" or orders:
                    wrong.append(f"lot {aid}: sold without a bid")
                continue
            last = bids[-1]
            top: dict[int, int] = {}
            for b in bids:
                top[b["bidder_id"]] = max(top.get(b["bidder_id"], 0), b["value"])
            best = max(top.values())
            others = sorted((v for k, v in top.items() if k != a["winner_id"]), reverse=True)
            if a["outcome"] == "sold":
                if (a["winner_id"], a["final_price"]) != (last["leader_after"], last["price_after"]):
                    wrong.append(f"lot {aid}: outcome differs from the last accepted bid")
                if top.get(a["winner_id"], 0) != best:
                    wrong.append(f"lot {aid}: the winner does not hold the highest bid")
                # Price rule: at least every other bidder's best, at most the winner's own.
                if not (others[0] if others else a["starting_price"]) <= a["final_price"] <= top[a["winner_id"]]:
                    wrong.append(f"lot {aid}: price {a['final_price']} outside [second best, winner's best]")
                if [(o["buyer_id"], o["amount"]) for o in orders] != [(a["winner_id"], a["final_price"])]:
                    wrong.append(f"lot {aid}: orders {list(map(tuple, orders))}")
            elif orders:
                wrong.append(f"lot {aid}: unsold with an order")
    finally:
        await conn.close()
    return {"lots_checked": checked, "wrong": wrong}


async def seed_crowd(url: str, bidders: int, chatters: int) -> None:
    """The accounts `bidcast simulate` logs in with (it signs up only those it cannot log in)."""
    from argon2 import PasswordHasher

    from bidcast.simulate import PASSWORD
    hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    rows = [(f"sim-{tag}-{n}@crowd.bidcast.test", f"{tag.title()} {n}", hashed)
            for tag, count in (("bidder", bidders), ("chatter", chatters)) for n in range(count)]
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "INSERT INTO users (email, display_name, password_hash, roles, banned, strikes, created_at) "
            "VALUES ($1, $2, $3, 'buyer', false, 0, now() at time zone 'utc') ON CONFLICT (email) DO NOTHING",
            rows)
    finally:
        await conn.close()


def _quantile(buckets: dict[float, float], q: float) -> float | None:
    """A quantile of a Prometheus histogram (cumulative counts by upper bound), linear in its bucket."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0
    if not total:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for b in bounds:
        if buckets[b] >= rank:
            if b == float("inf"):
                return lower
            return lower + (b - lower) * (rank - below) / max(buckets[b] - below, 1e-9)
        lower, below = b, buckets[b]
    return lower


def server_figures(base_url: str) -> dict[str, Any]:
    """What the workers saw, from /metrics: bid ack time inside the server (arrival at a worker ->
    answer, every route), fan-out time (publication -> written to every local socket), overflows."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    hist: dict[str, dict[float, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    overflows: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in ("bidcast_bid_ack_seconds_bucket", "bidcast_fanout_seconds_bucket",
                          "bidcast_event_loop_lag_seconds_bucket"):
                hist[s.name][float(s.labels["le"])] += s.value
            elif s.name == "bidcast_bid_stage_seconds_bucket":
                hist[f"stage_{s.labels['stage']}"][float(s.labels["le"])] += s.value
            elif s.name == "bidcast_gc_pause_seconds_bucket":
                hist[f"gc_{s.labels['generation']}"][float(s.labels["le"])] += s.value
            elif s.name == "bidcast_socket_overflows_total":
                overflows[s.labels["kind"]] = overflows.get(s.labels["kind"], 0) + s.value
    out: dict[str, Any] = {"socket_overflows": overflows}
    for name, key in (("bidcast_bid_ack_seconds_bucket", "server_ack"), ("bidcast_fanout_seconds_bucket", "server_fanout"),
                      ("stage_queued", "server_writer_queue"), ("stage_commit", "server_commit"),
                      ("stage_socket", "server_socket_ack"),
                      ("bidcast_event_loop_lag_seconds_bucket", "server_loop_lag")):
        for q in (0.5, 0.99):
            v = _quantile(hist[name], q)
            out[f"{key}_p{int(q * 100)}_ms"] = round(v * 1000, 1) if v is not None else None
    out["server_gc_pauses"] = {  # per generation: collections, and the p99 pause in ms
        name[3:]: {"count": int(b[float("inf")]), "p99_ms": round((_quantile(b, 0.99) or 0) * 1000, 1)}
        for name, b in sorted(hist.items()) if name.startswith("gc_") and b.get(float("inf"))}
    return out


def server_warnings(path: Path | None) -> dict[str, Any]:
    """Warnings and errors the workers logged during the show: how many, and the last few."""
    try:
        lines = path.read_text(errors="replace").splitlines() if path else []
    except OSError:
        return {"count": None, "last": []}
    hits = [x for x in lines if "WARNING" in x or "ERROR" in x or x.startswith("Traceback")]
    return {"count": len(hits), "last": [x[-300:] for x in hits[-8:]]}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _wait_for_first_lot(url: str, timeout: float) -> float:
    async def running() -> bool:
        conn = await asyncpg.connect(url)
        try:
            return bool(await conn.fetchval("SELECT count(*) FROM auctions WHERE status = 'running'"))
        finally:
            await conn.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not asyncio.run(running()):
        time.sleep(0.5)
    return time.monotonic()


def run_case(workers: int, fanout_ms: float, a: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url, drop = fresh_pg_url("show")
    forget_redis()
    srv = ServerProcess(url, workdir / f"w{workers}-f{fanout_ms:g}", workers=workers, extra_env={
        "BIDCAST_REDIS_URL": REDIS_URL, "BIDCAST_LOG_LEVEL": "warning",
        "BIDCAST_PAYMENT_WINDOW_SECONDS": "3600", "BIDCAST_FANOUT_INTERVAL_MS": f"{fanout_ms:g}"})
    try:
        migrate(url)
        srv.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "bidcast", "seed-demo"], env=srv.env, cwd=srv.workdir,
                       check=True, capture_output=True)
        asyncio.run(seed_crowd(url, a.bidders, a.chatters))
        srv.start(60)
        time.sleep(1.0)
        pids = [p for p in srv.worker_pids() if "resource_tracker" not in _cmdline(p)] or [srv.proc.pid]
        nice = ["nice", "-n", str(a.generator_nice)] if a.generator_nice else []
        sim = subprocess.Popen([
            *nice, sys.executable, "-m", "bidcast", "simulate", "--url", srv.url, "--room", "1",
            "--viewers", str(a.viewers), "--bidders", str(a.bidders), "--chatters", str(a.chatters),
            "--chat-rate", str(a.chat_rate / max(1, a.chatters)), "--host-email", HOST[0],
            "--host-password", HOST[1], "--lot-seconds", str(a.lot_seconds), "--soft-close",
            str(a.soft_close), "--lots", str(a.lots), "--seconds", str(a.timeout),
            "--sample-every", str(a.sample_every), "--bid-pace", str(a.bid_pace)],
            env={**os.environ, "PYTHONPATH": str(REPO / "src")}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        cpu0 = {p: proc_cpu_seconds(p) for p in pids}
        sim_cpu0 = proc_cpu_seconds(sim.pid) or 0.0
        t0 = time.monotonic()
        # Profile the busiest worker once the first lot is under way.
        lots_at = _wait_for_first_lot(url, a.timeout)
        time.sleep(min(a.lot_seconds / 2, 10))
        busy = {p: proc_cpu_seconds(p) or 0.0 for p in pids}
        time.sleep(1.0)
        busiest = max(pids, key=lambda p: (proc_cpu_seconds(p) or 0.0) - busy[p])
        hot = profile(busiest, a.profile_seconds, workdir / f"spy-w{workers}-f{fanout_ms:g}.txt")
        sim_cpu = 0.0
        while sim.poll() is None:
            sim_cpu = proc_cpu_seconds(sim.pid) or sim_cpu
            cpu1 = {p: proc_cpu_seconds(p) for p in pids}
            time.sleep(0.5)
        wall = time.monotonic() - t0
        out, err = sim.communicate()
        lines = [x for x in out.splitlines() if x.startswith("{")]
        if not lines:
            raise RuntimeError(f"simulate failed: {err[-2000:]}")
        summary = json.loads(lines[-1])
        inside = server_figures(srv.url)
        inside["server_log_warnings"] = server_warnings(srv.log_path)
        outcomes = asyncio.run(check_outcomes(url, summary["lot_ids"]))
        cpu = {str(p): round(100 * ((cpu1.get(p) or 0) - (cpu0.get(p) or 0)) / wall, 1) for p in pids}
        return {"workers": workers, "fanout_ms": fanout_ms, **summary, "outcomes": outcomes, **inside,
                "server_cpu_pct_per_worker": cpu, "simulate_cpu_pct": round(100 * (sim_cpu - sim_cpu0) / wall, 1),
                "profile_worker": busiest, "profile_top": hot, "wall_s": round(wall, 1),
                "setup_s": round(lots_at - t0, 1)}
    finally:
        srv.stop()
        drop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="A short show (about a minute per case).")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--fanout-ms", default="50", help="Fan-out intervals to compare, e.g. 0,50 (0: no batching).")
    p.add_argument("--viewers", type=int, default=2000)
    p.add_argument("--bidders", type=int, default=300)
    p.add_argument("--chatters", type=int, default=60)
    p.add_argument("--chat-rate", type=float, default=50.0, help="Chat messages per second, in all.")
    p.add_argument("--lots", type=int, default=6)
    p.add_argument("--lot-seconds", type=int, default=30)
    p.add_argument("--soft-close", type=int, default=10)
    p.add_argument("--bid-pace", type=float, default=0.5)
    p.add_argument("--sample-every", type=int, default=10)
    p.add_argument("--profile-seconds", type=int, default=10)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--generator-nice", type=int, default=0,
                   help="Run the crowd at this niceness (e.g. 10): the server gets the cores first, as it "
                        "would on a machine of its own; the crowd's own figures then include more of its waiting.")
    a = p.parse_args()
    if a.quick:
        a.viewers, a.bidders, a.chatters, a.chat_rate = 500, 60, 20, 15.0
        a.lots, a.lot_seconds, a.soft_close, a.profile_seconds = 2, 15, 5, 5
    started = utc_stamp()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bidcast-show-") as tmp:
        for f in (float(x) for x in a.fanout_ms.split(",")):
            for n in (int(x) for x in a.workers.split(",")):
                rows.append(run_case(n, f, a, Path(tmp)))
                print(f"{n} worker(s), fan-out interval {f:g} ms: done", file=sys.stderr)
    for r in rows:
        r["within_targets"] = bool(r.get("ack_p99_ms") is not None and r["ack_p99_ms"] <= ACK_P99_TARGET_MS
                                   and (r.get("delivery_p99_ms") or 1e9) <= DELIVERY_P99_TARGET_MS
                                   and not r["errors"] and not r["outcomes"]["wrong"])
    print(table([{**r, "wrong": len(r["outcomes"]["wrong"]), "errs": sum(r["errors"].values())} for r in rows], [
        ("workers", "workers"), ("fanout_ms", "fan-out ms"), ("setup_s", "setup s"), ("accepted_per_s", "accepted/s"), ("ack_p50_ms", "ack p50"),
        ("ack_p99_ms", "ack p99"), ("ack_lot_start_p99_ms", "ack p99 1st s"), ("server_ack_p50_ms", "srv ack p50"), ("server_ack_p99_ms", "srv ack p99"),
        ("delivery_p50_ms", "deliv p50"), ("delivery_p99_ms", "deliv p99"),
        ("errs", "errors"), ("unanswered_bids", "unanswered"), ("lots_started", "lots"),
        ("wrong", "wrong outcomes"), ("simulate_cpu_pct", "sim CPU %"), ("within_targets", "targets")]))
    print("\ninside the server, p50 / p99 ms: socket read -> ack written, writer queue, group commit, event-loop lag")
    for r in rows:
        print(f"  {r['workers']} worker(s), fan-out {r['fanout_ms']:g} ms: "
              + ", ".join(f"{r.get(k + '_p50_ms')} / {r.get(k + '_p99_ms')}"
                          for k in ("server_socket_ack", "server_writer_queue", "server_commit", "server_loop_lag"))
              + f"; GC pauses by generation: {r.get('server_gc_pauses')}")
        for line in (r.get("server_log_warnings") or {}).get("last", []):
            print(f"    log: {line}")
    for r in rows:
        print(f"\nworker CPU % ({r['workers']} worker(s), fan-out {r['fanout_ms']:g} ms): {r['server_cpu_pct_per_worker']}; "
              f"py-spy top of worker {r['profile_worker']}:")
        for name, pct in r["profile_top"][:8]:
            print(f"  {pct:5.1f} %  {name}")
    payload = {"benchmark": "show", "started_at": started, "config": vars(a), "results": rows,
               "environment": environment()}
    write_results("show", payload)
    print(json.dumps({"show": [{k: r.get(k) for k in ("workers", "fanout_ms", "accepted_per_s", "ack_p50_ms", "ack_p99_ms",
                                                      "delivery_p50_ms", "delivery_p99_ms", "errors",
                                                      "within_targets")} for r in rows]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
