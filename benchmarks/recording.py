"""The black box's cost, its size on disk, and how fast a 24-hour recording replays.

Three parts, each against an anchor measured in the same run:

**Overhead** (``--part overhead``): PostgreSQL, Redis and embedded Qdrant
deployed by the local backend (real processes, their log files). What the UI
polls - the overview's monitor every second (``--interval``), the runbook
markers every 5 s - runs for ``--seconds`` in this process, with and without
the recorder tapping it (the queue, the flush every interval in a thread,
the log follower, the operator journal's tail), interleaved, ``--runs``
times each. The CPU time of this process (every thread) over the wall time
is the share of one core; the difference is the recorder's overhead. The
databases' own counters (PostgreSQL's committed transactions, Redis's
commands processed) are read before and after every run from outside, and
divided by the polls: the recorder must add no round trip. Each is measured
idle and busy (a separate process writes 10,000 PostgreSQL-format lines a
minute to PostgreSQL's log file, which the local backend follows).

**Size** (same runs): the recording's growth over the run, as MB per hour,
idle and busy. Target: < 50 MB per busy hour.

**Replay** (``--part replay``): a 24-hour recording (one poll a second of the
three services, 1,000 log lines a minute, an outage an hour) is written
first, then:

- first frame: ``alfred-tui --replay FILE`` in an 80x24 pty, from spawn until
  its first frame (the shell: header and pane bar, as the live UI draws
  first) and until the Overview at the end of the recording is drawn (the
  header's time cursor and the sparklines' column), against the live UI's
  same two moments (``alfred-tui --profile local``, nothing deployed) and a
  minimal Textual app's first frame (``benchmarks/ui_first_frame.py``'s way);
- seek: 50 moments chosen at random, each read as a replay's panes read it
  after a seek (the Overview's poll with its ten minutes of sparklines, the
  last 10,000 log lines, the Timeline up to the cursor), against one
  ``SELECT`` of the poll at that moment (the floor); and in the running app
  (Textual, headless), from the seek key until the Overview shows the new
  moment.

Targets (issue 13): overhead < 2% of one core at a 1 s interval; < 50 MB per
busy hour; first frame < 1 s; seek < 100 ms.

    .venv/bin/python benchmarks/recording.py [--part all|overhead|replay]
        [--runs 3] [--seconds 30] [--interval 1] [--hours 24] [--keep FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _harness import busy_processes, load_average  # noqa: E402

LINES_PER_MINUTE = 10_000
BUSY_WRITER = """
import sys, time, datetime
path, per_minute = sys.argv[1], int(sys.argv[2])
gap = 60.0 / per_minute
with open(path, "a", buffering=1) as log:
    n = 0
    start = time.monotonic()
    while True:
        n += 1
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        kind = (
            f"LOG:  statement: SELECT id, payload FROM jobs WHERE queue = 'q{n % 7}' "
            f"AND status = 'ready' ORDER BY priority DESC LIMIT 20"
        )
        if n % 97 == 0:
            kind = "ERROR:  duplicate key value violates unique constraint jobs_pkey"
        log.write(f"{stamp} UTC [{4000 + n % 50}] {kind}\\n")
        delay = start + n * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
