"""The Audit pane's parts: findings, the checks that ran, one finding in full.

A finding never carries a secret's value (the audit names the field that
holds it), so everything here can be shown as is.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from alfred_tui.audit.model import AuditReport, CheckResult, Finding
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.styles import AnyApp, state_style, state_text, theme_colour

WIDE = 120
_PAD = 2
_SCROLLBAR = 2

#: How a check's status reads, and in which colour role.
CHECK_STATUS_ROLES = {
    "passed": "OK",
    "failed": "CRITICAL",
    "unknown": "UNKNOWN",
    "skipped": "",
    "pending": "WARNING",
}


def finding_key(finding: Finding) -> str:
    """A stable row key: the check, the field and the title (numbers move when fixed)."""
    return f"{finding.check}|{finding.field}|{finding.title}"


def _rest(width: int, fixed: list[int], minimum: int) -> int:
    used = sum(fixed) + _PAD * (len(fixed) + 1) + _SCROLLBAR
    return max(minimum, width - used)


class FindingsTable(FilterableTable):
    """Every finding, critical first: severity, service, what is wrong, where."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.findings: dict[str, Finding] = {}
        """Row key -> finding, for the detail of the selected row."""

    def show(self, report: AuditReport, width: int) -> None:
        """Render ``report``'s findings at ``width``."""
        wide = width >= WIDE
        if wide:
            fixed = [8, 8, 9, 40]
            columns = [
                Column("Severity", "severity", 8),
                Column("Service", "service", 8),
                Column("Source", "source", 9),
                Column("Finding", "title", _rest(width, fixed, 20)),
                Column("Where", "where", 40),
            ]
        else:
            fixed = [8, 8]
            columns = [
                Column("Severity", "severity", 8),
                Column("Service", "service", 8),
                Column("Finding", "title", _rest(width, fixed, 20)),
            ]
        self.set_columns(columns)
        rows = []
        self.findings = {}
        for number, finding in enumerate(report.findings, 1):
            key = finding_key(finding)
            if key in self.findings:
                key = f"{key}#{number}"
            self.findings[key] = finding
            cells: list[str | Text] = [
                state_text(self.app, finding.severity.name),
                finding.service or "-",
            ]
            if wide:
                cells.append(Text(finding.source, style="dim"))
            cells.append(Text(finding.title, overflow="ellipsis", no_wrap=True))
            if wide:
                cells.append(
                    Text(finding.where or "-", style="dim", overflow="ellipsis", no_wrap=True)
                )
            rows.append(Row(key, tuple(cells)))
        self.set_rows(rows)


def check_status(app: AnyApp, check: CheckResult) -> Text:
    """``passed`` / ``failed`` / ``unknown``... coloured by what it means."""
    role = CHECK_STATUS_ROLES.get(check.status, "")
    style = state_style(app, role) if role else "dim"
    return Text(check.status, style=style)


class ChecksTable(FilterableTable):
    """Every check the audit ran (or could not), with its source and note."""

    def show(self, report: AuditReport, width: int) -> None:
        """Render ``report``'s checks at ``width``."""
        fixed = [34, 9, 7, 3]
        self.set_columns(
            [
                Column("Check", "check", 34),
                Column("Source", "source", 9),
                Column("Status", "status", 7),
                Column("#", "findings", 3),
                Column("Note", "note", _rest(width, fixed, 12)),
            ]
        )
        rows = [
            Row(
                check.id,
                (
                    Text(check.title, overflow="ellipsis", no_wrap=True),
                    Text(check.source, style="dim"),
                    check_status(self.app, check),
                    str(len(check.findings)) if check.findings else "",
                    Text(check.note, style="dim", overflow="ellipsis", no_wrap=True),
                ),
            )
            for check in report.checks
        ]
        self.set_rows(rows)


def finding_renderable(app: AnyApp, finding: Finding) -> Group:
    """One finding in full: what is wrong, why it matters, how to fix it, where."""
    accent = theme_colour(app, "accent")
    severity = finding.severity.name
    parts: list[Text] = [
        Text.assemble(
            (f" {severity} ", f"reverse {state_style(app, severity)}"),
            "  ",
            (finding.title, "bold"),
        ),
        Text.assemble(("Why it matters  ", "bold"), finding.why),
        Text.assemble(("How to fix it  ", "bold"), finding.fix),
    ]
    where = finding.where or ("the live server" if finding.source == "live" else "")
    if finding.field or where:
        parts.append(
            Text.assemble(
                ("Where  ", "bold"),
                (finding.field, ""),
                ("  " if finding.field and where else "", ""),
                (where, "dim"),
            )
        )
    if finding.fix_yaml:
        parts.append(Text("Write in the profile:", style="bold"))
        parts.extend(Text(f"  {line}", style=accent) for line in finding.fix_yaml.splitlines())
    parts.append(Text(f"check {finding.check} ({finding.source})", style="dim"))
    return Group(*parts)


def summary_text(app: AnyApp, report: AuditReport) -> Text:
    """``CRITICAL  3 critical, 2 warnings · profile prod, policy production · live: ...``."""
    findings = report.findings
    critical = sum(1 for f in findings if f.severity.name == "CRITICAL")
    warnings = sum(1 for f in findings if f.severity.name == "WARNING")
    unknown = [c for c in report.checks if c.status == "unknown"]
    verdict = report.verdict.name
    text = Text.assemble(
        (f" {verdict} ", f"reverse {state_style(app, verdict)}"),
        "  ",
        (f"{critical} critical, {warnings} warning{'s' if warnings != 1 else ''}", "bold"),
    )
    if unknown:
        text.append(f", {len(unknown)} not checked", style=state_style(app, "UNKNOWN"))
    live = [c for c in report.checks if c.source == "live"]
    text.append(f"  profile {report.profile}, policy {report.policy}", style="dim")
    if live:
        answered = sum(1 for c in live if c.status != "unknown")
        text.append(f", live checks {answered}/{len(live)}", style="dim")
    if not findings:
        text.append("  no weakness found", style=state_style(app, "OK"))
    return text
