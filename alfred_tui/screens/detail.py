"""Enter on a service: everything known about it, for when the table is too narrow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from alfred_tui.backends.base import ServiceStatus
from alfred_tui.checks.instances import InstanceReplication
from alfred_tui.config.models import Profile
from alfred_tui.control.instances import (
    cpu_text,
    lag_text,
    memory_text,
    near_limit,
    replication_text,
)
from alfred_tui.control.monitor import OverviewSnapshot, ServiceView, instance_key
from alfred_tui.units import format_bytes, format_duration
from alfred_tui.widgets.overview_tables import WIDE
from alfred_tui.widgets.replication_view import replication_sections
from alfred_tui.widgets.styles import state_style, state_text, theme_colour


def _amounts(cpus: float | None, memory: int | None) -> str:
    cpu_text = "-" if cpus is None else f"{cpus:g}"
    memory_text = "-" if memory is None else format_bytes(memory)
    return f"cpus {cpu_text}, memory {memory_text}"


def _facts_table() -> Table:
    facts = Table(box=None, show_header=False, expand=True, pad_edge=False)
    facts.add_column(no_wrap=True, style="bold")
    facts.add_column(ratio=1, overflow="fold")
    return facts


def _plain_details(details: dict[str, Any]) -> dict[str, Any]:
    """The probe's details without the views drawn as tables of their own."""
    return {key: value for key, value in details.items() if key not in ("replication", "cluster")}


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), item)
        return rows
    if isinstance(value, list):
        return [(prefix, ", ".join(str(v) for v in value) or "-")]
    return [(prefix, str(value))]


class ServiceDetailScreen(ModalScreen[None]):
    """One service in full: deployment, instances, health details."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape,q,enter", "close", "Close", id="detail_close")]

    def __init__(self, view: ServiceView, snapshot: OverviewSnapshot, profile: Profile) -> None:
        super().__init__()
        self.view = view
        self.snapshot = snapshot
        self.profile = profile

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog detail"):
            yield Label(Text(f"{self.view.kind}  (Esc closes)"), classes="dialog-title")
            with VerticalScroll():
                yield Static(self.content())

    def content(self) -> Group:
        """The facts first, then each instance (replication, usage), then the details."""
        view = self.view
        now = datetime.fromtimestamp(self.snapshot.taken_at, UTC)
        facts = _facts_table()
        facts.add_row("state", state_text(self.app, view.state))
        if view.reason:
            facts.add_row("reason", view.reason)
        status = view.status
        spec = self.profile.service(view.kind)
        if status is None:
            facts.add_row("deployment", self.snapshot.status_error or "not known yet")
        else:
            facts.add_row("replicas", f"{status.ready} ready of {status.desired} desired")
            facts.add_row("endpoints", ", ".join(status.endpoints) or "-")
            facts.add_row("limits", _amounts(status.limits.cpus, status.limits.memory))
        parts: list[Any] = [facts]
        if status is not None and status.instances:
            parts += [Text(""), self._instances(status)]
        parts += replication_sections(view, wide=self.app.size.width >= WIDE)
        more = _facts_table()
        if status is not None:
            more.add_row("image", status.image or (spec.image if spec else "-"))
            more.add_row(
                "reservations", _amounts(status.reservations.cpus, status.reservations.memory)
            )
            uptime = status.uptime_seconds(now)
            more.add_row("uptime", "-" if uptime is None else format_duration(uptime))
            more.add_row("restarts", str(status.restarts))
            if status.note:
                more.add_row("note", status.note)
        if view.report is not None:
            more.add_row("probed at", view.report.address)
            more.add_row("probe took", f"{view.report.duration_ms:.1f} ms")
            for key, value in _flatten("", _plain_details(view.report.details)):
                more.add_row(key, value)
        if self.snapshot.instances_error:
            more.add_row("instances", self.snapshot.instances_error)
        parts += [Text(""), more]
        return Group(*parts)

    def _instances(self, status: ServiceStatus) -> Text:
        """Each instance in two lines: replication and lag, then CPU and memory with their
        last ten minutes (and a third with why it does not stream, when it does not)."""
        snapshot = self.snapshot
        rows = snapshot.replication.get(self.view.kind, {})
        text = Text("Instances (CPU and memory: now, then the last 10 min)\n", style="italic")
        for instance in status.instances:
            row = rows.get(instance.name)
            usage = snapshot.usage.get(instance.name)
            state = instance.state if instance.state != "running" else instance.health
            text.append(instance.name, style="bold")
            text.append(f"  {replication_text(row)}", style=self._replication_style(row))
            lag = lag_text(row)
            if lag != "-":
                text.append(f", lag {lag}")
            text.append(f"  {state}, {instance.restarts} restart(s)\n")
            text.append(f"  CPU {cpu_text(usage)} ")
            trend_style = theme_colour(self.app, "primary")
            text.append(self._trend(instance.name, "cpu"), style=trend_style)
            memory_style = (
                state_style(self.app, "WARNING") if usage is not None and near_limit(usage) else ""
            )
            text.append(f"  memory {memory_text(usage)} ", style=memory_style)
            text.append(self._trend(instance.name, "memory"), style=memory_style or trend_style)
            text.append("\n")
            why = (row.reason if row else "") or instance.detail
            if usage is not None and usage.note and usage.memory is None:
                why = why or usage.note
            if why:
                text.append(f"  {why}\n", style="dim")
        text.rstrip()
        return text

    def _replication_style(self, row: InstanceReplication | None) -> str:
        if row is not None and not row.healthy:
            return state_style(self.app, "WARNING")
        return ""

    def _trend(self, instance: str, measure: str) -> str:
        return self.snapshot.history.sparkline(
            instance_key(self.view.kind, instance, measure), self.snapshot.taken_at, 10
        ).rstrip()

    def action_close(self) -> None:
        self.dismiss(None)
