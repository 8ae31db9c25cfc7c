"""Keyspace analysis on 1,000,000 keys in the spec's layout, against redis-cli --memkeys.

What it measures, all in one run on one throwaway Redis:

1. exact keys/s of ``KeyspaceAnalyzer`` (Lua scan), beside ``redis-cli
   --memkeys`` over the same databases (the anchor; target: >= 3x), runs
   interleaved; the pipeline fallback once, for reference;
2. the sampled analysis (1%): its time, and per key group its error against
   the exact figures and whether the exact figure lies within the stated bound;
3. p50/p99/max latency of PING from another process (one PING a millisecond,
   at nice -5 so that it measures Redis rather than its own wait for a CPU)
   while each scan runs once more (target p99 < 5 ms), with the idle server
   as the anchor. The timed runs go without it: on a small host the pinger's
   CPU would slow whichever candidate needs the most CPU.

Run: .venv/bin/python benchmarks/keyspace.py [--keys 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import RedisServer, redis_server  # noqa: E402

from alfred_tui.config.loader import load_profile  # noqa: E402
from alfred_tui.databases.keyspace import KeyspaceAnalyzer, KeyspaceReport  # noqa: E402
from alfred_tui.databases.redis import RedisTarget  # noqa: E402

DATABASES = [0, 1, 2, 3, 4]


# --- data -------------------------------------------------------------------


def _command(*args: object) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def layout(total: int) -> dict[int, int]:
    """Keys per database, in the spec's proportions (cache-heavy)."""
    shares = {0: 0.56, 1: 0.20, 2: 0.19, 3: 0.04995}
    counts = {db: int(total * share) for db, share in shares.items()}
    counts[4] = total - sum(counts.values())
    return counts


def generate(total: int, seed: int = 7):  # type: ignore[no-untyped-def]
    """RESP commands loading ``total`` keys in the spec's layout, in chunks."""
    rng = random.Random(seed)
    counts = layout(total)
    chunk: list[bytes] = []

    def ttl(kind: int) -> list[object]:
        # Under an hour, yet no key expires while the benchmark runs: the data stays put.
        seconds = [
            None,
            rng.randint(1800, 3500),
            rng.randint(3700, 86000),
            rng.randint(90000, 900000),
        ]
        value = seconds[kind]
        return [] if value is None else ["EX", value]

    def flush():  # type: ignore[no-untyped-def]
        data = b"".join(chunk)
        chunk.clear()
        return data

    # db 0: cache responses (strings), cached objects (hashes), other tools' keys
    chunk.append(_command("SELECT", 0))
    strings = int(counts[0] * 0.80)
    hashes = int(counts[0] * 0.18)
    others = counts[0] - strings - hashes
    for i in range(strings):
        chunk.append(
            _command(
                "SET",
                f"alfred:cache:resp:{i}",
                b"v" * rng.randint(16, 256),
                *ttl(rng.choices([0, 1, 2, 3], [10, 40, 40, 10])[0]),
            )
        )
        if len(chunk) >= 20000:
            yield flush()
    for i in range(hashes):
        fields = []
        for j in range(rng.randint(3, 8)):
            fields += [f"f{j}", "x" * rng.randint(4, 40)]
        chunk.append(_command("HSET", f"alfred:cache:obj:{i}", *fields))
        chunk.append(_command("EXPIRE", f"alfred:cache:obj:{i}", rng.randint(3700, 86000)))
        if len(chunk) >= 20000:
            yield flush()
    for i in range(others):
        chunk.append(_command("SET", f"celery:task:{i}", "done"))
    yield flush()
    # db 1: sessions (hashes, hours to two days)
    chunk.append(_command("SELECT", 1))
    for i in range(counts[1]):
        key = f"alfred:session:{i:08x}"
        chunk.append(_command("HSET", key, "user", i, "agent", "alfred", "token", "t" * 32))
        chunk.append(_command("EXPIRE", key, rng.randint(7200, 172800)))
        if len(chunk) >= 20000:
            yield flush()
    yield flush()
    # db 2: rate-limit counters (under an hour; long enough to outlive the benchmark)
    chunk.append(_command("SELECT", 2))
    for i in range(counts[2]):
        chunk.append(_command("SET", f"alfred:ratelimit:{i}", rng.randint(1, 100), "EX", 3000))
        if len(chunk) >= 20000:
            yield flush()
    yield flush()
    # db 3: 50 queue lists of 1,000 jobs, and job payloads
    chunk.append(_command("SELECT", 3))
    for q in range(50):
        chunk.append(
            _command("RPUSH", f"alfred:queue:agent-{q}", *[f"job-{q}-{j}" for j in range(1000)])
        )
    for i in range(counts[3] - 50):
        chunk.append(_command("HSET", f"alfred:queue:job:{i}", "state", "queued", "body", "b" * 64))
        if len(chunk) >= 20000:
            yield flush()
    yield flush()
    # db 4: pub/sub; a few presence keys
    chunk.append(_command("SELECT", 4))
    for i in range(counts[4]):
        chunk.append(_command("SET", f"alfred:presence:{i}", "online", "EX", 300000))
    yield flush()


