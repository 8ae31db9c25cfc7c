"""Check reports as a table for people, JSON for scripts, Prometheus text for node_exporter.

The JSON document is versioned (``"schema": "alfred-tui/check", "version": 1``)
and described by ``assets/schemas/check.v1.schema.json``; fields are only ever
added within a version. The Prometheus exposition uses the spec's metric
names plus ``alfred_check_status`` (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
"""

from __future__ import annotations

import json
from typing import Any

from alfred_tui.checks.report import CheckReport, ServiceReport
from alfred_tui.config.models import MetricThreshold
from alfred_tui.metrics import Reading, Verdict
from alfred_tui.units import format_bytes, format_duration

JSON_SCHEMA_ID = "alfred-tui/check"
JSON_SCHEMA_VERSION = 1

VERDICT_STYLES = {
    Verdict.OK: "green",
    Verdict.WARNING: "yellow",
    Verdict.CRITICAL: "bold red",
    Verdict.UNKNOWN: "magenta",
}


def format_value(value: float | None, unit: str) -> str:
    """A metric value for people, in its unit."""
    if value is None:
        return "n/a"
    if unit == "bytes":
        return format_bytes(value)
    if unit == "s":
        return format_duration(value)
    if unit == "/s":
        return f"{value:,.0f}/s" if value >= 100 or float(value).is_integer() else f"{value:.1f}/s"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def format_threshold(threshold: MetricThreshold | None) -> str:
    """``normal 0-500, alert >800`` in the metric's unit."""
    if threshold is None:
        return ""
    unit = threshold.unit
    low, high = threshold.normal.min, threshold.normal.max
    parts = []
    if low is not None or high is not None:
        low_text = format_value(low, unit) if low is not None else ""
        high_text = format_value(high, unit) if high is not None else ""
        parts.append(f"{low_text}-{high_text}" if low_text != high_text else low_text)
    if threshold.alert.above is not None:
        parts.append(f">{format_value(threshold.alert.above, unit)}")
    if threshold.alert.below is not None:
        parts.append(f"<{format_value(threshold.alert.below, unit)}")
    return ", ".join(parts)


# --- JSON -----------------------------------------------------------------


def _reading_json(reading: Reading, thresholds: dict[str, MetricThreshold]) -> dict[str, Any]:
    threshold = thresholds.get(reading.name)
    return {
        "name": reading.name,
        "value": reading.value,
        "available": reading.available,
        "status": reading.verdict.name if reading.verdict is not None else None,
        "unit": threshold.unit if threshold else "",
        "normal": threshold.normal.model_dump() if threshold else None,
        "alert": threshold.alert.model_dump() if threshold else None,
        "note": reading.note or None,
    }


def _service_json(service: ServiceReport, thresholds: dict[str, MetricThreshold]) -> dict[str, Any]:
    return {
        "service": service.service,
        "address": service.address,
        "up": service.up,
        "status": service.verdict.name,
        "exit_code": int(service.verdict),
        "reason": service.reason or None,
        "duration_ms": round(service.duration_ms, 3),
        "metrics": [_reading_json(r, thresholds) for r in service.readings],
        "details": service.details,
    }


def report_json(report: CheckReport, thresholds: dict[str, MetricThreshold]) -> dict[str, Any]:
    """The report as the versioned JSON document."""
    return {
        "schema": JSON_SCHEMA_ID,
        "version": JSON_SCHEMA_VERSION,
        "profile": report.profile,
        "backend": report.backend,
        "checked_at": report.checked_at.isoformat().replace("+00:00", "Z"),
        "status": report.verdict.name,
        "exit_code": report.exit_code,
        "services": [_service_json(s, thresholds) for s in report.services],
    }


def render_json(report: CheckReport, thresholds: dict[str, MetricThreshold]) -> str:
    """The JSON document as text."""
    return json.dumps(report_json(report, thresholds), indent=2)


