"""The Profile pane: the resolved profile, secrets masked, with where each field was set."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import Static

from alfred_tui.control.profile_view import profile_fields
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaneScreen
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row


def _source_text(session: Session) -> str:
    """Where the profile file is: ``built-in local.yaml``, or its path (relative when below)."""
    source = session.loaded.source
    if source.origin == "built-in":
        return f"built-in {source.path.name}"
    try:
        return str(source.path.relative_to(Path.cwd()))
    except ValueError:
        return str(source.path)


class ProfilePane(PaneScreen):
    """Every field of the profile with its value and its origin (file:line)."""

    pane_id = "profile"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="profile-source")
        yield FilterableTable(id="profile-fields")

    def load(self, session: Session) -> None:
        super().load(session)
        self.query_one("#profile-source", Static).update(
            Text.assemble(
                ("profile ", "dim"),
                (session.profile_name, "bold"),
                ("  from ", "dim"),
                _source_text(session),
                ("  - / filters, secrets are masked", "dim"),
                overflow="ellipsis",
                no_wrap=True,
            )
        )
        self._render_fields()

    def on_resize(self, event: events.Resize) -> None:
        self._render_fields()

    def _render_fields(self) -> None:
        if not self.is_mounted:
            return
        width = self.size.width or self.app.size.width
        table = self.query_one(FilterableTable)
        fields = profile_fields(self.session.loaded)
        longest = max((len(f.path) for f in fields), default=10)
        path_width = min(44 if width >= 120 else 34, longest)
        origin_width = 30 if width >= 120 else 0
        value_width = max(10, width - path_width - origin_width - 2 * 3 - 4)
        columns = [Column("Field", "field", path_width), Column("Value", "value", value_width)]
        if origin_width:
            columns.append(Column("Set in", "origin", origin_width))
        table.set_columns(columns)
        rows = []
        for field in fields:
            cells: list[str | Text] = [
                Text(field.path, overflow="ellipsis", no_wrap=True),
                Text(field.value, overflow="ellipsis", no_wrap=True),
            ]
            if origin_width:
                cells.append(Text(field.origin, style="dim", overflow="ellipsis", no_wrap=True))
            rows.append(Row(field.path, tuple(cells)))
        table.set_rows(rows)

    def action_refresh(self) -> None:
        self._render_fields()
