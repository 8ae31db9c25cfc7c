"""Does the Qdrant stand-in keep answering while it indexes? (and why it optimizes out of process)

Loads the spec's collection shape (1536-d Cosine, Qdrant's default optimizer
config) with enough points to cross the 20,000 kB indexing threshold, then
measures the latency of what alfred-tui polls (``GET /collections/{name}``)
and ``/healthz`` while the stand-in's optimizer builds the HNSW index, and the
same requests when it is idle: the anchor, measured in the same run.

A second part shows why the optimizer runs in a child process: with
``EdgeShard.optimize()`` in a thread of the same process, a thread that only
sleeps 5 ms at a time is stalled for as long as the optimization holds the GIL.

Run: ``.venv/bin/python benchmarks/qdrant_standin_optimizer.py [--points 4000]``
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from qdrant_standin.launcher import qdrant_standin_server

SIZE = 1536


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load(http: httpx.Client, name: str, points: int) -> None:
    generator = random.Random(1)
    http.put(f"/collections/{name}", json={"vectors": {"size": SIZE, "distance": "Cosine"}})
    for start in range(0, points, 500):
        batch = [
            {"id": i, "vector": [generator.random() for _ in range(SIZE)]}
            for i in range(start, min(points, start + 500))
        ]
        reply = http.put(f"/collections/{name}/points", json={"points": batch})
        reply.raise_for_status()


def sample(http: httpx.Client, name: str, until_green: bool, seconds: float) -> dict[str, list]:
    """Latencies of alternating GET /collections/{name} and /healthz."""
    latencies: dict[str, list[float]] = {"collection": [], "healthz": []}
    statuses: dict[str, None] = {}  # in order of first appearance
    deadline = time.monotonic() + 600
    ends = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        info = http.get(f"/collections/{name}").json()["result"]
        latencies["collection"].append(time.perf_counter() - started)
        started = time.perf_counter()
        http.get("/healthz")
        latencies["healthz"].append(time.perf_counter() - started)
        statuses.setdefault(info["status"])
        if until_green and info["status"] == "green" and info["indexed_vectors_count"]:
            break
        if not until_green and time.monotonic() > ends:
            break
    latencies["statuses"] = list(statuses)  # type: ignore[assignment]
    return latencies


def in_process_stall(points: int) -> tuple[float, float, float]:
    """(optimize seconds, max stall of a 5 ms sleeper meanwhile, max stall idle)."""
    import qdrant_edge as qe

    folder = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    try:
        shard = qe.EdgeShard.create(
            str(folder / "shard"),
            qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=SIZE, distance=qe.Distance.Cosine)),
        )
        generator = random.Random(1)
        shard.update(
            qe.UpdateOperation.upsert_points(
                [
                    qe.Point(id=i, vector=[generator.random() for _ in range(SIZE)])
                    for i in range(points)
                ]
            )
        )

        def stalls(stop: threading.Event, last: float) -> list[float]:
            """Gaps between the ticks of a loop that sleeps 5 ms: time it could not run.

            ``last`` is taken before the other thread starts, so a stall that begins
            at once is counted too.
            """
            found = []
            while not stop.is_set():
                time.sleep(0.005)
                now = time.perf_counter()
                found.append(now - last - 0.005)
                last = now
            found.append(time.perf_counter() - last)
            return found

        idle_stop = threading.Event()
        threading.Timer(1.0, idle_stop.set).start()
        idle = stalls(idle_stop, time.perf_counter())
        result: list[float] = []
        busy_stop = threading.Event()

        def optimize() -> None:
            started = time.perf_counter()
            shard.optimize()
            result.append(time.perf_counter() - started)
            busy_stop.set()

        worker = threading.Thread(target=optimize)
        before = time.perf_counter()
        worker.start()
        busy = stalls(busy_stop, before)
        worker.join()
        shard.close()
        return result[0], max(busy), max(idle)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=4000)
    args = parser.parse_args()
    with qdrant_standin_server() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        load(http, "general-knowledge", args.points)
        started = time.monotonic()
        busy = sample(http, "general-knowledge", until_green=True, seconds=0)
        optimize_seconds = time.monotonic() - started
        idle = sample(http, "general-knowledge", until_green=False, seconds=3)
    optimize_in_thread, stall_busy, stall_idle = in_process_stall(args.points)

    print(f"Qdrant stand-in, {args.points} points x {SIZE} dims, Qdrant's default optimizer")
    print(f"status while indexing: {' -> '.join(busy['statuses'])}; took {optimize_seconds:.1f} s")
    print()
    header = f"{'request':<24}{'state':<10}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    print(header)
    print("-" * len(header))
    for kind in ("collection", "healthz"):
        for label, data in (("idle", idle), ("indexing", busy)):
            values = [v * 1000 for v in data[kind]]
            print(
                f"{'GET /collections/{name}' if kind == 'collection' else 'GET /healthz':<24}"
                f"{label:<10}{len(values):>6}{statistics.median(values):>10.2f}"
                f"{percentile(values, 0.99):>10.2f}{max(values):>10.2f}"
            )
        ratio = percentile([v * 1000 for v in busy[kind]], 0.99) / percentile(
            [v * 1000 for v in idle[kind]], 0.99
        )
        print(f"{'':<24}{'p99 ratio indexing/idle':<34}{ratio:>10.1f}x")
    print()
    print("Same optimization in-process (EdgeShard.optimize() in a thread):")
    print(
        f"  optimize took {optimize_in_thread:.1f} s; a 5 ms sleeper thread stalled up to "
        f"{stall_busy * 1000:.0f} ms (idle: {stall_idle * 1000:.1f} ms), "
        f"{stall_busy / max(stall_idle, 1e-6):.0f}x"
    )
    print()
    print(
        f"command: .venv/bin/python benchmarks/qdrant_standin_optimizer.py --points {args.points}"
    )


if __name__ == "__main__":
    main()
