"""How to keep one writer per auction across workers: a lease row vs a PostgreSQL advisory lock.

Measures, on a fresh PostgreSQL database, what each costs the auction writer's group commit
(a batch of 8 bid rows plus the guarded auction UPDATE, in one transaction):

- `seq_only`:  the commit as it was (fenced by `last_seq` only), the baseline;
- `lease`:     plus the lease fence (`UPDATE auction_leases ... WHERE owner AND epoch`) in the
               same transaction: what the engine does now;
- `advisory`:  commits on the one connection that holds `pg_try_advisory_lock(auction)`
               (the lock lives as long as that session, so the commit needs no extra statement);
- `*_par8`:    eight auctions committing at once: pooled connections for the lease, versus the
               advisory locks all held by one session (one connection per worker) or pinned
               connections (one per auction);
plus taking ownership (lease acquire vs pg_try_advisory_lock) and the time a lock/lease
survives its holder's death. Usage: `python bench/ownership.py [--commits 1500]`; writes
bench/results/ownership-latest.json and a timestamped copy.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
from _common import fresh_pg_url, latency_summary, write_results

SCHEMA = """
CREATE TABLE a (id bigint primary key, last_seq int not null, price bigint);
CREATE TABLE b (a_id bigint, seq int, bidder bigint, price bigint, k text);
CREATE TABLE l (a_id bigint primary key, owner text not null, epoch bigint not null, exp bigint not null);
"""


async def commit(conn: asyncpg.Connection, aid: int, seq: int, fence: bool) -> None:
    async with conn.transaction():
        if fence:
            r = await conn.execute("UPDATE l SET exp = $2 WHERE a_id = $1 AND owner = 'me' AND epoch = 1",
                                   aid, int(time.time() * 1000) + 3000)
            assert r == "UPDATE 1"
        r = await conn.execute("UPDATE a SET last_seq = $2, price = $3 WHERE id = $1 AND last_seq = $4",
                               aid, seq + 8, seq * 10, seq)
        assert r == "UPDATE 1"
        await conn.executemany("INSERT INTO b VALUES ($1, $2, $3, $4, $5)",
                               [(aid, seq + i, i, seq * 10 + i, f"k{seq}-{i}") for i in range(8)])


async def series(conns: list[asyncpg.Connection], aids: list[int], n: int, fence: bool) -> list[float]:
    """n commits per auction; auction i commits on conns[i % len(conns)] (shared conns serialize)."""
    locks = {id(c): asyncio.Lock() for c in conns}
    times: list[float] = []

    async def writer(i: int, aid: int) -> None:
        conn = conns[i % len(conns)]
        for k in range(n):
            t0 = time.perf_counter()
            async with locks[id(conn)]:
                await commit(conn, aid, k * 8, fence)
            times.append(time.perf_counter() - t0)
    await asyncio.gather(*[writer(i, aid) for i, aid in enumerate(aids)])
    return times


async def main(a: argparse.Namespace, url: str) -> dict:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    out: dict = {}
    if True:
        admin = await asyncpg.connect(dsn)
        await admin.execute(SCHEMA)

        async def reset(aids: list[int]) -> None:
            await admin.execute("TRUNCATE a, b, l")
            await admin.executemany("INSERT INTO a VALUES ($1, 0, 0)", [(x,) for x in aids])
            await admin.executemany("INSERT INTO l VALUES ($1, 'me', 1, 0)", [(x,) for x in aids])

        pool = [await asyncpg.connect(dsn) for _ in range(8)]
        n = a.commits
        for rnd, (name, conns, aids, fence) in enumerate(2 * (
                ("seq_only", pool[:1], [1], False),
                ("lease", pool[:1], [1], True),
                ("advisory", pool[:1], [1], False),
                ("seq_only_par8", pool, list(range(1, 9)), False),
                ("lease_par8", pool, list(range(1, 9)), True),
                ("advisory_par8_one_session", pool[:1], list(range(1, 9)), False),
                ("advisory_par8_pinned", pool, list(range(1, 9)), False))):
            await reset(aids)
            if name.startswith("advisory"):
                for i, aid in enumerate(aids):
                    assert await conns[i % len(conns)].fetchval("SELECT pg_try_advisory_lock($1)", aid)
            t0 = time.perf_counter()
            times = await series(conns, aids, n // len(aids) if "par8" in name else n, fence)
            wall = time.perf_counter() - t0
            if rnd >= 7:  # the first round only warms up the database and the connections
                out[name] = {**latency_summary(times), "commits_per_s": round(len(times) / wall)}
            if name.startswith("advisory"):
                for c in conns:
                    await c.execute("SELECT pg_advisory_unlock_all()")

        # Taking ownership.
        await reset([1])
        t = []
        for k in range(300):
            t0 = time.perf_counter()
            async with pool[0].transaction():
                await pool[0].fetchval("UPDATE l SET owner = 'me', epoch = epoch + 1, exp = $2 WHERE a_id = $1 "
                                       "AND (exp <= $3 OR owner = 'me') RETURNING epoch", 1,
                                       int(time.time() * 1000) + 3000, int(time.time() * 1000))
            t.append(time.perf_counter() - t0)
        out["acquire_lease"] = latency_summary(t)
        t = []
        for k in range(300):
            t0 = time.perf_counter()
            await pool[0].fetchval("SELECT pg_try_advisory_lock($1)", 10_000 + k)
            t.append(time.perf_counter() - t0)
        out["acquire_advisory"] = latency_summary(t)

        # Holder dies: how soon can another session take an advisory lock? (connection closed)
        holder = await asyncpg.connect(dsn)
        await holder.fetchval("SELECT pg_advisory_lock(42)")
        holder.terminate()  # like a process killed: the socket closes without a goodbye
        t0 = time.perf_counter()
        while not await pool[1].fetchval("SELECT pg_try_advisory_lock(42)"):
            await asyncio.sleep(0.001)
        out["advisory_free_after_holder_socket_closed_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        for c in [*pool, admin]:
            await c.close()
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commits", type=int, default=1500)
    args = p.parse_args()
    url, drop = fresh_pg_url("ownership")
    try:
        result = asyncio.run(main(args, url))
    finally:
        drop()
    write_results("ownership", {"config": vars(args), "results": result})
    for k, v in result.items():
        print(k, v)
