"""The Keyspace pane: Redis databases, key groups, biggest keys, queues and pub/sub channels.

The databases table stays on top; under it four sub-views (``[`` ``]``): key
groups (keys, memory, type mix, TTL distribution), the 20 biggest keys, the
queue lengths and the pub/sub channels with their subscribers. All come from
one analysis (``alfred-tui keyspace``'s) run in a cancellable worker with a
progress bar: when the pane is first shown, on ``r``, and when ``m`` switches
between an exact scan and a sample (sampled figures carry their ``±`` bound).
A scan is never run on a timer: it reads every key.

Esc cancels a scan; so does leaving the pane (it rescans when shown again)
and switching target. The scan yields to the UI at every Redis call, so keys
are handled while it runs. A Redis that does not answer is shown DOWN with
its reason and retried with backoff while the pane is shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static
from textual.worker import Worker, WorkerState

from alfred_tui.backends.base import Progress
from alfred_tui.control.keyspace_view import (
    DEFAULT_SAMPLE_PCT,
    SCAN_TIMEOUT,
    KeyspaceView,
    Mode,
    scanner_for,
)
from alfred_tui.control.polling import Outcome, Reader
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaletteCommand
from alfred_tui.screens.data_pane import DataPane, DataProgressed, DataRead
from alfred_tui.screens.io import ENDED, run_io
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.keyspace_tables import (
    BigKeysTable,
    ChannelsTable,
    DatabasesTable,
    GroupDetail,
    GroupsTable,
    QueuesTable,
    group_detail,
    group_key,
)
from alfred_tui.widgets.source_line import SourceLine
from alfred_tui.widgets.styles import theme_colour
from alfred_tui.widgets.subviews import SubviewBar

PROGRESS_EVERY = 0.1
"""Seconds between two progress redraws (a scan reports after every short script call)."""

MODE_WORDS: dict[Mode, str] = {"auto": "auto", "exact": "exact", "sample": "sampled"}


class KeyspaceNotes(Static):
    """What the analysis noticed (a keyspace that changed during the scan, no scripts)."""

    DEFAULT_CSS = """
    KeyspaceNotes { height: auto; max-height: 3; padding: 0 1; }
    KeyspaceNotes.-empty { display: none; }
    """


class KeyspacePane(DataPane):
    """One keyspace analysis at a time, cancellable, exact or sampled."""

    pane_id = "keyspace"
    STACK_AT = 40

    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "m",
            "toggle_mode",
            "Exact/sampled",
            id="keyspace_mode",
            tooltip="Scan again, exactly (every key) or sampled (about 1%, with error bounds)",
        ),
        Binding(
            "escape",
            "cancel_scan",
            "Cancel scan",
            id="keyspace_cancel",
            tooltip="Stop the scan in progress",
        ),
        Binding("r", "refresh", "Rescan", id="refresh", tooltip="Scan again now"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: KeyspaceView | None = None
        self.outcome: Outcome[KeyspaceView] | None = None
        self.mode: Mode = "auto"
        self.sample_pct = DEFAULT_SAMPLE_PCT
        self.cancelled = ""
        """Why the last scan stopped before its end (empty: it did not)."""
        self._scan: Worker[Any] | None = None
        self._scan_started = 0.0

    def compose_body(self) -> ComposeResult:
        yield SourceLine(id="source")
        yield ActionProgress(id="progress")
        yield DatabasesTable(id="databases")
        yield SubviewBar(
            [
                ("groups-view", "Key groups"),
                ("top-view", "Biggest keys"),
                ("queues-view", "Queues"),
                ("pubsub-view", "Pub/sub"),
            ]
        )
        with Vertical(id="subviews"):
            with Vertical(id="groups-view", classes="subview -current"):
                yield Label("Key groups", classes="subview-title")
                yield GroupsTable(id="groups")
                yield GroupDetail("", id="group-detail")
            with Vertical(id="top-view", classes="subview"):
                yield Label("Biggest keys", classes="subview-title")
                yield BigKeysTable(id="top-keys")
            with Vertical(id="queues-view", classes="subview"):
                yield Label("Queues", classes="subview-title")
                yield Static("", id="queues-note", classes="subview-note")
                yield QueuesTable(id="queues")
            with Vertical(id="pubsub-view", classes="subview"):
                yield Label("Pub/sub", classes="subview-title")
                yield Static("", id="pubsub-note", classes="subview-note")
                yield ChannelsTable(id="channels")
        yield KeyspaceNotes("", id="keyspace-notes", classes="-empty")

    # --- lifecycle: scan when shown, cancel when left ---------------------------------

    def on_mount(self) -> None:
        # (PaneScreen.on_mount runs too, after this one: it calls load().)
        self.alfred.mode_change_signal.subscribe(self, self._pane_switched)

    def load(self, session: Session) -> None:
        super().load(session)  # cancels the previous target's scan
        self.forget_data()
        self.cancelled = ""
        self._scan = None
        self._redraw()
        if self.in_view.is_set():
            self.call_after_refresh(self._scan_if_needed, session)

    def _pane_switched(self, mode: str) -> None:
        if mode == self.pane_id:
            self._scan_if_needed(self.session)
        elif self.scanning:
            self.cancel_scan("left the pane")

    def _scan_if_needed(self, session: Session) -> None:
        if session is not self.session or self.scanning:
            return
        if self.view is None or self.cancelled or (self.outcome and not self.outcome.ok):
            self.start_scan()

    @property
    def scanning(self) -> bool:
        """Whether a scan is running."""
        return self._scan is not None and self._scan.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        )

    # --- scanning ---------------------------------------------------------------------

    def start_scan(self) -> None:
        """Scan now in the current mode (a scan in progress is cancelled first)."""
        session = self.session
        generation = session.generation
        mode, pct = self.mode, self.sample_pct
        scanner = scanner_for(session)
        last = [0.0]

        def progress(update: Progress) -> None:
            now = time.monotonic()
            done = update.total is not None and update.current == update.total
            if now - last[0] >= PROGRESS_EVERY or done:
                last[0] = now
                self.post_message(DataProgressed(generation, update))

        reader: Reader[KeyspaceView] = Reader(
            lambda: scanner.scan(mode, pct, progress),
            timeout=SCAN_TIMEOUT,
            base=session.refresh_seconds,
            cap=session.backoff_cap,
            clock=session.clock,
        )

        async def work() -> None:
            while True:  # until a scan works; a down Redis is retried with backoff
                outcome = await reader.read()
                self.post_message(DataRead(generation, outcome))
                if outcome.ok:
                    return
                await asyncio.sleep(reader.wait_after(outcome, 0))

        self.cancelled = ""
        self._scan_started = time.monotonic()
        self.query_one(ActionProgress).start(f"Scan ({MODE_WORDS[mode]})")
        self._scan = run_io(
            self, work, context="keyspace scan", timeout=None, group="scan", exclusive=True
        )
        self.refresh_bindings()
        self._render_source()

    def cancel_scan(self, why: str) -> None:
        """Stop the scan in progress; the figures of the last complete one stay."""
        if not self.scanning:
            return
        self.cancelled = why
        self.workers.cancel_group(self, "scan")
        self.query_one(ActionProgress).stop()
        self._render_source()

    def action_cancel_scan(self) -> None:
        self.cancel_scan("cancelled with Esc")

    def action_refresh(self) -> None:
        """Scan again now."""
        self.start_scan()

    def action_toggle_mode(self) -> None:
        """Switch between an exact scan and a sample, and scan."""
        if self.mode == "auto":
            last = self.view.mode if self.view else "sampled"
            self.mode = "sample" if last == "exact" else "exact"
        else:
            self.mode = "sample" if self.mode == "exact" else "exact"
        self.start_scan()

    def action_scan_mode(self, mode: str) -> None:
        """Scan in ``mode`` (``exact``, ``sample`` or ``auto``): the palette's entries."""
        if mode in MODE_WORDS:
            self.mode = mode
            self.start_scan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_scan" and not self.scanning:
            return False  # Esc means nothing without a scan: keep it out of the footer
        return super().check_action(action, parameters)

    def on_data_progressed(self, message: DataProgressed) -> None:
        if message.generation != self.session.generation or not self.scanning:
            return
        update = message.progress
        step = update.step.replace(": scan", "").replace(": sample", " sample")
        if update.total:
            done = update.current or 0
            step = f"{step} {done:,} of {update.total:,} ({done / update.total:.0%})"
        self.query_one(ActionProgress).show(step, update.current, update.total)

    def on_data_read(self, message: DataRead[KeyspaceView]) -> None:
        if self.keep_outcome(message.generation, message.outcome):
            self._redraw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._scan:
            return
        if event.state in ENDED:
            self.query_one(ActionProgress).stop()
            self.refresh_bindings()
            self._render_source()

    # --- rendering ----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        self._render_source()
        view = self.view
        self.show_state(view is not None, self.outcome is None or self.outcome.ok)
        width = self.size.width or self.app.size.width
        if view is None:
            return
        self.query_one(DatabasesTable).show(view, width)
        self.query_one(GroupsTable).show(view, width)
        self.query_one(BigKeysTable).show(view, width)
        self.query_one(QueuesTable).show(view, width)
        self.query_one(ChannelsTable).show(view, width)
        self._render_group_detail()
        self._render_notes(view)
        self.call_after_refresh(self.relayout)

    def _render_source(self) -> None:
        line = self.query_one(SourceLine)
        outcome = self.outcome
        if outcome is not None and not outcome.ok:
            line.show_down(
                "Redis DOWN" if outcome.down else outcome.title,
                outcome.error,
                outcome.retry_in,
                self._ok_at,
            )
            return
        view = self.view
        if view is None:
            if self.cancelled:
                line.show_reading(f"nothing yet: scan {self.cancelled}; r scans")
            elif self.scanning:
                line.show_reading("the keyspace", "Esc cancels")
            else:
                line.show_reading("nothing yet; r scans")
            return
        parts: list[str | Text] = []
        if self.cancelled:
            warning = theme_colour(self.app, "warning")
            parts.append(Text(f"rescan {self.cancelled}", style=f"bold {warning}"))
        parts += [
            Text.assemble(("Redis ", "dim"), view.redis_version, f" at {view.address}"),
            f"{view.used_memory} used",
            view.how,
        ]
        line.show_ok(parts, self._ok_at or 0.0)

    def _render_notes(self, view: KeyspaceView) -> None:
        queues = self.query_one("#queues-note", Static)
        if not view.queues:
            queues.update(
                Text("no queues: no list, sorted set or stream under the profile's queue prefix")
            )
        elif view.queues_total > len(view.queues):
            queues.update(Text(f"the longest {len(view.queues):,} of {view.queues_total:,} queues"))
        else:
            total = view.queues_total
            queues.update(Text(f"{total} queue{'s' if total != 1 else ''}, longest first"))
        where = f" (shown with db {view.pubsub_db})" if view.pubsub_db is not None else ""
        self.query_one("#pubsub-note", Static).update(
            Text(
                f"{view.channels_total} channel{'s' if view.channels_total != 1 else ''} with "
                f"subscribers, {view.patterns} pattern subscription"
                f"{'s' if view.patterns != 1 else ''}; channels are server-wide{where}"
            )
        )
        notes = self.query_one(KeyspaceNotes)
        notes.set_class(not view.notes, "-empty")
        notes.update(
            Text("\n".join(view.notes), style=theme_colour(self.app, "warning"), overflow="fold")
        )

    @on(DataTable.RowHighlighted, "#groups")
    def _group_highlighted(self) -> None:
        self._render_group_detail()

    def _render_group_detail(self) -> None:
        view = self.view
        if view is None:
            return
        key = self.query_one(GroupsTable).selected_key
        selected = next((g for g in view.groups if group_key(g) == key), None)
        if selected is None and view.groups:
            selected = view.groups[0]
        self.query_one(GroupDetail).update(group_detail(selected))

    # --- palette --------------------------------------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Rescan the keyspace", "Read Redis again now (r)", "refresh")
        yield PaletteCommand("Exact keyspace scan", "Read every key", "scan_mode('exact')")
        yield PaletteCommand(
            "Sampled keyspace scan",
            "About 1% of the keys, with error bounds",
            "scan_mode('sample')",
        )
        yield PaletteCommand(
            "Automatic keyspace scan", "Exact up to 200,000 keys, else sampled", "scan_mode('auto')"
        )
        if self.scanning:
            yield PaletteCommand("Cancel the keyspace scan", "Stop it (Esc)", "cancel_scan")
