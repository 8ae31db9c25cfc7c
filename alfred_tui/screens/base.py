"""What every pane shares: header, pane bar, filter, footer, read-only rules, reloads.

A pane is a Textual screen run as a mode. The app calls :meth:`PaneScreen.load`
when the pane is first mounted and again whenever the operator switches
profile or backend; ``load`` must cancel whatever the pane's workers were
doing for the old target (``self.workers.cancel_node(self)``) and start
over. :attr:`visible` says whether the pane is the one on screen, so a
poller can pause while it is hidden.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input

from alfred_tui.widgets.filter_table import FilterableTable
from alfred_tui.widgets.footer import PaneFooter
from alfred_tui.widgets.header import TargetHeader
from alfred_tui.widgets.pane_tabs import PaneTabs, TabbedPane

if TYPE_CHECKING:
    from textual.signal import Signal

    from alfred_tui.control.session import Session


class PaneHost(Protocol):
    """What a pane needs of the app that runs it.

    ``alfred_tui.app.AlfredApp`` is one; panes never import it, since it
    imports them (the layers run one way: app, then screens, then widgets).
    """

    @property
    def panes(self) -> tuple[TabbedPane, ...]:
        """The registered panes, in the order of their number keys."""
        ...

    @property
    def keymap(self) -> dict[str, str]:
        """The profile's key remappings, by binding id."""
        ...

    @property
    def session(self) -> Session:
        """The session every pane shows."""
        ...

    @property
    def current_mode(self) -> str:
        """The id of the pane on screen."""
        ...

    @property
    def mode_change_signal(self) -> Signal[str]:
        """Published when another pane comes on screen."""
        ...

    @property
    def target_where(self) -> str:
        """Where the session's target is, for the panes' headers (read in a worker)."""
        ...

    @property
    def served(self) -> bool:
        """Whether the app runs in a browser (alfred-tui serve)."""
        ...

    def pane_mounted(self, pane: PaneScreen) -> None:
        """Called once by each pane when it is mounted."""

    def replay_badge(self) -> str:
        """A replay's time cursor for the header, or empty in a live session."""
        ...

    def show_moment(self, pane_id: str, at: float) -> None:
        """Show a pane; in a replay, at the moment ``at`` (the Timeline's jump)."""


@dataclass(frozen=True)
class PaletteCommand:
    """One entry of the command palette."""

    title: str
    help: str
    action: str
    """An action string run on the pane (``scale('redis')``)."""
    mutating: bool = False


def _normalize(keys: str) -> list[str]:
    """Key names as Textual spells them (``?`` -> ``question_mark``)."""
    try:
        from textual.keys import _normalize_key_list

        keys = _normalize_key_list(keys)
    except ImportError:  # pragma: no cover - a Textual without it: compare as written
        pass
    return [key.strip() for key in keys.split(",") if key.strip()]


def blocked_actions_for_key(pane: PaneScreen, event: events.Key) -> list[str]:
    """Actions ``event``'s key is bound to that cannot run (the profile's keymap applied)."""
    keymap = pane.alfred.keymap
    found = []
    for key, binding in pane._bindings:
        action = binding.action.split("(")[0]
        if not pane.refused(action) and pane.why_not(action) is None:
            continue
        keys = _normalize(keymap[binding.id]) if binding.id in keymap else [key]
        if event.key in keys:
            found.append(action)
    return found


