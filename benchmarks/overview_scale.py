"""The Overview with 50 instances on Docker, refreshing every second (issue 16, target 4).

The test profile is deployed on the real Docker engine under a project of
its own, then scaled to ``--postgres`` + ``--redis`` + ``--qdrant`` instances
(PostgreSQL hot standbys, Redis read replicas, Qdrant stand-in containers;
50 by default). The real app (``AlfredApp``, headless, the Overview shown,
``ui.refresh_seconds: 1``, the black box on as by default) runs for
``--seconds`` at 160x48 and at 80x24; interleaved with it, the anchor: a
bare Textual app whose table of as many rows, 8 columns, gets new values in
every cell every second (what Textual itself costs to show that much
changing). Each runs in this process; its CPU time over the wall time is
the share of one core. The poll's own duration is printed too, and the
80x24 screen is saved as an SVG and its text printed, to be read.

Target: < 5% of one core at 1 s; the screen readable at 80x24.

    .venv/bin/python benchmarks/overview_scale.py [--runs 3] [--seconds 30] [--busy 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
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

SIZES = {"160x48": (160, 48), "80x24": (80, 24)}


async def _scale(stack: Any, counts: dict[str, int]) -> int:
    """Scale every service to its count; the number of instances running once all are up."""
    async with stack.backend() as backend:
        for service, replicas in counts.items():
            if replicas > 1:
                await backend.scale(service, replicas)
        deadline = time.monotonic() + 600
        while True:
            statuses = await backend.status()
            running = sum(
                1 for status in statuses for i in status.instances if i.state == "running"
            )
            if running >= sum(counts.values()) or time.monotonic() > deadline:
                return running
            await asyncio.sleep(2)


async def _run_app(
    profile: Path, size: tuple[int, int], seconds: float, screenshot: Path | None
) -> dict[str, float]:
    """The real app on the Overview for ``seconds``: CPU share, polls, the poll's duration.

    What the start made is frozen once the first polls are done
    (:func:`start_frozen`), as the ``alfred-tui`` process does.
    """
    from alfred_tui.app import AlfredApp
    from alfred_tui.control.session import open_session

    session = open_session(str(profile))
    app = AlfredApp(session)
    async with app.run_test(size=size) as pilot:
        monitor = session.monitor
        while getattr(monitor, "_polls", 0) < 3:  # connected, first frames drawn: not measured
            await pilot.pause(0.1)
        overview = app._panes["overview"]
        polls = getattr(monitor, "_polls", 0)
        durations: list[float] = []
        with start_frozen(), CollectorTime() as collector:
            cpu, wall = time.process_time(), time.perf_counter()
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                await asyncio.sleep(1.0)
                if overview.snapshot is not None:
                    durations.append(overview.snapshot.duration_ms)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        polls = max(1, getattr(monitor, "_polls", 0) - polls)
        instances = sum(
            len(view.status.instances) for view in overview.snapshot.services if view.status
        )
        if screenshot is not None:
            app.save_screenshot(filename=screenshot.name, path=str(screenshot.parent))
    return {
        "cpu": cpu / wall * 100,
        "gc_share": collector.seconds / wall * 100,
        "polls": polls / wall,
        "poll_ms": statistics.median(durations) if durations else 0.0,
        "instances": instances,
    }


async def _run_anchor(size: tuple[int, int], rows: int, seconds: float) -> dict[str, float]:
    """A bare Textual app redrawing a ``rows`` x 8 table every second."""
    cpu, wall = await watch_changing_table(size, rows, 1.0, seconds)
    return {"cpu": cpu / wall * 100}


def _screen_text(svg: Path) -> str:
    """The text of a Textual SVG screenshot, line by line (what an operator reads).

    Each run of text is placed at its column (``x`` over the cell width, which
    ``textLength`` over the run's length gives): runs of blanks are not written.
    """
    import html
    import re

    runs = re.findall(
        r'<text[^>]*x="([\d.]+)" y="([\d.]+)" textLength="([\d.]+)"[^>]*>([^<]*)</text>',
        svg.read_text(),
    )
    cell = next(float(length) / len(html.unescape(t)) for _, _, length, t in runs if t)
    lines: dict[float, list[str]] = {}
    for x, y, _, text in runs:
        line = lines.setdefault(float(y), [])
        column = round(float(x) / cell)
        for offset, char in enumerate(html.unescape(text).replace("\xa0", " ")):
            while len(line) <= column + offset:
                line.append(" ")
            line[column + offset] = char
    return "\n".join("".join(line).rstrip() for _, line in sorted(lines.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--postgres", type=int, default=2)
    parser.add_argument("--redis", type=int, default=30)
    parser.add_argument("--qdrant", type=int, default=18)
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside it")
    args = parser.parse_args()

    from docker_support import docker_stack

    counts = {"postgres": args.postgres, "redis": args.redis, "qdrant": args.qdrant}
    folder = Path(tempfile.mkdtemp(prefix="alfred-bench-scale-"))
    os.environ["ALFRED_TUI_STATE_DIR"] = str(folder / "state")  # its black box, not yours
    with docker_stack(folder) as stack:
        started = time.perf_counter()
        running = asyncio.run(_scale(stack, counts))
        took = time.perf_counter() - started
        print(f"\n{running} instances running ({counts}), scaled in {took:.0f} s")
        profile = folder / "scale.yaml"
        profile.write_text(f"extends: {stack.profile_path}\nui:\n  refresh_seconds: 1\n")
        results: dict[str, list[dict[str, float]]] = {}
        screenshot = folder / "overview-80x24.svg"
        with busy_processes(args.busy):
            for run in range(args.runs):
                for name, size in SIZES.items():
                    shot = screenshot if run == 0 and name == "80x24" else None
                    results.setdefault(name, []).append(
                        asyncio.run(_run_app(profile, size, args.seconds, shot))
                    )
                    results.setdefault(f"anchor {name}", []).append(
                        asyncio.run(_run_anchor(size, running, args.seconds))
                    )

    def median(name: str, key: str) -> float:
        return statistics.median(result[key] for result in results[name])

    print(
        f"\n{args.runs} interleaved runs of {args.seconds:g} s each, medians; "
        f"busy processes beside it: {args.busy}; load average at the end: {load_average()}\n"
    )
    print(
        "| what | size | % of one core | of which the garbage collector | polls/s | "
        "poll duration ms | instances shown |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in SIZES:
        print(
            f"| the Overview, refresh 1 s | {name} | {median(name, 'cpu'):.1f} | "
            f"{median(name, 'gc_share'):.2f} | {median(name, 'polls'):.2f} | "
            f"{median(name, 'poll_ms'):.0f} | "
            f"{median(name, 'instances'):.0f} |"
        )
        anchor = f"anchor {name}"
        print(
            f"| anchor: a bare Textual table, {running} rows x 8, every cell new each second | "
            f"{name} | {median(anchor, 'cpu'):.1f} | - | 1 | - | - |"
        )
    for name in SIZES:
        ratio = median(name, "cpu") / median(f"anchor {name}", "cpu")
        print(f"\n{name}: {ratio:.2f}x the anchor")
    if screenshot.exists():
        print(f"\nThe Overview at 80x24 ({screenshot}):\n")
        print("```\n" + _screen_text(screenshot) + "\n```")
    print(f"\ncommand: `{' '.join(sys.argv)}`")


if __name__ == "__main__":
    main()
