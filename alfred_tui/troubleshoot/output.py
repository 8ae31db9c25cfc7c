"""Doctor reports for people (Rich) and for scripts (versioned JSON).

The JSON document is ``{"schema": "alfred-tui/doctor", "version": 1, ...}``,
described by ``assets/schemas/doctor.v1.schema.json``. The table output puts
the answer first: one line per runbook, then, for every runbook that found
something (or was asked for by name), what it saw and what to do.
"""

from __future__ import annotations

import json
from typing import Any

from alfred_tui.database_actions import ActionOutcome
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.model import RunbookReport, Table
from alfred_tui.troubleshoot.registry import RUNBOOKS, TroubleshootReport

SCHEMA_ID = "alfred-tui/doctor"
SCHEMA_VERSION = 1
ACTION_SCHEMA_ID = "alfred-tui/action"
ACTION_SCHEMA_VERSION = 1
RUNBOOKS_SCHEMA_ID = "alfred-tui/runbooks"

STYLES = {
    Verdict.OK: "green",
    Verdict.WARNING: "yellow",
    Verdict.CRITICAL: "bold red",
    Verdict.UNKNOWN: "magenta",
}


def report_json(report: TroubleshootReport) -> dict[str, Any]:
    """The versioned JSON document."""
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "profile": report.profile,
        "backend": report.backend,
        "checked_at": report.checked_at.isoformat().replace("+00:00", "Z"),
        "status": report.verdict.name,
        "exit_code": report.exit_code,
        "runbooks": [r.to_json() for r in report.reports],
    }


def render_json(report: TroubleshootReport) -> str:
    """The JSON document as text."""
    return json.dumps(report_json(report), indent=2, default=str)


def runbooks_json() -> dict[str, Any]:
    """Every runbook's description, for ``doctor list``."""
    return {
        "schema": RUNBOOKS_SCHEMA_ID,
        "version": 1,
        "runbooks": [r.info.to_json() for r in RUNBOOKS],
    }


def action_json(outcome: ActionOutcome) -> dict[str, Any]:
    """An action's outcome as a versioned JSON document."""
    return {"schema": ACTION_SCHEMA_ID, "version": ACTION_SCHEMA_VERSION, **outcome.to_json()}


def summary_line(report: TroubleshootReport) -> str:
    """``DOCTOR WARNING - postgres-connections WARNING, redis-memory OK``."""
    parts = ", ".join(f"{r.info.name} {r.verdict.name}" for r in report.reports)
    return f"DOCTOR {report.verdict.name} - {parts or 'no runbooks ran'}"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def render_table(diagnostics: Table) -> Any:
    """One diagnostics table as a Rich renderable."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    table = RichTable(
        title=Text.assemble((diagnostics.title, "bold"), "  ", (diagnostics.explanation, "dim")),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in diagnostics.columns:
        table.add_column(column, overflow="fold")
    if not diagnostics.rows:
        table.add_row(Text(diagnostics.empty, "dim"), *[""] * (len(diagnostics.columns) - 1))
    for row in diagnostics.rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def render_runbook(report: RunbookReport, detailed: bool = True) -> Any:
    """A runbook's report: verdict, why, evidence, diagnostics, remedies."""
    from rich import box
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table as RichTable
    from rich.text import Text

    style = STYLES[report.verdict]
    parts: list[Any] = [
        Text.assemble(
            (f"{report.verdict.name:<8}", style),
            " ",
            (report.info.title, "bold"),
            "  ",
            (report.info.name, "dim"),
        ),
        Text(f"  {report.detection.summary}", style=style if report.verdict else ""),
    ]
    if not detailed:
        return Group(*parts)
    parts.append(Text(f"  Symptoms: {report.info.symptoms}", "dim"))
    parts.append(Text(f"  Why it matters: {report.info.why}", "dim"))
    parts.append(Text(f"  What it looks at: {report.info.detects}", "dim"))
    evidence = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    evidence.add_column("Status", no_wrap=True)
    evidence.add_column("Finding", overflow="fold")
    evidence.add_column("Value", overflow="fold")
    evidence.add_column("Threshold / note", overflow="fold", style="dim")
    for item in report.detection.evidence:
        evidence.add_row(
            Text(item.verdict.name, STYLES[item.verdict]), item.label, item.value, item.note
        )
    parts.append(Padding(evidence, (0, 0, 0, 2)))
    for table in report.diagnostics:
        parts.append(Padding(render_table(table), (0, 0, 0, 2)))
    if report.remedies:
        parts.append(Text("  What you can do", "bold"))
        for number, remedy in enumerate(report.remedies, 1):
            parts.append(Padding(render_remedy(number, remedy), (0, 0, 0, 4)))
    for note in report.notes:
        parts.append(Text(f"  Note: {note}", "dim italic"))
    return Group(*parts)


def render_remedy(number: int, remedy: Any) -> Any:
    """One remedy: what it does, what it costs, how to do it."""
    from rich.console import Group
    from rich.text import Text

    flags = []
    if remedy.destructive:
        flags.append("asks for confirmation")
    if remedy.needs_restart:
        flags.append("needs a restart")
    lines: list[Any] = [
        Text.assemble(
            (f"{number}. {remedy.title}", "bold"),
            (f"  ({', '.join(flags)})" if flags else "", "yellow"),
        ),
        Text(f"   {remedy.what_it_does}"),
    ]
    if remedy.cost:
        lines.append(Text(f"   Cost: {remedy.cost}", "dim"))
    for step in remedy.steps:
        lines.append(Text(f"   runs: {step}", "cyan"))
    if remedy.command:
        lines.append(Text(f"   $ {remedy.command}", "green"))
    if remedy.profile_yaml:
        lines.append(Text("   To keep it, write in the profile:", "dim"))
        lines.extend(Text(f"     {line}", "cyan") for line in remedy.profile_yaml.splitlines())
    return Group(*lines)


def render_report(report: TroubleshootReport, detail_all: bool) -> Any:
    """The whole report: summary lines, then details where they matter."""
    from rich.console import Group
    from rich.rule import Rule

    parts: list[Any] = []
    for runbook in report.reports:
        parts.append(render_runbook(runbook, detailed=False))
    detailed = [r for r in report.reports if detail_all or r.verdict != Verdict.OK]
    for runbook in detailed:
        parts.append(Rule(style="dim"))
        parts.append(render_runbook(runbook, detailed=True))
    return Group(*parts)


def render_outcome(outcome: ActionOutcome) -> str:
    """A plan or a result as plain lines (the CLI prints plans on stderr)."""
    lines = [("Done: " if outcome.applied else "Plan: ") + outcome.summary]
    if not outcome.applied:
        lines += [f"  will run: {step}" for step in outcome.steps]
    lines += [f"  {line}" for line in outcome.results]
    if outcome.undo:
        lines.append(f"  undo: {outcome.undo}")
    if outcome.restart_needed:
        lines.append("  a restart of the service is needed for this to take effect")
    if outcome.profile_yaml:
        lines.append("  to keep it across deploys, write in the profile:")
        lines += [f"    {line}" for line in outcome.profile_yaml.splitlines()]
    if outcome.journal:
        lines.append(f"  safety copy: {outcome.journal}")
    return "\n".join(lines)