"""


def command_line() -> str:
    return shlex.join([sys.executable, *sys.argv])


# --- overhead and size ------------------------------------------------------------------


def _counters(deployment: Any) -> tuple[int, int]:
    """PostgreSQL's committed transactions and Redis's commands processed, read from outside."""
    import redis

    client = redis.Redis(port=deployment.redis_port)
    commands = int(client.info("stats")["total_commands_processed"])
    client.close()
    transactions = deployment.postgres_value("SELECT sum(xact_commit) FROM pg_stat_database")
    return int(transactions), commands


async def _run_ui_polling(
    deployment: Any, seconds: float, interval: float, record_to: Path | None
) -> dict[str, float]:
    """What the UI polls, for ``seconds``; with a recorder when ``record_to`` is given."""
    from alfred_tui.control.session import open_session
    from alfred_tui.operator_journal import JournalTail
    from alfred_tui.recording.loops import flush_every, follow_events, follow_logs
    from alfred_tui.recording.recorder import Recorder, recording_meta

    session = open_session(str(deployment.profile_path))
    session.probe_timeout = 5.0
    recorder = None
    tasks: list[asyncio.Task[Any]] = []
    if record_to is not None:
        meta = recording_meta(session.profile, session.backend_name, interval)
        recorder = Recorder(record_to, meta, session.profile, journal=JournalTail())
        session.tap = recorder
        await asyncio.to_thread(recorder.open)
        tasks += [
            asyncio.ensure_future(follow_logs(session, recorder)),
            asyncio.ensure_future(follow_events(session, recorder)),
            asyncio.ensure_future(flush_every(recorder, interval)),
        ]

    await session.monitor.poll()  # connections open, clients imported: not measured
    await session.troubleshoot.markers()
    if recorder is not None:
        await asyncio.sleep(interval * 1.5)
        await asyncio.to_thread(recorder.flush)
    first = await asyncio.to_thread(_counters, deployment)
    before = await asyncio.to_thread(_counters, deployment)
    own = (before[0] - first[0], before[1] - first[1])  # what reading the counters costs
    # The same work in every run (polls, and the markers every 5 s, as the overview
    # asks them), so the databases' counters can be compared run to run.
    polls = max(1, round(seconds / interval))
    cpu, wall = time.process_time(), time.perf_counter()
    for poll in range(polls):
        await session.monitor.poll()
        if poll % max(1, round(5.0 / interval)) == 0:
            await session.troubleshoot.markers()
        await asyncio.sleep(interval)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    after = await asyncio.to_thread(_counters, deployment)
    size = 0.0
    if recorder is not None:
        assert record_to is not None
        await asyncio.to_thread(recorder.close, single_file=True)  # the file as handed over
        size = record_to.stat().st_size - _empty_size(record_to.parent, session)
    await session.close()
    return {
        "cpu": cpu,
        "wall": wall,
        "polls": polls,
        "bytes": size,
        "pg": (after[0] - before[0] - own[0]) / polls,
        "redis": (after[1] - before[1] - own[1]) / polls,
    }


def _empty_size(folder: Path, session: Any) -> int:
    """A recording's size before its first reading (meta and schema): not per hour."""
    from alfred_tui.recording.recorder import Recorder, recording_meta

    path = folder / "empty.sqlite"
    if not path.exists():
        meta = recording_meta(session.profile, session.backend_name, 1.0)
        Recorder(path, meta, session.profile).close(single_file=True)
    return path.stat().st_size


