"""Driving a replay: the time cursor in the header, play/pause, speed, and seeking.

The panes poll their sources as in a live session; the sources read the
recording at the cursor (:mod:`alfred_tui.recording.replay`). This
controller moves the cursor: while playing, a timer advances it and asks
the pane on screen to read again; a seek (a key, a typed time, an entry
chosen on the Timeline) reloads every pane at the new moment, exactly as a
switch of target reloads them, so nothing from the old moment stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alfred_tui.recording.cursor import clock_text, parse_moment

if TYPE_CHECKING:
    from textual.timer import Timer

    from alfred_tui.recording.replay import ReplaySession

#: How often the cursor moves while playing (seconds of real time).
TICK_SECONDS = 0.25
#: What ``<`` and ``>`` move the cursor by.
STEP_SECONDS = 60.0


class ReplayController:
    """The cursor of the app's replay session (see the module doc)."""

    def __init__(self, app: Any, session: ReplaySession) -> None:
        self.app = app
        self.session = session
        assert session.cursor is not None
        self.cursor = session.cursor
        self._timer: Timer | None = None
        self._stale: set[str] = set()
        """Panes that have not read the cursor's moment since the last seek."""

    def start(self) -> None:
        """Begin ticking (the cursor only moves while playing)."""
        if self._timer is None:
            self._timer = self.app.set_interval(TICK_SECONDS, self._tick)
            self.app.mode_change_signal.subscribe(self.app, self._mode_changed)
        for note in self.session.notes:
            self.app.notify(note, title="Replay", markup=False)

    def stop(self) -> None:
        """Stop ticking and following pane switches (a rewound live UI went back to live)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
            self.app.mode_change_signal.unsubscribe(self.app)
        self._stale.clear()

    def _tick(self) -> None:
        if not self.cursor.playing:
            return
        self.cursor.advance(TICK_SECONDS)
        pane = self.app.current_pane()
        if pane is not None:
            pane.action_refresh()
        self._headers()

    def _headers(self) -> None:
        for pane in self.app.mounted_panes():
            pane.update_header()

    def toggle_play(self) -> None:
        """Play or pause (from the end, playing starts at the beginning)."""
        was_at = self.cursor.at
        self.cursor.toggle_play()
        if self.cursor.at != was_at:
            self.reload()
        self._headers()

    def next_speed(self) -> None:
        """1x -> 10x -> 60x."""
        self.cursor.next_speed()
        self._headers()

    def seek(self, at: float) -> None:
        """Show the moment ``at`` in every pane."""
        self.cursor.seek(at)
        self.reload()

    def step(self, seconds: float) -> None:
        """Move by ``seconds`` (negative: back)."""
        self.seek(self.cursor.at + seconds)

    def reload(self) -> None:
        """The pane on screen reads again at the cursor; the others when next shown.

        What any pane had in flight for the old moment is dropped at once (its
        workers cancelled, their messages from an older generation ignored): a
        hidden Logs pane must not read the ten thousand lines before a moment
        nobody is looking at.
        """
        self.session.generation += 1
        current = self.app.current_pane()
        for pane in self.app.mounted_panes():
            pane.update_header()
            if pane is current:
                pane.load(self.session)
            else:
                pane.workers.cancel_node(pane)
                self._stale.add(pane.pane_id)

    def _mode_changed(self, mode: str) -> None:
        """A pane left behind by a seek reads the cursor's moment when it is shown."""
        if mode in self._stale:
            self._stale.discard(mode)
            pane = next((p for p in self.app.mounted_panes() if p.pane_id == mode), None)
            if pane is not None:
                pane.update_header()
                pane.load(self.session)

    def parse(self, text: str) -> float:
        """A typed moment (see :func:`~alfred_tui.recording.replay.parse_moment`)."""
        at = parse_moment(text, self.cursor)
        if not self.cursor.start <= at <= self.cursor.end:
            raise ValueError(
                f"{clock_text(at)} is outside the recording ({self.span()}); "
                "start and end go to its edges"
            )
        return at

    def span(self) -> str:
        """``2025-05-13 02:40:00 UTC to 03:40:00 UTC``."""
        start, end = clock_text(self.cursor.start), clock_text(self.cursor.end)
        if start[:10] == end[:10]:
            end = end[11:]
        return f"{start} to {end}"

    def ask_time(self) -> None:
        """The go-to dialog."""
        from alfred_tui.screens.recording_dialogs import GoToTimeDialog

        def chosen(at: float | None) -> None:
            if at is not None:
                self.seek(at)

        self.app.push_screen(GoToTimeDialog(self.span(), self.parse), chosen)
