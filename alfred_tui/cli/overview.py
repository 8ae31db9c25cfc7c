"""``alfred-tui overview``: the Overview pane's headless twin.

One poll of every service, deployment state and health together, printed as
a table for people or as the versioned JSON document for scripts. Unlike
``check`` it exits 0 whatever the verdicts (it reports; ``check`` alerts) and
2 when it cannot run at all.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    ServiceTimeoutOption,
    examples,
    load,
    open_backend,
    run_async,
)

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend
    from alfred_tui.config.models import Profile
    from alfred_tui.control.monitor import OverviewSnapshot


def register(app: typer.Typer) -> None:
    """Add ``overview`` to ``app``."""

    @app.command(
        "overview",
        epilog=examples(
            "alfred-tui overview",
            "alfred-tui overview -p prod -o json",
        ),
    )
    def overview_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: ServiceTimeoutOption = 10.0,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Deployment state, health and metrics of every service, as the Overview pane shows."""
        from alfred_tui.control.overview_doc import overview_document

        loaded = load(profile)
        target = open_backend(loaded, backend, context, namespace)
        snapshot = run_async(_poll(target, timeout), timeout=timeout * 2 + 2)
        if output == OutputFormat.json:
            print(json.dumps(overview_document(snapshot, loaded.profile.metrics), indent=2))
            return
        _print_table(snapshot, loaded.profile)


async def _poll(target: Backend, timeout: float) -> OverviewSnapshot:
    from alfred_tui.control.monitor import ServiceMonitor
    from alfred_tui.control.sources import LiveSource

    monitor = ServiceMonitor(
        source=LiveSource(target, timeout=timeout),
        profile=target.profile.name,
        backend=target.name,
        services=[kind for kind, _ in target.profile.services.enabled()],
        status_timeout=timeout,
    )
    try:
        return await monitor.poll()
    finally:
        await monitor.close()
        await target.close()


def _print_table(snapshot: OverviewSnapshot, profile: Profile) -> None:
    from datetime import UTC, datetime

    from rich.table import Table

    from alfred_tui.checks.output import render_table
    from alfred_tui.checks.report import CheckReport
    from alfred_tui.cli.common import stdout_console
    from alfred_tui.units import format_bytes, format_duration

    console = stdout_console()
    now = datetime.fromtimestamp(snapshot.taken_at, UTC)
    table = Table("Service", "State", "Ready", "Restarts", "Uptime", "Endpoint", "Limits", "Image")
    for view in snapshot.services:
        status = view.status
        if status is None:
            table.add_row(view.kind, view.state, "?", "-", "-", "-", "-", "-")
            continue
        uptime = status.uptime_seconds(now)
        limits = status.limits
        limit_text = (
            "-"
            if limits.cpus is None and limits.memory is None
            else f"{limits.cpus or '-'} cpu {format_bytes(limits.memory) if limits.memory else '-'}"
        )
        table.add_row(
            view.kind,
            view.state,
            "embedded" if status.embedded else f"{status.ready}/{status.desired}",
            str(status.restarts),
            "-" if uptime is None else format_duration(uptime),
            ", ".join(status.endpoints) or "-",
            limit_text,
            status.image or "-",
        )
    console.print(table)
    if snapshot.status_error:
        console.print(f"status: {snapshot.status_error}", markup=False)
    reports = tuple(view.report for view in snapshot.services if view.report is not None)
    report = CheckReport(snapshot.profile, snapshot.backend, now, reports)
    console.print(render_table(report, profile.metrics, console.width))
