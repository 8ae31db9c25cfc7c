"""Keyspace analysis on 1,000,000 keys in the spec's layout, against redis-cli --memkeys.

What it measures, all in one run on one throwaway Redis:

1. ``alfred-tui keyspace --exact`` as a whole process (the issue 16 target:
   >= 5x ``redis-cli --memkeys`` over the same databases, and >= 70% of the
   Lua server-side limit, :data:`LUA_LIMIT`), beside the same scan in-process
   (``KeyspaceAnalyzer``), the same scan with Redis's default 5-element
   sampling (the cost of exactness) and the pipeline fallback once; runs
   interleaved, medians;
2. the sampled analysis (1%) as a whole process (target < 0.5 s) and
   in-process, and per key group its error against the exact figures and
   whether the exact figure lies within the stated bound;
3. the peak resident memory of each ``alfred-tui keyspace`` process (issue 16's
   bound at 10M keys: under 200 MB, growing sub-linearly);
4. p50/p99/max latency of PING from another process (one PING a millisecond,
   at nice -5 so that it measures Redis rather than its own wait for a CPU)
   while each scan runs once more (target p99 < 5 ms), with the idle server
   as the anchor. The timed runs go without it: on a small host the pinger's
   CPU would slow whichever candidate needs the most CPU.

``--busy N`` runs N spinning processes beside everything (the loaded machine);
the table prints the load average either way.

Run: .venv/bin/python benchmarks/keyspace.py [--keys 1000000] [--runs 3] [--busy 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

sys.path.insert(0, str(ROOT / "benchmarks"))

from _harness import busy_processes  # noqa: E402
from servers import RedisServer, redis_server  # noqa: E402

from alfred_tui.config.loader import load_profile  # noqa: E402
from alfred_tui.databases import keyspace as keyspace_module  # noqa: E402
from alfred_tui.databases.keyspace import KeyspaceAnalyzer  # noqa: E402
from alfred_tui.databases.keyspace_model import KeyspaceReport  # noqa: E402
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
    # run_default_sampling swaps the module's script: give the variant its SHA.
    script = keyspace_module.EXACT_SCAN
    analyzer.sha.setdefault(script, hashlib.sha1(script.encode()).hexdigest())
    started = time.perf_counter()
    report = asyncio.run(analyzer.analyze(DATABASES, mode, 1.0))  # type: ignore[arg-type]
    return time.perf_counter() - started, report


def run_default_sampling(server: RedisServer) -> tuple[float, KeyspaceReport]:
    """The exact scan as it was before exact meant exact: MEMORY USAGE with Redis's
    default of 5 sampled elements per collection (the cost of SAMPLES 0, measured)."""
    module = keyspace_module
    exact = module.EXACT_SCAN
    module.EXACT_SCAN = exact.replace("call('MEMORY', 'USAGE', key, 'SAMPLES', '0')",
                                      "call('MEMORY', 'USAGE', key)")  # fmt: skip
    assert exact != module.EXACT_SCAN
    try:
        return run_ours(server, "exact")
    finally:
        module.EXACT_SCAN = exact


#: The server-side limit: the per-key work an exact answer needs (TYPE, PTTL
#: where the database has expiries, MEMORY USAGE SAMPLES 0) in a Lua loop
#: over SCAN steps of 1,000 keys, keeping nothing but a count; each call
#: reports its own server time (TIME). The limit is keys / the sum of those
#: server times: what Redis alone can do with no client, no round trip, no
#: grouping. (One EVAL per whole database was tried too; on this host it was
#: slower than the batched calls' own server time: a multi-second burst gets
#: preempted more, so it is not the ceiling.)
LUA_LIMIT = r"""
local call = redis.call
local started = call('TIME')
local has_expires = ARGV[2] == '1'
local reply = call('SCAN', ARGV[1], 'COUNT', 1000)
local keys, seen = reply[2], 0
for i = 1, #keys do
  local key = keys[i]
  call('TYPE', key)
  if has_expires then call('PTTL', key) end
  if call('MEMORY', 'USAGE', key, 'SAMPLES', '0') then seen = seen + 1 end
end
local now = call('TIME')
return {reply[1], seen, (now[1] - started[1]) * 1000000 + (now[2] - started[2])}
"""


def run_lua_limit(server: RedisServer) -> float:
    """Redis's own seconds for :data:`LUA_LIMIT` over every database (no client time)."""
    import redis

    client = redis.Redis(server.host, server.port)
    expiring = {db: bool(info.get("expires")) for db, info in _keyspace(client).items()}
    sha = client.script_load(LUA_LIMIT)
    server_us = 0
    for db in DATABASES:
        client.execute_command("SELECT", db)
        cursor = 0
        while True:
            cursor, _seen, elapsed_us = client.evalsha(sha, 0, cursor, int(expiring.get(db, False)))
            server_us += int(elapsed_us)
            if int(cursor) == 0:
                break
    client.close()
    return server_us / 1e6


def _keyspace(client) -> dict[int, dict[str, int]]:  # type: ignore[no-untyped-def]
    return {int(name[2:]): info for name, info in client.info("keyspace").items()}


#: Peak resident memory (MiB) of each ``alfred-tui keyspace`` process, by its mode.
PEAK_RSS: dict[str, list[float]] = {}


