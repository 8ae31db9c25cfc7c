"""Lifecycle commands over the backend contract: up, down, status, scale, resize, restart, logs.

The commands hold a :class:`~alfred_tui.backends.base.Backend` and never ask
which one: what a backend cannot do it declares (capabilities) and refuses
with one line. Progress goes to stderr, results to stdout. ``down --volumes``
and ``scale ... 0`` go through :mod:`alfred_tui.cli.destructive`: the plan is
printed, confirmed (``--yes`` for scripts) and a safety copy kept.

This module is imported for every command, ``check`` included: it imports
only Typer and :mod:`.common` at the top; backends load inside the commands.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from alfred_tui.backends.capabilities import Loggable, Resizable, Restartable, Scalable, require
from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    ServiceChoice,
    YesOption,
    diagnostic,
    examples,
    journaled_command,
    load,
    open_backend,
    run_async,
    stdout_console,
)
from alfred_tui.errors import UsageError

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend, LogRecord, Progress, ProgressCallback
    from alfred_tui.config.loader import LoadedProfile

T = TypeVar("T")

ServiceArgument = Annotated[ServiceChoice, typer.Argument(help="postgres, redis or qdrant.")]

LOG_SCHEMA_ID = "alfred-tui/log-record"
LOG_SCHEMA_VERSION = 1


# --- plumbing ---------------------------------------------------------------------


def print_progress(report: Progress) -> None:
    """A progress report as one stderr line: ``[postgres] initdb ... [1/3]``."""
    from alfred_tui.units import format_bytes

    prefix = f"[{report.service}] " if report.service else ""
    amount = ""
    if report.current is not None:
        if report.unit == "bytes":
            total = f"/{format_bytes(report.total)}" if report.total else ""
            amount = f" {format_bytes(report.current)}{total}"
        elif report.total:
            amount = f" [{report.current}/{report.total}]"
    diagnostic(f"{prefix}{report.step}{amount}")


def _open(
    profile: str | None, backend: str | None, context: str | None, namespace: str | None
) -> tuple[LoadedProfile, Backend]:
    loaded = load(profile)
    return loaded, open_backend(loaded, backend, context, namespace)


def _run(target: Backend, action: Callable[[Backend], Awaitable[T]]) -> T:
    """Run ``action(target)`` on a fresh loop and release the backend after."""

    async def run() -> T:
        async with target:
            return await action(target)

    return run_async(run())


def _print_status(
    target: Backend, statuses: list[Any], output: OutputFormat, facts: Any = None
) -> None:
    from alfred_tui.cli.status_view import (
        instance_notes,
        instances_table,
        status_document,
        status_notes,
        status_table,
    )

    if output == OutputFormat.json:
        print(json.dumps(status_document(statuses, target, facts=facts), indent=2))
        return
    console = stdout_console()
    console.print(status_table(statuses))
    for line in status_notes(statuses):
        console.print(line, markup=False, style="dim")
    table = None if facts is None else instances_table(statuses, facts)
    if table is not None:
        console.print()
        console.print(table)
        for line in instance_notes(facts):
            console.print(line, markup=False, style="dim")


async def _status_and_instances(target: Backend) -> tuple[list[Any], Any]:
    """The status, then each instance's replication and usage (``status``)."""
    from alfred_tui.control.instances import read_once

    statuses = await target.status()
    deployed = [s.service for s in statuses if s.deployed]
    return statuses, await read_once(target, deployed)


