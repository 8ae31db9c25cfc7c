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

from alfred_tui.config.models import Profile
from alfred_tui.control.monitor import OverviewSnapshot, ServiceView
from alfred_tui.units import format_bytes, format_duration
from alfred_tui.widgets.styles import state_text


def _amounts(cpus: float | None, memory: int | None) -> str:
    cpu_text = "-" if cpus is None else f"{cpus:g}"
    memory_text = "-" if memory is None else format_bytes(memory)
    return f"cpus {cpu_text}, memory {memory_text}"


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
        view = self.view
        now = datetime.fromtimestamp(self.snapshot.taken_at, UTC)
        facts = Table(box=None, show_header=False, expand=True, pad_edge=False)
        facts.add_column(no_wrap=True, style="bold")
        facts.add_column(ratio=1, overflow="fold")
        facts.add_row("state", state_text(self.app, view.state))
        if view.reason:
            facts.add_row("reason", view.reason)
        status = view.status
        spec = self.profile.service(view.kind)
        if status is None:
            facts.add_row("deployment", self.snapshot.status_error or "not known yet")
        else:
            facts.add_row("replicas", f"{status.ready} ready of {status.desired} desired")
            facts.add_row("image", status.image or (spec.image if spec else "-"))
            facts.add_row("endpoints", ", ".join(status.endpoints) or "-")
            facts.add_row("limits", _amounts(status.limits.cpus, status.limits.memory))
            facts.add_row(
                "reservations", _amounts(status.reservations.cpus, status.reservations.memory)
            )
            uptime = status.uptime_seconds(now)
            facts.add_row("uptime", "-" if uptime is None else format_duration(uptime))
            facts.add_row("restarts", str(status.restarts))
            if status.note:
                facts.add_row("note", status.note)
        if view.report is not None:
            facts.add_row("probed at", view.report.address)
            facts.add_row("probe took", f"{view.report.duration_ms:.1f} ms")
            for key, value in _flatten("", view.report.details):
                facts.add_row(key, value)
        parts: list[Any] = [facts]
        if status is not None and status.instances:
            instances = Table(
                title="Instances", title_justify="left", box=None, expand=True, pad_edge=False
            )
            for column in ("Name", "Role", "State", "Health", "Restarts", "Started UTC", "Detail"):
                instances.add_column(column, overflow="fold")
            for instance in status.instances:
                started = (
                    instance.started_at.strftime("%m-%d %H:%M") if instance.started_at else "-"
                )
                instances.add_row(
                    instance.name,
                    instance.role or "-",
                    instance.state,
                    instance.health,
                    str(instance.restarts),
                    started,
                    instance.detail or "",
                )
            parts += [Text(""), instances]
        return Group(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
