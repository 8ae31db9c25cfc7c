"""``alfred-tui check``: probe the databases once and exit like a Nagios plugin.

Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the worst verdict wins); a
profile or usage error is UNKNOWN too. The command never prints a traceback
and never runs past ``--timeout``.
"""

from __future__ import annotations

import enum
import os
from typing import TYPE_CHECKING, Annotated

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    ProfileOption,
    ServiceChoice,
    ServiceTimeoutOption,
    diagnostic,
    examples,
    exit_now,
    load,
    open_backend,
    run_async,
)
from alfred_tui.errors import AlfredError
from alfred_tui.metrics import Verdict

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend
    from alfred_tui.checks.report import CheckReport
    from alfred_tui.config.models import MetricThreshold, ServiceKind


class CheckOutput(enum.StrEnum):
    """Output formats of ``check``."""

    table = "table"
    json = "json"
    prometheus = "prometheus"


def register(app: typer.Typer) -> None:
    """Add ``check`` to ``app``."""

    @app.command(
        "check",
        epilog=examples(
            "alfred-tui check --profile prod -s postgres -s redis",
            "alfred-tui check -p prod -o prometheus > /var/lib/node_exporter/textfile/alfred.prom",
        ),
    )
    def check_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        service: Annotated[
            list[ServiceChoice] | None,
            typer.Option("--service", "-s", help="Check only this service (repeatable)."),
        ] = None,
        output: Annotated[
            CheckOutput, typer.Option("--output", "-o", help="table, json or prometheus.")
        ] = CheckOutput.table,
        timeout: ServiceTimeoutOption = 10.0,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Probe every service concurrently; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
        from alfred_tui.cli import _state

        _state["check_started"] = True
        try:
            loaded = load(profile)
            target = open_backend(loaded, backend, context, namespace)
        except AlfredError as exc:
            diagnostic(exc.one_line())
            exit_now(int(Verdict.UNKNOWN))
            return
        enabled = [kind for kind, _ in loaded.profile.services.enabled()]
        wanted = [s.kind for s in service] if service else enabled
        missing = [kind for kind in wanted if kind not in enabled]
        if missing:
            diagnostic(
                f"Usage error: profile '{loaded.profile.name}' has no enabled "
                f"{', '.join(missing)} (enabled: {', '.join(enabled) or 'none'})"
            )
            exit_now(int(Verdict.UNKNOWN))
            return
        report = run_async(_run(target, wanted, timeout))
        _print(report, loaded.profile.metrics, output)
        exit_now(report.exit_code)


async def _run(target: Backend, services: list[ServiceKind], timeout: float) -> CheckReport:
    from alfred_tui.checks.runner import run_check
    from alfred_tui.checks.samples import SampleStore

    try:
        return await run_check(target, services, timeout, SampleStore())
    finally:
        await target.close()


def _print(
    report: CheckReport, thresholds: dict[str, MetricThreshold], output: CheckOutput
) -> None:
    from alfred_tui.checks import output as render

    if output == CheckOutput.json:
        print(render.render_json(report, thresholds))
    elif output == CheckOutput.prometheus:
        print(render.render_prometheus(report, thresholds), end="")
    else:
        import shutil
        import sys

        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        width = shutil.get_terminal_size((80, 24)).columns
        print(render.summary_line(report))
        print(render.render_table(report, thresholds, width, colour))
