"""The guided restore's driver: the CLI's :class:`RestoreFlow`, seen as frozen views.

The Restore screen never touches the flow's mutable steps: every change
(a step starts, says something, reports progress, ends) becomes a new
:class:`RestoreView` handed to ``on_change``, which the screen posts to
itself as a message. Byte progress is thinned to about ten views a second;
status and message changes always go through.

The rules live here, not in the screen: a read-only session is refused at
the confirmation step (the flow records it, as ``alfred-tui --readonly
restore`` does); the undo offered after a failed restore is a rollback when
the journal is still there (the restore itself failed) and a restore of the
safety copy when the journal was cleared (the counts did not match).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from alfred_tui.backends.base import Progress
from alfred_tui.backup.restore import Outcome, RestoreFlow, Step, StepId, StepStatus

if TYPE_CHECKING:
    from alfred_tui.backup.catalog import Catalog
    from alfred_tui.backup.journal import Journal, JournalStore
    from alfred_tui.config.models import ServiceKind
    from alfred_tui.control.session import Session

RestoreMode = Literal["restore", "resume", "rollback"]

#: Shortest time between two views that differ only in progress.
PROGRESS_INTERVAL = 0.1

#: The outcomes after which the data may not be what the operator wanted.
UNDOABLE = frozenset({Outcome.VERIFY_FAILED.value, Outcome.RESTORE_FAILED.value})


@dataclass(frozen=True)
class UnfinishedRestore:
    """A restore journal left behind: the process was killed or the database died midway."""

    service: str
    backup_id: str
    mode: str
    step: str
    safety_id: str | None
    failure: str | None
    changed_data: bool
    started_at: str
    path: str

    def describe(self) -> str:
        """One sentence: what stopped where, and whether the data may be half-restored."""
        text = f"{self.mode} of {self.backup_id} stopped at step '{self.step}'"
        if self.failure:
            text += f" ({self.failure})"
        if self.changed_data:
            text += f"; the data may be half-restored, the safety copy {self.safety_id} holds it"
        else:
            text += "; nothing had been changed yet"
        return text


def unfinished_of(journal: Journal, path: str) -> UnfinishedRestore:
    return UnfinishedRestore(
        service=journal.service,
        backup_id=journal.backup_id,
        mode=journal.mode,
        step=journal.step,
        safety_id=journal.safety_id,
        failure=journal.failure,
        changed_data=journal.changed_data,
        started_at=journal.started_at,
        path=path,
    )


@dataclass(frozen=True)
class StepView:
    """One step as shown: number, title, status word, its messages, its progress."""

    id: str
    number: int
    title: str
    status: str = StepStatus.PENDING.value
    messages: tuple[str, ...] = ()
    progress: Progress | None = None
    duration: float | None = None


def pending_steps() -> tuple[StepView, ...]:
    """All seven steps, nothing started (the screen before a backup is chosen)."""
    return tuple(
        StepView(step_id.value, number, Step(step_id).title)
        for number, step_id in enumerate(StepId, 1)
    )


@dataclass(frozen=True)
class RestoreView:
    """Where a restore stands."""

    service: str
    mode: str = "restore"
    reference: str | None = None
    backup_id: str | None = None
    safety_id: str | None = None
    outcome: str = Outcome.PENDING.value
    steps: tuple[StepView, ...] = ()
    readonly: bool = False
    unfinished: UnfinishedRestore | None = None
    """The journal found when the outcome is ``interrupted_found``."""

    def step(self, step_id: str) -> StepView:
        return next(step for step in self.steps if step.id == step_id)

    @property
    def started(self) -> bool:
        return any(step.status != StepStatus.PENDING.value for step in self.steps)

    @property
    def waiting_for_confirmation(self) -> bool:
        return (
            self.outcome == Outcome.PENDING.value
            and self.step(StepId.CONFIRM.value).status == StepStatus.RUNNING.value
        )

    @property
    def executing(self) -> bool:
        """Steps 5-7 are under way: the data is being changed."""
        return (
            self.outcome == Outcome.PENDING.value
            and self.step(StepId.CONFIRM.value).status == StepStatus.DONE.value
        )

    @property
    def finished(self) -> bool:
        return self.outcome != Outcome.PENDING.value

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.RESTORED.value, Outcome.NOTHING_TO_DO.value)

    @property
    def changed_nothing(self) -> bool:
        """Ended before step 5 touched anything (pre-flight, refusal, no safety copy)."""
        return self.finished and self.step(StepId.RESTORE.value).status in (
            StepStatus.PENDING.value,
        )

    @property
    def current(self) -> StepView:
        """The step running now, else the last one that started, else the first."""
        running = [s for s in self.steps if s.status == StepStatus.RUNNING.value]
        if running:
            return running[0]
        started = [s for s in self.steps if s.status != StepStatus.PENDING.value]
        return started[-1] if started else self.steps[0]

    @property
    def undo_offered(self) -> bool:
        """The restore failed after the safety copy: bringing it back is offered."""
        return self.outcome in UNDOABLE and self.safety_id is not None


def view_of(
    flow: RestoreFlow, readonly: bool, unfinished: UnfinishedRestore | None = None
) -> RestoreView:
    """A frozen copy of ``flow``'s state."""
    steps = tuple(
        StepView(
            step.id.value,
            number,
            step.title,
            step.status.value,
            tuple(step.messages),
            step.progress,
            step.duration,
        )
        for number, step in enumerate(flow.steps, 1)
    )
    return RestoreView(
        service=flow.service,
        mode=flow.mode,
        reference=flow.reference,
        backup_id=flow.entry.id if flow.entry is not None else None,
        safety_id=flow.safety.id if flow.safety is not None else None,
        outcome=flow.outcome.value,
        steps=steps,
        readonly=readonly,
        unfinished=unfinished,
    )


