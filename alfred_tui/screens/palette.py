"""The command palette's provider: every action of the app and of the current pane.

``:`` or Ctrl+P opens it. Panes, target switches, help and each pane's own
actions (deploy redis, scale qdrant…) are listed by name; actions refused in
a read-only session, or impossible on this backend, are not listed at all.
"""

from __future__ import annotations

from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class AlfredCommands(Provider):
    """Entries from ``AlfredApp.palette_entries`` for the screen the palette opened over."""

    def _entries(self) -> list[tuple[str, str, Any]]:
        app: Any = self.app
        entries: list[tuple[str, str, Any]] = app.palette_entries(self.screen)
        return entries

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)
