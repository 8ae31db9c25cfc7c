"""The Logs pane: every service's log lines merged by time, filtered, searched, paused, saved.

Data path (the fast one): a worker runs :class:`~alfred_tui.control.log_feed.LogFeed`
over the backend's followed stream and hands each record to a
:class:`~alfred_tui.control.log_buffer.LogBuffer` (level parsed, display
string made, kept within ``logs.max_lines``). Nothing is drawn per record: a
timer every :data:`FLUSH_SECONDS` takes what the filter let through and
writes it to the view in one ``write_lines`` call, so drawing is coalesced
however fast lines come (measured in ``benchmarks/logs_ingest.py``).

The stream keeps following while the pane is hidden (a quiet stream costs
nothing, and lines arriving meanwhile are kept, within the bound); only
drawing waits until the pane is shown again. A failed or ended stream is
shown under the view and retried with backoff (``r`` retries now); the
service-status check (``backend.status()``) says which services are not
running, so silence is never mistaken for calm.

Why one module of this size: the pane's keys, filters, search and pause act
on one buffer and one follower; its widgets (log_lines, log_bars), buffer,
search and saving are already modules of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from alfred_tui.backends.capabilities import Capability
from alfred_tui.control.log_buffer import LogBuffer
from alfred_tui.control.log_feed import FeedState, LogFeed, quiet_services
from alfred_tui.control.log_save import TargetExists, default_path, resolve, save_lines
from alfred_tui.control.log_search import (
    SearchError,
    compile_search,
    count_lines,
    find_line,
    rank,
)
from alfred_tui.control.session import Session
from alfred_tui.loglevels import Level
from alfred_tui.screens.base import PaletteCommand, PaneScreen
from alfred_tui.screens.io import run_io
from alfred_tui.screens.log_dialogs import SaveLogDialog, SaveRequest, ServicesDialog
from alfred_tui.widgets.log_bars import LogControls, LogEmpty, LogProblem, LogStatus
from alfred_tui.widgets.log_lines import LogLines

#: How often new lines are written to the view (one ``write_lines`` per tick).
FLUSH_SECONDS = 0.05
#: How often the bars are redrawn (counts, newest time, retry countdown).
BARS_SECONDS = 0.25
#: Longest wait for the backend's status when checking for stopped services.
STATUS_TIMEOUT = 10.0
#: First wait before reopening a failed stream; it doubles up to the session's backoff cap.
RETRY_FIRST_SECONDS = 1.0
#: The clock of the retry countdown (snapshot tests stop it).
retry_clock = time.monotonic

_LEVEL_CYCLE = tuple(Level)


# --- messages ---------------------------------------------------------------------------------


class LogFeedChanged(Message):
    """The feed connected, failed, or is retrying."""

    def __init__(self, generation: int, state: FeedState, at: float) -> None:
        super().__init__()
        self.generation = generation
        self.state = state
        self.at = at


class LogServicesChecked(Message):
    """Which followed services are not running (empty: all are)."""

    def __init__(self, generation: int, notes: list[str]) -> None:
        super().__init__()
        self.generation = generation
        self.notes = notes


class LogSaved(Message):
    """The view was written to a file."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class LogSaveNeedsConfirmation(Message):
    """The file exists: ask before overwriting it."""

    def __init__(self, request: SaveRequest, existing: Any, lines: list[str]) -> None:
        super().__init__()
        self.request = request
        self.existing = existing
        self.lines = lines


# --- the search bar -----------------------------------------------------------------------------


