"""What the live UI costs while an operator just watches it (issue 16, target 5).

PostgreSQL, Redis and embedded Qdrant run under the local backend (real
processes). The real app (``AlfredApp``, headless at 160x48, the Overview
shown, the profile's default refresh of 2 s, the rolling black-box recording
on as it is by default) runs for ``--seconds``, then the same with the
recording off (what the black box adds), and with the recording on but what
the start made not frozen out of the garbage collector's walks (what the
process's freeze, :mod:`alfred_tui.cli.collector`, saves); interleaved with them, the
anchor: a bare Textual app whose 25x8 DataTable gets new values in every
cell at the same refresh (what Textual itself costs to show a changing
table). All run in this process; its CPU time over the wall time is the
share of one core.

Database time per refresh cycle, per service, read from outside once the
first polls are done and again after the run (the app's connections are
closed by then, so PostgreSQL has flushed their statistics):

- PostgreSQL: ``pg_stat_database.active_time`` (PostgreSQL 14+: time spent
  executing statements, summed over the databases), divided by the overview's
  polls;
- Redis: the sum of ``usec`` over ``INFO commandstats`` (time the server spent
  in commands), divided by the polls;
- Qdrant runs embedded here (in the reader's process, no server): its cost
  is part of the app's CPU, not a server's.

What reading the counters costs is measured the same way (two reads with
nothing between) and subtracted.

Targets: < 2% of one core idle; < 1 ms of database time per cycle per service.

    .venv/bin/python benchmarks/refresh_cost.py [--runs 3] [--seconds 60] [--busy 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _harness import (  # noqa: E402
    CollectorTime,
    busy_processes,
    load_average,
    start_frozen,
    watch_changing_table,
)


def _server_time(deployment: Any) -> tuple[float, float]:
    """PostgreSQL's statement time and Redis's command time so far, in milliseconds."""
    import redis

    client = redis.Redis(port=deployment.redis_port)
    stats = client.info("commandstats")
    client.close()
    redis_ms = sum(float(entry["usec"]) for entry in stats.values()) / 1000
    # A connection of its own: its statistics snapshot is taken now, never a cached one.
    postgres_ms = deployment.postgres_value("SELECT sum(active_time) FROM pg_stat_database")
    return float(postgres_ms), redis_ms


def _flushed_server_time(deployment: Any) -> tuple[float, float]:
    """:func:`_server_time` once closed sessions' statistics have reached the view."""
    time.sleep(1.5)  # a backend's statistics are flushed as it exits, read a moment later
    return _server_time(deployment)


async def _run_app(
    profile: Path, seconds: float, deployment: Any, frozen: bool = True
) -> dict[str, float]:
    """The real app on the Overview for ``seconds``: CPU share, wall, polls, server time.

    ``frozen``: what the start made is frozen once the first polls are done
    (:func:`start_frozen`), as the ``alfred-tui`` process does.
    """
    from alfred_tui.app import AlfredApp
    from alfred_tui.control.session import open_session

    session = open_session(str(profile))
    app = AlfredApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        monitor = session.monitor
        while getattr(monitor, "_polls", 0) < 2:  # connected, first frames drawn: not measured
            await pilot.pause(0.1)
        with start_frozen(frozen):
            before = await asyncio.to_thread(_server_time, deployment)
            polls = getattr(monitor, "_polls", 0)
            with CollectorTime() as collector:
                cpu, wall = time.process_time(), time.perf_counter()
                await asyncio.sleep(seconds)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            polls = max(1, getattr(monitor, "_polls", 0) - polls)
    after = await asyncio.to_thread(_flushed_server_time, deployment)
    return {
        "cpu": cpu,
        "wall": wall,
        "polls": polls,
        "gc_share": 100 * collector.seconds / wall,
        "pg_ms": (after[0] - before[0]) / polls,
        "redis_ms": (after[1] - before[1]) / polls,
    }


async def _run_anchor(seconds: float, refresh: float) -> dict[str, float]:
    """A bare Textual app redrawing a table as big as the Overview's every ``refresh``."""
    cpu, wall = await watch_changing_table((160, 48), 25, refresh, seconds)
    return {"cpu": cpu, "wall": wall, "polls": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside it")
    args = parser.parse_args()

    from localdeploy import LocalDeployment

    refresh = 2.0  # the profile's default (ui.refresh_seconds)
    results: dict[str, list[dict[str, float]]] = {"on": [], "off": [], "unfrozen": [], "anchor": []}
    own: list[tuple[float, float]] = []
    loads: list[str] = []
    with LocalDeployment(name="bench-refresh") as local:
        local.up()
        os.environ["ALFRED_TUI_STATE_DIR"] = str(local.base / "state")
        unrecorded = local.base / "bench-refresh-unrecorded.yaml"
        unrecorded.write_text(
            f"extends: {local.profile_path}\nname: {local.name}\nrecording:\n  enabled: false\n"
        )
        with busy_processes(args.busy):
            for _ in range(args.runs):
                first = _flushed_server_time(local)
                second = _flushed_server_time(local)
                own.append((second[0] - first[0], second[1] - first[1]))
                for name, profile, frozen in (
                    ("on", local.profile_path, True),
                    ("off", unrecorded, True),
                    ("unfrozen", local.profile_path, False),
                ):
                    measured = asyncio.run(_run_app(profile, args.seconds, local, frozen))
                    results[name].append(measured)
                results["anchor"].append(asyncio.run(_run_anchor(args.seconds, refresh)))
                loads.append(load_average())

    def share(name: str) -> float:
        return statistics.median(100 * row["cpu"] / row["wall"] for row in results[name])

    def collected(name: str) -> float:
        return statistics.median(row["gc_share"] for row in results[name])

    def server(name: str, key: str, index: int) -> str:
        reading = statistics.median(own_row[index] for own_row in own)
        return f"{statistics.median(row[key] for row in results[name]) - reading:.3f}"

    anchor = share("anchor")
    print(f"\n### The live UI's refresh cost ({args.seconds:g} s runs, refresh {refresh:g} s)\n")
    print(f"load average per run: {'; '.join(loads)}; busy processes beside it: {args.busy}\n")
    print(
        "| what | CPU, % of one core | x anchor | of which the garbage collector | "
        "PostgreSQL ms / cycle | Redis ms / cycle |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, label in (
        ("on", "alfred-tui, the Overview, black box recording on (the default)"),
        ("off", "alfred-tui, the Overview, recording off"),
        ("unfrozen", "alfred-tui, the Overview, recording on, the start not frozen"),
    ):
        polls = statistics.median(row["polls"] for row in results[name])
        print(
            f"| {label} ({polls:g} polls) | {share(name):.2f} | {share(name) / anchor:.2f} | "
            f"{collected(name):.2f} | {server(name, 'pg_ms', 0)} | {server(name, 'redis_ms', 1)} |"
        )
    print(
        f"| anchor: a bare Textual app redrawing a 25x8 table every {refresh:g} s | "
        f"{anchor:.2f} | 1.00 | - | - | - |"
    )
    print(
        "\nServer time per cycle: PostgreSQL `pg_stat_database.active_time`, Redis `INFO "
        "commandstats` usec, over the polls; one reading of the counters (PostgreSQL "
        f"{statistics.median(o[0] for o in own):.3f} ms, Redis "
        f"{statistics.median(o[1] for o in own):.3f} ms) subtracted. {args.runs} interleaved "
        "runs, medians. Targets: < 2% of one core; < 1 ms of database time per cycle per service."
    )
    print(f"\ncommand: `{' '.join([Path(sys.executable).name, *sys.argv])}`")


if __name__ == "__main__":
    main()
