"""The pane bar: ``1 Overview  2 Profile …`` on the left, the global keys on the right.

The current pane is highlighted; every tab and key hint is clickable. When
the bar is too narrow for every title, the other panes shrink to their
number key (the current one keeps its title, and every tab its tooltip), then
key hints are dropped from the right, so the bar never overflows: ten panes
fit at 80 columns as ``1 2 3 Migrations 5 6 7 8 9 0  ? help …``. The tenth
pane's key is ``0``. The fit is worked out before the first paint, so the bar
is drawn once. The footer below is left to the current pane's own keys.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from alfred_tui.screens.panes import PaneSpec, pane_key

#: (binding id, action, label) of the global keys shown on the right.
GLOBAL_HINTS = (
    ("help", "help", "help"),
    ("palette_colon", "command_palette", "palette"),
    ("switch_target", "switch_target", "target"),
    ("quit", "quit", "quit"),
)


class PaneTab(Label):
    """One pane's tab; a click switches to it."""

    def __init__(self, number: int, pane: PaneSpec, current: bool, short: bool = False) -> None:
        key = pane_key(number)
        self.full = f" {key} {pane.title} " if key else f" {pane.title} "
        self.short = f" {key} " if key else self.full  # past ten: no key to shrink to
        self.text = self.short if short and not current else self.full
        super().__init__(self.text, classes="-current" if current else "", markup=False)
        self.current = current
        self.pane = pane
        self.tooltip = f"{pane.title}: {pane.summary}"

    def show(self, short: bool) -> None:
        """Show the number only (``short``, unless current) or the title; redraw if it changed."""
        text = self.short if short and not self.current else self.full
        if text != self.text:
            self.text = text
            self.update(text)

    def on_click(self) -> None:
        self.app.switch_mode(self.pane.id)


class KeyHint(Label):
    """``? help``: a global key, clickable."""

    def __init__(self, binding_id: str, action: str, label: str, key: str = "") -> None:
        self.text = f" {key} {label} " if key else ""
        super().__init__(self.text, markup=False)
        self.binding_id = binding_id
        self.action_name = action
        self.label = label

    def show_key(self, key: str) -> None:
        """Show the key the binding currently has (redraw only if it changed)."""
        text = f" {key} {self.label} "
        if text != self.text:
            self.text = text
            self.update(text)

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
        # Lay the bar out for the terminal's width now, not after the first paint.
        hints = [
            KeyHint(binding_id, action, label, self._key_for(binding_id))
            for binding_id, action, label in GLOBAL_HINTS
        ]
        tabs = [
            PaneTab(number, pane, pane.id == self.current)
            for number, pane in enumerate(self.panes, 1)
        ]
        short, shown = fit_bar(tabs, [len(hint.text) for hint in hints], 0, self.app.size.width)
        for tab in tabs:
            tab.show(short)
        for index, hint in enumerate(hints):
            hint.display = index < shown
        yield from tabs
        yield Label("", classes="-spacer")
        yield Label("", id="filter-state", markup=False)
        yield from hints

    def _key_for(self, binding_id: str) -> str:
        key_for = getattr(self.app, "key_for", None)
        return str(key_for(binding_id)) if key_for else binding_id

    def on_mount(self) -> None:
        self.refresh_keys()

    def refresh_keys(self) -> None:
        """Show each global key as the profile's keymap has it."""
        for hint in self.query(KeyHint):
            hint.show_key(self._key_for(hint.binding_id))
        self._fit(self.size.width or self.app.size.width)

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
        short, shown = fit_bar(tabs, [len(h.text) for h in hints], len(self.filter_text), width)
        for tab in tabs:
            tab.show(short)
        for index, hint in enumerate(hints):
            if hint.display != (index < shown):
                hint.display = index < shown


def fit_bar(
    tabs: list[PaneTab], hints: list[int], filter_width: int, width: int
) -> tuple[bool, int]:
    """How the bar fits ``width``: (other tabs shrunk to their key?, how many hints shown).

    Titles are worth more than key hints (``?`` lists them all), so every
    title stays while the titles, the filter and the first hint (help) fit;
    otherwise the other panes shrink to their number key. Either way, key
    hints are then shown from the left while they fit.
    """
    if not width:
        return False, len(hints)
    full = sum(len(tab.full) for tab in tabs)
    short = full + filter_width + (hints[0] if hints else 0) > width
    used = sum(len(tab.short if short and not tab.current else tab.full) for tab in tabs)
    room = width - used - filter_width
    shown = 0
    for size in hints:
        if size > room:
            break
        room -= size
        shown += 1
    return short, shown
