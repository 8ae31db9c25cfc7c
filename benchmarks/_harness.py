"""Shared benchmark plumbing: interleaved runs, medians, ratios to an anchor, a table.

Machines here are noisy, so every benchmark runs its candidates interleaved
(A B C, A B C, ...) in one process and reports each median as a ratio to an
anchor measured in the same run.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Candidate:
    """One command to time."""

    label: str
    argv: Sequence[str] | str
    env: dict[str, str] = field(default_factory=dict)
    expect_codes: tuple[int, ...] = (0,)
    samples: list[float] = field(default_factory=list)

    def run_once(self) -> float:
        shell = isinstance(self.argv, str)
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


def print_table(title: str, candidates: Sequence[Candidate], anchor: Candidate) -> None:
    """A Markdown table: median, min, max, ratio of medians to the anchor."""
    anchor_median = statistics.median(anchor.samples)
    print(f"\n### {title}\n")
    print(f"runs per command: {len(anchor.samples)} (interleaved), anchor: {anchor.label}\n")
    print("| command | median ms | min ms | max ms | x anchor |")
    print("|---|---:|---:|---:|---:|")
    for candidate in candidates:
        median = statistics.median(candidate.samples)
        print(
            f"| {candidate.label} | {median * 1000:.0f} | {min(candidate.samples) * 1000:.0f} | "
            f"{max(candidate.samples) * 1000:.0f} | {median / anchor_median:.2f} |"
        )
    print()
    for candidate in candidates:
        print(f"- {candidate.label}: `{candidate.command()}`")
    print(f"\nmade by: `{shlex.join([sys.executable, *sys.argv])}`")