async def after_deploy(
    target: Backend, progress: ProgressCallback, services: Sequence[str] | None = None
) -> None:
    """Bring the databases' contents to what the profile expects, once they run.

    The spec's deployment step 3: create the profile's Qdrant collections that
    are missing (existing ones, drift included, are left alone). PostgreSQL
    schemas are applied by ``alfred-tui migrate up``, not here: migrations are
    an operator's decision.
    """
    from alfred_tui.backends.base import Progress

    profile = target.profile
    if profile.qdrant is None or (services is not None and "qdrant" not in services):
        return
    from alfred_tui.databases.qdrant_collections import ensure_collections

    endpoint = await target.endpoint("qdrant")
    created = await ensure_collections(profile, endpoint)
    for name in created:
        progress(Progress(step=f"created collection {name}", service="qdrant"))


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``10m``/``1h30m`` (that long ago) or an ISO timestamp (local time if no zone)."""
    from alfred_tui.units import parse_duration

    moment = now or datetime.now(UTC)
    try:
        return moment - timedelta(seconds=parse_duration(text))
    except OverflowError:  # found by fuzzing: --since 99999999999 (3,000 years)
        return datetime.min.replace(tzinfo=UTC)  # before anything: every line
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a duration (10m, 1h30m) nor a timestamp "
            "(2025-05-13T10:00:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


def _log_line(
    record: LogRecord, output: OutputFormat, timestamps: bool, level: str | None = None
) -> str:
    """One record as ``logs`` prints it: a JSON document, or the line with its
    control characters shown as ``\\xNN`` (a log line is a server's text)."""
    from alfred_tui.terminal_text import printable

    if output == OutputFormat.json:
        document = {
            "schema": LOG_SCHEMA_ID,
            "version": LOG_SCHEMA_VERSION,
            "service": record.service,
            "instance": record.instance,
            "timestamp": record.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "stream": record.stream,
            "line": record.line,
        }
        if level is not None:
            document["level"] = level
        return json.dumps(document)
    stamp = (
        f"{record.timestamp.astimezone(UTC).isoformat(timespec='milliseconds')} "
        if timestamps
        else ""
    )
    return f"{stamp}{record.instance} | {printable(record.line)}"


# --- commands ---------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add the lifecycle commands to ``app``."""

    @app.command(
        "up",
        epilog=examples(
            "alfred-tui up --profile local",
            "alfred-tui up redis qdrant -p dev -b docker",
        ),
    )
    def up_command(
        services: Annotated[
            list[ServiceChoice] | None,
            typer.Argument(help="Services to deploy. [default: every enabled one]"),
        ] = None,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        yes: YesOption = False,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Deploy the profile's databases and wait until they are ready (idempotent)."""
        from alfred_tui.cli.destructive import confirm_change

        loaded, target = _open(profile, backend, context, namespace)
        kinds = [s.kind for s in services] if services else None
        chosen = kinds or [kind for kind, _ in loaded.profile.services.enabled()]
        effects = [
            f"deploy {', '.join(chosen) or 'nothing'} on the {target.name} backend: create "
            "what is missing, start what is stopped, leave what runs as it is",
            "create the profile's missing Qdrant collections" if "qdrant" in chosen else "",
        ]
        confirm_change("up", effects, loaded.profile, yes=yes)

        async def action(target: Backend) -> list[Any]:
            await target.deploy(services=kinds, progress=print_progress)
            await after_deploy(target, print_progress, kinds)
            return await target.status()

        shown = [line for line in effects if line]
        with journaled_command("deploy", loaded.profile.name, target.name, plan=shown) as journal:
            statuses = _run(target, action)
            journal.succeeded(f"Deployed {', '.join(chosen)}")
        _print_status(target, statuses, output)

    @app.command(
        "down",
        epilog=examples(
            "alfred-tui down",
            "alfred-tui down --volumes --yes -p dev",
        ),
    )
    def down_command(
        volumes: Annotated[
            bool,
            typer.Option(
                "--volumes", "-v", help="Also remove the data (a safety copy is kept first)."
            ),
        ] = False,
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Stop the databases; their data is kept unless --volumes."""
        from alfred_tui.cli.destructive import DestructivePlan, confirm, report_safety_copy

        loaded, target = _open(profile, backend, context, namespace)
        safety_dir = None
        effects = _run(target, lambda t: t.describe_teardown(remove_volumes=volumes))
        plan = DestructivePlan(
            "down --volumes" if volumes else "down",
            effects,
            keeps_safety_copy=volumes,
            removes_data=volumes,
        )
        confirm(plan, loaded.profile, yes=yes)
        if volumes:
            safety_dir = plan.create_safety_dir(loaded.profile)
        _, target = _open(profile, backend, context, namespace)  # a fresh one per event loop
        with journaled_command(
            "teardown", loaded.profile.name, target.name, plan=plan.effects
        ) as journal:
            _run(
                target,
                lambda t: t.teardown(
                    remove_volumes=volumes, progress=print_progress, safety_dir=safety_dir
                ),
            )
            kept = f"; safety copy in {safety_dir}" if safety_dir is not None else ""
            journal.succeeded(f"profile {loaded.profile.name} stopped{kept}")
        print(f"down: profile '{loaded.profile.name}' stopped ({target.name} backend)")
        if safety_dir is not None:
            report_safety_copy(safety_dir)

    @app.command(
        "status",
        epilog=examples(
            "alfred-tui status",
            "alfred-tui status -p prod -b kubernetes --context prod-eu -o json",
        ),
    )
    def status_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Every service's state, readiness, health, endpoint and uptime; each instance's
        replication (role, lag) and CPU and memory against its limits."""
        _, target = _open(profile, backend, context, namespace)
        statuses, facts = _run(target, _status_and_instances)
        _print_status(target, statuses, output, facts)

    @app.command(
        "scale",
        epilog=examples(
            "alfred-tui scale redis 3 -p dev",
            "alfred-tui scale postgres 2 --yes -p dev",
        ),
    )
    def scale_command(
        service: ServiceArgument,
        replicas: Annotated[int, typer.Argument(min=0, max=64, help="Instances to run.")],
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Run N instances of SERVICE (0 stops it and keeps a safety copy); asks first."""
        from alfred_tui.cli.destructive import (
            DestructivePlan,
            confirm,
            confirm_change,
            report_safety_copy,
        )

        loaded, target = _open(profile, backend, context, namespace)
        kind = service.kind
        scaler = require(target, kind, Scalable)
        safety_dir = None
        if replicas == 0:
            plan = DestructivePlan(
                f"scale {kind} 0",
                [f"stop and remove every instance of {kind} ({target.name} backend)"],
            )
            confirm(plan, loaded.profile, yes=yes)
            effects = plan.effects
            safety_dir = plan.create_safety_dir(loaded.profile)
        else:
            effects = [f"run {replicas} instance(s) of {kind} ({target.name} backend)"]
            confirm_change(f"scale {kind} {replicas}", effects, loaded.profile, yes=yes)
        with journaled_command(
            "scale", loaded.profile.name, target.name, plan=effects, service=kind
        ) as journal:
            _run(
                target,
                lambda _: scaler.scale(
                    kind,
                    replicas,
                    progress=print_progress,
                    safety_dir=safety_dir,
                ),
            )
            journal.succeeded(f"Scaled {kind} to {replicas}")
        print(f"scale: {kind} -> {replicas}")
        if safety_dir is not None:
            report_safety_copy(safety_dir)

    @app.command(
        "resize",
        epilog=examples(
            "alfred-tui resize redis --memory 2g",
            "alfred-tui resize postgres --cpus 4 --memory 8g -p prod",
        ),
    )
    def resize_command(
        service: ServiceArgument,
        cpus: Annotated[
            str | None, typer.Option("--cpus", help="CPU limit: 0.5, 2 or 500m.")
        ] = None,
        memory: Annotated[
            str | None, typer.Option("--memory", help="Memory limit: 512M, 4G, 1Gi.")
        ] = None,
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Change SERVICE's CPU and memory limits, live where the engine can; asks first."""
        from alfred_tui.cli.destructive import confirm_change
        from alfred_tui.units import format_bytes, parse_bytes, parse_cpus

        if cpus is None and memory is None:
            raise UsageError("resize needs --cpus, --memory or both")
        try:
            cpu_count = parse_cpus(cpus) if cpus is not None else None
            memory_bytes = parse_bytes(memory) if memory is not None else None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        loaded, target = _open(profile, backend, context, namespace)
        kind = service.kind
        resizer = require(target, kind, Resizable)
        parts = []
        if cpu_count is not None:
            parts.append(f"cpus={cpu_count:g}")
        if memory_bytes is not None:
            parts.append(f"memory={format_bytes(memory_bytes)}")
        effects = [
            f"set {kind}'s limits to {' '.join(parts)} ({target.name} backend)",
            "live where the engine can; otherwise every instance restarts with them",
            "a memory limit under what the server uses can make it fail or be killed",
        ]
        confirm_change(f"resize {kind}", effects, loaded.profile, yes=yes)
        with journaled_command(
            "resize", loaded.profile.name, target.name, plan=effects, service=kind
        ) as journal:
            _run(
                target,
                lambda _: resizer.resize(kind, cpu_count, memory_bytes, progress=print_progress),
            )
            journal.succeeded(f"Resized {kind}: {' '.join(parts)}")
        print(f"resize: {kind} {' '.join(parts)}")

    @app.command(
        "restart",
        epilog=examples(
            "alfred-tui restart redis",
            "alfred-tui restart postgres -p prod",
        ),
    )
    def restart_command(
        service: ServiceArgument,
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Restart every instance of SERVICE and wait until it is ready again; asks first."""
        from alfred_tui.cli.destructive import confirm_change

        loaded, target = _open(profile, backend, context, namespace)
        kind = service.kind
        restarter = require(target, kind, Restartable)
        effects = [
            f"restart every instance of {kind} ({target.name} backend); "
            "its clients are disconnected until it is ready again"
        ]
        confirm_change(f"restart {kind}", effects, loaded.profile, yes=yes)
        with journaled_command(
            "restart", loaded.profile.name, target.name, plan=effects, service=kind
        ) as journal:
            _run(target, lambda _: restarter.restart(kind, progress=print_progress))
            journal.succeeded(f"Restarted {kind}")
        print(f"restart: {kind} restarted")

    @app.command(
        "logs",
        epilog=examples(
            "alfred-tui logs --follow --level warning",
            "alfred-tui logs postgres --since 10m --grep 'deadlock|timeout'",
        ),
    )
    def logs_command(
        services: Annotated[
            list[ServiceChoice] | None,
            typer.Argument(help="Services to show. [default: every one that has logs]"),
        ] = None,
        follow: Annotated[
            bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
        ] = False,
        tail: Annotated[
            int | None,
            typer.Option("--tail", "-n", min=0, help="Lines to show from the end of each log."),
        ] = None,
        since: Annotated[
            str | None,
            typer.Option("--since", help="Only lines after: a duration (10m) or a timestamp."),
        ] = None,
        timestamps: Annotated[
            bool, typer.Option("--timestamps", "-t", help="Prefix each line with its time (UTC).")
        ] = False,
        level: Annotated[
            str | None,
            typer.Option(
                "--level",
                "-l",
                help="Only lines at this level or above: debug, info, warning, error, fatal "
                "(read from each server's format, as the Logs pane does).",
            ),
        ] = None,
        grep: Annotated[
            str | None,
            typer.Option(
                "--grep",
                "-g",
                help="Only lines matching this regex (case-insensitive unless it has a capital).",
            ),
        ] = None,
        output: OutputOption = OutputFormat.table,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Log lines of the services merged by time; --follow waits for new ones."""
        from alfred_tui.cli.log_filter import LogFilter

        start = parse_since(since) if since else None
        keep = LogFilter.from_options(level, grep)
        _, target = _open(profile, backend, context, namespace)
        kinds = [s.kind for s in services] if services else None

        async def action(target: Backend) -> None:
            logs = require(target, None, Loggable).logs
            stream = logs(kinds, follow=follow, since=start, tail=tail)
            async for record in stream:
                record_level = keep.level_of(record)
                if not keep.passes(record, record_level):
                    continue
                sys.stdout.write(_log_line(record, output, timestamps, record_level.label) + "\n")
                if follow:
                    sys.stdout.flush()

        try:
            _run(target, action)
            sys.stdout.flush()
        except BrokenPipeError:  # `logs | head`: the reader has all it wanted
            sys.stderr.close()
