"""The bars around the Logs pane's view.

Above: which services are shown (click one to hide or show it), the lowest
level shown (click to change), and how many lines are kept against the
bound. Below: a box with the whole reason when something is wrong (it
wraps: an error is never cut off), then one line saying what the stream is
doing (following, paused with the number of lines waiting, retrying and
when) on the left and the search on the right. Every state is a word as
well as a colour.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Static

from alfred_tui.loglevels import Level


class ServiceToggle(Label):
    """One service's name: shown in colour, or dim and struck through when hidden."""

    def __init__(self, service: str) -> None:
        super().__init__("", markup=False, classes=f"-{service}")
        self.service = service
        self.tooltip = f"Show or hide {service}'s lines"

    def show_state(self, shown: bool) -> None:
        """Draw the name as shown or hidden."""
        self.set_class(not shown, "-hidden")
        self.update(Text(f" {self.service} ", style="" if shown else "strike"))

    async def on_click(self) -> None:
        await self.screen.run_action(f"toggle_service('{self.service}')")


class LevelToggle(Label):
    """``level ≥ warning``; a click moves to the next level."""

    def __init__(self) -> None:
        super().__init__("", markup=False, id="level-toggle")
        self.tooltip = "Lowest level shown (click or l: next level)"

    def show_level(self, level: Level) -> None:
        """Draw the current lowest level."""
        word = "all" if level is Level.DEBUG else f"≥ {level.label}"
        self.set_class(level is not Level.DEBUG, "-narrowed")
        self.update(f" level {word} ")

    async def on_click(self) -> None:
        await self.screen.run_action("next_level")


class LogControls(Horizontal):
    """Services, level, kept lines."""

    DEFAULT_CSS = """
    LogControls { height: 1; width: 1fr; }
    LogControls Label { width: auto; }
    LogControls #service-toggles { width: auto; height: 1; }
    LogControls #log-count { width: 1fr; text-align: right; padding-left: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._services: list[str] = []

    def compose(self) -> ComposeResult:
        yield Horizontal(id="service-toggles")
        yield LevelToggle()
        yield Static("", id="log-count")

    def show(
        self,
        services: Sequence[str],
        hidden: set[str],
        level: Level,
        kept: int,
        shown: int,
        max_lines: int,
    ) -> None:
        """Redraw: ``services`` followed, ``hidden`` ones, the level, line counts."""
        box = self.query_one("#service-toggles", Horizontal)
        if list(services) != self._services:
            self._services = list(services)
            box.remove_children()
            box.mount_all(ServiceToggle(service) for service in services)
            self.call_after_refresh(self._redraw_toggles, hidden)
        else:
            self._redraw_toggles(hidden)
        self.query_one(LevelToggle).show_level(level)
        counts = (
            f"{shown:,} shown of {kept:,} kept (max {max_lines:,}) "
            if shown != kept
            else f"{kept:,} lines (max {max_lines:,}) "
        )
        self.query_one("#log-count", Static).update(Text(counts, no_wrap=True, overflow="ellipsis"))

    def _redraw_toggles(self, hidden: set[str]) -> None:
        for toggle in self.query(ServiceToggle):
            toggle.show_state(toggle.service not in hidden)


class LogStatus(Horizontal):
    """The stream's state on the left, the search on the right."""

    DEFAULT_CSS = """
    LogStatus { height: 1; width: 1fr; }
    LogStatus Static { text-wrap: nowrap; text-overflow: ellipsis; }
    LogStatus #log-state { width: 1fr; }
    LogStatus #log-search { width: auto; max-width: 60%; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="log-state")
        yield Static("", id="log-search")

    def show_state(self, text: Text, role: str = "") -> None:
        """The left side; ``role`` (``-problem``, ``-paused``) colours the bar."""
        self.query_one("#log-state", Static).update(text)
        for name in ("-problem", "-paused"):
            self.set_class(name == role, name)

    def show_search(self, text: Text) -> None:
        """The right side (empty when there is no search)."""
        self.query_one("#log-search", Static).update(text)


class LogProblem(Static):
    """Why the stream is down or quiet, in full (wrapped); hidden when all is well."""

    DEFAULT_CSS = """
    LogProblem { height: auto; max-height: 4; padding: 0 1; display: none; }
    LogProblem.-shown { display: block; }
    """

    def show_problem(self, lines: list[str]) -> None:
        """Show ``lines`` (one per problem), or hide the box when there are none."""
        self.set_class(bool(lines), "-shown")
        self.update(Text("\n".join(lines)))


class LogEmpty(Static):
    """What an empty view means: waiting for a first line, or a filter that hides everything."""

    DEFAULT_CSS = """
    LogEmpty { height: auto; padding: 1 2; display: none; color: $text-muted; }
    LogEmpty.-shown { display: block; }
    """

    def show_hint(self, text: str) -> None:
        """Show ``text``; an empty string hides the hint."""
        self.set_class(bool(text), "-shown")
        self.update(Text(text))
