"""The Timeline pane: what happened, in order, newest first, for all three databases.

One list from the black box's recording and the operator journal: services
going down and coming back, verdicts crossing thresholds (with the value),
the engine's events (restarts, exits, OOM kills, scaling), runbook findings
appearing and clearing, error log lines (counted per minute when many), and
every operator action with who, where, the plan shown and the outcome. The
entry under the cursor is shown in full below the list; ``Enter`` goes to
the pane it concerns at that moment: a replay's cursor moves there, and the
live UI rewinds into its own recording (:mod:`alfred_tui.screens.rewind`).

It reads every few seconds while shown (never while hidden), in a worker;
``/`` filters (every word must match: ``redis action``), ``r`` reads now.
Its headless twin is ``alfred-tui timeline``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from alfred_tui.control.session import Session
from alfred_tui.recording.store import TimelineEntry
from alfred_tui.recording.timeline import TimelineView, timeline_source, when_text
from alfred_tui.screens.base import PaletteCommand, PaneScreen
from alfred_tui.screens.io import report, run_io
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.styles import state_style

#: Seconds between reads while the pane is shown (the recorder writes every refresh).
READ_SECONDS = 3.0
#: From this width on the severity gets a column of its own.
WIDE = 120

_SEVERITY_WORD = {"OK": "OK", "INFO": "INFO", "WARNING": "WARNING", "CRITICAL": "CRITICAL"}


class TimelineRead(Message):
    def __init__(self, generation: int, view: TimelineView) -> None:
        super().__init__()
        self.generation = generation
        self.view = view


def entry_keys(entries: Iterable[TimelineEntry]) -> list[str]:
    """Stable row keys: an action's id, else the moment, kind and title (numbered if repeated)."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    for entry in entries:
        key = entry.ref or f"{entry.at:.3f}|{entry.kind}|{entry.service}|{entry.title}"
        count = seen.get(key, 0)
        seen[key] = count + 1
        keys.append(key if not count else f"{key}#{count}")
    return keys


def _fixed_width(columns: list[Column], rows: list[Row]) -> int:
    """What the columns before "What" take, cell padding included (one cell each side)."""
    total = 0
    for index, column in enumerate(columns):
        cells = [len(str(row.cells[index])) for row in rows]
        total += max([len(column.label), *cells]) + 2
    return total