def load(server: RedisServer, total: int) -> float:
    """Load the keys with ``redis-cli --pipe``; seconds taken."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["redis-cli", "-h", server.host, "-p", str(server.port), "--pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdin is not None
    for data in generate(total):
        process.stdin.write(data)
    process.stdin.close()
    output = process.stdout.read().decode() if process.stdout else ""
    if process.wait() != 0 or "errors: 0" not in output:
        raise RuntimeError(f"loading failed: {output[-500:]}")
    return time.perf_counter() - started


# --- latency probe ------------------------------------------------------------


def pinger(port: int) -> None:
    """Child process: PING in a loop until stdin closes; print latencies (ms) as JSON."""
    import threading

    with contextlib.suppress(OSError):
        os.nice(-5)  # measure Redis's delay, not this process waiting for a CPU
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    while not stop.is_set():
        started = time.perf_counter()
        sock.sendall(b"PING\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += sock.recv(64)
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(0.001)
    print(json.dumps(samples))


class Latency:
    """PING latencies measured by a separate process while a block runs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[float] = []

    def __enter__(self) -> Latency:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--pinger", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.3)
        return self

    def __exit__(self, *exc_info: object) -> None:
        out, _ = self.process.communicate(input="", timeout=60)
        self.samples = json.loads(out)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- runs ---------------------------------------------------------------------


def run_ours(
    server: RedisServer, mode: str, use_scripts: bool = True
) -> tuple[float, KeyspaceReport]:
    analyzer = KeyspaceAnalyzer(
        RedisTarget(server.host, server.port),
        load_profile("local").profile.redis_databases,
        use_scripts=use_scripts,
    )
    started = time.perf_counter()
    report = asyncio.run(analyzer.analyze(DATABASES, mode, 1.0))  # type: ignore[arg-type]
    return time.perf_counter() - started, report


def memkeys_argv(server: RedisServer, db: int) -> list[str]:
    return ["redis-cli", "-h", server.host, "-p", str(server.port), "-n", str(db), "--memkeys"]


