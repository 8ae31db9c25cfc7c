"""The UI's last line of defence: no control character in any segment reaches the terminal.

Server text is escaped where panes show it (:func:`alfred_tui.terminal_text.printable`),
but a notification quoting a server's error or a dialog showing a detail
must not be able to slip an ESC through either. Textual applies the app's
line filters to every line of every widget before the compositor writes it
(:meth:`AlfredApp.get_line_filters`); this one drops control characters from
the text of each segment. They occupy no cell, so the layout is unchanged.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from alfred_tui.terminal_text import without_controls


class ControlCharacterFilter(LineFilter):
    """Removes C0, DEL and C1 characters from the text of every segment."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(without_controls(text), style, control) if not control else segment
            for segment in segments
            for text, style, control in (segment,)
        ]
