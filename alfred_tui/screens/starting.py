"""The first frame: the shell, drawn while the profile loads.

Validating a profile needs pydantic and the profile models (about 100 ms to
import) and choosing its backend reads more; none of that is needed to show
the operator where they are. So the app first draws this screen (header
saying which profile is loading, the pane bar) and opens the session in a
worker right after; the first pane replaces it as soon as the session is
there. It imports nothing the header and pane bar do not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Label

from alfred_tui.widgets.header import TargetHeader
from alfred_tui.widgets.pane_tabs import PaneTabs

if TYPE_CHECKING:
    from alfred_tui.screens.panes import PaneSpec


class StartingScreen(Screen[None]):
    """Header and pane bar of the first pane, and a line saying what is loading."""

    DEFAULT_CSS = """
    StartingScreen #starting { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, panes: tuple[PaneSpec, ...], profile: str, readonly: bool) -> None:
        super().__init__(id="starting-screen")
        self.panes = panes
        self.profile = profile
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        yield TargetHeader(id="target")
        yield PaneTabs(self.panes, self.panes[0].id if self.panes else "")
        yield Label(f"Loading profile {self.profile} …", id="starting", markup=False)

    def on_mount(self) -> None:
        self.query_one(TargetHeader).show_loading(self.profile, self.readonly)
