"""The overview's tables: services, metrics with sparklines, instances.

Each table builds its rows from an :class:`OverviewSnapshot` and the width it
has. Below 120 columns the tables drop the columns an operator can live
without (image, limits, thresholds, notes) and shorten metric names; they
never overflow sideways. Every verdict is a word as well as a colour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text

from alfred_tui.backends.base import (
    Health,
    InstanceStatus,
    InstanceUsage,
    ResourceAmounts,
    ServiceStatus,
)
from alfred_tui.checks.instances import InstanceReplication
from alfred_tui.checks.output import format_threshold, format_value
from alfred_tui.config.models import MetricThreshold, Profile, ServiceKind
from alfred_tui.control.instances import (
    FLAG,
    cpu_text,
    lag_text,
    memory_text,
    replication_text,
)
from alfred_tui.control.monitor import OverviewSnapshot, ServiceView, history_key, instance_key
from alfred_tui.control.troubleshoot_view import ServiceFlag
from alfred_tui.metrics import Reading
from alfred_tui.units import format_bytes, format_duration
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.header import middle_ellipsis
from alfred_tui.widgets.styles import AnyApp, state_style, state_text, theme_colour

#: Below this many columns the tables use their narrow layout.
WIDE = 120
_PAD = 2  # a DataTable cell's padding, left + right
_SCROLLBAR = 2  # a one-column scrollbar and one column to spare


@dataclass(frozen=True)
class Layout:
    """How much room the overview has."""

    width: int
    height: int

    @property
    def wide(self) -> bool:
        """Room for image, limits, thresholds and notes."""
        return self.width >= WIDE


def _rest(layout: Layout, fixed: list[int], minimum: int) -> int:
    """Width left for the last column once the others and their padding are placed."""
    used = sum(fixed) + _PAD * (len(fixed) + 1) + _SCROLLBAR
    return max(minimum, layout.width - used)


def short_metric_name(kind: ServiceKind, name: str) -> str:
    """``postgres_transaction_duration_seconds`` -> ``transaction_duration``.

    Replication lag comes in seconds and in bytes, so those two keep their
    unit (``repl_lag_time``, ``repl_lag_bytes``): stripped, they would read alike.
    """
    short = name.removeprefix(f"{kind}_")
    if short.startswith("replication_lag_"):
        return "repl_lag_time" if short.endswith("_seconds") else "repl_lag_bytes"
    for suffix, replacement in (
        ("_per_second", "/s"),
        ("_seconds", ""),
        ("_bytes", ""),
        ("_count", ""),
    ):
        if short.endswith(suffix):
            short = short[: -len(suffix)] + replacement
    return short


def _now(snapshot: OverviewSnapshot) -> datetime:
    return datetime.fromtimestamp(snapshot.taken_at, UTC)


def _uptime(status: ServiceStatus | None, now: datetime) -> str:
    seconds = None if status is None else status.uptime_seconds(now)
    return "-" if seconds is None else format_duration(seconds)


def _instance_uptime(instance: InstanceStatus, now: datetime) -> str:
    if instance.started_at is None or instance.state != "running":
        return "-"
    return format_duration(max(0.0, (now - instance.started_at).total_seconds()))


def _ready(status: ServiceStatus | None) -> str:
    if status is None:
        return "?"
    if status.embedded:
        return "emb."
    return f"{status.ready}/{status.desired}"


def _health(status: ServiceStatus | None) -> str:
    """The instances' health in a word or two: ``healthy``, ``1 unhealthy``."""
    if status is None:
        return "?"
    if status.embedded:
        return "embedded"
    if not status.instances:
        return "none" if status.desired == 0 else "absent"
    counts = Counter(instance.health for instance in status.instances)
    if len(counts) == 1:
        return next(iter(counts))
    order: tuple[Health, ...] = ("unhealthy", "starting", "unknown", "none", "healthy")
    worst = next(h for h in order if counts[h])
    return f"{counts[worst]} {worst}"


def _amounts(amounts: ResourceAmounts) -> str:
    if amounts.cpus is None and amounts.memory is None:
        return "-"
    cpus = "-" if amounts.cpus is None else f"{amounts.cpus:g}"
    memory = "-" if amounts.memory is None else format_bytes(amounts.memory, 0)
    return f"{cpus} cpu {memory}"


def _endpoint(view: ServiceView) -> str:
    if view.status is not None and view.status.endpoints:
        return view.status.endpoints[0]
    if view.report is not None and view.report.address not in ("", "-"):
        return view.report.address
    return "-"


#: Marks a service a runbook found a problem on (the notes below say which, and ``t`` opens it).
MARKER = "⚑"


def status_cell(app: AnyApp, view: ServiceView, flag: ServiceFlag | None) -> Text:
    """The status word, and the runbook marker in the runbook verdict's colour."""
    cell = state_text(app, view.state)
    if flag is not None and flag.flagged:
        cell.append(f" {MARKER}", style=state_style(app, flag.verdict))
    return cell