class SearchBar(Input):
    """``/``: a regex; matches are highlighted as you type. Enter keeps it, Escape clears it."""

    DEFAULT_CSS = """
    SearchBar { dock: bottom; display: none; height: 1; border: none; padding: 0 1; }
    SearchBar.-open { display: block; }
    """

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "close_search(True)", "Clear search", id="logs_search_clear"),
        Binding("enter", "close_search(False)", "Keep search", id="logs_search_keep", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(
            placeholder="regex (smart case); Enter: newest match, then n/N; Esc clears",
            id="log-search-input",
        )

    def action_close_search(self, clear: bool) -> None:
        pane = self.screen
        if isinstance(pane, LogsPane):
            pane.close_search(clear)


# --- the pane -----------------------------------------------------------------------------------


class LogsPane(PaneScreen):
    """Follow, filter, search, pause and save the services' logs."""

    pane_id = "logs"
    WRITES_FILES = frozenset({"save"})

    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "r", "refresh", "Retry", show=False, id="refresh", tooltip="Retry a lost stream now"
        ),
        Binding("space", "toggle_pause", "Pause", id="logs_pause", tooltip="Pause or resume"),
        Binding("slash", "open_filter", "Search", id="filter", tooltip="Regex search"),
        Binding("n", "next_match", "Next", id="logs_next", tooltip="Next match"),
        Binding("N", "previous_match", "Prev", id="logs_previous", tooltip="Previous match"),
        Binding("s", "choose_services", "Services", id="logs_services", tooltip="Services shown"),
        Binding("l", "next_level", "Level", id="logs_level", tooltip="Lowest level shown"),
        Binding("w", "save", "Save", id="logs_save", tooltip="Save the view to a file"),
        Binding(
            "f",
            "follow",
            "Follow",
            show=False,
            id="logs_follow",
            tooltip="Jump to the newest line and keep following (resumes a pause)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.buffer = LogBuffer(1000)
        self.feed: LogFeed | None = None
        self.state = FeedState("connecting")
        self._retry_at = 0.0
        self.notes: list[str] = []
        self.pattern: Any = None
        self.search_text = ""
        self._search_status = Text("")
        self._hidden: set[str] = set()
        self._level = Level.DEBUG
        self._followed: tuple[str, ...] = ()
        self._wake_check = asyncio.Event()
        self._bars_due = 0.0

    # --- layout -------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield LogControls(id="log-controls")
        yield LogEmpty(id="log-empty")
        yield LogLines(max(100, self.session.profile.logs.max_lines), id="log-lines")
        yield LogProblem(id="log-problem")
        yield LogStatus(id="log-status")
        yield SearchBar()

    @property
    def view(self) -> LogLines:
        """The log view."""
        return self.query_one(LogLines)

    def on_mount(self) -> None:
        # (PaneScreen.on_mount runs too and calls load.)
        self.set_interval(FLUSH_SECONDS, self.flush)
        self.view.focus()

    # --- loading --------------------------------------------------------------------------------

    def load(self, session: Session) -> None:
        super().load(session)  # cancels the previous target's feed and checks
        max_lines = session.profile.logs.max_lines
        self.buffer = LogBuffer(max_lines)
        view = self.view
        view.max_lines = max_lines
        view.replace_lines([])
        view.colour_services(self.buffer.instance_service, [])
        self.buffer.set_filter(self._hidden, self._level)
        self.notes = []
        followed = session.services_with(Capability.FOLLOW_LOGS)
        self._followed = tuple(followed)
        if not followed:
            names = ", ".join(session.services) or "any service"
            problem = f"The {session.backend_name} backend shows no logs for {names}."
            self.feed = None
            self.state = FeedState("unavailable", (), problem)
            self.update_bars()
            return
        self.feed = LogFeed(
            session.backend,
            followed,
            tail=max_lines,
            backoff_base=RETRY_FIRST_SECONDS,
            backoff_cap=session.backoff_cap,
        )
        self.state = FeedState("connecting", tuple(followed))
        feed, buffer, generation = self.feed, self.buffer, session.generation

        def report(state: FeedState) -> None:
            self.post_message(LogFeedChanged(generation, state, retry_clock()))

        def start() -> None:
            if session is not self.session:
                return  # switched again before the first paint
            run_io(
                self,
                lambda: feed.run(buffer.add, report),
                context="follow the logs",
                timeout=None,
                group="logs-feed",
                exclusive=True,
            )
            run_io(
                self,
                lambda: self._check_services(session, followed),
                context="check the services",
                timeout=None,
                group="logs-status",
                exclusive=True,
            )

        # Once the empty pane is on screen: the history pouring in must not
        # delay the first paint. The stream has no overall timeout (it never
        # ends by design); each backend call under it has its own, and a
        # failure comes back as a state, retried with backoff.
        self.call_after_refresh(start)
        self.update_bars()

    async def _check_services(self, session: Session, services: list[Any]) -> None:
        """Every few seconds while shown: which followed services are not running."""
        interval = max(1.0, 2.5 * session.refresh_seconds)
        while True:
            await self.in_view.wait()
            try:
                async with asyncio.timeout(STATUS_TIMEOUT):
                    notes = await quiet_services(session.backend, services)
            except asyncio.CancelledError:
                raise
            except Exception:
                notes = []  # the engine is unreachable: the feed says so, with the reason
            self.post_message(LogServicesChecked(session.generation, notes))
            self._wake_check.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_check.wait(), interval)

    # --- the stream -----------------------------------------------------------------------------

    def on_log_feed_changed(self, message: LogFeedChanged) -> None:
        if message.generation != self.session.generation:
            return
        self.state = message.state
        self._retry_at = message.at + message.state.retry_in
        self.update_bars()

    def on_log_services_checked(self, message: LogServicesChecked) -> None:
        if message.generation != self.session.generation:
            return
        self.notes = message.notes
        self.update_bars()

    def flush(self) -> None:
        """Write what arrived since the last tick to the view, in one batch."""
        if not self.is_mounted or not self.in_view.is_set():
            return  # hidden: lines stay in the buffer (bounded) until the pane is shown
        lines = self.buffer.take_pending()
        if lines:
            self.view.colour_services(self.buffer.instance_service, self.buffer.services)
            self.view.append_lines(lines)
        now = time.monotonic()
        if now >= self._bars_due:  # counts and times: a few times a second is plenty
            self._bars_due = now + BARS_SECONDS
            self.update_bars()

    def action_refresh(self) -> None:
        """Retry a failed stream now, and check the services now."""
        if self.feed is not None:
            self.feed.retry_now()
        self._wake_check.set()

    # --- bars -----------------------------------------------------------------------------------

    def update_bars(self) -> None:
        """Redraw the controls above the view and the status below it."""
        if not self.is_mounted:
            return
        buffer = self.buffer
        services = list(self._followed) or buffer.services
        for seen in buffer.services:
            if seen not in services:
                services.append(seen)
        self.query_one(LogControls).show(
            services,
            self._hidden,
            self._level,
            buffer.kept,
            len(self.view.lines),
            buffer.max_lines,
        )
        text, role = self._state_text()
        status = self.query_one(LogStatus)
        status.show_state(text, role)
        status.show_search(self._search_status.copy())
        problems = list(self.notes)
        if self.state.phase in ("retrying", "unavailable") and self.state.problem:
            problems.insert(0, self.state.problem)
        self.query_one(LogProblem).show_problem(problems)
        self.query_one(LogEmpty).show_hint(self._empty_hint())

    def _state_text(self) -> tuple[Text, str]:
        """The status line: a state word, then what matters most first (it may be cut)."""
        state, buffer = self.state, self.buffer
        if buffer.paused:
            text = Text.assemble(
                ("PAUSED", "bold"),
                f"  {buffer.waiting:,} new line{'s' if buffer.waiting != 1 else ''} waiting",
            )
            if buffer.over_bound:
                text.append(f" (oldest {buffer.over_bound:,} over logs.max_lines dropped)")
            text.append("  space resumes", style="dim")
            return text, "-paused"
        if state.phase == "unavailable":
            return Text.assemble(("NO LOGS", "bold"), "  see above"), "-problem"
        if state.phase == "retrying":
            wait = max(0, round(self._retry_at - retry_clock()))
            text = Text.assemble(("STREAM LOST", "bold"), f"  retry #{state.failures} in {wait} s")
            text.append("  r retries now", style="dim")
            return text, "-problem"
        services = ", ".join(state.services or self._followed)
        if state.phase == "connecting":
            text = Text.assemble(("CONNECTING", "bold"), f"  {services}")
        else:
            text = Text.assemble(("FOLLOWING", "bold"))
            if buffer.last_time is not None:
                newest = buffer.last_time.astimezone(UTC).strftime("%H:%M:%S")
                text.append(f"  newest {newest} UTC")
            text.append(f"  {services}", style="dim")
        return text, "-problem" if self.notes else ""

    def _empty_hint(self) -> str:
        """Why the view is empty (nothing when it is not)."""
        if self.view.lines:
            return ""
        state, buffer = self.state, self.buffer
        if state.phase == "unavailable":
            return "No logs to show here."
        if buffer.kept:
            hidden = ", ".join(sorted(self._hidden))
            parts = [f"level {self._level.label} and above"] if self._level > Level.DEBUG else []
            if hidden:
                parts.append(f"{hidden} hidden")
            return (
                f"None of the {buffer.kept:,} lines kept passes the filter ({'; '.join(parts)}). "
                "l changes the level, s the services."
            )
        if state.phase == "retrying":
            return "No lines yet: the stream cannot be opened (see below)."
        services = ", ".join(state.services or self._followed)
        return f"Waiting for the first line of {services}…"

    # --- filter -----------------------------------------------------------------------------------

    def _apply_filter_settings(self) -> None:
        lines = self.buffer.set_filter(self._hidden, self._level)
        self.view.replace_lines(lines)
        if self.pattern is not None:
            self._search_status = self._describe_search(None)
        self.update_bars()

    def _known_services(self) -> list[str]:
        services = list(self._followed)
        services += [s for s in self.buffer.services if s not in services]
        return services

    def action_toggle_service(self, service: str) -> None:
        """Show or hide one service's lines (at least one stays shown)."""
        if service in self._hidden:
            self._hidden.discard(service)
        else:
            shown = [s for s in self._known_services() if s not in self._hidden]
            if shown == [service]:
                self.notify(
                    f"{service} is the only service shown", title="Logs", severity="warning"
                )
                return
            self._hidden.add(service)
        self._apply_filter_settings()

    def action_only_service(self, service: str) -> None:
        """Show one service's lines only."""
        self._hidden = {s for s in self._known_services() if s != service}
        self._apply_filter_settings()

    def action_all_services(self) -> None:
        """Show every service's lines."""
        self._hidden = set()
        self._apply_filter_settings()

    def action_choose_services(self) -> None:
        """Pick the services shown in a dialog."""

        def chosen(hidden: set[str] | None) -> None:
            if hidden is not None:
                self._hidden = hidden
                self._apply_filter_settings()

        self.app.push_screen(ServicesDialog(self._known_services(), self._hidden), chosen)

    def action_next_level(self) -> None:
        """Raise the lowest level shown (all, info, warning, error, fatal, then all again)."""
        index = _LEVEL_CYCLE.index(self._level)
        self._level = _LEVEL_CYCLE[(index + 1) % len(_LEVEL_CYCLE)]
        self._apply_filter_settings()

    def action_set_level(self, name: str) -> None:
        """Show lines at ``name`` (``warning``) and above."""
        self._level = Level[name.upper()]
        self._apply_filter_settings()

    # --- pause ------------------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        """Hold new lines back (counted, kept within the bound) or let them in."""
        if self.buffer.paused:
            lines = self.buffer.resume()
            if lines:
                self.view.append_lines(lines)
        else:
            self.flush()  # what arrived before the key press belongs to the frozen view
            self.buffer.pause()
        self.update_bars()

    def action_follow(self) -> None:
        """Go to the newest line and keep following (ends a pause)."""
        if self.buffer.paused:
            self.action_toggle_pause()
        self.view.scroll_end(animate=False, immediate=True, x_axis=False)

    # --- search -----------------------------------------------------------------------------------

    def action_open_filter(self) -> None:
        """``/`` searches here (the view has no table to filter)."""
        bar = self.query_one(SearchBar)
        bar.add_class("-open")
        bar.value = self.search_text
        bar.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, SearchBar):
            event.stop()
            self._set_search(event.value, jump=False)

    def close_search(self, clear: bool) -> None:
        """Hide the search bar; Enter keeps the search and jumps to the newest match."""
        bar = self.query_one(SearchBar)
        bar.remove_class("-open")
        self.view.focus()
        if clear:
            bar.value = ""
            self._set_search("", jump=False)
        else:
            self._set_search(bar.value, jump=True)

    def _set_search(self, text: str, jump: bool) -> None:
        self.search_text = text
        try:
            pattern = compile_search(text)
        except SearchError as exc:
            self.pattern = None
            self.view.set_pattern(None)
            self._search_status = Text(exc.message, style="bold")
            self.update_bars()
            return
        self.pattern = pattern
        self.view.set_pattern(pattern)
        if pattern is not None and jump:
            lines = self.view.lines
            found = find_line(lines, pattern, len(lines), forward=False)
            if found is not None:
                self.view.go_to(found)
        self._search_status = self._describe_search(self.view.current) if pattern else Text("")
        self.update_bars()

    def _describe_search(self, current: int | None) -> Text:
        lines, pattern = self.view.lines, self.pattern
        if pattern is None:
            return Text("")
        total = count_lines(lines, pattern)
        text = Text(f"/{self.search_text}/ ", style="bold")
        if total == 0:
            text.append("no match")
        elif current is None:
            text.append(f"{total:,} matching line{'s' if total != 1 else ''}  n/N")
        else:
            text.append(f"{rank(lines, pattern, current):,} of {total:,}  n/N")
        return text

    def _move(self, forward: bool) -> None:
        if self.pattern is None:
            self.notify("no search yet: press / and type a pattern", title="Search")
            return
        view = self.view
        start = view.current
        if start is None:
            start = view.scroll_offset.y - 1 if forward else len(view.lines)
        found = find_line(view.lines, self.pattern, start, forward)
        if found is None:
            self._search_status = self._describe_search(None)
        else:
            view.go_to(found)
            self._search_status = self._describe_search(found)
        self.update_bars()

    def action_next_match(self) -> None:
        """Next line with a match (wraps to the top)."""
        self._move(forward=True)

    def action_previous_match(self) -> None:
        """Previous line with a match (wraps to the bottom)."""
        self._move(forward=False)

    # --- save -------------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Ask for a file name and save the view there (never over a file without asking)."""
        if self.blocked("save"):
            return
        lines = list(self.view.lines)
        suggested = str(default_path(self.session.profile_name, datetime.now()))

        def chosen(request: SaveRequest | None) -> None:
            if request is not None:
                self._save(request, lines)

        self.app.push_screen(SaveLogDialog(suggested, len(lines)), chosen)

    def _save(self, request: SaveRequest, lines: list[str]) -> None:
        async def write() -> None:
            path = resolve(request.path_text)
            try:
                size = await asyncio.to_thread(save_lines, path, lines, request.overwrite)
            except TargetExists as exc:
                self.post_message(LogSaveNeedsConfirmation(request, exc.path, lines))
                return
            self.post_message(LogSaved(f"{len(lines):,} lines ({size:,} bytes) to {path}"))

        run_io(self, write, context="save the logs", timeout=60, group="logs-save")

    def on_log_save_needs_confirmation(self, message: LogSaveNeedsConfirmation) -> None:
        lines = message.lines

        def chosen(request: SaveRequest | None) -> None:
            if request is not None:
                self._save(request, lines)

        dialog = SaveLogDialog(message.request.path_text, len(lines), existing=message.existing)
        self.app.push_screen(dialog, chosen)

    def on_log_saved(self, message: LogSaved) -> None:
        self.notify(message.text, title="Saved", markup=False)

    # --- palette ----------------------------------------------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Logs: pause or resume", "Hold new lines back (space)", "toggle_pause")
        yield PaletteCommand("Logs: search…", "Regex, highlighted; n/N move (/)", "open_filter")
        yield PaletteCommand("Logs: save the view…", "Write the lines shown to a file (w)", "save")
        yield PaletteCommand("Logs: show every service", "Clear the service filter", "all_services")
        for service in self._known_services():
            yield PaletteCommand(
                f"Logs: show only {service}",
                "Hide the other services' lines",
                f"only_service('{service}')",
            )
        for level in Level:
            yield PaletteCommand(
                f"Logs: level {level.label} and above",
                "Lowest level shown (l cycles)",
                f"set_level('{level.label}')",
            )
        yield PaletteCommand("Logs: retry the stream now", "Skip the backoff wait (r)", "refresh")
