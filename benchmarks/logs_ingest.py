"""Logs pane ingest: 100k lines from a backend stream into the pane, UI responsive, memory bounded.

Each scenario runs the real app (only the Logs pane registered, so the
overview's probes do not compete) headless at 160x48, and times from the
moment the backend's stream is opened until the view holds every line
(all drawn: the pane's flush timer writes them, the compositor renders).
While lines pour in, a key is pressed every 20 ms through the driver (as a
terminal would send it) and the time until its action runs is recorded.

Scenarios (interleaved, ``--runs`` each; medians reported):

* ``pane <- generator``: a backend-shaped async generator of 100k
  ready-made ``LogRecord``s (PostgreSQL, Redis and Qdrant lines in their real
  formats) - our pipeline alone: level parsing, display strings, the buffer,
  the flush timer, ``Log.write_lines``;
* ``pane <- generator, search active``: the same with a search pattern set,
  to show highlighting costs nothing at ingest (it runs on visible lines);
* ``pane <- local backend files``: the real ``LocalBackend.logs()`` reading
  100k lines from PostgreSQL and Redis log files (the backend's own parsing
  included);
* anchor ``Log.write_lines``: a bare Textual ``Log`` in a minimal app fed the
  same display strings in 5,000-line batches, a frame between batches, no
  pipeline;
* anchor ``stream only``: the same two streams consumed without a UI.

Memory: separate tracemalloc runs (tracemalloc slows the code, so never
during timing), the app kept open: bytes held after ingesting 100k lines
with ``logs.max_lines`` 100,000 (all kept) and with the default 10,000 (the
bound: it must stay flat), over an empty app. The cost per 100k kept lines
is the slope from a 2,000-line ingest (screen full, Textual's drawing caches
warm: their fixed part is not a per-line cost), beside a bare ``Log``
holding the same lines.

Targets (issue 6): >= 100k lines/s, < 20 MB per 100k retained lines.

``--busy N`` runs N spinning processes beside the timed runs (the loaded
machine); the black box (the UI's recorder, on by default) is on except in
the rows that say it is off.

    .venv/bin/python benchmarks/logs_ingest.py [--runs 3] [--lines 100000] [--busy 2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shlex
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from _harness import busy_processes, load_average
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Log

from alfred_tui.app import AlfredApp
from alfred_tui.backends.base import Backend, Endpoint, LogRecord, ServiceStatus
from alfred_tui.config.loader import load_profile
from alfred_tui.control.log_search import compile_search, count_lines, find_line, rank
from alfred_tui.control.session import Session
from alfred_tui.screens.panes import PANES, PaneSpec

TARGET_RATE = 100_000
TARGET_MB = 20.0
#: Lines for the small ingest the memory slope starts from (fills the screen).
WARM_LINES = 2_000
START = datetime(2025, 5, 13, 10, 0, 0, tzinfo=UTC)

PG_MESSAGES = (
    "LOG:  checkpoint starting: time",
    "LOG:  checkpoint complete: wrote {n} buffers (0.{d}%); 0 WAL file(s) added, 0 removed, "
    "1 recycled; write=0.{d}01 s, sync=0.002 s, total=0.{d}12 s",
    "LOG:  connection received: host=127.0.0.1 port={port}",
    "LOG:  connection authorized: user=postgres database=alfred application_name=agent-core",
    'ERROR:  duplicate key value violates unique constraint "processed_messages_pkey"',
    "DETAIL:  Key (message_id)=(msg-{n}) already exists.",
    "STATEMENT:  INSERT INTO processed_messages (message_id, status) VALUES ($1, $2)",
    "WARNING:  there is no transaction in progress",
    "LOG:  duration: {d}12.345 ms  statement: SELECT * FROM tasks WHERE status = 'pending'",
    'FATAL:  password authentication failed for user "agent"',
)
REDIS_MESSAGES = (
    "* Background saving started by pid {port}",
    "* DB saved on disk",
    "* Background saving terminated with success",
    "- Accepted 127.0.0.1:{port}",
    "# WARNING: 10 clients were evicted (maxmemory allkeys-lru)",
    "* 100 changes in 300 seconds. Saving...",
)
QDRANT_MESSAGES = (
    ' INFO actix_web::middleware::logger: 127.0.0.1 "POST /collections/general-knowledge/'
    'points/search HTTP/1.1" 200 {n} "-" "python-httpx/0.27" 0.00{d}312',
    " WARN segment::index::hnsw_index: building HNSW index for 1536-d vectors took {d}.2 s",
    " ERROR qdrant::tonic: request to collection legal-knowledge timed out",
)


def make_records(count: int) -> list[LogRecord]:
    """``count`` records in each server's real format: 50% PostgreSQL, 40% Redis, 10% Qdrant."""
    records: list[LogRecord] = []
    for n in range(count):
        moment = START + timedelta(microseconds=n * 137)
        d, port = n % 10, 40000 + n % 20000
        kind = n % 10
        if kind < 5:
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"
            text = PG_MESSAGES[n % len(PG_MESSAGES)].format(n=n, d=d, port=port)
            records.append(
                LogRecord(
                    "postgres", "db-postgres", moment, "stderr", f"{stamp} [{1000 + d}] {text}"
                )
            )
        elif kind < 9:
            stamp = moment.strftime("%d %b %Y %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
            text = REDIS_MESSAGES[n % len(REDIS_MESSAGES)].format(port=port)
            records.append(LogRecord("redis", "redis", moment, "stdout", f"1:M {stamp} {text}"))
        else:
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            text = QDRANT_MESSAGES[n % len(QDRANT_MESSAGES)].format(n=n, d=d)
            records.append(LogRecord("qdrant", "vector-db", moment, "stdout", f"{stamp} {text}"))
    return records


class GeneratorBackend(Backend):
    """A backend whose ``logs()`` is an async generator over ready-made records (then quiet).

    Shaped like the real backends' streams (merged, time-ordered, follow
    never ends); it is a data source for this benchmark, not a stand-in for
    any engine. ``opened`` is when the pane opened the stream.
    """

    name = "generator"

    def __init__(self, loaded: Any, records: list[LogRecord], live: bool = False) -> None:
        super().__init__(loaded)
        self.records = records
        self.live = live
        """Every record as a new line whatever ``tail`` asks (to fill a bounded pane)."""
        self.opened = 0.0

    def logs(self, services=None, follow=False, since=None, tail=None) -> AsyncIterator[LogRecord]:  # type: ignore[no-untyped-def]
        # ``tail`` as the real backends take it: the black box asks for 0 (new lines only).
        if self.live or tail is None:
            history = self.records
        else:
            history = self.records[-tail:] if tail else []
        return self._stream(history, follow)

    async def _stream(self, history: list[LogRecord], follow: bool) -> AsyncIterator[LogRecord]:
        self.opened = time.perf_counter()
        for record in history:
            yield record
        if follow:
            await asyncio.Event().wait()

    async def status(self) -> list[ServiceStatus]:
        return []

    async def endpoint(self, service: Any) -> Endpoint:
        raise NotImplementedError

    async def deploy(self, profile=None, services=None, progress=None) -> None:  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def teardown(self, remove_volumes=False, progress=None, safety_dir=None) -> None:  # type: ignore[no-untyped-def]
        raise NotImplementedError


def write_profile(
    folder: Path, max_lines: int, black_box: bool = True, file: str = "bench.yaml"
) -> Path:
    """A local-backend profile ``file`` in ``folder`` keeping ``max_lines`` lines.

    ``black_box`` False turns the UI's recorder off, to show what it costs (it
    follows the same logs, redacts and stores them, beside the pane).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    document = {
        "extends": "local",
        "name": "bench",
        "local": {"data_dir": str(folder / "data")},
        "logs": {"max_lines": max_lines},
        "recording": {"enabled": black_box},
    }
    path.write_text(yaml.safe_dump(document))
    return path


def write_log_files(folder: Path, records: list[LogRecord]) -> None:
    """The PostgreSQL and Redis records as the local backend's log files (Qdrant's go too)."""
    from alfred_tui.backends.local.backend import LocalBackend

    backend = LocalBackend(load_profile(str(folder / "bench.yaml")))
    for service in ("postgres", "redis"):
        path = backend.runner(service).log_file  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [r.line for r in records if r.service == service]
        path.write_text("\n".join(lines) + "\n")


@dataclass
class Result:
    """One timed ingest."""

    seconds: float
    lines: int
    latencies: list[float] = field(default_factory=list)


LOGS_ONLY: tuple[PaneSpec, ...] = tuple(pane for pane in PANES if pane.id == "logs")


async def _press_keys(app: App[Any], stop: asyncio.Event, sent: list[float]) -> None:
    """Send ``f`` through the driver every 20 ms, as a terminal would."""
    driver = app._driver
    assert driver is not None
    while not stop.is_set():
        sent.append(time.perf_counter())
        event = events.Key("f", "f")
        event.set_sender(app)
        driver.send_message(event)
        await asyncio.sleep(0.02)


async def run_pane(
    make_backend: Callable[[Any], Backend],
    profile: Path,
    expected: int,
    search: str = "",
    keys: bool = True,
) -> Result:
    """Open the app on the Logs pane; time from stream open to ``expected`` lines in the view."""
    loaded = load_profile(str(profile))
    backend = make_backend(loaded)
    opened: list[float] = []
    original_logs = backend.logs

    def timed_logs(*args: Any, **kwargs: Any) -> AsyncIterator[LogRecord]:
        opened.append(time.perf_counter())
        return original_logs(*args, **kwargs)

    backend.logs = timed_logs  # type: ignore[method-assign]
    app = AlfredApp(Session(loaded, backend), panes=LOGS_ONLY)
    handled: list[float] = []
    sent: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        pane: Any = app.screen
        original_follow = pane.action_follow

        def follow() -> None:
            handled.append(time.perf_counter())
            original_follow()

        pane.action_follow = follow
        if search:
            pane._set_search(search, jump=False)
        stop = asyncio.Event()
        presser = asyncio.create_task(_press_keys(app, stop, sent)) if keys else None
        while len(pane.view.lines) < expected:
            await asyncio.sleep(0.001)
        finished = time.perf_counter()
        stop.set()
        if presser is not None:
            await presser
        await pilot.pause(0.1)
        latencies = [h - s for s, h in zip(sent, handled, strict=False)]
        return Result(finished - opened[0], len(pane.view.lines), latencies)


class BareLog(App[None]):
    """The anchor: a Textual Log and nothing else."""

    def __init__(self, max_lines: int) -> None:
        super().__init__()
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield Log(max_lines=self.max_lines)


def display_lines(records: Iterable[LogRecord]) -> list[str]:
    """The strings the pane shows, made the simplest way."""
    return [f"{r.instance:<11} | {r.line}" for r in records]


async def run_bare_log(records: list[LogRecord], batch: int = 5000) -> Result:
    """Anchor: the same lines straight into ``Log.write_lines``, a frame between batches."""
    app = BareLog(len(records))
    async with app.run_test(size=(160, 48)) as pilot:
        log = app.query_one(Log)
        started = time.perf_counter()
        lines = display_lines(records)
        for index in range(0, len(lines), batch):
            log.write_lines(lines[index : index + batch])
            await asyncio.sleep(0)
        await pilot.pause()
        return Result(time.perf_counter() - started, len(log.lines))


async def run_stream_only(make_backend: Callable[[Any], Backend], profile: Path) -> Result:
    """Anchor: the backend's stream consumed with no UI at all."""
    backend = make_backend(load_profile(str(profile)))
    started = time.perf_counter()
    count = 0
    async for _record in backend.logs(tail=10**9):
        count += 1
    return Result(time.perf_counter() - started, count)


