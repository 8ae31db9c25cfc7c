"""The pane bar: ``1 Overview  2 Profile …`` on the left, the global keys on the right.

The current pane is highlighted; every tab and key hint is clickable. When
the bar is too narrow for every title, the other panes shrink to their
number, so the bar never overflows. The footer below is left to the current
pane's own keys.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from alfred_tui.screens.panes import PaneSpec

#: (binding id, action, label) of the global keys shown on the right.
GLOBAL_HINTS = (
    ("help", "help", "help"),
    ("palette_colon", "command_palette", "palette"),
    ("switch_target", "switch_target", "target"),
    ("quit", "quit", "quit"),
)


class PaneTab(Label):
    """One pane's tab; a click switches to it."""

    def __init__(self, number: int, pane: PaneSpec, current: bool) -> None:
        self.full = f" {number} {pane.title} "
        self.short = f" {number} "
        super().__init__(self.full, classes="-current" if current else "", markup=False)
        self.current = current
        self.pane = pane
        self.tooltip = f"{pane.title}: {pane.summary}"

    def on_click(self) -> None:
        self.app.switch_mode(self.pane.id)


class KeyHint(Label):
    """``? help``: a global key, clickable."""

    def __init__(self, binding_id: str, action: str, label: str) -> None:
        super().__init__("", markup=False)
        self.binding_id = binding_id
        self.action_name = action
        self.label = label
        self.text = ""

    def show_key(self, key: str) -> None:
        """Show the key the binding currently has."""
        self.text = f" {key} {self.label} "
        self.update(self.text)

    async def on_click(self) -> None:
        await self.app.run_action(self.action_name)


class PaneTabs(Horizontal):
    """Every registered pane, the active filter, and the global keys."""

    DEFAULT_CSS = """
    PaneTabs { height: 1; width: 1fr; }
    PaneTabs PaneTab { width: auto; }
    PaneTabs KeyHint { width: auto; }
    PaneTabs .-spacer { width: 1fr; }
    PaneTabs #filter-state { width: auto; }
    """

    def __init__(self, panes: tuple[PaneSpec, ...], current: str) -> None:
        super().__init__()
        self.panes = panes
        self.current = current
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        for number, pane in enumerate(self.panes, 1):
            yield PaneTab(number, pane, pane.id == self.current)
        yield Label("", classes="-spacer")
        yield Label("", id="filter-state", markup=False)
        for binding_id, action, label in GLOBAL_HINTS:
            yield KeyHint(binding_id, action, label)

    def on_mount(self) -> None:
        self.refresh_keys()

    def refresh_keys(self) -> None:
        """Show each global key as the profile's keymap has it."""
        key_for = getattr(self.app, "key_for", None)
        for hint in self.query(KeyHint):
            hint.show_key(key_for(hint.binding_id) if key_for else hint.binding_id)
        self._fit(self.size.width)

    def show_filter(self, text: str) -> None:
        """Show the active table filter (empty hides it)."""
        self.filter_text = f" filter: {text} " if text else ""
        self.query_one("#filter-state", Label).update(self.filter_text)
        self._fit(self.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        if not width:
            return
        tabs = list(self.query(PaneTab))
        hints = list(self.query(KeyHint))
        fixed = sum(len(h.text) for h in hints) + len(self.filter_text)
        full = sum(len(tab.full) for tab in tabs)
        squeeze = full + fixed > width
        for tab in tabs:
            tab.update(tab.short if squeeze and not tab.current else tab.full)
        # Still too wide (many panes, a long filter): drop key hints from the right.
        room = width - sum(
            len(tab.short if squeeze and not tab.current else tab.full) for tab in tabs
        )
        room -= len(self.filter_text)
        for hint in hints:
            size = len(hint.text)
            hint.display = room >= size
            room -= size if hint.display else 0
