"""The running action's progress: what it does now, and how far it got."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from alfred_tui.backends.base import Progress
from alfred_tui.units import format_bytes


def describe(progress: Progress) -> str:
    """``pull redis:7-alpine  3.1 MiB of 12.0 MiB`` / ``wait for healthy (2/3)``."""
    text = progress.step
    if progress.service and progress.service not in text:
        text = f"{progress.service}: {text}"
    if progress.current is not None:
        if progress.unit == "bytes":
            total = f" of {format_bytes(progress.total)}" if progress.total else ""
            text += f"  {format_bytes(progress.current)}{total}"
        elif progress.total:
            text += f" ({progress.current}/{progress.total})"
    return text


class ActionProgress(Horizontal):
    """Hidden until an action runs; then its title, current step and a bar."""

    DEFAULT_CSS = """
    ActionProgress { height: 1; display: none; }
    ActionProgress.-running { display: block; }
    ActionProgress #action-title { width: auto; text-style: bold; padding: 0 1; }
    ActionProgress #action-step { width: 1fr; }
    ActionProgress ProgressBar { width: 24; }
    """

    def compose(self) -> ComposeResult:
        yield Label("", id="action-title")
        yield Label("", id="action-step")
        yield ProgressBar(show_eta=False, id="action-bar")

    def start(self, title: str) -> None:
        """Show ``title`` with an indeterminate bar."""
        self.query_one("#action-title", Label).update(Text(title))
        self.query_one("#action-step", Label).update("starting…")
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.add_class("-running")

    def advance(self, progress: Progress) -> None:
        """Show a progress report."""
        self.query_one("#action-step", Label).update(Text(describe(progress)))
        bar = self.query_one(ProgressBar)
        if progress.total and progress.current is not None:
            bar.update(total=progress.total, progress=progress.current)
        else:
            bar.update(total=None)

    def show(self, step: str, current: int | None = None, total: int | None = None) -> None:
        """Show ``step`` as worded by the caller (``apply 0003_x (3 of 8)``) and fill the bar."""
        self.query_one("#action-step", Label).update(Text(step))
        bar = self.query_one(ProgressBar)
        if total and current is not None:
            bar.update(total=total, progress=current)
        else:
            bar.update(total=None)

    def stop(self) -> None:
        """Hide."""
        self.remove_class("-running")

    @property
    def running(self) -> bool:
        """Whether an action is shown."""
        return self.has_class("-running")
