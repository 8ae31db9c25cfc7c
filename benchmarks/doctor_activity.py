"""What reading activity and running the PostgreSQL runbooks cost, against a busy server.

A PostgreSQL with N idle client connections plus a 3-session lock chain.
Timed in one process, interleaved (A B C D, A B C D, ...), as medians and as
ratios to the anchor, a ``SELECT 1`` round trip on the same open connection:

- ``fetch_activity`` as shipped (``pg_blocking_pids`` only for sessions
  waiting on a lock, as the PostgreSQL docs advise);
- the same query calling ``pg_blocking_pids`` for every session (the naive
  form, for comparison);
- ``blocking_tree`` in Python over the sessions read;
- the high-connections runbook's ``detect`` (what the overview polls) and
  its full ``run`` (what ``doctor`` prints).

Run: .venv/bin/python benchmarks/doctor_activity.py [--sessions 200] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import asyncpg
from servers import postgres_server

from alfred_tui.backends import create_backend
from alfred_tui.config.loader import load_profile
from alfred_tui.databases.activity import ACTIVITY_SQL, blocking_tree, fetch_activity
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.pg_connections import PostgresConnections

NAIVE_SQL = ACTIVITY_SQL.replace(
    "CASE WHEN a.wait_event_type = 'Lock' OR a.wait_event = 'SafeSnapshot'\n"
    "            THEN pg_blocking_pids(a.pid) ELSE '{}'::int[] END AS blocked_by",
    "pg_blocking_pids(a.pid) AS blocked_by",
)


async def _lock_chain(dsn: str) -> tuple[list[asyncpg.Connection], list[asyncio.Task[str]]]:
    holder, *waiters = [await asyncpg.connect(dsn) for _ in range(3)]
    await holder.execute("CREATE TABLE IF NOT EXISTS bench_lock (id int PRIMARY KEY)")
    await holder.execute("INSERT INTO bench_lock VALUES (1) ON CONFLICT DO NOTHING")
    await holder.execute("BEGIN")
    await holder.execute("UPDATE bench_lock SET id = 1 WHERE id = 1")
    tasks = [
        asyncio.create_task(waiter.execute("UPDATE bench_lock SET id = 1 WHERE id = 1"))
        for waiter in waiters
    ]
    await asyncio.sleep(0.5)
    return [holder, *waiters], tasks


async def bench(sessions: int, runs: int) -> None:
    assert "pg_blocking_pids(a.pid) AS blocked_by" in NAIVE_SQL
    with postgres_server({"max_connections": str(sessions + 50)}) as pg:
        idle = await asyncio.gather(*(asyncpg.connect(pg.dsn()) for _ in range(sessions)))
        chain, waiting = await _lock_chain(pg.dsn())
        with tempfile.TemporaryDirectory() as tmp:
            profile = Path(tmp) / "bench.yaml"
            profile.write_text(
                "extends: local\nservices:\n"
                f"  postgres:\n    ports: ['127.0.0.1:{pg.port}:5432']\n"
                f"    environment: {{POSTGRES_PASSWORD: {pg.password}}}\n"
                "  redis: {enabled: false}\n  qdrant: {enabled: false}\n"
            )
            backend = create_backend(load_profile(str(profile)), "local")
            async with TroubleshootContext(backend) as ctx:
                client = await ctx.postgres()
                activity = await fetch_activity(client)
                runbook = PostgresConnections()

                async def tree() -> None:
                    blocking_tree(activity.sessions)

                candidates: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                    ("SELECT 1 (anchor)", lambda: client.fetch("SELECT 1")),
                    ("fetch_activity (as shipped)", lambda: fetch_activity(client)),
                    ("pg_blocking_pids for every session", lambda: client.fetch(NAIVE_SQL)),
                    ("blocking_tree (Python)", tree),
                    ("postgres-connections detect", lambda: runbook.detect(ctx)),
                    ("postgres-connections run", lambda: runbook.run(ctx)),
                ]
                samples: dict[str, list[float]] = {label: [] for label, _ in candidates}
                for index in range(runs + 2):
                    for label, call in candidates:
                        started = time.perf_counter()
                        await call()
                        if index >= 2:
                            samples[label].append(time.perf_counter() - started)
        for connection in idle + chain:
            connection.terminate()
        await asyncio.gather(*waiting, return_exceptions=True)
    anchor = statistics.median(samples["SELECT 1 (anchor)"])
    print(f"\n### PostgreSQL activity and runbook cost, {sessions} idle sessions + a lock chain\n")
    print(f"runs: {runs} (interleaved, 2 warm-up), anchor: SELECT 1 on the open connection\n")
    print("| what | median ms | p95 ms | x anchor |")
    print("|---|---:|---:|---:|")
    for label, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"| {label} | {median * 1000:.2f} | {p95 * 1000:.2f} | {median / anchor:.1f} |")
    print(f"\nmade by: `{shlex.join([sys.executable, *sys.argv])}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(bench(args.sessions, args.runs))


if __name__ == "__main__":
    main()
