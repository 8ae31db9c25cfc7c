"""A runbook on screen: the list of runbooks with their verdicts, and one report in full.

The report reads top to bottom the way a tired operator needs it: the
verdict and what was found, what the runbook looks for and why it matters,
the evidence against its thresholds, the live diagnostics, and then what to
do, each remedy saying what it does, what it costs, what it runs, and
whether alfred-tui applies it (``a``) or it is done by hand. Colours come
from the theme and every verdict is also a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

from alfred_tui.control.remedy_plans import applicable, needs_sessions
from alfred_tui.troubleshoot.model import (
    Detection,
    Remedy,
    RunbookInfo,
    RunbookReport,
    Table,
)
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.styles import state_style, state_text, theme_colour

#: Below this width the list drops the service column.
WIDE = 120


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


class RunbookList(FilterableTable):
    """Every runbook of the profile's services with its latest verdict and finding."""

    def show(
        self,
        infos: Sequence[RunbookInfo],
        detections: dict[str, Detection],
        running: str | None,
        width: int,
    ) -> None:
        """One row per runbook; ``running`` is marked while it is being run."""
        wide = width >= WIDE
        title_width = 28
        fixed = [8, 8, title_width] if wide else [8, title_width]
        finding_width = max(12, width - sum(fixed) - 2 * (len(fixed) + 1) - 2)
        columns = [Column("Status", "status", 8)]
        if wide:
            columns.append(Column("Service", "service", 8))
        columns += [
            Column("Runbook", "title", title_width),
            Column("Finding", "finding", finding_width),
        ]
        self.set_columns(columns)
        rows = []
        for info in infos:
            detection = detections.get(info.name)
            if detection is None:
                status: Text = Text("…", style="dim")
                finding = Text("running…" if info.name == running else "not run yet", "dim")
            else:
                status = state_text(self.app, detection.verdict.name)
                finding = Text(detection.summary, overflow="ellipsis", no_wrap=True)
            cells: list[str | Text] = [status]
            if wide:
                cells.append(info.service)
            cells += [Text(info.title, overflow="ellipsis", no_wrap=True), finding]
            rows.append(Row(info.name, tuple(cells)))
        self.set_rows(rows)


def info_renderable(app: Any, info: RunbookInfo, note: str = "") -> Group:
    """What a runbook is about, before (or without) its live data."""
    parts: list[Any] = [
        Text.assemble((info.title, "bold"), "  ", (info.name, "dim")),
        Text(note or "Running the runbook…", style="italic"),
        Text(""),
        *_about(info),
    ]
    return Group(*parts)


def _about(info: RunbookInfo) -> list[Text]:
    return [
        Text.assemble(("Symptoms  ", "bold"), info.symptoms),
        Text.assemble(("Why it matters  ", "bold"), info.why),
        Text.assemble(("What it looks at  ", "bold"), info.detects),
    ]


def _heading(text: str) -> Text:
    return Text(text, style="bold underline")


def _evidence_table(app: Any, report: RunbookReport) -> RichTable:
    table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, expand=True, show_edge=False)
    table.add_column("Status", no_wrap=True)
    table.add_column("Finding", overflow="fold", ratio=2)
    table.add_column("Value", overflow="fold", ratio=3)
    table.add_column("Threshold / note", overflow="fold", ratio=3, style="dim")
    for item in report.detection.evidence:
        table.add_row(state_text(app, item.verdict.name), item.label, item.value, item.note)
    return table


def diagnostics_table(diagnostics: Table) -> Group:
    """One table of live diagnostics, with why it is worth reading."""
    table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False)
    for column in diagnostics.columns:
        table.add_column(column, overflow="fold")
    for row in diagnostics.rows:
        table.add_row(*(_cell(value) for value in row))
    parts: list[Any] = [
        Text(diagnostics.title, style="bold"),
        Text(diagnostics.explanation, style="dim"),
    ]
    if diagnostics.rows:
        parts.append(table)
    else:
        parts.append(Text(f"  {diagnostics.empty}", style="dim italic"))
    if diagnostics.note:
        parts.append(Text(f"  {diagnostics.note}", style="dim italic"))
    return Group(*parts)