class RestoreDriver:
    """One restore of one service on the session's backend, for the guided screen."""

    def __init__(
        self,
        session: Session,
        catalog: Catalog,
        service: ServiceKind,
        reference: str | None,
        *,
        mode: RestoreMode = "restore",
        journals: JournalStore,
        on_change: Callable[[RestoreView], None],
    ) -> None:
        self.session = session
        self.journals = journals
        self.on_change = on_change
        self.flow = RestoreFlow(
            session.backend,
            catalog,
            service,
            reference,
            mode=mode,
            journals=journals,
            on_change=self._changed,
        )
        self._shape: tuple[tuple[str, int], ...] = ()
        self._progress_at = 0.0

    @property
    def service(self) -> ServiceKind:
        return self.flow.service

    def view(self) -> RestoreView:
        journal = self.flow.journal
        unfinished = None
        if journal is not None and self.flow.outcome == Outcome.INTERRUPTED_FOUND:
            path = str(self.journals.path(journal.profile, journal.service))
            unfinished = unfinished_of(journal, path)
        return view_of(self.flow, self.session.readonly, unfinished)

    def _changed(self, _step: Step) -> None:
        shape = tuple((s.status.value, len(s.messages)) for s in self.flow.steps)
        now = time.monotonic()
        if shape == self._shape and now - self._progress_at < PROGRESS_INTERVAL:
            return  # progress only, and the last view is recent enough
        self._shape = shape
        self._progress_at = now
        self.on_change(self.view())

    def _publish(self) -> None:
        self._shape = ()
        self._changed(self.flow.steps[0])

    # --- the steps ---------------------------------------------------------------------

    async def prepare(self) -> bool:
        """Steps 1-3; True when the flow waits for the typed confirmation.

        In a read-only session the flow stops at step 4 with the refusal
        recorded: the operator sees the plan, nothing can be confirmed.
        """
        ready = await self.flow.prepare()
        if ready and self.session.readonly:
            self.flow.confirm(None, readonly=True)
            ready = False
        self._publish()
        return ready

    def expects(self, typed: str) -> bool:
        """Whether ``typed`` is what the confirmation asks for (the service's name)."""
        return typed.strip() == self.service

    def confirm(self, typed: str) -> bool:
        """Step 4: the typed service name; refused when read-only or when it differs."""
        confirmed = self.flow.confirm(typed, readonly=self.session.readonly)
        self._publish()
        return confirmed

    async def execute(self) -> str:
        """Steps 5-7 after :meth:`confirm`; the outcome's value."""
        outcome = await self.flow.execute()
        self._publish()
        return outcome.value

    async def close(self) -> None:
        """Release the restore lock and the engine's connections."""
        await self.flow.close()

    async def undo_target(self) -> tuple[RestoreMode, str | None] | None:
        """How to bring the data from before back after a failed restore, if it can be.

        A journal still there (the restore step failed, or counting failed)
        means the flow must roll back to its safety copy; without one (the
        counts did not match) the safety copy is an ordinary backup to restore.
        """
        view = self.view()
        if not view.undo_offered:
            return None
        journal = await asyncio.to_thread(self.journals.load, self.flow.profile, self.service)
        if journal is not None:
            return ("rollback", None)
        return ("restore", view.safety_id)
