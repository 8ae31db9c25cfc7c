"""The Activity pane: PostgreSQL sessions and who blocks whom, with cancel and terminate.

What pg_activity shows, inside alfred-tui: every client session with its
query, state, wait event and duration, ordered by the key ``s`` cycles
through (``S`` backwards), filtered with ``/``; idle sessions hidden or
shown with ``i``; and the blocking tree from ``pg_blocking_pids()`` under it,
a blocker above the sessions waiting for it. ``C`` cancels the selected
session's query, ``K`` terminates it: the action says exactly which session
and what happens to it, a dialog asks, the journal keeps a copy of what the
session was doing. Both are absent in a read-only session.

It refreshes every ``ui.refresh_seconds`` while shown and stops while
hidden. A PostgreSQL that does not answer is shown as DOWN with the reason,
and retried with backoff (``r`` retries now).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from alfred_tui.control.activity import Activity, ActivityView, PgSession, next_sort, view_of
from alfred_tui.control.backoff import Backoff
from alfred_tui.control.polling import NotRecorded
from alfred_tui.control.remedy_plans import outcome_message, outcome_plan
from alfred_tui.control.session import Session
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact
from alfred_tui.screens.base import PaletteCommand, PaneScreen
from alfred_tui.screens.io import run_io
from alfred_tui.screens.troubleshoot_dialogs import PlanDialog, SessionDetailScreen
from alfred_tui.widgets.activity_tables import TREE_KEY, BlockingTable, SessionsTable
from alfred_tui.widgets.styles import state_style

#: The longest one reading may take (the client's own timeouts come first).
READ_TIMEOUT = 15.0

_VERBS = {"cancel": "Cancel the query of", "terminate": "Terminate"}


class ActivityRead(Message):
    def __init__(self, generation: int, activity: Activity) -> None:
        super().__init__()
        self.generation = generation
        self.activity = activity


class ActivityFailed(Message):
    def __init__(self, generation: int, reason: str, retry_in: float, label: str) -> None:
        super().__init__()
        self.generation = generation
        self.reason = reason
        self.retry_in = retry_in
        self.label = label
        """``PostgreSQL DOWN``, or ``NOT RECORDED`` when a replay has no reading then."""


class SignalPlanned(Message):
    def __init__(self, generation: int, signal: str, pid: int, outcome: Any) -> None:
        super().__init__()
        self.generation = generation
        self.signal = signal
        self.pid = pid
        self.outcome = outcome


class SignalSent(Message):
    def __init__(self, generation: int, signal: str, outcome: Any) -> None:
        super().__init__()
        self.generation = generation
        self.signal = signal
        self.outcome = outcome


def _label(exc: BaseException) -> str:
    return "NOT RECORDED" if isinstance(exc, NotRecorded) else "PostgreSQL DOWN"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AlfredError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return f"no answer within {READ_TIMEOUT:g} s"
    return redact(f"{type(exc).__name__}: {exc}")[:200]


class ActivityPane(PaneScreen):
    """Sessions, the blocking tree; cancel and terminate."""

    pane_id = "activity"
    MUTATING = frozenset({"cancel_query", "terminate"})

    BINDINGS: ClassVar[list[Any]] = [
        Binding("s", "sort(1)", "Sort", id="activity_sort", tooltip="Order by the next column"),
        Binding(
            "S",
            "sort(-1)",
            "Sort back",
            id="activity_sort_back",
            show=False,
            tooltip="Order by the previous column",
        ),
        Binding("i", "toggle_idle", "Idle", id="activity_idle", tooltip="Show or hide idle"),
        Binding(
            "C",
            "cancel_query",
            "Cancel query",
            id="cancel_query",
            tooltip="Stop the selected session's query; it stays connected (asks first)",
        ),
        Binding(
            "K",
            "terminate",
            "Terminate",
            id="terminate",
            tooltip="Disconnect the selected session; its transaction rolls back (asks first)",
        ),
        Binding(
            "enter",
            "session_details",
            "Details",
            id="session_details",
            show=False,
            tooltip="The selected session in full (whole query)",
        ),
    ]

    DEFAULT_CSS = """
    ActivityPane #activity-summary { height: auto; padding: 0 1; background: $boost; }
    ActivityPane #sessions { height: 1fr; min-height: 4; }
    ActivityPane #blocking-title { height: auto; padding: 0 1; border-top: solid $panel-lighten-1; }
    ActivityPane #blocking { height: auto; max-height: 40%; }
    ActivityPane #blocking.-empty { display: none; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.sort = "duration"
        self.include_idle = True
        self.activity: Activity | None = None
        self.view: ActivityView | None = None
        self.down: str = ""
        """Why the last reading failed (empty while PostgreSQL answers)."""
        self.down_label = "PostgreSQL DOWN"
        self._retry_at = 0.0
        self._wake = asyncio.Event()
        self._backoff = Backoff(2.0, 30.0)

    def compose_body(self) -> ComposeResult:
        yield Static("", id="activity-summary")
        yield SessionsTable(id="sessions")
        yield Static("", id="blocking-title")
        yield BlockingTable(id="blocking", classes="-empty")

    def on_mount(self) -> None:
        # (PaneScreen.on_mount runs too.) The countdown to the next retry keeps moving.
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.down and self.is_mounted:
            self._render_summary()

    # --- loading and polling ----------------------------------------------------

    def load(self, session: Session) -> None:
        super().load(session)
        self.activity, self.view, self.down = None, None, ""
        self._wake = asyncio.Event()
        self._backoff = Backoff(session.refresh_seconds, session.backoff_cap)
        self._redraw()
        if session.profile.postgres is None:
            self.query_one("#activity-summary", Static).update(
                Text(f"Profile {session.profile_name} has no PostgreSQL: no sessions to show.")
            )
            return
        run_io(
            self,
            lambda: self._poll_loop(session),
            context="activity",
            timeout=None,
            group="poll",
            exclusive=True,
        )

    async def _poll_loop(self, session: Session) -> None:
        diagnostics = session.troubleshoot
        while True:
            await self.in_view.wait()
            try:
                async with asyncio.timeout(READ_TIMEOUT):
                    activity = await diagnostics.activity()
            except Exception as exc:  # shown in the pane, retried with backoff
                wait = self._backoff.failed(time.monotonic())
                failed = ActivityFailed(session.generation, _reason(exc), wait, _label(exc))
                self.post_message(failed)
            else:
                self._backoff.succeeded()
                wait = session.refresh_seconds
                self.post_message(ActivityRead(session.generation, activity))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def on_activity_read(self, message: ActivityRead) -> None:
        if message.generation != self.session.generation:
            return
        self.activity, self.down = message.activity, ""
        self._redraw()

    def on_activity_failed(self, message: ActivityFailed) -> None:
        if message.generation != self.session.generation:
            return
        self.down, self.down_label = message.reason, message.label
        self._retry_at = time.monotonic() + message.retry_in
        self._render_summary()

    def action_refresh(self) -> None:
        self._backoff.succeeded()
        self._wake.set()

    # --- rendering --------------------------------------------------------------

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        width = self.size.width or self.app.size.width
        if self.activity is not None:
            self.view = view_of(self.activity, self.sort, self.include_idle)
            self.query_one(SessionsTable).show(self.view, width)
            blocking = self.query_one(BlockingTable)
            blocking.show(self.view, width)
            blocking.set_class(not self.view.tree, "-empty")
            # Its rows and header, up to the CSS max-height (a DataTable's auto height
            # is not recomputed when rows arrive after the first layout).
            blocking.styles.height = len(self.view.tree) + 1
        self._render_summary()
        self._render_blocking_title()

    def _render_summary(self) -> None:
        summary = self.query_one("#activity-summary", Static)
        text = Text(overflow="fold")
        if self.down:
            retry = max(0.0, self._retry_at - time.monotonic())
            text.append(f"{self.down_label}: ", style=state_style(self.app, "DOWN"))
            text.append(f"{self.down} - retry in {retry:.0f} s (r retries now)")
            if self.view is not None:
                text.append("\nthe sessions below are from the last reading", style="dim")
        elif self.view is None:
            text.append("Reading pg_stat_activity…", style="italic")
        else:
            view = self.view
            activity = view.activity
            text.append(f"{view.used} of {activity.max_connections} connections", style="bold")
            text.append(f" ({activity.reserved_connections} for superusers)", style="dim")
            if view.blocked:
                text.append(" · ")
                text.append(
                    f"{view.blocked} waiting on a lock", style=state_style(self.app, "WARNING")
                )
            idle_tx = sum(1 for s in view.sessions if s.idle_in_transaction)
            if idle_tx:
                text.append(" · ")
                text.append(
                    f"{idle_tx} idle in transaction", style=state_style(self.app, "WARNING")
                )
            text.append(f" · sort {self.sort} (s)", style="dim")
            text.append(
                " · idle shown (i)" if self.include_idle else " · idle hidden (i)", style="dim"
            )
        summary.update(text)

    def _render_blocking_title(self) -> None:
        title = self.query_one("#blocking-title", Static)
        if self.view is None or not self.view.tree:
            title.update(Text("Blocking: no session waits for another one.", style="dim"))
        else:
            title.update(
                Text.assemble(
                    ("Blocking tree", "bold"),
                    ("  a session above holds what the sessions under it wait for", "dim"),
                )
            )

    # --- sort and idle ------------------------------------------------------------

    def action_sort(self, step: int = 1) -> None:
        self.sort = next_sort(self.sort, step)
        self._redraw()

    def action_toggle_idle(self) -> None:
        self.include_idle = not self.include_idle
        self._redraw()

    # --- selection ----------------------------------------------------------------

    @property
    def selected_pid(self) -> int | None:
        """The session under the cursor of the focused table (the sessions table by default)."""
        tables: list[Any] = [self.query_one(SessionsTable), self.query_one(BlockingTable)]
        focused = next((t for t in tables if t.has_focus), tables[0])
        key = focused.selected_key
        if key is None:
            return None
        return int(key.removeprefix(TREE_KEY))

    def _selected_session(self) -> PgSession | None:
        pid = self.selected_pid
        if pid is None or self.view is None:
            return None
        return self.view.session(pid)

    def action_session_details(self) -> None:
        session = self._selected_session()
        if session is not None:
            self.app.push_screen(SessionDetailScreen(session))

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_session_details()

    # --- palette --------------------------------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Refresh sessions now", "Read pg_stat_activity now", "refresh")
        yield PaletteCommand("Sort sessions by the next column", f"now: {self.sort}", "sort(1)")
        yield PaletteCommand(
            "Hide idle sessions" if self.include_idle else "Show idle sessions",
            "(i)",
            "toggle_idle",
        )
        session = self._selected_session()
        if session is not None:
            yield PaletteCommand(
                f"Terminate session {session.pid}…", session.describe(), "terminate", True
            )
            if session.state == "active":
                yield PaletteCommand(
                    f"Cancel the query of session {session.pid}…",
                    session.describe(),
                    "cancel_query",
                    True,
                )

    def why_not(self, action: str) -> str | None:
        if action in self.MUTATING and self.session.profile.postgres is None:
            return f"profile {self.session.profile_name} has no PostgreSQL"
        return None

    # --- cancel and terminate ---------------------------------------------------------

    def action_cancel_query(self) -> None:
        self._signal("cancel")

    def action_terminate(self) -> None:
        self._signal("terminate")

    def _signal(self, signal: str) -> None:
        action = "cancel_query" if signal == "cancel" else "terminate"
        if self.blocked(action):
            return
        pid = self.selected_pid
        if pid is None:
            self.notify("select a session first (arrows)", title="Activity", markup=False)
            return
        session = self.session

        async def work() -> None:
            outcome = await session.troubleshoot.signal([pid], signal, confirm=False)
            self.post_message(SignalPlanned(session.generation, signal, pid, outcome))

        run_io(self, work, context=f"plan: {signal} pid {pid}", timeout=30, group="signal")

    def on_signal_planned(self, message: SignalPlanned) -> None:
        if message.generation != self.session.generation:
            return
        title = f"{_VERBS[message.signal]} session {message.pid}"
        plan = outcome_plan(message.outcome, title)

        def decided(confirmed: bool | None) -> None:
            if confirmed and message.generation == self.session.generation:
                self._send(message.signal, message.pid)

        self.app.push_screen(PlanDialog(plan), decided)

    def _send(self, signal: str, pid: int) -> None:
        if self.blocked("cancel_query" if signal == "cancel" else "terminate"):
            return
        session = self.session

        async def work() -> None:
            outcome = await session.troubleshoot.signal([pid], signal, confirm=True)
            self.post_message(SignalSent(session.generation, signal, outcome))

        run_io(self, work, context=f"{signal} pid {pid}", timeout=30, group="signal")

    def on_signal_sent(self, message: SignalSent) -> None:
        if message.generation != self.session.generation:
            return
        self.notify(
            outcome_message(message.outcome),
            title="Query cancelled" if message.signal == "cancel" else "Session terminated",
            timeout=10,
            markup=False,
        )
        self.action_refresh()
