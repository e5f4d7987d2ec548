"""Shared helpers for the benchmarks: fresh databases, a server process, stats, results files.

Nothing here touches the project's sources; the benchmarks only import the installed `bidcast`.
"""
from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TMP = RESULTS / "tmp"
PG_ADMIN_URL = os.environ.get("BIDCAST_BENCH_PG_URL",
                              os.environ.get("BIDCAST_TEST_PG_URL", "postgresql://127.0.0.1:5432/test"))


# ----------------------------------------------------------------------------- statistics

def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def latency_summary(seconds: list[float]) -> dict[str, float | int]:
    v = sorted(seconds)
    if not v:
        return {"n": 0}
    ms = 1000.0
    return {"n": len(v), "p50_ms": round(percentile(v, 50) * ms, 3),
            "p90_ms": round(percentile(v, 90) * ms, 3), "p99_ms": round(percentile(v, 99) * ms, 3),
            "max_ms": round(v[-1] * ms, 3), "mean_ms": round(sum(v) / len(v) * ms, 3)}


# ----------------------------------------------------------------------------- databases

def fresh_sqlite_url(label: str) -> tuple[str, Callable[[], None]]:
    TMP.mkdir(parents=True, exist_ok=True)
    path = TMP / f"{label}-{uuid.uuid4().hex[:8]}.db"

    def remove() -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    remove()
    return f"sqlite:///{path}", remove


def postgres_unreachable() -> str | None:
    """None when PostgreSQL answers at PG_ADMIN_URL, else the reason it does not."""
    from sqlalchemy.engine import make_url
    u = make_url(PG_ADMIN_URL)
    host, port = u.host or "127.0.0.1", u.port or 5432
    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError as e:
        return f"PostgreSQL is not reachable at {host}:{port} ({e})"
    try:
        import asyncpg

        async def probe() -> None:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
            await conn.close()
        asyncio.run(probe())
    except Exception as e:  # noqa: BLE001
        return f"PostgreSQL at {host}:{port} refused a connection ({type(e).__name__}: {e})"
    return None


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    asyncio.run(run())


def fresh_pg_url(label: str) -> tuple[str, Callable[[], None]]:
    """CREATE DATABASE bidcast_bench_<random>; returns its URL and a function that drops it."""
    name = f"bidcast_bench_{uuid.uuid4().hex[:12]}"   # `label` only names SQLite files
    _pg_admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    dropped = False

    def drop() -> None:
        nonlocal dropped
        if not dropped:
            dropped = True
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"{base}/{name}", drop


def migrate(url: str) -> None:
    """The project's own migrations (Alembic), as `bidcast db upgrade` runs them."""
    import logging

    from bidcast.storage.migrate import upgrade
    upgrade(url)
    # Alembic's fileConfig-less setup may leave loggers chatty; keep the benchmark output clean.
    logging.getLogger("alembic").setLevel(logging.WARNING)


# ----------------------------------------------------------------------------- server process

# One recipe for a server process, shared with the tests and the demo.
from bidcast.devserver import ServerProcess, free_port  # noqa: E402,F401


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (Linux /proc), for the server's CPU share during a run."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return None


