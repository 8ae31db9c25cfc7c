"""In a replay, the panes a recording has nothing for: same key, one line saying why.

A recording holds what the Overview, Logs, Activity, Keyspace, Collections,
Profile and Timeline panes read. The others (Troubleshoot, Migrations,
Backups, Audit) would have to ask a live server or the backup catalog, and
a replay asks nothing: their key stays where it is, and the pane says so
rather than showing today's data as if it were then.
"""

from __future__ import annotations

from functools import cache

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from alfred_tui.screens.base import PaneScreen


class NotRecordedPane(PaneScreen):
    """One line: this pane is not part of a recording, and where to look instead."""

    DEFAULT_CSS = """
    NotRecordedPane #not-recorded { padding: 1 2; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static(id="not-recorded")

    def on_mount(self) -> None:
        text = Text()
        text.append(f"{self.pane_title} is not part of a recording.", style="bold")
        text.append(
            " A replay asks no server: it shows what the Overview, Logs, Activity, Keyspace, "
            "Collections and Profile panes read at the moment under the cursor, and the "
            "Timeline (runbook findings and operator actions included)."
        )
        self.query_one("#not-recorded", Static).update(text)


@cache
def not_recorded_pane(pane_id: str) -> type[PaneScreen]:
    """A :class:`NotRecordedPane` class for the pane ``pane_id`` (one per pane: a mode each)."""
    return type(f"NotRecorded_{pane_id}", (NotRecordedPane,), {"pane_id": pane_id})
