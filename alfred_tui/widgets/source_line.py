"""One line over a data pane: where the data comes from, whether it answers, and when it was read.

``database alfred at 127.0.0.1:5432 · 7 applied, 1 pending · read 12:00:01``
while all is well; ``PostgreSQL DOWN: connection refused (127.0.0.1:5432) -
retry in 4 s · showing 12:00:01`` when not, in the theme's error colour, with
the last data kept below (dimmed by the pane) rather than wiped.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from alfred_tui.widgets.styles import state_style


def clock_text(moment: float) -> str:
    """``12:00:01`` in local time."""
    return time.strftime("%H:%M:%S", time.localtime(moment))


class SourceLine(Static):
    """The state of a data pane's source."""

    DEFAULT_CSS = """
    SourceLine { height: auto; max-height: 3; padding: 0 1; }
    SourceLine.-down { background: $error 15%; }
    """

    def show_reading(self, what: str, hint: str = "") -> None:
        """A read is in flight and nothing has been shown yet (``hint``: what a key does)."""
        self.remove_class("-down")
        self.add_class("-one-line")
        text = Text(f"reading {what}…", style="dim", no_wrap=True, overflow="ellipsis")
        if hint:
            text.append(f" {hint}")
        self.update(text)

    def show_ok(self, parts: list[str | Text], taken_at: float) -> None:
        """The source answered at ``taken_at``; ``parts`` say what it holds, most important first.

        One line: what does not fit is cut at the end (the read time goes first).
        """
        self.remove_class("-down")
        self.add_class("-one-line")
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, part in enumerate(parts):
            if index:
                text.append(" · ", style="dim")
            text.append(part)
        if taken_at:
            text.append(f" · read {clock_text(taken_at)}", style="dim")
        self.update(text)

    def show_down(
        self, label: str, reason: str, retry_in: float | None, shown_at: float | None
    ) -> None:
        """The source did not answer (``PostgreSQL DOWN``) or refused (``Migration error``):
        why, when it is tried again, and how old the data shown is."""
        self.add_class("-down")
        self.remove_class("-one-line")
        text = Text(no_wrap=False, overflow="fold")
        text.append(f"{label}: ", style=state_style(self.app, "DOWN"))
        text.append(reason)
        if retry_in is not None:
            text.append(f" - retry in {retry_in:.0f} s (r: now)")
        if shown_at:
            text.append(f" · showing data read at {clock_text(shown_at)}", style="dim")
        self.update(text)