def run_memkeys(server: RedisServer) -> float:
    started = time.perf_counter()
    for db in DATABASES:
        subprocess.run(memkeys_argv(server, db), check=True, capture_output=True, timeout=600)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-fallback", action="store_true", help="Skip the pipeline run.")
    parser.add_argument("--pinger", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pinger:
        pinger(args.pinger)
        return
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    with redis_server() as server:
        print(f"loading {args.keys:,} keys ...", file=sys.stderr)
        loaded_in = load(server, args.keys)
        time.sleep(1.0)  # let incremental rehashing settle
        with Latency(server.port) as idle:
            time.sleep(2.0)
        # Throughput: interleaved runs with nothing else talking to Redis.
        ours: list[float] = []
        memkeys: list[float] = []
        sampled_times: list[float] = []
        exact_report: KeyspaceReport | None = None
        sampled_report: KeyspaceReport | None = None
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs} ...", file=sys.stderr)
            elapsed, exact_report = run_ours(server, "exact")
            ours.append(elapsed)
            memkeys.append(run_memkeys(server))
            elapsed, sampled_report = run_ours(server, "sample")
            sampled_times.append(elapsed)
        assert exact_report is not None and sampled_report is not None
        scanned = sum(database.scanned for database in exact_report.databases)
        fallback = None
        if not args.no_fallback:
            print("pipeline fallback ...", file=sys.stderr)
            fallback, _ = run_ours(server, "exact", use_scripts=False)
        # Impact: one more run of each while another client PINGs (kept apart from
        # the timed runs, whose CPU the pinger would otherwise share).
        print("latency runs ...", file=sys.stderr)
        with Latency(server.port) as latency_ours:
            run_ours(server, "exact")
        with Latency(server.port) as latency_memkeys:
            run_memkeys(server)
        with Latency(server.port) as latency_sampled:
            for _ in range(10):
                run_ours(server, "sample")

    anchor = statistics.median(memkeys)
    print(
        f"\nKeyspace analysis, {scanned:,} keys in databases 0-4 (spec layout; loaded in "
        f"{loaded_in:.1f} s), median of {args.runs} interleaved runs; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'':34} {'time':>9} {'keys/s':>11} {'vs memkeys':>11}")
    rows = [
        ("redis-cli --memkeys (anchor)", anchor),
        ("alfred-tui exact (Lua scan)", statistics.median(ours)),
    ]
    if fallback is not None:
        rows.append(("alfred-tui exact (pipelines, 1 run)", fallback))
    rows.append(("alfred-tui sampled 1%", statistics.median(sampled_times)))
    for label, seconds in rows:
        print(f"{label:34} {seconds:8.2f}s {scanned / seconds:11,.0f} {anchor / seconds:10.2f}x")

    print("\nPING latency of another client (ms)")
    print(f"{'during':34} {'p50':>7} {'p99':>7} {'max':>7} {'pings':>7}")
    for label, samples in (
        ("idle server (anchor)", idle.samples),
        ("alfred-tui exact (Lua scan)", latency_ours.samples),
        ("alfred-tui sampled 1% (x10)", latency_sampled.samples),
        ("redis-cli --memkeys", latency_memkeys.samples),
    ):
        print(
            f"{label:34} {percentile(samples, 0.5):7.3f} {percentile(samples, 0.99):7.3f} "
            f"{max(samples):7.3f} {len(samples):7d}"
        )

    print(f"\nSampled (1%, {sampled_report.confidence:.0%} intervals) against exact, per key group")
    print(
        f"{'db':>2} {'group':22} {'keys exact':>11} {'sampled':>17} {'err':>6} {'in':>3} "
        f"{'memory exact':>13} {'sampled':>20} {'err':>6} {'in':>3}"
    )
    covered = total = 0
    for database in exact_report.databases:
        estimates = {g.name: g for g in sampled_report.database(database.db).groups}
        for group in database.groups:
            estimate = estimates.get(group.name)
            if estimate is None:
                print(f"{database.db:>2} {group.name:22} {group.keys.value:11,.0f}  (not drawn)")
                continue
            key_err = (estimate.keys.value - group.keys.value) / group.keys.value
            mem_err = (estimate.memory.value - group.memory.value) / max(1, group.memory.value)
            key_in = estimate.keys.contains(group.keys.value)
            mem_in = estimate.memory.contains(group.memory.value)
            covered += key_in + mem_in
            total += 2
            print(
                f"{database.db:>2} {group.name:22} {group.keys.value:11,.0f} "
                f"{estimate.keys.value:9,.0f} ±{estimate.keys.margin:6,.0f} {key_err:+6.1%} "
                f"{'yes' if key_in else 'NO':>3} {group.memory.value / 2**20:10.1f}MiB "
                f"{estimate.memory.value / 2**20:9.1f} ±{estimate.memory.margin / 2**20:5.1f}MiB "
                f"{mem_err:+6.1%} {'yes' if mem_in else 'NO':>3}"
            )
    print(f"exact figure within the stated bound: {covered}/{total}")
    print(f"\ncommand: {command}")


if __name__ == "__main__":
    main()
