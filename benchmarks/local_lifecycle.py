"""How long the local backend's lifecycle commands take, against what an operator types by hand.

Deploys a throwaway profile (free ports, its own 0755 folder), then times:

- the anchor: ``pg_isready ... && redis-cli ... ping`` — the by-hand health check;
- ``alfred-tui status`` (table and JSON), ``up`` with everything already
  running (the idempotent path), ``logs --tail 100``;
- ``LocalBackend.status()`` called in-process (what a UI poll costs);
- a cold ``up`` (initdb included) and ``down``, fewer times.

Prints a table of medians and p90s, each as a ratio to the anchor measured
in the same run, and the command that made it. Run::

    .venv/bin/python benchmarks/local_lifecycle.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from _harness import interleaved, load_average

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, check=True, capture_output=True, env=env)


def pg_isready() -> str:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_isready")):
        return str(candidate)
    return shutil.which("pg_isready") or "pg_isready"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per fast command")
    parser.add_argument("--cold-runs", type=int, default=3, help="runs of cold up / down")
    options = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="alfred-bench-"))
    base.chmod(0o755)
    pg_port, redis_port = free_port(), free_port()
    profile = base / "bench.yaml"
    profile.write_text(
        f"extends: local\nname: bench\nlocal:\n  data_dir: {base / 'data'}\n"
        f"services:\n  postgres:\n    ports: ['127.0.0.1:{pg_port}:5432']\n"
        f"  redis:\n    ports: ['127.0.0.1:{redis_port}:6379']\n"
    )
    cli = [str(BIN / "alfred-tui")]
    target = ["--profile", str(profile)]
    rows: list[tuple[str, list[float]]] = []
    try:
        run([*cli, "up", "--yes", *target])
        anchor_cmd = (
            f"{pg_isready()} -q -h 127.0.0.1 -p {pg_port} && "
            f"redis-cli -p {redis_port} ping >/dev/null"
        )
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from alfred_tui.backends.local.backend import LocalBackend
        from alfred_tui.config.loader import load_profile

        backend = LocalBackend(load_profile(str(profile)))
        commands = {
            "anchor: pg_isready && redis-cli ping": ["sh", "-c", anchor_cmd],
            "alfred-tui status": [*cli, "status", *target],
            "alfred-tui status -o json": [*cli, "status", "-o", "json", *target],
            "alfred-tui up (already running)": [*cli, "up", "--yes", *target],
            "alfred-tui logs --tail 100": [*cli, "logs", "--tail", "100", *target],
        }
        samplers: dict[str, Callable[[], Awaitable[object]]] = {
            label: (lambda argv=argv: asyncio.to_thread(run, argv))
            for label, argv in commands.items()
        }
        samplers["LocalBackend.status() in-process"] = backend.status
        # Interleaved: anchor, status, ..., anchor, status, ... (load hits them alike).
        measured = asyncio.run(interleaved(samplers, options.runs))
        rows += [(label, [ms / 1000 for ms in values]) for label, values in measured.items()]

        cold: list[float] = []
        down: list[float] = []
        for _ in range(options.cold_runs):
            down.append(timed(lambda: run([*cli, "down", "--volumes", "--yes", *target]), 1)[0])
            shutil.rmtree(base / "data" / "bench" / "safety", ignore_errors=True)
            cold.append(timed(lambda: run([*cli, "up", "--yes", *target]), 1)[0])
        rows.append(("alfred-tui up (cold: initdb + start)", cold))
        rows.append(("alfred-tui down --volumes --yes", down))
    finally:
        subprocess.run([*cli, "down", "--yes", *target], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

    anchor = statistics.median(rows[0][1])
    print(f"{'what':42} {'runs':>4} {'median':>9} {'p90':>9} {'x anchor':>9}")
    for label, samples in rows:
        ordered = sorted(samples)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        median = statistics.median(samples)
        print(
            f"{label:42} {len(samples):>4} {median * 1000:>7.1f}ms {p90 * 1000:>7.1f}ms "
            f"{median / anchor:>8.2f}x"
        )
    print(
        f"\nmachine: {os.cpu_count()} cpus, load average {load_average()}; fast rows "
        f"interleaved, cold rows alternate down/up; command: {' '.join(sys.argv)}"
    )


if __name__ == "__main__":
    main()
