"""The Logs pane's view: Textual's ``Log`` with colour applied only where the eye is.

``Log`` keeps plain strings and renders a line only when it is on screen, so
ingesting is a list ``extend`` no matter how lines are coloured. Colour is a
Rich highlighter run on those visible lines: each instance name in its
service's colour, the level word by severity, every search match reversed,
and the line of the current match tinted. A search therefore costs nothing
while 100,000 lines stream in (see ``benchmarks/logs_ingest.py``).

Colours come from the current theme (its ``text-*`` variables), so every
theme and a 256-colour terminal get readable ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.strip import Strip
from textual.widgets import Log

from alfred_tui.loglevels import Level, parse_level

_SEPARATOR = " | "
_SERVICE_ROLES = {"postgres": "text-primary", "redis": "text-success", "qdrant": "text-accent"}
_OTHER_ROLES = ("text-secondary", "text-warning")
#: Columns kept beside a match when the view scrolls sideways to show it.
_MARGIN = 8


class LogHighlighter(Highlighter):
    """Colours one rendered line (see the module docstring)."""

    def __init__(self, view: LogLines) -> None:
        self.view = view
        self.instance_service: Mapping[str, str] = {}
        self.pattern: re.Pattern[str] | None = None
        self.service_styles: dict[str, Style] = {}
        self.level_styles: dict[Level, Style] = {}
        self.match_style = Style(reverse=True, bold=True)
        self.current_style = Style()

    def highlight(self, text: Text) -> None:
        plain = text.plain
        cut = plain.find(_SEPARATOR)
        if cut > 0:
            name = plain[:cut].rstrip()
            service = self.instance_service.get(name, "")
            style = self.service_styles.get(service)
            if style is not None:
                text.stylize(style, 0, len(name))
            body = cut + len(_SEPARATOR)
            level, start, end = parse_level(service, plain[body:])
            if level is not None and start >= 0:
                level_style = self.level_styles.get(level)
                if level_style is not None:
                    text.stylize(level_style, body + start, body + end)
        if self.view.rendering_current:
            text.stylize(self.current_style)
        if self.pattern is not None:
            for match in self.pattern.finditer(plain):
                if match.end() > match.start():
                    text.stylize(self.match_style, match.start(), match.end())


class LogLines(Log):
    """Lines of every followed instance; ``n``/``N`` move :attr:`current` between matches."""

    DEFAULT_CSS = """
    LogLines { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self, max_lines: int, *, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=max_lines, auto_scroll=True, id=id)
        self.highlighter: LogHighlighter = LogHighlighter(self)
        self.current: int | None = None
        """Index of the line of the current search match, if any."""
        self._rendering: int = -1

    @property
    def rendering_current(self) -> bool:
        """Whether the line being rendered is the current match's."""
        return self.current is not None and self._rendering == self.current

    def on_mount(self) -> None:
        self.apply_theme()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.apply_theme())

    def apply_theme(self) -> None:
        """Take the colours of the current theme."""
        variables = self.app.theme_variables

        def colour(name: str, fallback: str) -> str:
            value = variables.get(name, "")
            return value if value.startswith("#") else fallback

        styles: dict[str, Style] = {}
        for service, role in _SERVICE_ROLES.items():
            styles[service] = Style(color=colour(role, "cyan"), bold=True)
        self.highlighter.service_styles = styles
        self.highlighter.level_styles = {
            Level.DEBUG: Style(dim=True),
            Level.WARNING: Style(color=colour("text-warning", "yellow"), bold=True),
            Level.ERROR: Style(color=colour("text-error", "red"), bold=True),
            Level.FATAL: Style(
                color=colour("background", "black"),
                bgcolor=colour("error", "red"),
                bold=True,
            ),
        }
        surface = Color.parse(colour("surface", "#1e1e1e"))
        tint = surface.blend(Color.parse(colour("accent", "#ffa62b")), 0.3)
        self.highlighter.current_style = Style(bgcolor=tint.hex)
        self.redraw()

    def colour_services(self, instance_service: Mapping[str, str], services: Sequence[str]) -> None:
        """Which service each instance belongs to (services past the known three: spare colours)."""
        self.highlighter.instance_service = instance_service
        styles = self.highlighter.service_styles
        spare = iter(_OTHER_ROLES)
        for service in services:
            if service not in styles:
                role = next(spare, "text-secondary")
                styles[service] = Style(color=self.app.theme_variables.get(role, "cyan"), bold=True)

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]  # Log's is a @work thread worker; nothing uses its Worker
        # Log measures every new line's width in a thread worker (to size the
        # horizontal scrollbar). At 100k lines/s that thread holds the GIL for
        # tens of milliseconds per batch and stalls key presses and drawing;
        # here the lines are already clean (no tabs or control characters, see
        # LogBuffer), so an ASCII batch is measured by len() in microseconds.
        # tests/test_ui_logs.py checks the scroll width, should Log change.
        if not lines:
            return
        measure = len if all(map(str.isascii, lines)) else cell_len
        widest = max(map(measure, lines))
        self._update_maximum_width(updates, widest)

    def render_line(self, y: int) -> Strip:
        # The highlighter needs to know which line it colours (the current match's
        # is tinted); Log renders one line at a time, so note it here.
        self._rendering = self.scroll_offset.y + y
        try:
            return super().render_line(y)
        finally:
            self._rendering = -1

    # --- content --------------------------------------------------------------------------

    def replace_lines(self, lines: Sequence[str]) -> None:
        """Show exactly ``lines`` (a filter changed), following the end."""
        self.current = None
        self.clear()
        self.write_lines(lines, scroll_end=True)
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def append_lines(self, lines: Sequence[str]) -> int:
        """Add ``lines`` in one batch; returns how many old lines the bound pushed out."""
        before = len(self.lines)
        self.write_lines(lines)
        pruned = before + len(lines) - len(self.lines)
        if pruned and self.current is not None:
            self.current = self.current - pruned if self.current >= pruned else None
        return pruned

    # --- search -----------------------------------------------------------------------------

    def set_pattern(self, pattern: re.Pattern[str] | None) -> None:
        """Highlight ``pattern``'s matches (None: no search)."""
        self.highlighter.pattern = pattern
        if pattern is None:
            self.current = None
        self.redraw()

    def go_to(self, index: int) -> None:
        """Make line ``index`` the current match and bring it (and the match) into view.

        The line goes to the middle; if the match is off to the side (long
        lines on a narrow terminal), the view scrolls sideways to show it.
        """
        self.current = index
        region = self.scrollable_content_region
        x = self.scroll_offset.x
        pattern = self.highlighter.pattern
        found = pattern.search(self.lines[index]) if pattern is not None else None
        if found is not None:
            line = self.lines[index]
            start = cell_len(line[: found.start()])
            end = start + max(1, cell_len(found.group()))
            if end > x + region.width:  # as little as needed: the names stay in view if they can
                x = max(0, min(start, end - region.width + _MARGIN))
            elif start < x:
                x = max(0, start - _MARGIN)
        self.scroll_to(
            x=x,
            y=max(0, index - region.height // 2),
            animate=False,
            immediate=True,
        )
        self.redraw()

    def redraw(self) -> None:
        """Render the visible lines again (colours or the search changed)."""
        cache = getattr(self, "_render_line_cache", None)  # Log caches lines while selecting
        if cache is not None:
            cache.clear()
        self.refresh()
