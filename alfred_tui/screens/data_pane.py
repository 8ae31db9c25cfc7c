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

What every data pane keeps is here too: the last view and the outcome of the
last read (:meth:`DataPane.keep_outcome`), the source line above the tables
(:meth:`DataPane.show_source`), the action it runs (stopped and polling
resumed when its worker ends, :meth:`DataPane.on_worker_state_changed`), and
the refusal to plan an action on data it could not read
(:meth:`DataPane.readable_view`). Keyspace scans on demand rather than
polling; it shares the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.worker import Worker

from alfred_tui.backends.base import Progress
from alfred_tui.control.polling import Outcome, Reader
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaneScreen
from alfred_tui.screens.io import run_io, worker_ended
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.filter_table import FilterableTable
from alfred_tui.widgets.source_line import SourceLine
from alfred_tui.widgets.subviews import SubviewBar

T = TypeVar("T")
R = TypeVar("R")


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


class DataProgressed(Message):
    """A scan or an action of the pane's session ``generation`` reported progress."""

    def __init__(self, generation: int, progress: Progress) -> None:
        super().__init__()
        self.generation = generation
        self.progress = progress


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

    DOWN_TITLE: ClassVar[str] = ""
    """How the source line names the server while it does not answer (``Qdrant DOWN``)."""
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
        self.view: Any = None
        """The last data read (kept, dimmed, while the source does not answer)."""
        self.outcome: Outcome[Any] | None = None
        """How the last read went."""
        self._ok_at: float | None = None
        self._job: RunningAction | None = None

    # --- the data and the action --------------------------------------------------

    def forget_data(self) -> None:
        """A new target: no view, no outcome, no action shown (``load`` calls it)."""
        self.view = None
        self.outcome = None
        self._ok_at = None
        self._job = None
        self.query_one(ActionProgress).stop()

    def keep_outcome(self, generation: int, outcome: Outcome[Any]) -> bool:
        """Keep a read's outcome, and its view if it has one; False for a previous target's."""
        if generation != self.session.generation:
            return False
        self.outcome = outcome
        if outcome.value is not None:
            self.view = outcome.value
            self._ok_at = outcome.taken_at
        return True

    def show_source(self, answered: Callable[[Any], list[str | Text]]) -> bool:
        """The source line: DOWN with the reason and the retry, or ``answered(view)``.

        Returns False when there is nothing to say yet (no read, or no view).
        """
        outcome = self.outcome
        if outcome is None:
            return False
        line = self.query_one(SourceLine)
        if not outcome.ok:
            title = self.DOWN_TITLE if outcome.down else outcome.title
            line.show_down(title, outcome.error, outcome.retry_in, self._ok_at)
            return True
        if self.view is None:
            return False
        line.show_ok(answered(self.view), outcome.taken_at)
        return True

    def readable_view(self, what: str, title: str) -> Any:
        """The view an action is planned on, or None after saying why there is none."""
        outcome = self.outcome
        if self.view is None or (outcome is not None and not outcome.ok):
            reason = outcome.error if outcome and not outcome.ok else "not read yet"
            self.notify(
                f"cannot tell what is {what}: {reason}", title=title, severity="warning",
                markup=False,
            )  # fmt: skip
            return None
        return self.view

    def start_action(self, kind: DataAction, title: str) -> None:
        """An action that changes the database begins: no reads meanwhile, progress shown."""
        self._job = RunningAction(kind)
        self.pause_polling()
        self.query_one(ActionProgress).start(title)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if worker_ended(event, "action"):
            self._job = None
            self.query_one(ActionProgress).stop()
            self.resume_polling()  # show what the action changed at once

    @property
    def action_running(self) -> RunningAction | None:
        """The action in progress, if any (the app refuses to switch target meanwhile)."""
        return self._job

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
            await self.in_view.wait()
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


def selected_row(rows: Sequence[R], key: str | None, name: Callable[[R], str]) -> R | None:
    """The row named ``key`` (a table's cursor), else the first, else None."""
    return next((row for row in rows if name(row) == key), rows[0] if rows else None)