def pane_retained(profile: Path, records: list[LogRecord]) -> float:
    """MB allocated (tracemalloc) by the open app after ingesting ``records``, over an empty one.

    The app stays open while measuring: what is counted is what the pane
    holds - lines, buffer, view - plus Textual's drawing caches.
    """
    found: list[int] = []

    async def measure(source: list[LogRecord]) -> None:
        loaded = load_profile(str(profile))
        backend = GeneratorBackend(loaded, source, live=True)
        app = AlfredApp(Session(loaded, backend), panes=LOGS_ONLY)
        async with app.run_test(size=(160, 48)) as pilot:
            pane: Any = app.screen
            while pane.buffer.total < len(source) or pane.buffer._pending:
                await asyncio.sleep(0.01)
            await pilot.pause(0.3)
            gc.collect()
            found.append(tracemalloc.get_traced_memory()[0])

    gc.collect()
    tracemalloc.start()
    try:
        asyncio.run(measure([]))
        asyncio.run(measure(records))
    finally:
        tracemalloc.stop()
    return (found[1] - found[0]) / 1e6


def bare_log_retained(records: list[LogRecord]) -> float:
    """MB a bare Log holds after taking the same lines (strings made inside the window)."""
    found: list[int] = []

    async def measure() -> None:
        app = BareLog(max(1, len(records)))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            log = app.query_one(Log)
            lines = display_lines(records)
            for index in range(0, len(lines), 5000):
                log.write_lines(lines[index : index + 5000])
                await asyncio.sleep(0)
            del lines
            await pilot.pause(0.3)
            gc.collect()
            found.append(tracemalloc.get_traced_memory()[0] - before)

    gc.collect()
    tracemalloc.start()
    try:
        asyncio.run(measure())
    finally:
        tracemalloc.stop()
    return found[0] / 1e6