class ServicesTable(FilterableTable):
    """One row per service: state, readiness, health, uptime, restarts, where."""

    def show(
        self,
        snapshot: OverviewSnapshot,
        profile: Profile,
        layout: Layout,
        flags: dict[str, ServiceFlag] | None = None,
    ) -> None:
        """Render ``snapshot`` at ``layout``, with ``flags``' runbook markers."""
        flags = flags or {}
        now = _now(snapshot)
        if layout.wide:
            fixed = [8, 10, 5, 9, 8, 7, 22, 13, 13]
            image_width = _rest(layout, fixed, 12)
            columns = [
                Column("Service", "service", 8),
                Column("Status", "status", 10),
                Column("Ready", "ready", 5),
                Column("Health", "health", 9),
                Column("Restarts", "restarts", 8),
                Column("Uptime", "uptime", 7),
                Column("Endpoint", "endpoint", 22),
                Column("Limits", "limits", 13),
                Column("Reserved", "reserved", 13),
                Column("Image", "image", image_width),
            ]
        else:
            fixed = [8, 10, 5, 9, 6, 3]
            endpoint_width = _rest(layout, fixed, 10)
            columns = [
                Column("Service", "service", 8),
                Column("Status", "status", 10),
                Column("Ready", "ready", 5),
                Column("Health", "health", 9),
                Column("Uptime", "uptime", 6),
                Column("Rst", "restarts", 3),
                Column("Endpoint", "endpoint", endpoint_width),
            ]
        self.set_columns(columns)
        rows = []
        for view in snapshot.services:
            status = view.status
            spec = profile.service(view.kind)
            endpoint_width = next(c.width for c in columns if c.key == "endpoint") or 22
            cells: list[str | Text] = [
                Text(view.kind, style="bold"),
                status_cell(self.app, view, flags.get(view.kind)),
                _ready(status),
                _health(status),
            ]
            restarts = "-" if status is None else str(status.restarts)
            if layout.wide:
                image = (status.image if status and status.image else None) or (
                    spec.image if spec else "-"
                )
                cells += [
                    restarts,
                    _uptime(status, now),
                    middle_ellipsis(_endpoint(view), endpoint_width),
                    _amounts(status.limits) if status else "-",
                    _amounts(status.reservations) if status else "-",
                    middle_ellipsis(image, columns[-1].width or 30),
                ]
            else:
                cells += [
                    _uptime(status, now),
                    restarts,
                    middle_ellipsis(_endpoint(view), endpoint_width),
                ]
            rows.append(Row(view.kind, tuple(cells)))
        self.set_rows(rows)


def metric_names(profile: Profile, view: ServiceView) -> list[str]:
    """The service's metrics: the profile's thresholds first, then anything else measured."""
    names = [name for name in profile.metrics if name.startswith(f"{view.kind}_")]
    if view.report is not None:
        names += [r.name for r in view.report.readings if r.name not in names]
    return names


class MetricsTable(FilterableTable):
    """The spec's metrics per service: value, verdict, ten-minute sparkline."""

    def show(self, snapshot: OverviewSnapshot, profile: Profile, layout: Layout) -> None:
        """Render ``snapshot`` at ``layout``."""
        thresholds = profile.metrics
        if layout.wide:
            fixed = [8, 37, 10, 8, 30, 26]
            note_width = _rest(layout, fixed, 10)
            trend_width = 30
            columns = [
                Column("Service", "service", 8),
                Column("Metric", "metric", 37),
                Column("Value", "value", 10),
                Column("Status", "status", 8),
                Column("Last 10 min", "trend", trend_width),
                Column("Normal, alert", "normal", 26),
                Column("Note", "note", note_width),
            ]
        else:
            fixed = [8, 20, 10, 8]
            trend_width = _rest(layout, fixed, 8)
            columns = [
                Column("Service", "service", 8),
                Column("Metric", "metric", 20),
                Column("Value", "value", 10),
                Column("Status", "status", 8),
                Column("Last 10 min", "trend", trend_width),
            ]
        self.set_columns(columns)
        rows = []
        for view in snapshot.services:
            readings = {r.name: r for r in view.report.readings} if view.report else {}
            for index, name in enumerate(metric_names(profile, view)):
                reading = readings.get(name)
                threshold = thresholds.get(name)
                cells = self._cells(
                    view, name, index, reading, threshold, snapshot, layout, trend_width
                )
                rows.append(Row(f"{view.kind}/{name}", tuple(cells)))
        self.set_rows(rows)

    def _cells(
        self,
        view: ServiceView,
        name: str,
        index: int,
        reading: Reading | None,
        threshold: MetricThreshold | None,
        snapshot: OverviewSnapshot,
        layout: Layout,
        trend_width: int,
    ) -> list[str | Text]:
        unit = threshold.unit if threshold else ""
        if reading is None or reading.verdict is None:
            word = "n/a" if view.report is not None else "…"
            status = Text(word, style="dim")
        else:
            status = state_text(self.app, reading.verdict.name)
        value = "-" if reading is None else format_value(reading.value, unit)
        verdict = reading.verdict.name if reading and reading.verdict else ""
        style = (
            state_style(self.app, verdict)
            if verdict not in ("", "OK")
            else theme_colour(self.app, "primary")
        )
        trend = snapshot.history.sparkline(
            history_key(view.kind, name), snapshot.taken_at, trend_width
        )
        cells: list[str | Text] = [
            Text(view.kind if index == 0 else "", style="bold"),
            name if layout.wide else short_metric_name(view.kind, name),
            value.rjust(10),
            status,
            Text(trend, style=style),
        ]
        if layout.wide:
            note = reading.note if reading else ""
            cells += [format_threshold(threshold), Text(note, style="dim")]
        return cells


