"""The header: which profile, which backend, where it points, and READ-ONLY.

One line, because 24 rows are precious over SSH. The target (Docker host,
Kubernetes context/namespace, local data dir) is the part that is cut when
the terminal is narrow, from the middle, so both ends stay readable. In a
browser (``alfred-tui serve``) the badge says SERVED and READ-ONLY or
READ-WRITE, so a screenshot of it cannot pass for a terminal session.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from alfred_tui.widgets.styles import theme_colour


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by removing its middle."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    keep = width - 1
    head = keep // 2
    return text[:head] + "…" + text[len(text) - (keep - head) :]


class TargetHeader(Widget):
    """``alfred-tui │ profile local │ backend local │ /var/lib/...   READ-ONLY``.

    In a replay the badge is the time cursor instead
    (``REPLAY 2025-05-13 03:12:04 UTC ▶ 10x``), which is never cut.
    """

    DEFAULT_CSS = """
    TargetHeader { height: 1; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.profile = ""
        self.backend = ""
        self.where = ""
        self.readonly = False
        self.replay = ""
        """A replay's time cursor (``REPLAY 2025-05-13 03:12:04 UTC paused``), or empty."""
        self.pending = False

    def show(
        self, profile: str, backend: str, where: str, readonly: bool, replay: str = ""
    ) -> None:
        """Update what the header says."""
        self.profile, self.backend, self.where, self.readonly = profile, backend, where, readonly
        self.replay = replay
        self.pending = False
        self.refresh()

    def show_loading(self, profile: str, readonly: bool) -> None:
        """Say that ``profile`` (the name or path asked for) is being loaded."""
        self.profile, self.backend, self.where, self.readonly = profile, "", "", readonly
        self.pending = True
        self.refresh()

    def badge(self) -> str:
        """`` READ-ONLY ``, or in a browser `` SERVED READ-ONLY ``/`` SERVED READ-WRITE ``;
        a replay's time cursor instead."""
        if self.replay:
            return f" {self.replay} "
        if getattr(self.app, "served", False):
            return " SERVED READ-ONLY " if self.readonly else " SERVED READ-WRITE "
        return " READ-ONLY " if self.readonly else ""

    def render(self) -> RenderResult:
        width = self.size.width
        badge = self.badge()
        if self.pending:
            left = self._pending_line(width, badge)
        else:
            left = Text.assemble(
                (" alfred-tui ", "bold reverse"),
                " profile ",
                (self.profile, "bold"),
                " │ backend ",
                (self.backend, "bold"),
            )
        room = (width or 200) - left.cell_len - len(badge) - 4
        if self.where and room > 6:
            left.append(" │ ")
            left.append(middle_ellipsis(self.where, room), style="italic")
        if badge:
            pad = max(1, (width or 0) - left.cell_len - len(badge))
            left.append(" " * pad)
            role = "accent" if self.replay else "error"
            left.append(badge, style=f"bold reverse {theme_colour(self.app, role)}")
        if width:
            left.truncate(width)  # no size yet (first layout pass): draw it all
        return left

    def _pending_line(self, width: int, badge: str) -> Text:
        """`` alfred-tui  profile local │ loading profile …`` (a long path loses its middle)."""
        tail = " │ loading profile …"
        room = (width or 200) - len(" alfred-tui ") - len(" profile ") - len(tail) - len(badge)
        return Text.assemble(
            (" alfred-tui ", "bold reverse"),
            " profile ",
            (middle_ellipsis(self.profile, max(room, 8)), "bold"),
            (tail, "italic"),
        )
