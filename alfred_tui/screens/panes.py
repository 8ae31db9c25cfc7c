"""The pane registry: every pane of the app, in the order of its number key.

A pane is a :class:`~alfred_tui.screens.base.PaneScreen` subclass run as a
Textual *mode* (its own screen stack, like a k9s view): it is created the
first time it is shown, kept while hidden (its polling paused), and told
to reload when the operator switches profile or backend.

Adding a pane is one line in :data:`PANES`; the number key, the tab, the
palette entry and the help screen follow from it. The class is named by
import path and imported on first use, so a pane nobody opens costs no
start-up time. See docs/ui.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alfred_tui.screens.base import PaneScreen


@dataclass(frozen=True)
class PaneSpec:
    """One pane: its id (the mode name), its title, and where its class lives."""

    id: str
    title: str
    screen: str
    """``module:Class`` of the PaneScreen subclass."""
    summary: str
    """One line for the help screen and the palette."""
    twin: str = ""
    """The headless command that prints the same data (``alfred-tui check``)."""

    def load(self) -> type[PaneScreen]:
        """Import the pane's class."""
        module_name, _, class_name = self.screen.partition(":")
        pane: type[PaneScreen] = getattr(importlib.import_module(module_name), class_name)
        return pane


PANES: tuple[PaneSpec, ...] = (
    PaneSpec(
        "overview",
        "Overview",
        "alfred_tui.screens.overview:OverviewPane",
        "Every service: deployment state, health, the spec's metrics, actions",
        "alfred-tui overview (and: alfred-tui check)",
    ),
    PaneSpec(
        "profile",
        "Profile",
        "alfred_tui.screens.profile:ProfilePane",
        "The resolved profile, secrets masked, with the file and line of each field",
        "alfred-tui profiles show NAME",
    ),
    PaneSpec(
        "logs",
        "Logs",
        "alfred_tui.screens.logs:LogsPane",
        "Every service's log lines merged by time: filter, search, pause, save",
        "alfred-tui logs [-f] [--level L] [--grep RE]",
    ),
)


def pane_by_id(pane_id: str, panes: tuple[PaneSpec, ...] = PANES) -> PaneSpec | None:
    """The registered pane ``pane_id``, if any."""
    return next((pane for pane in panes if pane.id == pane_id), None)
