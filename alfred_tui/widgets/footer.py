"""The footer of every pane: Textual's, also redrawn while a served app is blurred.

Textual's footer skips redrawing while the app has no focus (so keys do not
flicker when the terminal loses focus). Under Textual's web driver an app
*starts* blurred, until the page is clicked or typed in, so in a browser the
first pane's footer stayed blank (found by the serve browser tests): a viewer
on a shared screen never saw the pane's keys. When served, it is redrawn
whenever the bindings change, focused or not.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class PaneFooter(Footer):
    """``Footer(compact=True)`` that a browser's blur does not leave blank."""

    def __init__(self) -> None:
        super().__init__(compact=True)

    def bindings_changed(self, screen: Screen[object]) -> None:
        super().bindings_changed(screen)
        app = screen.app
        blurred_in_browser = not app.app_focus and getattr(app, "served", False)
        if blurred_in_browser and self.is_attached and screen is self.screen:
            self.call_after_refresh(self.recompose)
