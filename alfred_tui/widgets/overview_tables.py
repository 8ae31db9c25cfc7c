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

from alfred_tui.backends.base import InstanceStatus, ResourceAmounts, ServiceStatus
from alfred_tui.checks.output import format_threshold, format_value
from alfred_tui.config.models import MetricThreshold, Profile, ServiceKind
from alfred_tui.control.diagnostics import ServiceFlag
from alfred_tui.control.monitor import OverviewSnapshot, ServiceView, history_key
from alfred_tui.metrics import Reading
from alfred_tui.units import format_bytes, format_duration
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.header import middle_ellipsis
from alfred_tui.widgets.styles import state_style, state_text, theme_colour

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
    """``postgres_transaction_duration_seconds`` -> ``transaction_duration``."""
    short = name.removeprefix(f"{kind}_")
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
    worst = next(h for h in ("unhealthy", "starting", "unknown", "none", "healthy") if counts[h])
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


def status_cell(app: object, view: ServiceView, flag: ServiceFlag | None) -> Text:
    """The status word, and the runbook marker in the runbook verdict's colour."""
    cell = state_text(app, view.state)  # type: ignore[arg-type]
    if flag is not None and flag.flagged:
        cell.append(f" {MARKER}", style=state_style(app, flag.verdict))  # type: ignore[arg-type]
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


class InstancesTable(FilterableTable):
    """Every instance of every service: state, health, restarts, uptime, detail."""

    def show(self, snapshot: OverviewSnapshot, layout: Layout) -> None:
        """Render ``snapshot`` at ``layout``."""
        now = _now(snapshot)
        fixed = [8, 24, 8, 10, 9, 8, 7]
        self.set_columns(
            [
                Column("Service", "service", 8),
                Column("Instance", "instance", 24),
                Column("Role", "role", 8),
                Column("State", "state", 10),
                Column("Health", "health", 9),
                Column("Restarts", "restarts", 8),
                Column("Uptime", "uptime", 7),
                Column("Detail", "detail", _rest(layout, fixed, 10)),
            ]
        )
        rows = []
        for view in snapshot.services:
            if view.status is None:
                continue
            for instance in view.status.instances:
                state_word = instance.state.upper() if instance.state != "running" else "running"
                rows.append(
                    Row(
                        f"{view.kind}/{instance.name}",
                        (
                            Text(view.kind, style="bold"),
                            middle_ellipsis(instance.name, 24),
                            instance.role or "-",
                            Text(
                                state_word,
                                style="" if instance.state == "running" else "bold",
                            ),
                            instance.health,
                            str(instance.restarts),
                            _instance_uptime(instance, now),
                            Text(instance.detail, style="dim"),
                        ),
                    )
                )
        self.set_rows(rows)