def _instance_state(instance: InstanceStatus) -> Text:
    """``healthy``/``running`` for a running instance, its state in capitals otherwise."""
    if instance.state == "running":
        word = instance.health if instance.health in ("healthy", "unhealthy") else "running"
        return Text(word, style="bold" if word == "unhealthy" else "")
    return Text(instance.state.upper(), style="bold")


#: Replication states a person should look at.
_TROUBLE = {"not streaming", "not answering"}


class InstancesTable(FilterableTable):
    """Every instance: role, state, replication and lag, CPU and memory with sparklines."""

    def show(self, snapshot: OverviewSnapshot, layout: Layout) -> None:
        """Render ``snapshot`` at ``layout``."""
        now = _now(snapshot)
        wide = layout.wide
        trend = 8 if wide else 0
        if wide:
            fixed = [8, 20, 7, 9, 3, 6, 17, 14, 8 + trend + 1, 12 + trend + 1]
            instance_width = 20
        else:
            fixed = [8, 7, 13, 13, 5, 11]
            instance_width = _rest(layout, fixed, 12)
            fixed.insert(1, instance_width)
        columns = [Column("Service", "service", 8), Column("Instance", "instance", instance_width)]
        columns.append(Column("Role", "role", 7))
        if wide:
            columns += [
                Column("State", "state", 9),
                Column("Rst", "restarts", 3),
                Column("Uptime", "uptime", 6),
            ]
        columns += [
            Column("Replication", "replication", 17 if wide else 13),
            Column("Lag", "lag", 14 if wide else 13),
            Column("CPU", "cpu", 8 + trend + 1 if wide else 5),
            Column("Memory", "memory", 12 + trend + 1 if wide else 11),
        ]
        if wide:
            columns.append(Column("Detail", "detail", _rest(layout, fixed, 8)))
        self.set_columns(columns)
        rows = []
        for view in snapshot.services:
            if view.status is None:
                continue
            replication = snapshot.replication.get(view.kind, {})
            for instance in view.status.instances:
                row = replication.get(instance.name)
                usage = snapshot.usage.get(instance.name)
                role = (row.role if row and row.role else instance.role) or "-"
                cells: list[str | Text] = [
                    Text(view.kind, style="bold"),
                    middle_ellipsis(instance.name, instance_width),
                    role,
                ]
                if wide:
                    cells += [
                        _instance_state(instance),
                        str(instance.restarts),
                        _instance_uptime(instance, now),
                    ]
                cells += [
                    self._replication_cell(row),
                    lag_text(row),
                    self._usage_cell(snapshot, view.kind, instance.name, "cpu",
                                     cpu_text(usage) if wide else _short_cpu(usage), 8, trend),
                    self._usage_cell(snapshot, view.kind, instance.name, "memory",
                                     memory_text(usage), 12, trend),
                ]  # fmt: skip
                if wide:
                    detail = (row.reason if row and row.reason else "") or instance.detail
                    if not detail and usage is not None and usage.memory is None:
                        detail = usage.note
                    cells.append(Text(detail, style="dim"))
                rows.append(Row(f"{view.kind}/{instance.name}", tuple(cells)))
        self.set_rows(rows)

    def _replication_cell(self, row: InstanceReplication | None) -> Text:
        text = replication_text(row)
        if row is not None and row.state in _TROUBLE:
            return Text(text, style=state_style(self.app, "WARNING"))
        if row is not None and row.reason:  # a primary that has a sibling: split brain
            return Text(text, style=state_style(self.app, "CRITICAL"))
        return Text(text)

    def _usage_cell(
        self,
        snapshot: OverviewSnapshot,
        kind: ServiceKind,
        instance: str,
        measure: str,
        value: str,
        width: int,
        trend: int,
    ) -> Text:
        flagged = FLAG in value
        cell = Text(value.ljust(width) if trend else value)
        if flagged:
            cell.stylize(state_style(self.app, "WARNING"))
        if trend:
            line = snapshot.history.sparkline(
                instance_key(kind, instance, measure), snapshot.taken_at, trend
            )
            colour = (
                state_style(self.app, "WARNING") if flagged else theme_colour(self.app, "primary")
            )
            cell.append(" " + line, style=colour)
        return cell


def _short_cpu(usage: InstanceUsage | None) -> str:
    """CPU alone, for narrow layouts: ``45%``."""
    return "-" if usage is None or usage.cpu_percent is None else f"{usage.cpu_percent:.0f}%"