def search_ms(lines: list[str], text: str) -> tuple[float, float]:
    """(ms for n: the next match from the top, ms for the count and rank shown beside it)."""
    pattern = compile_search(text)
    assert pattern is not None
    started = time.perf_counter()
    found = find_line(lines, pattern, -1, True)
    step = time.perf_counter() - started
    started = time.perf_counter()
    count_lines(lines, pattern)
    rank(lines, pattern, found or 0)
    return step * 1000, (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside it")
    args = parser.parse_args()
    count = args.lines
    records = make_records(count)
    # The source's 100k records live for the whole run (a real backend's are
    # dropped once delivered): keep the collector from walking them again and
    # again, which would charge the pane for the benchmark's own data.
    gc.freeze()
    local_count = sum(1 for r in records if r.service in ("postgres", "redis"))

    with tempfile.TemporaryDirectory(prefix="alfred-logs-bench-") as temp:
        folder = Path(temp)
        full = write_profile(folder / "full", count)
        unrecorded = write_profile(folder / "full", count, False, "no-black-box.yaml")
        bounded = write_profile(folder / "bounded", 10_000)
        write_log_files(folder / "full", records)
        from alfred_tui.backends.local.backend import LocalBackend

        def generator(loaded: Any) -> GeneratorBackend:
            return GeneratorBackend(loaded, records)

        candidates: dict[str, Callable[[], Any]] = {
            "pane <- generator": lambda: run_pane(generator, full, count),
            "pane <- generator, search active": lambda: run_pane(
                generator, full, count, search="checkpoint|timed out"
            ),
            "pane <- local backend files": lambda: run_pane(LocalBackend, full, local_count),
            "pane <- generator, black box off": lambda: run_pane(generator, unrecorded, count),
            "pane <- local backend files, black box off": lambda: run_pane(
                LocalBackend, unrecorded, local_count
            ),
            "anchor: Log.write_lines, no pipeline": lambda: run_bare_log(records),
            "anchor: generator stream, no UI": lambda: run_stream_only(generator, full),
            "anchor: local backend stream, no UI": lambda: run_stream_only(LocalBackend, full),
        }
        results: dict[str, list[Result]] = {label: [] for label in candidates}
        loads: list[str] = []
        with busy_processes(args.busy):
            for _ in range(args.runs):
                for label, make in candidates.items():
                    results[label].append(asyncio.run(make()))
                loads.append(load_average())

        anchor = statistics.median(
            r.lines / r.seconds for r in results["anchor: Log.write_lines, no pipeline"]
        )
        print(f"\n### Logs pane ingest ({count:,} lines, 160x48, headless)\n")
        print(f"runs: {args.runs} each, interleaved; medians. Target >= {TARGET_RATE:,} lines/s.")
        print(f"load average after each round: {'; '.join(loads)}; busy processes: {args.busy}\n")
        print(
            "| candidate | lines | lines/s | x Log anchor | key p50 ms | key p99 ms | key max ms |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, runs in results.items():
            rate = statistics.median(r.lines / r.seconds for r in runs)
            latencies = sorted(x * 1000 for r in runs for x in r.latencies)
            if latencies:
                p50 = f"{statistics.median(latencies):.1f}"
                p99 = f"{latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]:.1f}"
                worst = f"{latencies[-1]:.1f}"
            else:
                p50 = p99 = worst = "-"
            print(
                f"| {label} | {runs[0].lines:,} | {rate:,.0f} | {rate / anchor:.2f} | "
                f"{p50} | {p99} | {worst} |"
            )

        # Per-line cost: the slope between a small ingest (the screen full, Textual's
        # drawing caches warm) and the full one; the small one also gives the fixed part.
        small = records[:WARM_LINES]
        pane_small = pane_retained(full, small)
        pane_full = pane_retained(full, records)
        pane_bounded = pane_retained(bounded, records)
        bare_small = bare_log_retained(small)
        bare_full = bare_log_retained(records)
        per_line = (pane_full - pane_small) / (count - WARM_LINES) * 100_000
        bare_per_line = (bare_full - bare_small) / (count - WARM_LINES) * 100_000
        text = sum(sys.getsizeof(line) for line in display_lines(records)) / count * 1e5 / 1e6
        average = sum(len(line) for line in display_lines(records)) / count
        print(f"\n### Retained memory (tracemalloc). Target < {TARGET_MB:g} MB per 100k lines.\n")
        print(f"lines of {average:.0f} characters on average (instance name included)\n")
        print("| candidate | lines kept | MB held | MB per 100k kept lines |")
        print("|---|---:|---:|---:|")
        print(
            f"| pane, logs.max_lines {count:,}, {count:,} lines in | {count:,} | "
            f"{pane_full:.1f} | {per_line:.1f} |"
        )
        print(
            f"| pane, logs.max_lines 10,000, {count:,} lines in (the bound) | 10,000 | "
            f"{pane_bounded:.1f} | - |"
        )
        print(
            f"| pane, {WARM_LINES:,} lines in (fixed part: drawing caches) | {WARM_LINES:,} | "
            f"{pane_small:.1f} | - |"
        )
        print(
            f"| anchor: bare Log, same lines | {count:,} | {bare_full:.1f} | {bare_per_line:.1f} |"
        )
        print(f"| (the display strings alone) | {count:,} | - | {text:.1f} |")

        lines = display_lines(records)
        step, counted = search_ms(lines, "timed out")
        print(f"\n### Search over {count:,} lines\n")
        print("| step | ms |")
        print("|---|---:|")
        print(f"| n: next matching line | {step:.1f} |")
        print(f"| count and rank shown in the status line | {counted:.1f} |")
        print(f"\nmade by: `{shlex.join([sys.executable, *sys.argv])}`")


if __name__ == "__main__":
    main()