# --- Prometheus -------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    """A sample value without losing precision (``%g`` would round big counters)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def render_prometheus(report: CheckReport, thresholds: dict[str, MetricThreshold]) -> str:
    """Text exposition format 0.0.4, one family per metric, for the textfile collector."""
    families: dict[str, tuple[str, list[str]]] = {}

    def add(name: str, help_text: str, labels: dict[str, str], value: float) -> None:
        family = families.setdefault(name, (help_text, []))
        family[1].append(f"{name}{_labels(**labels)} {_number(value)}")

    for service in report.services:
        base = {"profile": report.profile, "service": service.service}
        for reading in service.readings:
            if reading.value is None:
                continue  # not exposed: absent, as Prometheus expects, never a fake zero
            threshold = thresholds.get(reading.name)
            help_text = (
                threshold.description if threshold and threshold.description else reading.name
            )
            add(reading.name, help_text, base, reading.value)
        details = service.details
        if "database_size_bytes" in details:
            add(
                "postgres_database_size_bytes",
                "Size of the probed database",
                base,
                details["database_size_bytes"],
            )
        if "max_connections" in details:
            add(
                "postgres_max_connections",
                "Server's max_connections",
                base,
                details["max_connections"],
            )
        for db, entry in (details.get("keyspace") or {}).items():
            labels = {**base, "db": db}
            add("redis_db_keys", "Keys per Redis database", labels, entry["keys"])
            add("redis_db_expires", "Keys with a TTL per Redis database", labels, entry["expires"])
        if "maxmemory_bytes" in details:
            add(
                "redis_maxmemory_bytes",
                "Redis maxmemory (0 means no limit)",
                base,
                details["maxmemory_bytes"],
            )
        add(
            "alfred_check_status",
            "Check verdict: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
            base,
            int(service.verdict),
        )
        add(
            "alfred_check_duration_seconds",
            "Time the service's check took",
            base,
            service.duration_ms / 1000,
        )
    add(
        "alfred_check_status",
        "Check verdict: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
        {"profile": report.profile, "service": "all"},
        report.exit_code,
    )
    add(
        "alfred_check_timestamp_seconds",
        "When the check ran (Unix time)",
        {"profile": report.profile},
        report.checked_at.timestamp(),
    )
    lines: list[str] = []
    for name, (help_text, samples) in families.items():
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(samples)
    return "\n".join(lines) + "\n"


# --- table ------------------------------------------------------------------


def render_table(
    report: CheckReport, thresholds: dict[str, MetricThreshold], width: int = 80
) -> Any:
    """A Rich renderable: a small table per service, verdicts coloured, fits ``width``.

    Notes get their own column only when there is room (``width`` >= 110);
    narrower, a missing value's note takes the place of its thresholds.
    """
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    wide = width >= 110
    tables = []
    for service in report.services:
        style = VERDICT_STYLES[service.verdict]
        title = Text.assemble(
            (service.service, "bold"), "  ", service.address, "  ", (service.verdict.name, style)
        )
        table = Table(
            title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, expand=False
        )
        table.add_column("Metric", no_wrap=True, overflow="ellipsis", max_width=38)
        table.add_column("Value", justify="right", no_wrap=True)
        table.add_column("Status", no_wrap=True)
        table.add_column("Normal / alert", overflow="fold")
        if wide:
            table.add_column("Note", overflow="fold")
        if not service.up:
            row = ["", "", Text(service.verdict.name, style), Text(service.reason, style)]
            table.add_row(*row, *([""] if wide else []))
            tables.append(table)
            continue
        for reading in service.readings:
            threshold = thresholds.get(reading.name)
            unit = threshold.unit if threshold else ""
            verdict = reading.verdict
            status = (
                Text(verdict.name, VERDICT_STYLES[verdict])
                if verdict is not None
                else Text("n/a", "dim")
            )
            limits: Text | str = format_threshold(threshold)
            if not wide and reading.value is None and reading.note:
                limits = Text(reading.note, "dim")
            cells: list[Any] = [reading.name, format_value(reading.value, unit), status, limits]
            if wide:
                cells.append(Text(reading.note, "dim"))
            table.add_row(*cells)
        tables.append(table)
    return Group(*tables)


def summary_line(report: CheckReport) -> str:
    """The Nagios-style first line: ``ALFRED OK - postgres OK, redis OK, qdrant OK``."""
    parts = ", ".join(
        f"{s.service} {s.verdict.name}" + (f" ({s.reason})" if s.reason else "")
        for s in report.services
    )
    return f"ALFRED {report.verdict.name} - {parts}"
