"""Shared benchmark plumbing: interleaved runs, medians, ratios to an anchor, a table.

Machines here are noisy, so every benchmark runs its candidates interleaved
(A B C, A B C, ...) in one process and reports each median as a ratio to an
anchor measured in the same run.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field


@dataclass
class Candidate:
    """One command to time."""

    label: str
    argv: Sequence[str] | str
    env: dict[str, str] = field(default_factory=dict)
    expect_codes: tuple[int, ...] = (0,)
    samples: list[float] = field(default_factory=list)
    cpu_samples: list[float] = field(default_factory=list)
    """CPU seconds (user + system) of each run: what a loaded machine's wait does not inflate."""

    def run_once(self) -> float:
        shell = isinstance(self.argv, str)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            self.argv,
            shell=shell,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu_samples.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode not in self.expect_codes:
            raise RuntimeError(
                f"{self.label} exited {result.returncode}: {result.stderr.decode()[-500:]}"
            )
        return elapsed

    def command(self) -> str:
        return self.argv if isinstance(self.argv, str) else shlex.join(self.argv)


def measure(candidates: Sequence[Candidate], runs: int, warmup: int = 1) -> None:
    """Run every candidate ``warmup`` + ``runs`` times, interleaved."""
    for index in range(warmup + runs):
        for candidate in candidates:
            elapsed = candidate.run_once()
            if index >= warmup:
                candidate.samples.append(elapsed)
            else:
                candidate.cpu_samples.pop()


def print_table(title: str, candidates: Sequence[Candidate], anchor: Candidate) -> None:
    """A Markdown table: median, min, max, ratio of medians to the anchor."""
    anchor_median = statistics.median(anchor.samples)
    anchor_cpu = statistics.median(anchor.cpu_samples) if anchor.cpu_samples else 0.0
    print(f"\n### {title}\n")
    print(
        f"runs per command: {len(anchor.samples)} (interleaved), anchor: {anchor.label}; "
        f"load average {load_average()}\n"
    )
    print("| command | median ms | min ms | max ms | x anchor | CPU ms | x anchor CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for candidate in candidates:
        median = statistics.median(candidate.samples)
        cpu = statistics.median(candidate.cpu_samples) if candidate.cpu_samples else 0.0
        cpu_ratio = f"{cpu / anchor_cpu:.2f}" if anchor_cpu else "-"
        print(
            f"| {candidate.label} | {median * 1000:.0f} | {min(candidate.samples) * 1000:.0f} | "
            f"{max(candidate.samples) * 1000:.0f} | {median / anchor_median:.2f} | "
            f"{cpu * 1000:.0f} | {cpu_ratio} |"
        )
    print()
    for candidate in candidates:
        print(f"- {candidate.label}: `{candidate.command()}`")
    print(f"\nmade by: `{shlex.join([sys.executable, *sys.argv])}`")


async def interleaved(
    samplers: dict[str, Callable[[], Awaitable[object]]],
    runs: int,
    warmup: int = 1,
    every: dict[str, int] | None = None,
) -> dict[str, list[float]]:
    """Time each sampler once per round, in turn (A B C, A B C, ...), in milliseconds.

    For work done in this process (a backend call, a query) and for commands
    run from it alike (wrap them: ``asyncio.to_thread(subprocess.run, ...)``):
    whatever load the machine has then falls on candidate and anchor alike.
    ``every={"cold CLI": 4}`` runs a costly sampler only every fourth round.
    """
    every = every or {}
    samples: dict[str, list[float]] = {name: [] for name in samplers}
    for index in range(warmup + runs):
        for name, sampler in samplers.items():
            if index % every.get(name, 1):
                continue
            started = time.perf_counter()
            await sampler()
            if index >= warmup:
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the table's header."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` processes spinning on a CPU each while the block runs (stress-like load).

    The "loaded machine" of the issue's targets: what the candidates and the
    anchor share alike, on top of whatever else the machine is doing.
    """
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


async def watch_changing_table(
    size: tuple[int, int], rows: int, refresh: float, seconds: float
) -> tuple[float, float]:
    """What Textual itself costs to show a changing table: the anchor of the UI's refresh.

    A bare app (header, a ``rows`` x 8 DataTable, footer) puts new values in
    every cell every ``refresh`` seconds, headless at ``size``, for
    ``seconds``; returns this process's CPU seconds and the wall seconds.
    """
    import asyncio
    import random

    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer, Header

    class Watching(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield DataTable()
            yield Footer()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            self.columns = table.add_columns(*(f"column {n}" for n in range(8)))
            self.rows = [table.add_row(*("-" for _ in range(8))) for _ in range(rows)]
            self.set_interval(refresh, self.refresh_values)

        def refresh_values(self) -> None:
            table = self.query_one(DataTable)
            for row in self.rows:
                for column in self.columns:
                    table.update_cell(row, column, f"{random.random() * 1000:.2f}")

    async with Watching().run_test(size=size) as pilot:
        await pilot.pause(0.5)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        return time.process_time() - cpu, time.perf_counter() - wall


class CollectorTime:
    """Wall time the garbage collector spent while the block ran (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> CollectorTime:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)


@contextlib.contextmanager
def start_frozen(frozen: bool = True) -> Iterator[None]:
    """The block runs with what the app's start made frozen out of the collector's walks.

    The ``alfred-tui`` process does this two seconds after it starts
    (:func:`alfred_tui.cli.collector.resume`); an app run inside a benchmark
    never went through that start, so it is done here, and undone after.
    """
    from alfred_tui.cli.collector import resume

    if frozen:
        resume()
    try:
        yield
    finally:
        if frozen:
            gc.unfreeze()
