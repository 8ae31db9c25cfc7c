"""What the troubleshooting panes cost per refresh, against the overview's own poll.

Real servers (tests/servers.py): a PostgreSQL with N idle client connections,
one idle in a transaction and a 3-session lock chain; a Redis holding a few
thousand keys under three prefixes. Timed in one process through the UI's
own adapter (``Session.diagnostics`` and ``Session.monitor``), interleaved
(A B C ..., A B C ...), each as a median and as a ratio to the anchor: one
overview poll (``ServiceMonitor.poll``: status + a probe per service), the
thing that already runs every ``ui.refresh_seconds``.

- the overview's runbook markers (light detection of every runbook of
  postgres and redis), run every ``MARKER_SECONDS``;
- the Activity pane's refresh (``pg_stat_activity`` with the blocking pids);
- the Troubleshoot pane's full runs of the two PostgreSQL runbooks and of the
  Redis latency runbook, every ``REFRESH_SECONDS`` while shown.

Rates need two samples at least 0.5 s apart (a Redis runbook otherwise takes
its own second sample and waits ``sample_seconds``, which is the UI's case
only right after opening), so every call starts 0.6 s after the previous
one; the wait is not timed.

Run: .venv/bin/python benchmarks/ui_doctor.py [--sessions 100] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import asyncpg
import redis.asyncio as aioredis
from servers import postgres_server, redis_server

from alfred_tui.control.session import open_session
from alfred_tui.screens.overview import MARKER_SECONDS
from alfred_tui.screens.troubleshoot import REFRESH_SECONDS

_WAITING: list[asyncio.Task[str]] = []


async def _load(pg_dsn: str, redis_port: int, sessions: int) -> list[asyncpg.Connection]:
    idle = list(await asyncio.gather(*(asyncpg.connect(pg_dsn) for _ in range(sessions))))
    stuck = await asyncpg.connect(pg_dsn, server_settings={"application_name": "stuck"})
    await stuck.execute("BEGIN")
    await stuck.fetchval("SELECT 1")
    holder, *waiters = [await asyncpg.connect(pg_dsn) for _ in range(3)]
    await holder.execute("CREATE TABLE IF NOT EXISTS bench_lock (id int PRIMARY KEY)")
    await holder.execute("INSERT INTO bench_lock VALUES (1) ON CONFLICT DO NOTHING")
    await holder.execute("BEGIN")
    await holder.execute("UPDATE bench_lock SET id = 1 WHERE id = 1")
    _WAITING.extend(
        asyncio.create_task(waiter.execute("UPDATE bench_lock SET id = 1 WHERE id = 1"))
        for waiter in waiters
    )
    client = aioredis.Redis(port=redis_port)
    async with client.pipeline(transaction=False) as pipe:
        for index in range(3000):
            prefix = ("alfred:cache:", "alfred:session:", "alfred:queue:")[index % 3]
            pipe.set(f"{prefix}{index}", "x" * 256)
        await pipe.execute()
    await client.aclose()
    await asyncio.sleep(0.5)
    return [*idle, stuck, holder, *waiters]


async def bench(sessions: int, runs: int) -> None:
    with (
        postgres_server({"max_connections": str(sessions + 50)}) as pg,
        redis_server() as rs,
        tempfile.TemporaryDirectory() as tmp,
    ):
        os.environ["ALFRED_TUI_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["ALFRED_TUI_STATE_DIR"] = str(Path(tmp) / "state")
        connections = await _load(pg.dsn(), rs.port, sessions)
        profile = Path(tmp) / "bench.yaml"
        profile.write_text(
            "extends: local\nservices:\n"
            f"  postgres:\n    ports: ['127.0.0.1:{pg.port}:5432']\n"
            f"    environment: {{POSTGRES_PASSWORD: {pg.password}}}\n"
            f"  redis:\n    ports: ['127.0.0.1:{rs.port}:6379']\n"
            "  qdrant: {enabled: false}\n"
        )
        session = open_session(str(profile))
        diagnostics = session.troubleshoot
        candidates: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("overview poll (anchor)", session.monitor.poll),
            ("runbook markers (overview)", diagnostics.markers),
            ("activity refresh", diagnostics.activity),
            ("run postgres-connections", lambda: diagnostics.run("postgres-connections")),
            ("run postgres-slow-queries", lambda: diagnostics.run("postgres-slow-queries")),
            ("run redis-latency", lambda: diagnostics.run("redis-latency")),
        ]
        samples: dict[str, list[float]] = {label: [] for label, _ in candidates}
        try:
            for index in range(runs + 2):
                for label, call in candidates:
                    await asyncio.sleep(0.6)  # see the module docstring; not timed
                    started = time.perf_counter()
                    await call()
                    if index >= 2:
                        samples[label].append(time.perf_counter() - started)
        finally:
            await session.close()
            for connection in connections:
                connection.terminate()
            await asyncio.gather(*_WAITING, return_exceptions=True)
    anchor = statistics.median(samples["overview poll (anchor)"])
    print(
        f"\n### Troubleshooting panes per refresh: PostgreSQL with {sessions} idle sessions, "
        "an idle transaction and a lock chain; Redis with 3000 keys\n"
    )
    print(f"runs: {runs} (interleaved, 2 warm-up), anchor: one overview poll\n")
    print("| what | median ms | p95 ms | x anchor |")
    print("|---|---:|---:|---:|")
    for label, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"| {label} | {median * 1000:.1f} | {p95 * 1000:.1f} | {median / anchor:.1f} |")
    print(
        f"\nmarkers every {MARKER_SECONDS:g} s, the shown runbook every "
        f"{REFRESH_SECONDS:g} s, activity every ui.refresh_seconds (2 s by default)"
    )
    print(f"made by: `{shlex.join([sys.executable, *sys.argv])}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(bench(args.sessions, args.runs))


if __name__ == "__main__":
    main()
