"""``alfred-tui record`` and ``alfred-tui timeline``: the black box without a UI.

``record`` writes what the UI's black box keeps (every service's readings,
deployment state, engine events, log lines, runbook findings, activity,
keyspace and collection summaries, operator actions) to a file, for cron or
for an alert to start. ``timeline`` is the Timeline pane's headless twin: what
happened, newest first, from a recording (``--from``) or from the UI's
rolling recording and the operator journal. ``alfred-tui --replay FILE``
opens a recording in the UI (:mod:`alfred_tui.cli.tui`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    diagnostic,
    examples,
    load,
    open_backend,
    run_async,
    stdout_console,
)
from alfred_tui.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from alfred_tui.control.session import Session
    from alfred_tui.operator_journal import JournalTail
    from alfred_tui.recording.recorder import Recorder
    from alfred_tui.recording.store import TimelineEntry

#: What ``--kind`` accepts (the timeline's kinds).
KIND_HELP = "service, verdict, engine, runbook, log or action (repeat for several)."


def _seconds(text: str, option: str) -> float:
    from alfred_tui.units import parse_duration

    try:
        value = parse_duration(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: not a duration (90s, 10m, 1h30m)") from None
    if value <= 0:
        raise UsageError(f"{option} {text!r}: must be more than 0")
    return value


def register(app: typer.Typer) -> None:
    """Add ``record`` and ``timeline`` to ``app``."""

    @app.command(
        "record",
        epilog=examples(
            "alfred-tui record -p prod --duration 1h --interval 1 -o /var/tmp/incident.sqlite",
            "alfred-tui record --duration 10m -o before-the-migration.sqlite",
        ),
    )
    def record_command(
        output_file: Annotated[
            Path,
            typer.Option(
                "--output",
                "-o",
                help="The recording to write (a new file; an existing one is never replaced).",
                dir_okay=False,
            ),
        ],
        duration: Annotated[
            str | None,
            typer.Option("--duration", help="How long: 90s, 10m, 1h. [default: until Ctrl+C]"),
        ] = None,
        interval: Annotated[
            str, typer.Option("--interval", help="Seconds between readings: 1, 2s, 0.5.")
        ] = "2",
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Record the platform headless (what the UI's black box keeps) to a file."""
        from alfred_tui.control.session import Session
        from alfred_tui.recording.recorder import Recorder, recording_meta

        seconds = _seconds(duration, "--duration") if duration else None
        every = _seconds(interval, "--interval")
        if output_file.exists():
            raise UsageError(f"{output_file} exists; choose another name or remove it first")
        loaded = load(profile)
        target = open_backend(loaded, backend, context, namespace)
        session = Session(loaded, target, readonly=True)
        meta = recording_meta(loaded.profile, target.name, every, recorded_by="alfred-tui record")
        recorder = Recorder(output_file, meta, loaded.profile, journal=_journal_tail())
        session.tap = recorder
        diagnostic(
            f"recording profile {loaded.profile.name} ({target.name}) every {every:g} s to "
            f"{output_file}" + (f" for {duration}" if duration else "; Ctrl+C ends it")
        )
        try:
            run_async(_record(session, recorder, every, seconds))
        finally:
            recorder.close(single_file=True)
        stats = recorder.stats
        size = output_file.stat().st_size if output_file.exists() else 0
        print(
            f"recorded {output_file}: {stats.polls:,} polls, {stats.log_lines:,} log lines, "
            f"{stats.events:,} engine events, {stats.entries:,} timeline entries, "
            f"{size / 1e6:.1f} MB"
        )

    @app.command(
        "timeline",
        epilog=examples(
            "alfred-tui timeline --since 1h --service redis",
            "alfred-tui timeline --from incident.sqlite --kind action -o json",
        ),
    )
    def timeline_command(
        from_file: Annotated[
            Path | None,
            typer.Option(
                "--from",
                help="A recording to read. [default: the UI's rolling recording of the profile "
                "and the operator journal]",
                dir_okay=False,
            ),
        ] = None,
        since: Annotated[
            str | None,
            typer.Option("--since", help="Only entries after: a duration (1h) or a timestamp."),
        ] = None,
        service: Annotated[
            list[str] | None,
            typer.Option("--service", help="postgres, redis or qdrant (repeat for several)."),
        ] = None,
        kind: Annotated[list[str] | None, typer.Option("--kind", help=KIND_HELP)] = None,
        output: OutputOption = OutputFormat.table,
        profile: ProfileOption = None,
    ) -> None:
        """What happened, newest first: verdicts, outages, engine events, errors, actions."""
        from alfred_tui.cli.lifecycle import parse_since
        from alfred_tui.recording.detector import KINDS
        from alfred_tui.recording.store import RecordingReader
        from alfred_tui.recording.timeline import (
            TimelineFilter,
            read_recording,
            read_rolling,
            timeline_document,
        )

        kinds = tuple(kind or ())
        for name in kinds:
            if name not in KINDS:
                raise UsageError(f"--kind {name!r}: choose from {', '.join(KINDS)}")
        services = tuple(service or ())
        for name in services:
            if name not in ("postgres", "redis", "qdrant"):
                raise UsageError(f"--service {name!r}: choose from postgres, redis, qdrant")
        keep = TimelineFilter(
            since=parse_since(since).timestamp() if since else None,
            services=services,
            kinds=kinds,
        )
        if from_file is not None:
            reader = RecordingReader(from_file)
            try:
                entries = read_recording(reader, keep)
                profile_name = reader.meta.get("profile", "?")
                backend_name: str | None = reader.meta.get("backend")
            finally:
                reader.close()
            sources = [str(from_file)]
        else:
            profile_name = load(profile).profile.name
            backend_name = None
            entries, sources = read_rolling(profile_name, keep)
        if output == OutputFormat.json:
            document = timeline_document(
                entries, profile=profile_name, backend=backend_name, sources=sources, keep=keep
            )
            print(json.dumps(document, indent=2))
            return
        _print_table(entries, sources)


def _journal_tail() -> JournalTail:
    from alfred_tui.operator_journal import JournalTail

    return JournalTail()


async def _record(
    session: Session, recorder: Recorder, interval: float, duration: float | None
) -> None:
    import asyncio
    import signal

    from alfred_tui.recording.loops import record_headless

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        await record_headless(session, recorder, interval=interval, duration=duration, stop=stop)
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        await session.close()


def _print_table(entries: Sequence[TimelineEntry], sources: list[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    from alfred_tui.recording.timeline import when_text

    console = stdout_console()
    if not entries:
        console.print(f"no entries (read {', '.join(sources)})", markup=False)
        return
    newest = entries[0].at
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("Time (UTC)", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Service", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("What", overflow="fold")
    styles = {"CRITICAL": "bold red", "WARNING": "yellow", "OK": "green", "INFO": ""}
    for entry in entries:
        table.add_row(
            when_text(entry.at, newest),
            entry.kind,
            entry.service or "-",
            Text(entry.severity, style=styles.get(entry.severity, "")),
            Text(entry.title),
        )
    console.print(table)
    if sys.stderr.isatty():
        diagnostic(f"read {', '.join(sources)}")
