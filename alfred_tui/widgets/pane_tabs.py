"""The pane bar: ``1 Overview  2 Profile …`` on the left, the global keys on the right.

The current pane is highlighted; every tab and key hint is clickable. When
the bar is too narrow for every title, the other panes shrink to three
letters (the current one keeps its title, and every tab its tooltip), so a
newcomer still reads what each digit opens: ten panes fit at 80 columns as
``1 Ovw 2 Log 3 Act 4 Fix 5 Key 6 Col 7 Migrations 8 Bak 9 Aud 0 Pro ? help``.
Narrower still, they shrink to their number key; then key hints are dropped
from the right, so the bar never overflows. The tenth pane's key is ``0``, the
eleventh's ``-`` (the Timeline): eleven panes fit at 80 columns as
``1 Overview  2 Log … 0 Pro - Tln ? help``.
The fit is worked out before the first paint, so the bar is drawn once. The
footer below is left to the current pane's own keys.
"""

from __future__ import annotations

from typing import Protocol

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

#: The keys of the panes, in order: the number row, ``1``..``9``, ``0``, then ``-`` (the key
#: after ``0``) for the eleventh (binding ids ``pane_1``..``pane_11``). Further panes
#: are reached by the palette and by click.
PANE_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "-")
MAX_NUMBERED_PANES = len(PANE_KEYS)


def pane_key(number: int) -> str:
    """The key of the ``number``-th pane (1-based): ``1``..``9``, ``0``, ``-``."""
    return PANE_KEYS[number - 1] if 1 <= number <= MAX_NUMBERED_PANES else ""


class TabbedPane(Protocol):
    """What the bar shows of a pane (the registry's ``PaneSpec`` in ``screens/panes.py``)."""

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def short_title(self) -> str: ...

    @property
    def summary(self) -> str: ...


#: (binding id, action, label) of the global keys shown on the right.
GLOBAL_HINTS = (
    ("help", "help", "help"),
    ("palette_colon", "command_palette", "palette"),
    ("switch_target", "switch_target", "target"),
    ("quit", "quit", "quit"),
)


#: How much of each tab the bar shows, from the widest: the title, three letters, the key.
FULL, SHORT, KEY = 0, 1, 2


class PaneTab(Label):
    """One pane's tab; a click switches to it."""

    def __init__(self, number: int, pane: TabbedPane, current: bool) -> None:
        key = pane_key(number)
        self.full = f" {key} {pane.title} " if key else f" {pane.title} "
        self.texts = (self.full, f" {key} {pane.short_title}" if key else self.full, f" {key}")
        """The tab at each of :data:`FULL`, :data:`SHORT` and :data:`KEY`."""
        if not key:  # past ten: no key to shrink to
            self.texts = (self.full, self.full, self.full)
        self.text = self.full
        super().__init__(self.text, classes="-current" if current else "", markup=False)
        self.current = current
        self.pane = pane
        self.tooltip = f"{pane.title}: {pane.summary}"

    def text_at(self, level: int) -> str:
        """The tab's text at ``level`` (the current pane always keeps its title)."""
        return self.full if self.current else self.texts[level]

    def show(self, level: int) -> None:
        """Show the tab at ``level``; redraw only if it changed."""
        text = self.text_at(level)
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

    def __init__(self, panes: tuple[TabbedPane, ...], current: str) -> None:
        super().__init__()
        self.panes = panes
        self.current = current
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        # Lay the bar out for the terminal's width now, not after the first paint.
        # The app says which (AlfredApp.global_hints: a replay's p plays, a served app
        # stays on its target and has no "p target").
        global_hints = getattr(self.app, "global_hints", lambda: GLOBAL_HINTS)()
        hints = [
            KeyHint(binding_id, action, label, self._key_for(binding_id))
            for binding_id, action, label in global_hints
        ]
        tabs = [
            PaneTab(number, pane, pane.id == self.current)
            for number, pane in enumerate(self.panes, 1)
        ]
        level, shown = fit_bar(tabs, [len(hint.text) for hint in hints], 0, self.app.size.width)
        for tab in tabs:
            tab.show(level)
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
        level, shown = fit_bar(tabs, [len(h.text) for h in hints], len(self.filter_text), width)
        for tab in tabs:
            tab.show(level)
        for index, hint in enumerate(hints):
            if hint.display != (index < shown):
                hint.display = index < shown


def fit_bar(
    tabs: list[PaneTab], hints: list[int], filter_width: int, width: int
) -> tuple[int, int]:
    """How the bar fits ``width``: (the tabs' level, how many key hints are shown).

    Titles are worth more than key hints (``?`` lists them all), so the widest
    level (:data:`FULL`, then :data:`SHORT`, then :data:`KEY`) is chosen at
    which the tabs, the filter and the first hint (help) fit. Key hints are
    then shown from the left while they fit.
    """
    if not width:
        return FULL, len(hints)
    first_hint = hints[0] if hints else 0
    used = 0
    for level in (FULL, SHORT, KEY):
        used = sum(len(tab.text_at(level)) for tab in tabs)
        if used + filter_width + first_hint <= width:
            break
    room = width - used - filter_width
    shown = 0
    for size in hints:
        if size > room:
            break
        room -= size
        shown += 1
    return level, shown
