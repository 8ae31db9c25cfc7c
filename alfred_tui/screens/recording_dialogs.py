"""Dialogs of the black box: save an incident to a file, and (in a replay) go to a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from alfred_tui.screens.dialogs import Dialog


@dataclass(frozen=True)
class IncidentRequest:
    """Where to write the incident and how much around the moment it takes."""

    path_text: str
    before: float
    """Seconds before the moment."""
    after: float
    """Seconds after it (a replay has them; live, the moment is now)."""


def _minutes(text: str, name: str) -> float:
    value = text.strip() or "0"
    try:
        minutes = float(value)
    except ValueError:
        raise ValueError(f"{name}: '{value}' is not a number of minutes") from None
    if not 0 <= minutes <= 7 * 24 * 60:
        raise ValueError(f"{name}: {minutes:g} is out of range (0 to a week)")
    return minutes * 60


class SaveIncidentDialog(Dialog):
    """The file and the window around the moment; returns an :class:`IncidentRequest`."""

    def __init__(self, suggested: str, moment: str, *, after: bool, before_minutes: int) -> None:
        super().__init__()
        self.suggested = suggested
        self.moment = moment
        self.after = after
        self.before_minutes = before_minutes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save an incident", classes="dialog-title")
            yield Static(
                Text(
                    f"What was recorded around {self.moment} goes to a new file (every pane's "
                    "readings, logs, events, the timeline; secrets masked), readable by you "
                    "only. alfred-tui --replay FILE opens it."
                )
            )
            yield Label("File:")
            yield Input(self.suggested, id="path")
            yield Label("Minutes before:")
            yield Input(str(self.before_minutes), id="before")
            if self.after:
                yield Label("Minutes after:")
                yield Input(str(self.before_minutes), id="after")
            yield Label("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="confirm", variant="primary")

    def on_mount(self) -> None:
        path = self.query_one("#path", Input)
        path.focus()
        path.cursor_position = len(path.value)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        error = self.query_one("#error", Label)
        path = self.query_one("#path", Input).value.strip()
        if not path:
            error.update("type a file name")
            return
        try:
            before = _minutes(self.query_one("#before", Input).value, "minutes before")
            after = (
                _minutes(self.query_one("#after", Input).value, "minutes after")
                if self.after
                else 0.0
            )
        except ValueError as exc:
            error.update(str(exc))
            return
        if before + after <= 0:
            error.update("the window is empty: give minutes before or after")
            return
        self.dismiss(IncidentRequest(path, before, after))


class GoToTimeDialog(Dialog):
    """A moment of the replay, typed; returns it as epoch seconds."""

    def __init__(self, span: str, parse: Callable[[str], float]) -> None:
        super().__init__()
        self.span = span
        self.parse = parse

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Go to a time", classes="dialog-title")
            yield Static(Text(f"The recording covers {self.span}."))
            yield Static(
                Text(
                    "03:12 or 03:12:04 (UTC, on the cursor's day), 2025-05-13 03:12:04, "
                    "-5m / +30s from the cursor, start, end",
                    style="dim",
                )
            )
            yield Input(placeholder="03:12", id="moment")
            yield Label("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Go", id="confirm", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#moment", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        try:
            moment = self.parse(self.query_one("#moment", Input).value)
        except ValueError as exc:
            self.query_one("#error", Label).update(str(exc))
            return
        self.dismiss(moment)
