"""Audit reports for people (Rich) and scripts (``alfred-tui/audit`` v1 JSON)."""

from __future__ import annotations

import json
from typing import Any

from alfred_tui.audit.model import AuditReport, Finding
from alfred_tui.metrics import Verdict

SCHEMA_ID = "alfred-tui/audit"
SCHEMA_VERSION = 1

STYLES = {
    Verdict.OK: "green",
    Verdict.WARNING: "yellow",
    Verdict.CRITICAL: "bold red",
    Verdict.UNKNOWN: "magenta",
}
STATUS_STYLES = {
    "passed": "green",
    "failed": "red",
    "unknown": "magenta",
    "skipped": "dim",
    "pending": "cyan",
}


def report_json(report: AuditReport) -> dict[str, Any]:
    """The versioned JSON document."""
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "profile": report.profile,
        "policy": report.policy,
        "backend": report.backend,
        "checked_at": report.checked_at.isoformat().replace("+00:00", "Z"),
        "status": report.verdict.name,
        "exit_code": report.exit_code,
        "checks": [c.to_json() for c in report.checks],
        "findings": [f.to_json() for f in report.findings],
    }


def render_json(report: AuditReport) -> str:
    """The JSON document as text."""
    return json.dumps(report_json(report), indent=2)


def summary_line(report: AuditReport) -> str:
    """``AUDIT CRITICAL - 3 critical, 2 warnings (profile prod, policy production)``."""
    findings = report.findings
    critical = sum(1 for f in findings if f.severity == Verdict.CRITICAL)
    warnings = sum(1 for f in findings if f.severity == Verdict.WARNING)
    unknown = sum(1 for c in report.checks if c.status == "unknown")
    parts = [f"{critical} critical", f"{warnings} warning{'s' if warnings != 1 else ''}"]
    if unknown:
        parts.append(f"{unknown} not checked")
    return (
        f"AUDIT {report.verdict.name} - {', '.join(parts)} "
        f"(profile {report.profile}, policy {report.policy})"
    )


def render_finding(number: int, finding: Finding) -> Any:
    """One finding: what, why, how to fix, where."""
    from rich.console import Group
    from rich.text import Text

    lines: list[Any] = [
        Text.assemble(
            (f"{number}. {finding.severity.name:<8} ", STYLES[finding.severity]),
            (finding.title, "bold"),
        ),
        Text(f"   Why: {finding.why}"),
        Text(f"   Fix: {finding.fix}"),
    ]
    if finding.where:
        lines.append(Text(f"   Where: {finding.where}", "dim"))
    if finding.fix_yaml:
        lines.extend(Text(f"     {line}", "cyan") for line in finding.fix_yaml.splitlines())
    return Group(*lines)


def render_report(report: AuditReport) -> Any:
    """Checks table, then every finding with its fix."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Check", overflow="fold")
    table.add_column("Source", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Findings", justify="right")
    table.add_column("Note", overflow="fold", style="dim")
    for check in report.checks:
        table.add_row(
            check.title,
            check.source,
            Text(check.status, STATUS_STYLES[check.status]),
            str(len(check.findings)) if check.findings else "",
            check.note,
        )
    parts: list[Any] = [table]
    for number, finding in enumerate(report.findings, 1):
        parts.append(render_finding(number, finding))
    if not report.findings:
        parts.append(Text("No weakness found.", "green"))
    return Group(*parts)