class FilterBar(Input):
    """The ``/`` filter: shown on demand, filters every table of the pane as you type."""

    DEFAULT_CSS = """
    FilterBar { dock: bottom; display: none; height: 1; border: none; padding: 0 1; }
    FilterBar.-open { display: block; }
    """

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "close_filter(True)", "Clear filter", id="filter_clear"),
        Binding("enter", "close_filter(False)", "Keep filter", id="filter_keep", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(placeholder="filter rows (every word must match); Esc clears", id="filter")
        # Closed, it must not take the focus: in a pane with nothing else to focus
        # it would, and swallow the number keys as filter text.
        self.can_focus = False

    def open(self) -> None:
        """Show the bar and type into it."""
        self.add_class("-open")
        self.can_focus = True
        self.focus()

    def close(self) -> None:
        """Hide the bar; it takes no keys until opened again."""
        self.remove_class("-open")
        self.can_focus = False
        self.blur()

    def action_close_filter(self, clear: bool) -> None:
        pane = self.screen
        if isinstance(pane, PaneScreen):
            pane.close_filter(clear)


class PaneScreen(Screen[None]):
    """Base of every pane."""

    pane_id: ClassVar[str] = ""
    MUTATING: ClassVar[frozenset[str]] = frozenset()
    """Actions that change a deployment: hidden, and refused, in read-only mode."""
    WRITES_FILES: ClassVar[frozenset[str]] = frozenset()
    """Actions that write files where alfred-tui runs: in a read-only *served* session
    they are refused too (the browser's user has no shell on that machine)."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("slash", "open_filter", "Filter", id="filter", tooltip="Filter the tables"),
        Binding("r", "refresh", "Refresh", show=False, id="refresh", tooltip="Refresh now"),
    ]

    def __init__(self) -> None:
        super().__init__(id=f"pane-{self.pane_id}")
        self._in_view = asyncio.Event()

    @property
    def alfred(self) -> PaneHost:
        """The app, as what a pane needs of it."""
        return cast(PaneHost, self.app)

    @property
    def pane_title(self) -> str:
        """The pane's title from the registry."""
        spec = next((p for p in self.alfred.panes if p.id == self.pane_id), None)
        return spec.title if spec else self.pane_id

    @property
    def session(self) -> Session:
        """The session the pane shows."""
        return self.alfred.session

    # --- layout ---------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TargetHeader(id="target")
        yield PaneTabs(self.alfred.panes, self.pane_id)
        with Vertical(id="body"):
            yield from self.compose_body()
        yield FilterBar()
        yield PaneFooter()

    def compose_body(self) -> ComposeResult:
        """The pane's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        self.alfred.pane_mounted(self)
        self.alfred.mode_change_signal.subscribe(self, self._mode_changed)
        self._mode_changed(self.alfred.current_mode)
        self.update_header()
        self.load(self.session)

    def update_header(self) -> None:
        """Show the app's current target in this pane's header.

        The target is read in a worker; its answer can arrive while the app
        quits and the pane's widgets are already gone (then there is nothing
        to update; a query_one here raised NoMatches on a quick quit).
        """
        app = self.alfred
        target = app.target_where
        for header in self.query(TargetHeader):
            header.show(
                app.session.profile_name,
                app.session.backend_name,
                target,
                app.session.readonly,
                app.replay_badge(),
            )

    # --- lifecycle ------------------------------------------------------------

    def load(self, session: Session) -> None:
        """(Re)start for ``session``; cancel anything still running for the previous one."""
        self.workers.cancel_node(self)

    @property
    def in_view(self) -> asyncio.Event:
        """Set while this pane is the one on screen (pollers wait on it).

        Not ``visible``: that is Textual's (a bool it reads for the screen's focus chain
        and its children's visibility) and a pane must not shadow it.
        """
        return self._in_view

    def _mode_changed(self, mode: str) -> None:
        if mode == self.pane_id:
            self._in_view.set()
        else:
            self._in_view.clear()

    # --- actions and the palette ---------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        """This pane's entries for the command palette (mutating ones are filtered out)."""
        yield from ()

    def refused(self, action: str) -> bool:
        """Whether ``action`` must not run: read-only and it changes a deployment."""
        if not self.session.readonly:
            return False
        return action in self.MUTATING or (action in self.WRITES_FILES and self.alfred.served)

    def why_not(self, action: str) -> str | None:
        """Why ``action`` cannot run here (the backend cannot do it), or None."""
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.refused(action):
            return False  # absent from the footer and the palette
        if self.why_not(action) is not None:
            return None  # shown dimmed; pressing its key says why
        return True

    def refuse(self, action: str) -> None:
        """Say why ``action`` does not run in this session."""
        why = (
            "alfred-tui serve runs browser sessions read-only unless --allow-write"
            if self.alfred.served
            else "this session was opened with --readonly"
        )
        self.notify(
            f"{action} is disabled: {why}",
            title="Read-only",
            severity="warning",
            markup=False,
        )

    def blocked(self, action: str) -> bool:
        """Say so and return True when ``action`` may not run now."""
        if self.refused(action):
            self.refuse(action)
            return True
        reason = self.why_not(action)
        if reason is not None:
            self.notify(reason, title="Not supported", severity="warning", markup=False)
            return True
        return False

    def on_key(self, event: events.Key) -> None:
        """A key bound (or remapped) to an action that cannot run says why, not nothing."""
        for action in blocked_actions_for_key(self, event):
            event.stop()
            self.blocked(action)
            return

    def goto_pane(self, pane_id: str) -> PaneScreen | None:
        """Show the pane ``pane_id`` and return it (None when it is not registered).

        The pane may not be mounted yet (first visit): it is created by the
        switch and mounts on the next frames, so a request made on it now
        (open this runbook) must be kept until its ``load``.
        """
        if not any(pane.id == pane_id for pane in self.alfred.panes):
            self.notify(
                f"the {pane_id} pane is not part of this build",
                title="Not available",
                severity="warning",
                markup=False,
            )
            return None
        self.app.switch_mode(pane_id)
        bottom = self.app.screen_stack[0] if self.app.screen_stack else None
        return bottom if isinstance(bottom, PaneScreen) else None

    # --- filter ---------------------------------------------------------------

    def action_open_filter(self) -> None:
        self.query_one(FilterBar).open()

    def close_filter(self, clear: bool) -> None:
        """Hide the filter bar; ``clear`` also drops the filter."""
        bar = self.query_one(FilterBar)
        if clear:
            bar.value = ""
            self._apply_filter("")
        bar.close()
        tables = list(self.query(FilterableTable))
        if tables:
            tables[0].focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, FilterBar):
            self._apply_filter(event.value)

    def _apply_filter(self, text: str) -> None:
        for table in self.query(FilterableTable):
            table.set_filter(text)
        self.query_one(PaneTabs).show_filter(text)

    def action_refresh(self) -> None:
        """Reload now (panes override)."""
