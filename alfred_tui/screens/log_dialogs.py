"""The Logs pane's dialogs: which services to show, and where to save the view.

Both are keyboard-first (Tab, Space, Enter, Escape) and clickable. The save
dialog never writes over a file silently: the pane first tries to create
the file, and if it exists, opens this dialog again in its "overwrite?"
form, with Cancel focused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, SelectionList, Static

from alfred_tui.screens.dialogs import Dialog


class _ServicePicks(SelectionList[str]):
    """Space ticks (as in every SelectionList); Enter applies the dialog instead of ticking."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("enter", "apply", "Apply", show=False, id="logs_services_apply")
    ]

    def action_apply(self) -> None:
        screen = self.screen
        if isinstance(screen, ServicesDialog):
            screen.apply()


class ServicesDialog(Dialog):
    """Tick the services whose lines the view shows; returns the set to hide."""

    def __init__(self, services: Sequence[str], hidden: set[str]) -> None:
        super().__init__()
        self.services = list(services)
        self.hidden = set(hidden)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog log-services"):
            yield Label("Show lines of", classes="dialog-title")
            yield _ServicePicks(
                *((service, service, service not in self.hidden) for service in self.services),
                id="services",
            )
            yield Static(
                Text("Space ticks, Enter applies, Escape cancels", style="dim"), classes="note"
            )
            yield Label("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Show", id="confirm", variant="primary")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(Button.Pressed, "#confirm")
    def apply(self) -> None:
        """Close with the services to hide (at least one must stay shown)."""
        chosen = set(self.query_one(SelectionList).selected)
        if not chosen:
            self.query_one("#error", Label).update("tick at least one service")
            return
        self.dismiss({service for service in self.services if service not in chosen})


@dataclass(frozen=True)
class SaveRequest:
    """Where to save the view, and whether overwriting was confirmed."""

    path_text: str
    overwrite: bool = False


class SaveLogDialog(Dialog):
    """Ask for a path; in its second form, whether to overwrite ``existing``."""

    def __init__(self, suggested: str, lines: int, existing: Path | None = None) -> None:
        super().__init__(classes="-destructive" if existing else "")
        self.suggested = suggested
        self.lines = lines
        self.existing = existing

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save the view", classes="dialog-title")
            yield Static(
                Text(
                    f"{self.lines:,} lines as shown (filters applied, secrets masked); "
                    "the file is readable by you only."
                )
            )
            yield Label("File:")
            yield Input(self.suggested, id="path")
            if self.existing is not None:
                yield Static(
                    Text(f"{self.existing} exists. Overwrite it?", style="bold"),
                    id="exists",
                )
            yield Label("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                if self.existing is not None:
                    yield Button("Overwrite", id="confirm", variant="error")
                else:
                    yield Button("Save", id="confirm", variant="primary")

    def on_mount(self) -> None:
        if self.existing is not None:
            self.query_one("#cancel", Button).focus()
        else:
            path = self.query_one("#path", Input)
            path.focus()
            path.cursor_position = len(path.value)

    @on(Input.Changed, "#path")
    def _edited(self, event: Input.Changed) -> None:
        if self.existing is not None and event.value.strip() != self.suggested:
            # Another name: that is a new question, not the confirmed overwrite.
            self.existing = None
            self.remove_class("-destructive")
            self.query_one("#exists", Static).display = False
            confirm = self.query_one("#confirm", Button)
            confirm.label = "Save"
            confirm.variant = "primary"
        self.query_one("#error", Label).update("" if event.value.strip() else "type a file name")

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if not text:
            self.query_one("#error", Label).update("type a file name")
            return
        self.dismiss(SaveRequest(text, overwrite=self.existing is not None))
