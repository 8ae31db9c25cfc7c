"""A one-line bar of sub-views (``Migrations │ Schema``) over a ContentSwitcher.

A pane with more tables than 24 rows can hold shows them one at a time:
``[`` and ``]`` switch (lazydocker's keys for its tabs), a click on a name
does too. One line rather than Textual's two-line tabs, because 24 rows
are precious over SSH.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label


class SubviewTab(Label):
    """One sub-view's name; a click shows it."""

    def __init__(self, view_id: str, title: str, current: bool) -> None:
        super().__init__(f" {title} ", classes="-current" if current else "", markup=False)
        self.view_id = view_id

    def on_click(self) -> None:
        bar = self.parent
        if isinstance(bar, SubviewBar):
            bar.select(self.view_id)


class SubviewBar(Horizontal):
    """The sub-views of a pane; posts :class:`SubviewBar.Changed` when another is chosen."""

    DEFAULT_CSS = """
    SubviewBar { height: 1; width: 1fr; }
    SubviewBar SubviewTab { width: auto; }
    SubviewBar #subview-hint { width: 1fr; content-align: right middle; }
    """

    class Changed(Message):
        """Another sub-view was chosen."""

        def __init__(self, view_id: str) -> None:
            super().__init__()
            self.view_id = view_id

    def __init__(self, views: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views = list(views)
        self.current = self.views[0][0]

    def compose(self) -> ComposeResult:
        for view_id, title in self.views:
            yield SubviewTab(view_id, title, view_id == self.current)
        yield Label(Text("[ ] switch view", style="dim"), id="subview-hint")

    def select(self, view_id: str) -> None:
        """Show ``view_id`` (a no-op for an unknown one)."""
        if view_id not in (v for v, _ in self.views):
            return
        self.current = view_id
        for tab in self.query(SubviewTab):
            tab.set_class(tab.view_id == view_id, "-current")
        self.post_message(self.Changed(view_id))

    def step(self, delta: int) -> None:
        """Show the next (``1``) or previous (``-1``) sub-view, wrapping around."""
        ids = [view_id for view_id, _ in self.views]
        self.select(ids[(ids.index(self.current) + delta) % len(ids)])
