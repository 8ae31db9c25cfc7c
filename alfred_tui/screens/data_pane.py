"""What the data panes (Migrations, Keyspace, Collections) share.

Sub-views: a pane with more tables than 24 rows hold shows one at a time
under a one-line :class:`~alfred_tui.widgets.subviews.SubviewBar`; ``[`` and
``]`` switch. From :attr:`DataPane.STACK_AT` rows on, every sub-view is shown
at once, each under its title, and ``[`` ``]`` move the focus between them.
The pane is styled ``-nodata`` before its first result (no empty tables) and
``-stale`` while the source does not answer (the last data, dimmed).

Polling (Migrations, Collections): one worker loops ``read -> post ->
wait``, waits while the pane is hidden or an action runs, reads at the
pane's interval while the source answers and with backoff while it does
not (``r`` retries at once). A read's result comes back as a
:class:`DataRead` message carrying the session's generation, so a result
for the previous target is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from textual import events
from textual.binding import Binding
from textual.message import Message

from alfred_tui.control.polling import Outcome, Reader
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaneScreen
from alfred_tui.screens.io import run_io
from alfred_tui.widgets.filter_table import FilterableTable
from alfred_tui.widgets.subviews import SubviewBar

T = TypeVar("T")


class DataAction(enum.StrEnum):
    """A data pane's action that changes a database (the app waits for it before switching)."""

    MIGRATE_UP = "migrate up"
    CREATE_COLLECTIONS = "create collections"


@dataclass(frozen=True)
class RunningAction:
    """The action a pane is running (``kind.value`` names it, as the overview's do)."""

    kind: DataAction


class DataRead(Message, Generic[T]):
    """A read finished (well or not) for the session of ``generation``."""

    def __init__(self, generation: int, outcome: Outcome[T]) -> None:
        super().__init__()
        self.generation = generation
        self.outcome = outcome


class DataPane(PaneScreen):
    """A pane showing one database's data, with sub-views and a poller."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "right_square_bracket",
            "subview(1)",
            "Next view",
            id="subview_next",
            tooltip="Show the next table of this pane",
        ),
        Binding(
            "left_square_bracket",
            "subview(-1)",
            "Previous view",
            show=False,
            id="subview_prev",
            tooltip="Show the previous table of this pane",
        ),
    ]

    STACK_AT: ClassVar[int | None] = None
    """Terminal rows from which every sub-view is shown at once (None: never)."""
    POLL_SECONDS: ClassVar[float] = 10.0
    """Least time between two reads while the source answers (``ui.refresh_seconds`` if longer)."""
    READ_TIMEOUT: ClassVar[float] = 30.0

    def __init__(self) -> None:
        super().__init__()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def on_mount(self) -> None:
        # (PaneScreen.on_mount runs too: it loads the pane.)
        self.alfred.mode_change_signal.subscribe(self, self._read_when_shown)

    def _read_when_shown(self, mode: str) -> None:
        """Shown again: read at once rather than show data as old as the interval."""
        if mode == self.pane_id:
            self._wake.set()

    # --- sub-views ----------------------------------------------------------------

    def action_subview(self, delta: int) -> None:
        bars = list(self.query(SubviewBar))
        if bars:
            bars[0].step(delta)

    def on_subview_bar_changed(self, event: SubviewBar.Changed) -> None:
        for view in self.query(".subview"):
            view.set_class(view.id == event.view_id, "-current")
        tables = list(self.query_one(f"#{event.view_id}").query(FilterableTable))
        if tables:
            tables[0].focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "subview" and not self.query(SubviewBar):
            return False  # a pane of one table: no "Next view" in its footer
        return super().check_action(action, parameters)

    def on_resize(self, event: events.Resize) -> None:
        stack = self.STACK_AT is not None and event.size.height >= self.STACK_AT
        if stack != self.has_class("-stacked"):
            self.set_class(stack, "-stacked")
            self.call_after_refresh(self.relayout)

    def show_state(self, has_data: bool, answering: bool) -> None:
        """Style the pane: no data yet (tables hidden), or stale data (dimmed)."""
        self.set_class(not has_data, "-nodata")
        self.set_class(has_data and not answering, "-stale")

    def relayout(self) -> None:
        """Measure the tables again.

        A DataTable whose height switches to ``auto`` (stacked), or that gets its
        rows while hidden (``-nodata``), keeps the height it had until its layout
        is refreshed: without this a stacked table can stay zero rows high.
        Panes call it after every redraw.
        """
        for table in self.query(FilterableTable):
            table.refresh(layout=True)

    @property
    def subview(self) -> str:
        """The sub-view shown."""
        return self.query_one(SubviewBar).current

    # --- polling --------------------------------------------------------------------

    def interval(self, session: Session) -> float:
        """Seconds between two reads while the source answers."""
        return max(session.refresh_seconds, self.POLL_SECONDS)

    def make_reader(self, session: Session, read: Any) -> Reader[Any]:
        """A reader of ``read`` with the session's backoff and clock."""
        return Reader(
            read,
            timeout=self.READ_TIMEOUT,
            base=session.refresh_seconds,
            cap=session.backoff_cap,
            clock=session.clock,
        )

    def start_polling(self, session: Session, reader: Reader[Any]) -> None:
        """Poll ``reader`` for ``session`` until the pane is reloaded."""
        self._wake = asyncio.Event()
        self._idle.set()
        run_io(
            self,
            lambda: self._poll_loop(session, reader),
            context=f"{self.pane_id} refresh",
            timeout=None,
            group="poll",
            exclusive=True,
        )

    async def _poll_loop(self, session: Session, reader: Reader[Any]) -> None:
        while True:
            await self.visible.wait()
            await self._idle.wait()
            outcome = await reader.read()
            self.post_message(DataRead(session.generation, outcome))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), reader.wait_after(outcome, self.interval(session))
                )

    def action_refresh(self) -> None:
        """Read now (a down source is retried at once)."""
        self._wake.set()

    def pause_polling(self) -> None:
        """No new read starts until :meth:`resume_polling` (an action needs the source)."""
        self._idle.clear()

    def resume_polling(self, read_now: bool = True) -> None:
        """Let reads start again; by default at once, to show what an action changed."""
        self._idle.set()
        if read_now:
            self._wake.set()
