"""Check reports as a table for people, JSON for scripts, Prometheus text for node_exporter.

The JSON document is versioned (``"schema": "alfred-tui/check", "version": 1``)
and described by ``assets/schemas/check.v1.schema.json``; fields are only ever
added within a version. The Prometheus exposition uses the spec's metric
names plus ``alfred_check_status`` (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
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
        low_text = ("0" if low == 0 else format_value(low, unit)) if low is not None else ""
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


#: Per-standby and per-slot series of a primary's replication view: (family, help, key).
_STANDBY_SERIES = (
    ("postgres_standby_lag_seconds", "Seconds a standby trails its primary", "lag_seconds"),
    ("postgres_standby_lag_bytes", "WAL bytes a standby has not replayed", "lag_bytes"),
)


def _replication_series(add: Any, service: str, base: dict[str, str], view: dict[str, Any]) -> None:
    """One series per standby, slot or replica, labelled by name (absent values stay absent)."""
    if service == "postgres":
        for standby in view.get("standbys") or []:
            labels = {**base, "standby": standby["name"] or standby["client"]}
            for family, help_text, key in _STANDBY_SERIES:
                if standby.get(key) is not None:
                    add(family, help_text, labels, standby[key])
        for slot in view.get("slots") or []:
            if slot.get("retained_bytes") is not None:
                add(
                    "postgres_replication_slot_retained_bytes",
                    "WAL bytes a replication slot keeps from being recycled",
                    {**base, "slot": slot["name"], "active": str(bool(slot["active"])).lower()},
                    slot["retained_bytes"],
                )
    elif service == "redis":
        for link in view.get("replicas") or []:
            if link.get("lag_bytes") is not None:
                add(
                    "redis_replica_lag_bytes",
                    "Replication stream bytes a replica has not acknowledged",
                    {**base, "replica": link["address"]},
                    link["lag_bytes"],
                )


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
        _replication_series(add, service.service, base, details.get("replication") or {})
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

_ANSI = {
    "green": "32",
    "yellow": "33",
    "bold red": "1;31",
    "magenta": "35",
    "dim": "2",
    "bold": "1",
}


def _paint(text: str, style: str, colour: bool) -> str:
    return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if colour and text else text


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


@dataclass(frozen=True)
class _Row:
    name: str
    value: str
    status: str
    status_style: str
    limits: str
    note: str
    missing: bool


def _rows(service: ServiceReport, thresholds: dict[str, MetricThreshold]) -> list[_Row]:
    rows = []
    for reading in service.readings:
        threshold = thresholds.get(reading.name)
        verdict = reading.verdict
        rows.append(
            _Row(
                name=reading.name,
                value=format_value(reading.value, threshold.unit if threshold else ""),
                status=verdict.name if verdict is not None else "n/a",
                status_style=VERDICT_STYLES[verdict] if verdict is not None else "dim",
                limits=format_threshold(threshold),
                note=reading.note,
                missing=reading.value is None,
            )
        )
    return rows


def render_table(
    report: CheckReport,
    thresholds: dict[str, MetricThreshold],
    width: int = 80,
    colour: bool = False,
) -> str:
    """The report as plain text: a block per service, a row per metric, within ``width``.

    Written by hand rather than with Rich: importing and laying out Rich
    tables costs about 50 ms, a third of what ``check`` is allowed on top of
    its imports, and this layout is fixed. Columns line up across services.
    Notes get their own column when there is room; narrower, a missing
    value's note replaces its thresholds. Long text wraps, never overflows.
    """
    blocks = [(service, _rows(service, thresholds)) for service in report.services]
    every = [row for _, rows in blocks for row in rows]
    name_width = min(38, max([len("Metric")] + [len(r.name) for r in every]))
    value_width = max([len("Value")] + [len(r.value) for r in every])
    limits_width = max([len("Normal / alert")] + [len(r.limits) for r in every])
    fixed = 2 + name_width + 2 + value_width + 2 + 8 + 2
    wide = width - fixed - limits_width - 2 >= 24
    indent = " " * (fixed + (limits_width + 2 if wide else 0))
    rest = max(10, width - len(indent))
    header = f"  {'Metric':<{name_width}}  {'Value':>{value_width}}  {'Status':<8}  "
    header += f"{'Normal / alert':<{limits_width}}  Note" if wide else "Normal / alert"
    lines: list[str] = []
    for service, rows in blocks:
        style = VERDICT_STYLES[service.verdict]
        lines.append(
            f"{_paint(service.service, 'bold', colour)}  {service.address}  "
            f"{_paint(service.verdict.name, style, colour)}"
        )
        if not service.up:
            lines.extend(
                "  " + _paint(part, style, colour)
                for part in textwrap.wrap(service.reason, width - 2)
            )
            lines.append("")
            continue
        lines.append(_paint(header.rstrip(), "dim", colour))
        for row in rows:
            cells = f"  {_fit(row.name, name_width):<{name_width}}  {row.value:>{value_width}}  "
            cells += _paint(f"{row.status:<8}", row.status_style, colour) + "  "
            if wide:
                cells += f"{row.limits:<{limits_width}}  "
                last, last_style = row.note, "dim"
            elif row.missing and row.note:
                last, last_style = row.note, "dim"
            else:
                last, last_style = row.limits, ""
            wrapped = [
                _paint(part, last_style, colour) if last_style else part
                for part in (textwrap.wrap(last, rest) or [""])
            ]
            lines.append((cells + wrapped[0]).rstrip())
            lines.extend(indent + more for more in wrapped[1:])
        lines.append("")
    return "\n".join(lines)


def summary_line(report: CheckReport) -> str:
    """The Nagios-style first line: ``ALFRED OK - postgres OK, redis OK, qdrant OK``."""
    parts = ", ".join(
        f"{s.service} {s.verdict.name}" + (f" ({s.reason})" if s.reason else "")
        for s in report.services
    )
    return f"ALFRED {report.verdict.name} - {parts}"