class TimelinePane(PaneScreen):
    """The list, the selected entry in full, and a jump to the pane it concerns."""

    pane_id = "timeline"

    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "enter",
            "jump",
            "Go to pane",
            id="timeline_jump",
            tooltip="Show the pane this entry concerns (at that moment in a replay)",
        ),
    ]

    DEFAULT_CSS = """
    TimelinePane #timeline-summary { height: auto; padding: 0 1; background: $boost; }
    TimelinePane #timeline { height: 1fr; min-height: 4; }
    TimelinePane #timeline-detail {
        height: auto; max-height: 40%; padding: 0 1; border-top: solid $panel-lighten-1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.view: TimelineView | None = None
        self.entries: dict[str, TimelineEntry] = {}
        self.problem = ""
        self._wake = asyncio.Event()

    def compose_body(self) -> ComposeResult:
        yield Static("Reading the timeline…", id="timeline-summary")
        yield FilterableTable(id="timeline")
        yield Static("", id="timeline-detail")

    def load(self, session: Session) -> None:
        super().load(session)
        self.view, self.entries, self.problem = None, {}, ""
        self._wake = asyncio.Event()
        run_io(
            self,
            lambda: self._poll_loop(session),
            context="timeline",
            timeout=None,
            group="poll",
            exclusive=True,
        )

    async def _poll_loop(self, session: Session) -> None:
        source = timeline_source(session)
        while True:
            await self.in_view.wait()
            try:
                async with asyncio.timeout(30):
                    view = await source.read()
            except Exception as exc:  # shown once, read again at the next round
                report(self, exc, "timeline")
            else:
                self.post_message(TimelineRead(session.generation, view))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), READ_SECONDS)

    def action_refresh(self) -> None:
        self._wake.set()

    def on_timeline_read(self, message: TimelineRead) -> None:
        if message.generation != self.session.generation:
            return
        self.view = message.view
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    # --- drawing --------------------------------------------------------------------------

    def _redraw(self) -> None:
        if not self.is_mounted or self.view is None:
            return
        view = self.view
        width = self.size.width or self.app.size.width
        wide = width >= WIDE
        keys = entry_keys(view.entries)
        self.entries = dict(zip(keys, view.entries, strict=True))
        reference = view.until or (view.entries[0].at if view.entries else None)
        columns = [
            Column("Time (UTC)", "at"),
            Column("Kind", "kind"),
            Column("Service", "service"),
        ]
        if wide:
            columns.append(Column("Severity", "severity"))
        rows = []
        titles: list[Text] = []
        for key, entry in self.entries.items():
            style = state_style(self.app, entry.severity) if entry.severity != "INFO" else ""
            cells: list[Any] = [
                when_text(entry.at, reference),
                entry.kind,
                entry.service or "-",
            ]
            if wide:
                cells.append(Text(_SEVERITY_WORD.get(entry.severity, entry.severity), style=style))
            titles.append(Text(entry.title, style=style if not wide else ""))
            cells.append(titles[-1])
            rows.append(Row(key, tuple(cells)))
        # The titles take what is left of the width and are cut there (the whole entry is
        # below the list): no sideways scrolling, no scroll bar eating a row at 80x24.
        room = max(20, width - _fixed_width(columns, rows) - 4)  # 4: a scroll bar and a margin
        columns.append(Column("What", "title", room))
        for title in titles:
            title.truncate(room, overflow="ellipsis")
        table = self.query_one(FilterableTable)
        table.set_columns(columns)
        table.set_rows(rows)
        self._render_summary()
        self._render_detail()

    def _render_summary(self) -> None:
        view = self.view
        assert view is not None
        text = Text()
        count = len(view.entries)
        text.append(f"{count:,} entr{'y' if count == 1 else 'ies'}", style="bold")
        if view.until is not None:
            moment = datetime.fromtimestamp(view.until, UTC).strftime("%H:%M:%S UTC")
            text.append(f" up to {moment}")
        text.append(f" · {view.source}", style="dim")
        self.query_one("#timeline-summary", Static).update(text)

    def selected(self) -> TimelineEntry | None:
        """The entry under the cursor."""
        key = self.query_one(FilterableTable).selected_key
        return self.entries.get(key) if key is not None else None

    def _render_detail(self) -> None:
        detail = self.query_one("#timeline-detail", Static)
        entry = self.selected()
        if entry is None:
            empty = not (self.view and self.view.entries)
            detail.update(
                Text(
                    "Nothing happened yet, or nothing was recorded: services going down, "
                    "verdicts, engine events, error lines and operator actions show here."
                    if empty
                    else "",
                    style="dim",
                )
            )
            return
        moment = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        text = Text()
        text.append(f"{entry.severity} ", style=state_style(self.app, entry.severity))
        text.append(f"{moment} UTC · {entry.kind}", style="bold")
        if entry.service:
            text.append(f" · {entry.service}")
        target = self._pane_title(entry.pane)
        if target:
            text.append(f" · Enter: {target}", style="dim")
        text.append("\n")
        text.append(entry.detail or entry.title)
        detail.update(text)

    def _pane_title(self, pane_id: str) -> str:
        spec = next((pane for pane in self.alfred.panes if pane.id == pane_id), None)
        return spec.title if spec is not None else ""

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_jump()

    # --- actions ------------------------------------------------------------------------

    def action_jump(self) -> None:
        """Show the pane the selected entry concerns, at its moment."""
        entry = self.selected()
        if entry is None:
            return
        self.alfred.show_moment(entry.pane or "overview", entry.at)

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Timeline: read now", "Read the recording again (r)", "refresh")
        entry = self.selected() if self.is_mounted else None
        if entry is not None and entry.pane:
            yield PaletteCommand(
                f"Timeline: go to {self._pane_title(entry.pane) or entry.pane}",
                f"{when_text(entry.at)} {entry.title[:60]}",
                "jump",
            )