def _remedy_tag(remedy: Remedy, can_apply: bool, apply_key: str) -> tuple[str, str]:
    """How a remedy is done: by alfred-tui (and with which key), or by hand."""
    if not applicable(remedy):
        return "by hand", "dim"
    if not can_apply:
        return "read-only: not from here", "dim"
    if remedy.action == "explain":
        return "e explains", "bold"
    if needs_sessions(remedy):
        return f"{apply_key}: choose sessions in Activity", "bold"
    return f"{apply_key} applies, after a confirmation", "bold"


def remedy_renderable(
    app: Any, number: int, remedy: Remedy, can_apply: bool, apply_key: str
) -> Group:
    """One remedy: what it does, what it costs, what it runs, how to keep it."""
    tag, tag_style = _remedy_tag(remedy, can_apply, apply_key)
    flags = []
    if remedy.destructive:
        flags.append("changes live sessions")
    if remedy.needs_restart:
        flags.append("needs a restart")
    accent = theme_colour(app, "accent")
    lines: list[Any] = [
        Text.assemble(
            (f"{number}. {remedy.title}", "bold"),
            "  ",
            (f"[{tag}]", tag_style),
            (f"  ({', '.join(flags)})" if flags else "", state_style(app, "WARNING")),
        ),
        Text(f"   {remedy.what_it_does}"),
    ]
    if remedy.cost:
        lines.append(Text.assemble(("   Cost: ", "bold"), remedy.cost))
    for step in remedy.steps:
        lines.append(Text.assemble(("   runs: ", "dim"), (step, accent)))
    if remedy.command:
        lines.append(Text.assemble(("   shell: ", "dim"), (f"$ {remedy.command}", accent)))
    if remedy.profile_yaml:
        lines.append(Text("   To keep it, write in the profile:", style="dim"))
        lines.extend(
            Text(f"     {line}", style=accent) for line in remedy.profile_yaml.splitlines()
        )
    return Group(*lines)


def report_renderable(
    app: Any, report: RunbookReport, *, can_apply: bool, apply_key: str = "a"
) -> Group:
    """A runbook's whole report, in the order it is needed: what is wrong and why it
    matters, the evidence, what to do, then the diagnostics to dig into and what the
    runbook is about."""
    verdict = report.verdict.name
    parts: list[Any] = [
        Text.assemble(
            (f" {verdict} ", f"reverse {state_style(app, verdict)}"),
            "  ",
            (report.info.title, "bold"),
            "  ",
            (report.info.name, "dim"),
        ),
        Text(report.detection.summary, style=state_style(app, verdict) if verdict != "OK" else ""),
        Text.assemble(("Why it matters  ", "bold"), report.info.why),
        Text(""),
        _heading("What it found"),
        Padding(_evidence_table(app, report), (0, 0, 1, 0)),
    ]
    if report.remedies:
        parts.append(_heading("What you can do"))
        for number, remedy in enumerate(report.remedies, 1):
            parts.append(
                Padding(remedy_renderable(app, number, remedy, can_apply, apply_key), (0, 0, 1, 0))
            )
    if report.diagnostics:
        parts.append(_heading("Live diagnostics"))
        for table in report.diagnostics:
            parts.append(Padding(diagnostics_table(table), (0, 0, 1, 0)))
    parts += [
        _heading("About this runbook"),
        Text.assemble(("Symptoms  ", "bold"), report.info.symptoms),
        Text.assemble(("What it looks at  ", "bold"), report.info.detects),
    ]
    for note in report.notes:
        parts.append(Text(f"Note: {note}", style="dim italic"))
    if report.duration_ms:
        parts.append(Text(f"diagnosed in {report.duration_ms:.0f} ms", style="dim"))
    return Group(*parts)
