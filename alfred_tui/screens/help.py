"""``?``: every key of the current pane and of the app, with the binding ids to remap them.

The ids are what ``ui.keymap`` in a profile takes (``keymap: {scale: ctrl+s}``),
so the help screen doubles as the keymap reference. It also lists the panes
with their number keys and the headless command that prints the same data.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from alfred_tui.screens.base import PaneScreen, _normalize
from alfred_tui.widgets.pane_tabs import pane_key


def _bindings_of(node_class: type[Any]) -> list[Binding]:
    found: list[Binding] = []
    for klass in reversed(node_class.__mro__):
        for binding in klass.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                found = [b for b in found if b.id != binding.id] + [binding]
    return found


class HelpScreen(ModalScreen[None]):
    """Keys, panes and tips; Escape, ``?`` or ``q`` closes it."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help_close"),
    ]

    def __init__(self, pane: PaneScreen | None) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Help  (Esc closes)", classes="dialog-title")
            with VerticalScroll():
                yield Static(self.content())

    def _keys_table(self, title: str, bindings: list[Binding], owner: Any) -> Table:
        app: Any = self.app
        keymap = app.keymap
        table = Table(title=title, title_justify="left", box=None, expand=True, pad_edge=False)
        table.add_column("Key", no_wrap=True, style="bold")
        table.add_column("Does", ratio=1)
        table.add_column("Id (ui.keymap)", no_wrap=True, style="dim")
        for binding in bindings:
            if binding.id and binding.id.startswith("pane_"):
                number = int(binding.id.removeprefix("pane_"))
                if number > len(app.panes):
                    continue
                binding = Binding(
                    binding.key,
                    binding.action,
                    f"Go to {app.panes[number - 1].title}",
                    id=binding.id,
                )
            action = binding.action.split("(")[0]
            if owner is app and action != "show_pane" and app.check_action(action, ()) is False:
                continue  # a replay's keys in a live session, switching target in a replay
            keys = _normalize(keymap[binding.id]) if binding.id in keymap else [binding.key]
            shown = ", ".join(app.get_key_display(Binding(key, binding.action)) for key in keys)
            does: Text | str = binding.tooltip or binding.description or action
            if isinstance(owner, PaneScreen) and owner.refused(action):
                does = Text(f"{does} (disabled: read-only)", style="dim")
            table.add_row(shown, does, binding.id or "")
        return table

    def content(self) -> Group:
        app: Any = self.app
        parts: list[Any] = []
        if self.pane is not None:
            parts.append(
                self._keys_table(
                    f"{self.pane.pane_title} pane",
                    _bindings_of(type(self.pane)),
                    self.pane,
                )
            )
            parts.append(Text(""))
        parts.append(self._keys_table("Everywhere", _bindings_of(type(app)), app))
        parts.append(Text(""))
        panes = Table(title="Panes", title_justify="left", box=None, expand=True, pad_edge=False)
        panes.add_column("Key", no_wrap=True, style="bold")
        panes.add_column("Pane", no_wrap=True)
        panes.add_column("Shows; headless twin", ratio=1)
        for number, pane in enumerate(app.panes, 1):
            panes.add_row(pane_key(number) or ":", pane.title, f"{pane.summary}; {pane.twin}")
        parts.append(panes)
        parts.append(Text(""))
        tips = [
            "Every action is also in the command palette (: or Ctrl+P), by name.",
            "/ filters every table of the pane as you type; Esc clears the filter.",
            "Remap a key in the profile: ui: {keymap: {scale: ctrl+s}} (ids above).",
            "Theme: ui.theme in the profile, or 'Theme' in the palette.",
        ]
        if app.session.readonly:
            tips.insert(
                0,
                "READ-ONLY: everything that changes something is disabled (deploy, teardown, "
                "scale, resize, restart, remedies, cancel and terminate).",
            )
        parts.append(Text("\n".join(tips)))
        return Group(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