def overhead(runs: int, seconds: float, interval: float) -> None:
    from localdeploy import LocalDeployment

    print(f"\n### Recording overhead and size ({seconds:g} s runs, poll every {interval:g} s)\n")
    with LocalDeployment(
        name="bench-rec", overrides={"ui": {"refresh_seconds": interval}}
    ) as local:
        local.up()
        os.environ["ALFRED_TUI_STATE_DIR"] = str(local.base / "state")
        log = local.data_dir / "postgres" / "postgres.log"
        results: dict[tuple[str, bool], list[dict[str, float]]] = {}
        folder = Path(tempfile.mkdtemp(prefix="alfred-bench-rec-"))
        for load in ("idle", "busy"):
            writer = None
            if load == "busy":
                writer = subprocess.Popen(
                    [sys.executable, "-c", BUSY_WRITER, str(log), str(LINES_PER_MINUTE)]
                )
            try:
                for run in range(runs):
                    for recording in (False, True):
                        target = folder / f"{load}-{run}.sqlite" if recording else None
                        measured = asyncio.run(_run_ui_polling(local, seconds, interval, target))
                        results.setdefault((load, recording), []).append(measured)
            finally:
                if writer is not None:
                    writer.kill()
                    writer.wait()
        shutil.rmtree(folder, ignore_errors=True)

    print(
        "| platform | UI polling | CPU, % of one core | PostgreSQL transactions / poll "
        "| Redis commands / poll | recording MB / hour |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for load in ("idle", "busy"):
        shares = {}
        for recording in (False, True):
            rows = results[(load, recording)]
            share = statistics.median(100 * r["cpu"] / r["wall"] for r in rows)
            shares[recording] = share
            pg = statistics.median(r["pg"] for r in rows)
            commands = statistics.median(r["redis"] for r in rows)
            size = (
                f"{statistics.median(r['bytes'] / r['wall'] * 3600 / 1e6 for r in rows):.1f}"
                if recording
                else "-"
            )
            label = "with the recorder" if recording else "anchor: without"
            print(f"| {load} | {label} | {share:.2f} | {pg:.2f} | {commands:.2f} | {size} |")
        print(f"| {load} | **recorder overhead** | **{shares[True] - shares[False]:+.2f}** | | | |")
    print(
        f"\n{runs} interleaved runs each, medians; busy: {LINES_PER_MINUTE:,} PostgreSQL log "
        "lines a minute written by another process."
    )
    print(f"\ncommand: `{command_line()}`")


# --- replay ----------------------------------------------------------------------------------


def write_day(path: Path, hours: float = 24.0, interval: float = 1.0) -> None:
    """A 24-hour recording of the three services (see the module doc), written fast."""
    from alfred_tui.config.loader import load_profile
    from alfred_tui.recording.recorder import recording_meta
    from alfred_tui.recording.store import LogRow, RecordingWriter, TimelineEntry

    profile = load_profile("local").profile
    writer = RecordingWriter(path, recording_meta(profile, "local", interval))
    start = time.time() - hours * 3600
    template = json.loads(_frame_template())
    series = [
        (f"{item['kind']}/{reading['name']}", reading["value"])
        for item in template["services"]
        for reading in item["report"]["readings"]
    ]
    polls = int(hours * 3600 / interval)
    batch = 600
    rng = random.Random(13)
    for first in range(0, polls, batch):
        frames, samples, logs, entries = [], [], [], []
        for poll in range(first, min(polls, first + batch)):
            at = start + poll * interval
            down = (poll % 3600) < 30  # a 30 s outage every hour
            body = dict(template, taken_at=at, poll=poll)
            if down:
                body["services"] = [
                    dict(item, report=dict(item["report"], up=False, verdict=2))
                    if item["kind"] == "redis"
                    else item
                    for item in template["services"]
                ]
            frames.append((at, "overview", json.dumps(body, separators=(",", ":"))))
            for name, value in series:
                if value is not None:
                    samples.append((at, name, value * (1 + 0.3 * rng.random())))
            if poll % 3600 == 0:
                entries.append(
                    TimelineEntry(
                        at, "service", "redis", "CRITICAL", "redis DOWN: connection refused"
                    )
                )
            if poll % 3600 == 30:
                entries.append(TimelineEntry(at, "service", "redis", "OK", "redis back up (OK)"))
        lines = int(batch * interval / 60 * 1000)
        for number in range(lines):
            at = start + first * interval + number * (batch * interval / lines)
            logs.append(
                LogRow(
                    at,
                    "postgres",
                    "local-postgres",
                    "stderr",
                    f"2025-05-13 03:00:00.000 UTC [4{number % 90}] LOG:  statement: "
                    f"SELECT id FROM jobs WHERE queue = 'q{number % 7}' LIMIT 20",
                )
            )
        writer.write(frames, samples, logs, entries)
    writer.close(single_file=True)


def _frame_template() -> str:
    """One overview poll of the three services as the recorder writes it."""
    from ui_fixed import NOW, STATUSES, fixed_report

    from alfred_tui.config.loader import load_profile
    from alfred_tui.recording.codec import to_plain

    thresholds = load_profile("dev").profile.metrics
    services = [
        {
            "kind": kind,
            "report": to_plain(fixed_report(kind, thresholds)),
            "status": to_plain(STATUSES[kind]),
            "retry_in": None,
            "failures": 0,
        }
        for kind in ("postgres", "redis", "qdrant")
    ]
    return json.dumps(
        {"taken_at": NOW, "status_error": "", "duration_ms": 4.2, "poll": 0, "services": services}
    )


def _seek_reads(path: Path, moments: list[float]) -> tuple[list[float], list[float]]:
    """Per moment: what a replay's panes read after a seek, and the anchor query (ms)."""
    from alfred_tui.recording.replay import open_replay
    from alfred_tui.recording.replay_sources import ReplayMonitor

    session = open_replay(path)
    recording = session.replayed
    assert recording is not None and session.cursor is not None
    panes, floor = [], []
    for at in moments:
        started = time.perf_counter()
        recording.reader.db.execute(
            "SELECT at, body FROM frames WHERE kind = 'overview' AND at <= ? "
            "ORDER BY at DESC LIMIT 1",
            (at,),
        ).fetchone()
        floor.append((time.perf_counter() - started) * 1000)
        session.cursor.seek(at)
        started = time.perf_counter()
        monitor = ReplayMonitor(
            source=None,  # type: ignore[arg-type]
            profile=session.profile_name,
            backend=session.backend_name,
            services=session.services,
            refresh_seconds=recording.interval,
            recording=recording,
            cursor=session.cursor,
        )
        monitor.snapshot()
        recording.reader.logs_before(at, 10_000)
        recording.reader.timeline(None, at)
        panes.append((time.perf_counter() - started) * 1000)
    recording.reader.close()
    return panes, floor


async def _ui_seeks(path: Path, moments: list[float]) -> tuple[list[float], list[float]]:
    """Milliseconds from a seek in the running app until the Overview shows the moment; and,
    the anchor, the Overview redrawn with another moment's readings already in memory."""
    from alfred_tui.app import AlfredApp
    from alfred_tui.recording.replay import open_replay
    from alfred_tui.screens.panes import replay_panes

    app = AlfredApp(open_replay(path), panes=replay_panes())
    times, redraws = [], []
    async with app.run_test(size=(160, 48)) as pilot:
        while app.replay is None:
            await pilot.pause(0.05)
        overview = app._panes["overview"]
        for index, at in enumerate(moments):
            started = time.perf_counter()
            app.replay.seek(at)
            while overview.snapshot is None or overview.snapshot.taken_at != at:
                await asyncio.sleep(0.001)
            await pilot.pause()  # the frame with it
            times.append((time.perf_counter() - started) * 1000)
            other = app.session.monitor.snapshot(moments[index - 1])  # read before timing
            started = time.perf_counter()
            overview.snapshot = other
            overview._render_snapshot()
            await pilot.pause()
            redraws.append((time.perf_counter() - started) * 1000)
    return times, redraws


def replay(runs: int, hours: float, keep: Path | None) -> None:
    from ui_first_frame import HELLO, frame_ms

    folder = Path(tempfile.mkdtemp(prefix="alfred-bench-replay-"))
    path = keep or folder / "day.sqlite"
    started = time.perf_counter()
    if not path.exists():
        write_day(path, hours)
    written = time.perf_counter() - started
    print(
        f"\n### Replay of a {hours:g}-hour recording ({path.stat().st_size / 1e6:.0f} MB, "
        f"written in {written:.0f} s)\n"
    )
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "",
        "ALFRED_TUI_STATE_DIR": str(folder / "state"),
    }
    alfred = shutil.which("alfred-tui", path=str(Path(sys.executable).parent)) or "alfred-tui"
    from ui_first_frame import FIRST_FRAME, READY

    shells: dict[str, list[float]] = {"replay": [], "live": []}
    overviews: dict[str, list[float]] = {"replay": [], "live": []}
    hello_ms = []
    live_env = {**env, "ALFRED_TUI_DATA_DIR": str(folder / "data")}  # nothing deployed
    for index in range(runs + 1):
        replayed = frame_ms(
            [alfred, "--replay", str(path)], [FIRST_FRAME, (b"REPLAY", b"Last 10 min")], env
        )
        live = frame_ms([alfred, "--profile", "local"], [FIRST_FRAME, READY], live_env)
        hello = frame_ms([sys.executable, "-c", HELLO], [(b"anchor first frame",)], env)[0]
        if index:  # the first round warms the page cache
            for name, times in (("replay", replayed), ("live", live)):
                shells[name].append(times[0])
                overviews[name].append(times[1])
            hello_ms.append(hello)
    from alfred_tui.recording.store import RecordingReader

    rng = random.Random(7)

    reader = RecordingReader(path)
    span = reader.span()
    reader.close()
    assert span is not None
    moments = [rng.uniform(span[0] + 600, span[1]) for _ in range(50)]
    panes, floor = _seek_reads(path, moments)
    ui, redraws = asyncio.run(_ui_seeks(path, moments[:20]))

    def row(label: str, values: list[float], anchor: float) -> str:
        median = statistics.median(values)
        return (
            f"| {label} | {median:.1f} | {min(values):.1f} | {max(values):.1f} | "
            f"{median / anchor:.2f} |"
        )

    print("| what | median ms | min ms | max ms | x anchor |")
    print("|---|---:|---:|---:|---:|")
    hello = statistics.median(hello_ms)
    print(row("`alfred-tui --replay day.sqlite`: first frame (the shell)", shells["replay"], hello))
    print(
        row(
            "`alfred-tui --replay day.sqlite`: the Overview at the cursor",
            overviews["replay"],
            hello,
        )
    )
    print(row("`alfred-tui --profile local`: first frame (the shell)", shells["live"], hello))
    print(row("`alfred-tui --profile local`: overview ready", overviews["live"], hello))
    print(row("anchor: a minimal Textual app's first frame (80x24 pty)", hello_ms, hello))
    base = statistics.median(floor)
    print(row("seek: what the panes read at a new moment (50 random)", panes, base))
    print(row("seek in the app: key to the Overview drawn at the moment (20)", ui, base))
    print(row("anchor: one SELECT of the poll at that moment", floor, base))
    print(row("anchor: the Overview redrawn with another moment, nothing read", redraws, base))
    print(f"\nload average at the end: {load_average()}")
    print(f"command: `{command_line()}`")
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "overhead", "replay"), default="all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--hours", type=float, default=24.0, help="the replayed recording's length")
    parser.add_argument(
        "--keep", type=Path, help="write the recording here, or reuse it if it is there"
    )
    parser.add_argument(
        "--busy", type=int, default=0, help="replay beside this many spinning processes"
    )
    args = parser.parse_args()
    if args.part in ("all", "overhead"):
        overhead(args.runs, args.seconds, args.interval)
    if args.part in ("all", "replay"):
        if args.busy:
            with busy_processes(args.busy):
                replay(args.runs, args.hours, args.keep)
        else:
            replay(args.runs, args.hours, args.keep)


if __name__ == "__main__":
    main()