def proc_io(pid: int | str = "self") -> dict[str, int]:
    """Bytes this process asked to write (wchar) and that reached the block layer (write_bytes)."""
    try:
        pairs = (line.split(":") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        return {k.strip(): int(v) for k, v in pairs}
    except (OSError, ValueError):
        return {}


def cpu_seconds_of(comm: str) -> float:
    """utime + stime summed over every process whose name is `comm` (e.g. the postgres backends)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
            name = raw[raw.index("(") + 1:raw.rindex(")")]
            if name != comm:
                continue
            fields = raw.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, ValueError, IndexError):
            continue
    return total


def host_cpu() -> tuple[float, float, float] | None:
    """(busy, steal, wall-clock-equivalent) CPU seconds of the whole host so far (Linux /proc/stat).

    Used to show how much CPU *other* processes took during a measured window: the benchmark
    machine may be shared, and a figure measured next to a busy neighbour is not comparable.
    """
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy / ticks, steal / ticks, (busy + idle + iowait + steal) / ticks


def wait_for_quiet(max_wait: float, threshold_pct: float = 25.0, sample_s: float = 1.0) -> dict[str, Any]:
    """Wait (up to max_wait s) until the host's CPU use, in % of one core, stays below threshold
    for one sample: on a shared machine a neighbour's test run halves what we can measure."""
    t0 = time.monotonic()
    last = None
    while True:
        a = host_cpu()
        time.sleep(sample_s)
        b = host_cpu()
        if a is None or b is None:
            return {"waited_s": 0.0, "host_busy_pct": None, "quiet": None}
        last = round(100 * (b[0] - a[0]) / sample_s, 1)
        waited = time.monotonic() - t0
        if last < threshold_pct or waited >= max_wait:
            return {"waited_s": round(waited, 1), "host_busy_pct_before": last,
                    "quiet": last < threshold_pct}


def calibrate() -> dict[str, float]:
    """Two yardsticks to compare runs taken at different times on a shared machine:
    a fixed pure-Python workload (best of 5) and the median write+fsync of 4 KiB where SQLite lives."""
    def work() -> int:
        x = 0
        for i in range(300_000):
            x += i * i % 7
        return x
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t)
    TMP.mkdir(parents=True, exist_ok=True)
    path = TMP / f"fsync-{uuid.uuid4().hex[:8]}"
    lat = []
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        block = os.urandom(4096)
        for i in range(40):
            t = time.perf_counter()
            os.pwrite(fd, block, (i % 8) * 4096)
            os.fsync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    lat.sort()
    return {"python_loop_ms": round(best * 1000, 2), "fsync_4k_p50_ms": round(lat[len(lat) // 2] * 1000, 3),
            "fsync_4k_p90_ms": round(lat[int(len(lat) * 0.9)] * 1000, 3)}


# ----------------------------------------------------------------------------- environment & output

def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_state() -> dict[str, Any]:
    """HEAD plus the uncommitted source files: the code under test moves while others work."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5)
            return out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None
    dirty = git("status", "--porcelain", "--", "src")
    return {"commit": git("rev-parse", "HEAD"), "subject": git("log", "-1", "--format=%s"),
            "uncommitted_src": [line.split(maxsplit=1)[1] for line in (dirty or "").splitlines()
                                if line.strip()]}


def _filesystem_of(path: Path) -> str | None:
    try:
        best, fstype = "", None
        target = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and target.startswith(parts[1]) and len(parts[1]) > len(best):
                best, fstype = parts[1], f"{parts[2]} ({parts[0]} on {parts[1]})"
        return fstype
    except OSError:
        return None


def environment() -> dict[str, Any]:
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = None
    return {
        "loadavg_at_start": load,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite_library": sqlite3.sqlite_version,
        "sqlite_tmp_filesystem": _filesystem_of(TMP if TMP.exists() else RESULTS),
        "packages": {d: _version(d) for d in ("bidcast", "sqlalchemy", "aiosqlite", "asyncpg", "uvloop",
                                              "uvicorn", "fastapi", "pydantic", "httpx")},
        "git": _git_state(),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_results(name: str, payload: dict[str, Any]) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, sort_keys=False, default=str)
    stamped = RESULTS / f"{name}-{payload.get('started_at', utc_stamp())}.json"
    latest = RESULTS / f"{name}-latest.json"
    stamped.write_text(text + "\n")
    latest.write_text(text + "\n")
    return stamped, latest


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A plain-text table; columns are (key, header)."""
    cells = [[h for _, h in columns]]
    for r in rows:
        cells.append(["" if r.get(k) is None else _fmt(r.get(k)) for k, _ in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if n and i > 1 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v >= 100:
            return f"{v:,.0f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
