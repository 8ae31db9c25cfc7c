"""What the Overview's new reads cost per refresh: replication on each instance, Docker stats.

Part 1, database time (real PostgreSQL 15 with two streaming standbys, real
Redis 7 with a replica, on this machine), interleaved, medians:

* anchor: ``SELECT 1`` on an open connection (the floor of a round trip) and
  the probe's query without its replication columns (what a refresh cost
  before);
* the probe's query with them, on the primary; the replication query alone on
  the primary and on a standby (what each instance costs per refresh);
* the server's own execution time of that query (``EXPLAIN ANALYZE``): the
  database time the target is about (< 1 ms per cycle per instance);
* Redis: ``INFO replication`` against ``PING``.

Part 2, Docker stats for N containers (``--containers``, 20 by default):
that many containers labelled as replicas of a throwaway Compose project
(the test ``pause`` image: stats are per container whatever it runs), then:

* anchor: one blocking stats call per container per refresh
  (``stats(stream=False)`` in turn, what a naive poller does), and
  ``docker stats --no-stream`` for the same containers;
* ``DockerBackend.usage()`` with its streams warm: the wall time of a call,
  and the longest stall of the event loop while it runs every 2 s for
  ``--seconds`` (a 10 ms ticker measures it: the UI's loop);
* CPU used meanwhile by this process and by dockerd, from /proc, against the
  same span with no stream open.

    .venv/bin/python benchmarks/replication_reads.py [--runs 200] [--containers 20]
        [--seconds 30] [--skip-docker]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pydantic import SecretStr  # noqa: E402
from replication_support import postgres_standby, redis_pair  # noqa: E402
from servers import postgres_server  # noqa: E402


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


async def _database(runs: int) -> list[tuple[str, float, float]]:
    from alfred_tui.databases.pg_replication import REPLICATION_COLUMNS
    from alfred_tui.databases.postgres import (
        REPLICATION_SQL,
        SAMPLE_SQL,
        PostgresClient,
        PostgresTarget,
    )
    from alfred_tui.databases.redis import RedisClient, RedisTarget

    cut = SAMPLE_SQL.index(REPLICATION_COLUMNS)
    before = SAMPLE_SQL[:cut].rstrip().rstrip(",") + SAMPLE_SQL[cut + len(REPLICATION_COLUMNS) :]
    rows: dict[str, list[float]] = {}
    with (
        postgres_server() as primary,
        postgres_standby(primary, "s1"),
        postgres_standby(primary, "s2") as standby,
        redis_pair() as pair,
    ):

        def client(server) -> PostgresClient:  # type: ignore[no-untyped-def]
            return PostgresClient(
                PostgresTarget(
                    "127.0.0.1",
                    server.port,
                    server.user,
                    SecretStr(server.password),
                    "postgres",
                    "disable",
                )
            )

        on_primary, on_standby = client(primary), client(standby)
        master = RedisClient(RedisTarget("127.0.0.1", pair.master.port))
        candidates = {
            "PostgreSQL SELECT 1 (floor)": lambda: on_primary.fetch("SELECT 1"),
            # $1: read the database size too (as the probe does once every 30 s)
            "probe query before (spec metrics)": lambda: on_primary.fetch(before, True),
            "probe query with replication (primary)": lambda: on_primary.fetch(SAMPLE_SQL, True),
            "replication query, primary (2 standbys)": lambda: on_primary.fetch(REPLICATION_SQL),
            "replication query, standby": lambda: on_standby.fetch(REPLICATION_SQL),
            "Redis PING (floor)": lambda: master.call("PING"),
            "Redis INFO replication (master, 1 replica)": lambda: master.replication(),
        }
        for call in candidates.values():  # connect and warm up
            for _ in range(5):
                await call()
        for _ in range(runs):  # interleaved: every candidate once per round
            for name, call in candidates.items():
                started = time.perf_counter()
                await call()
                rows.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {REPLICATION_SQL}"
        server_ms = {"primary": [], "standby": []}
        for _ in range(max(20, runs // 5)):
            for where, target in (("primary", on_primary), ("standby", on_standby)):
                plan = (await target.fetch(explain))[0][0]
                document = json.loads(plan) if isinstance(plan, str) else plan
                server_ms[where].append(float(document[0]["Execution Time"]))
        for target in (on_primary, on_standby, master):
            await target.close()
    table = [(name, _median(v), _p95(v)) for name, v in rows.items()]
    for where, samples in server_ms.items():
        table.append(
            (f"server execution time, {where} (EXPLAIN ANALYZE)", _median(samples), _p95(samples))
        )
    return table


# --- Docker -------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _dockerd_pid() -> int | None:
    found = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


async def _loop_stall(seconds: float, work) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """Run ``work()`` every 2 s for ``seconds`` while a 10 ms ticker measures the worst stall."""
    stall = 0.0
    calls: list[float] = []
    stop = time.monotonic() + seconds

    async def ticker() -> None:
        nonlocal stall
        last = time.monotonic()
        while time.monotonic() < stop:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            stall = max(stall, now - last - 0.01)
            last = now

    async def refresher() -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            await work()
            calls.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(2.0)

    await asyncio.gather(ticker(), refresher())
    return stall * 1000, calls


def _docker(count: int, seconds: float) -> list[tuple[str, str]]:
    from alfred_tui.backends.docker.backend import DockerBackend
    from alfred_tui.config.loader import load_profile

    project = f"alfredbench{uuid.uuid4().hex[:8]}"
    image = "alfred-tui-test/pause:1"
    ids = []
    folder = Path(tempfile.mkdtemp())
    profile = folder / "bench.yaml"
    profile.write_text(
        f"extends: {ROOT / 'tests' / 'profiles' / 'docker-test.yaml'}\n"
        "services:\n  postgres: {enabled: false}\n  qdrant: {enabled: false}\n"
        f"docker:\n  project: {project}\n"
    )
    results: list[tuple[str, str]] = []
    try:
        for number in range(1, count + 1):
            labels = {
                "com.docker.compose.project": project,
                "com.docker.compose.service": "redis",
                "com.docker.compose.container-number": str(number),
                "com.docker.compose.oneoff": "False",
            }
            argv = ["docker", "run", "-d", "--name", f"{project}-redis-{number}"]
            for key, value in labels.items():
                argv += ["--label", f"{key}={value}"]
            ids.append(subprocess.run([*argv, image], capture_output=True, text=True,
                                      check=True).stdout.strip())  # fmt: skip
        import docker

        client = docker.from_env()
        started = time.perf_counter()
        for container_id in ids:
            client.api.stats(container_id, stream=False)
        naive = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        subprocess.run(["docker", "stats", "--no-stream", *ids], capture_output=True, check=True)
        cli = (time.perf_counter() - started) * 1000
        client.close()
        results.append(("anchor: one stats call per container, in turn (one refresh)",
                        f"{naive:,.0f} ms"))  # fmt: skip
        results.append((f"anchor: docker stats --no-stream ({count} containers)", f"{cli:,.0f} ms"))

        dockerd = _dockerd_pid()
        me = os.getpid()

        async def measure() -> None:
            backend = DockerBackend(load_profile(str(profile)))
            try:
                idle_mine, idle_dockerd = _cpu_seconds(me), dockerd and _cpu_seconds(dockerd)

                async def nothing() -> None:
                    return None

                idle_stall, _ = await _loop_stall(seconds, nothing)
                idle = (
                    (_cpu_seconds(me) - idle_mine) / seconds * 100,
                    ((_cpu_seconds(dockerd) - idle_dockerd) / seconds * 100)
                    if dockerd else float("nan"),
                )  # fmt: skip
                await backend.usage()
                for _ in range(20):  # warm: every stream has delivered a CPU figure
                    usage = await backend.usage()
                    if len(usage) == count and all(u.cpu_percent is not None for u in usage):
                        break
                    await asyncio.sleep(0.5)
                mine, dockerd_cpu = _cpu_seconds(me), dockerd and _cpu_seconds(dockerd)
                stall, calls = await _loop_stall(seconds, backend.usage)
                busy = (
                    (_cpu_seconds(me) - mine) / seconds * 100,
                    ((_cpu_seconds(dockerd) - dockerd_cpu) / seconds * 100)
                    if dockerd else float("nan"),
                )  # fmt: skip
                results.append((
                    f"usage() with {count} streams: wall time per call (median / p95)",
                    f"{_median(calls):.2f} / {_p95(calls):.2f} ms",
                ))  # fmt: skip
                results.append((
                    f"longest event-loop stall (10 ms ticker) over {seconds:g} s: no read / "
                    "usage() every 2 s",
                    f"{idle_stall:.1f} / {stall:.1f} ms",
                ))  # fmt: skip
                results.append((
                    "CPU, this process: idle / streams open",
                    f"{idle[0]:.1f}% / {busy[0]:.1f}% of a core",
                ))  # fmt: skip
                results.append((
                    "CPU, dockerd: idle / streams open",
                    f"{idle[1]:.1f}% / {busy[1]:.1f}% of a core",
                ))  # fmt: skip
            finally:
                await backend.close()

        asyncio.run(measure())
    finally:
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--skip-docker", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores\n")
    print("| read (open connection, loopback) | median ms | p95 ms |")
    print("|---|---:|---:|")
    for name, median, p95 in asyncio.run(_database(args.runs)):
        print(f"| {name} | {median:.3f} | {p95:.3f} |")
    if not args.skip_docker:
        print()
        print("| Docker stats | result |")
        print("|---|---|")
        for name, value in _docker(args.containers, args.seconds):
            print(f"| {name} | {value} |")
    command = " ".join(["benchmarks/replication_reads.py", *sys.argv[1:]])
    print(f"\nmade by: .venv/bin/python {command}")


if __name__ == "__main__":
    main()