def run_cli(server: RedisServer, profile: Path, *mode: str) -> float:
    """Whole-process seconds of ``alfred-tui keyspace`` over the benchmark's databases; its
    peak resident memory goes to :data:`PEAK_RSS` (the issue's memory bound at 10M keys)."""
    bindir = Path(sys.executable).parent
    alfred = shutil.which("alfred-tui", path=str(bindir)) or "alfred-tui"
    dbs = [arg for db in DATABASES for arg in ("--db", str(db))]
    argv = [alfred, "keyspace", "--profile", str(profile), *mode, *dbs, "-o", "json"]
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    said = process.stderr.read()  # the JSON goes to /dev/null: nothing blocks on a full pipe
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited {process.returncode}: {said.decode()}")
    PEAK_RSS.setdefault(" ".join(mode), []).append(usage.ru_maxrss / 1024)  # KiB on Linux
    return elapsed


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
    parser.add_argument(
        "--busy", type=int, default=0, help="Processes spinning beside the runs (loaded machine)."
    )
    parser.add_argument("--pinger", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pinger:
        pinger(args.pinger)
        return
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    with (
        redis_server() as server,
        tempfile.TemporaryDirectory() as tmp,
        busy_processes(args.busy),
    ):
        profile = Path(tmp) / "bench.yaml"
        profile.write_text(
            f"extends: local\nservices:\n  redis:\n    ports: ['127.0.0.1:{server.port}:6379']\n"
        )
        print(f"loading {args.keys:,} keys ...", file=sys.stderr)
        loaded_in = load(server, args.keys)
        time.sleep(1.0)  # let incremental rehashing settle
        with Latency(server.port) as idle:
            time.sleep(2.0)
        # Throughput: interleaved runs with nothing else talking to Redis.
        ours: list[float] = []
        whole: list[float] = []
        whole_sampled: list[float] = []
        limit: list[float] = []
        default_sampling: list[float] = []
        memkeys: list[float] = []
        sampled_times: list[float] = []
        exact_report: KeyspaceReport | None = None
        sampled_report: KeyspaceReport | None = None
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs} ...", file=sys.stderr)
            limit.append(run_lua_limit(server))
            whole.append(run_cli(server, profile, "--exact"))
            elapsed, exact_report = run_ours(server, "exact")
            ours.append(elapsed)
            memkeys.append(run_memkeys(server))
            elapsed, sampled_memory_report = run_default_sampling(server)
            default_sampling.append(elapsed)
            elapsed, sampled_report = run_ours(server, "sample")
            sampled_times.append(elapsed)
            whole_sampled.append(run_cli(server, profile, "--sample", "1"))
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
            run_cli(server, profile, "--exact")
        with Latency(server.port) as latency_memkeys:
            run_memkeys(server)
        with Latency(server.port) as latency_sampled:
            for _ in range(10):
                run_ours(server, "sample")

    anchor = statistics.median(memkeys)
    print(
        f"\nKeyspace analysis, {scanned:,} keys in databases 0-4 (spec layout; loaded in "
        f"{loaded_in:.1f} s), median of {args.runs} interleaved runs; {args.busy} busy "
        f"processes beside; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    lua_limit = statistics.median(limit)
    print(f"{'':40} {'time':>9} {'keys/s':>11} {'vs memkeys':>11} {'of Lua limit':>13}")
    rows = [
        ("redis-cli --memkeys (anchor)", anchor),
        ("Lua server-side limit (server time)", lua_limit),
        ("alfred-tui keyspace --exact (process)", statistics.median(whole)),
        ("  same, in-process (KeyspaceAnalyzer)", statistics.median(ours)),
        ("  same, MEMORY USAGE default 5", statistics.median(default_sampling)),
    ]
    if fallback is not None:
        rows.append(("  same, pipelines (1 run)", fallback))
    rows.append(("alfred-tui keyspace --sample 1 (process)", statistics.median(whole_sampled)))
    rows.append(("  same, in-process", statistics.median(sampled_times)))
    for label, seconds in rows:
        print(
            f"{label:40} {seconds:8.2f}s {scanned / seconds:11,.0f} {anchor / seconds:10.2f}x "
            f"{lua_limit / seconds:12.0%}"
        )

    exact_memory = sum(d.memory.value for d in exact_report.databases)
    default_memory = sum(d.memory.value for d in sampled_memory_report.databases)
    print(
        f"exact memory {exact_memory:,.0f} B (SAMPLES 0) against {default_memory:,.0f} B with "
        f"Redis's default sampling ({(default_memory - exact_memory) / exact_memory:+.2%}); "
        f"SAMPLES 0 costs {statistics.median(ours) / statistics.median(default_sampling):.2f}x "
        "the time"
    )
    print("\nPeak resident memory of the alfred-tui keyspace process (MiB, max of its runs)")
    for mode, peaks in PEAK_RSS.items():
        print(f"  {mode:12} {max(peaks):7.1f}")
    print("\nPING latency of another client (ms)")
    print(f"{'during':34} {'p50':>7} {'p99':>7} {'max':>7} {'pings':>7}")
    for label, samples in (
        ("idle server (anchor)", idle.samples),
        ("alfred-tui keyspace --exact", latency_ours.samples),
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
