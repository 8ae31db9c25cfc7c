"""The restore flow as a state machine: typed steps, each with a status and messages.

The CLI and the guided screen drive the same object::

    flow = RestoreFlow(backend, catalog, "redis", "redis-20261125T180635Z")
    async with flow:
        if await flow.prepare():            # 1 backup, 2 pre-flight, 3 plan
            if flow.confirm(typed="redis"): # 4 confirmation (or assume_yes=True)
                await flow.execute()        # 5 safety copy + restore, 6 verification
    flow.outcome                            # RESTORED, VERIFY_FAILED, ...

Each change of a step (status, message, progress) calls ``on_change(step)``,
so a screen redraws and the CLI prints as the flow runs. Nothing changes
the database before step 5, and step 5 starts with a safety copy: a normal
backup of the current data, marked as such in the catalog.

Interrupted restores: a journal (:mod:`.journal`) is written before every
step of 5 and 6. ``RestoreFlow(..., mode="rollback")`` restores the safety
copy a journal names (without taking another), ``mode="resume"`` retries the
journal's backup (without taking the safety copy again).

Why one module of this size: the seven steps of one restore and the journal
written before each are one state machine, shared by the CLI and the guided
screen; each database's own work is in its engine module.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from alfred_tui.backends.base import Backend, Progress
from alfred_tui.backends.capabilities import Capability, Restartable, Stoppable, require, supports
from alfred_tui.backup.catalog import Catalog, CatalogEntry, FileCheck
from alfred_tui.backup.engine import Engine, FileReport
from alfred_tui.backup.engines import open_engine
from alfred_tui.backup.files import sha256_file
from alfred_tui.backup.journal import PITR_JOURNAL, Journal, JournalStore
from alfred_tui.backup.take import take_backup
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError
from alfred_tui.units import format_bytes

Mode = Literal["restore", "resume", "rollback"]


class StepId(enum.StrEnum):
    """The six steps of a restore, in order."""

    BACKUP = "backup"
    PREFLIGHT = "preflight"
    PLAN = "plan"
    CONFIRM = "confirm"
    SAFETY_COPY = "safety_copy"
    RESTORE = "restore"
    VERIFY = "verify"


STEP_TITLES = {
    StepId.BACKUP: "Backup",
    StepId.PREFLIGHT: "Pre-flight",
    StepId.PLAN: "Plan",
    StepId.CONFIRM: "Confirmation",
    StepId.SAFETY_COPY: "Safety copy",
    StepId.RESTORE: "Restore",
    StepId.VERIFY: "Verification",
}


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class Outcome(enum.StrEnum):
    """How a restore ended."""

    PENDING = "pending"
    """Not finished yet (waiting for confirmation, or running)."""
    RESTORED = "restored"
    """Restored and verified."""
    NOTHING_TO_DO = "nothing_to_do"
    """A journal was found but nothing had been changed; it was cleared."""
    INTERRUPTED_FOUND = "interrupted_found"
    """An unfinished restore must be resumed or rolled back first."""
    PREFLIGHT_FAILED = "preflight_failed"
    REFUSED = "refused"
    """Not confirmed, or read-only mode."""
    SAFETY_FAILED = "safety_failed"
    RESTORE_FAILED = "restore_failed"
    VERIFY_FAILED = "verify_failed"


@dataclass
class Step:
    """One step: what it is, how it went, and what it said."""

    id: StepId
    status: StepStatus = StepStatus.PENDING
    messages: list[str] = field(default_factory=list)
    progress: Progress | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def title(self) -> str:
        return STEP_TITLES[self.id]

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id.value,
            "title": self.title,
            "status": self.status.value,
            "messages": list(self.messages),
            "duration_seconds": None if self.duration is None else round(self.duration, 3),
        }


class _StepFailed(Exception):
    """Ends the current step as failed (its messages already say why)."""


def age(moment: datetime, now: datetime | None = None) -> str:
    """``3 h 12 min ago`` / ``2 d ago`` for people."""
    seconds = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        hours, minutes = divmod(int(seconds // 60), 60)
        return f"{hours} h {minutes} min ago"
    return f"{seconds / 86400:.0f} d ago"


class RestoreFlow:
    """One restore of one service, step by step."""

    def __init__(
        self,
        backend: Backend,
        catalog: Catalog,
        service: ServiceKind,
        reference: str | None = None,
        *,
        mode: Mode = "restore",
        journals: JournalStore | None = None,
        on_change: Callable[[Step], None] = lambda _step: None,
    ) -> None:
        self.backend = backend
        self.catalog = catalog
        self.service = service
        self.reference = reference
        self.mode: Mode = mode
        self.journals = journals or JournalStore()
        self.on_change = on_change
        self.steps = [Step(step_id) for step_id in StepId]
        self.outcome = Outcome.PENDING
        self.entry: CatalogEntry | None = None
        self.safety: CatalogEntry | None = None
        self.journal: Journal | None = None
        self.engine: Engine | None = None
        self._lock: contextlib.ExitStack | None = None
        self._facts: dict[str, Any] = {}

    # --- plumbing ---------------------------------------------------------------------

    @property
    def profile(self) -> str:
        return self.backend.profile.name

    def step(self, step_id: StepId) -> Step:
        return next(step for step in self.steps if step.id == step_id)

    def _start(self, step_id: StepId) -> Step:
        step = self.step(step_id)
        step.status = StepStatus.RUNNING
        step.started_at = time.monotonic()
        self.on_change(step)
        return step

    def _say(self, step: Step, message: str) -> None:
        step.messages.append(message)
        self.on_change(step)

    def _finish(self, step: Step, status: StepStatus) -> None:
        step.status = status
        step.progress = None
        step.finished_at = time.monotonic()
        self.on_change(step)

    def _fail(self, step: Step, message: str, outcome: Outcome) -> bool:
        self._say(step, message)
        self._finish(step, StepStatus.FAILED)
        self.outcome = outcome
        return False

    def _progress(self, step: Step) -> Callable[[Progress], None]:
        def report(item: Progress) -> None:
            step.progress = item
            self.on_change(step)

        return report

    async def __aenter__(self) -> RestoreFlow:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the engine's connections and the restore lock."""
        if self.engine is not None:
            await self.engine.close()
            self.engine = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # --- 1-3: nothing changes yet -----------------------------------------------------

    async def prepare(self) -> bool:
        """Steps 1-3. True when the flow waits for confirmation; False when it stopped."""
        step = self._start(StepId.BACKUP)
        try:
            if not await self._choose(step):
                return False
        except AlfredError as exc:
            return self._fail(step, exc.message, Outcome.PREFLIGHT_FAILED)
        self._finish(step, StepStatus.DONE)
        step = self._start(StepId.PREFLIGHT)
        try:
            if not await self._preflight(step):
                return False
        except AlfredError as exc:
            return self._fail(step, exc.message, Outcome.PREFLIGHT_FAILED)
        self._finish(step, StepStatus.DONE)
        step = self._start(StepId.PLAN)
        try:
            await self._plan(step)
        except AlfredError as exc:
            return self._fail(step, exc.message, Outcome.PREFLIGHT_FAILED)
        self._finish(step, StepStatus.DONE)
        self._start(StepId.CONFIRM)
        return True

    async def _choose(self, step: Step) -> bool:
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(self.journals.lock(self.profile, self.service))
        pitr = (
            self.journals.load(self.profile, PITR_JOURNAL) if self.service == "postgres" else None
        )
        if pitr is not None:
            return self._fail(
                step,
                f"a point-in-time recovery of postgres was interrupted at step '{pitr.step}'; "
                f"run alfred-tui pitr recover --rollback --profile {self.profile} first",
                Outcome.INTERRUPTED_FOUND,
            )
        self.journal = self.journals.load(self.profile, self.service)
        if self.journal is None and self.mode != "restore":
            return self._fail(
                step,
                f"no unfinished restore of {self.service} to {self.mode} "
                f"(no journal at {self.journals.path(self.profile, self.service)})",
                Outcome.PREFLIGHT_FAILED,
            )
        if self.journal is not None:
            if not await self._from_journal(step, self.journal):
                return False
        else:
            if not self.reference:
                return self._fail(step, "which backup? give its id or path", Outcome.REFUSED)
            self.entry = self.catalog.find(self.reference, self.service)
        entry = self.entry
        assert entry is not None, "found above, or by _from_journal"
        manifest = entry.require()
        if manifest.service != self.service:
            return self._fail(
                step,
                f"{manifest.id} is a {manifest.service} backup, not {self.service}",
                Outcome.PREFLIGHT_FAILED,
            )
        if manifest.kind != "dump":
            return self._fail(
                step,
                f"{manifest.id} is a PostgreSQL base backup: use alfred-tui pitr recover",
                Outcome.PREFLIGHT_FAILED,
            )
        check = entry.last_check()
        verified = (
            f"verified {age(check.checked_at)} ({check.how})"
            if check and check.ok
            else f"last check FAILED {age(check.checked_at)}: {'; '.join(check.problems)}"
            if check
            else "not verified"
        )
        kind = " (safety copy)" if manifest.safety_copy else ""
        self._say(
            step,
            f"{manifest.id}{kind}: taken {age(manifest.created_at)}, "
            f"{format_bytes(manifest.bytes)}, {verified}",
        )
        self._say(
            step,
            f"holds {manifest.summary()}; {manifest.server_version}, "
            f"from profile '{manifest.profile}' on {manifest.backend}",
        )
        return True

    async def _from_journal(self, step: Step, journal: Journal) -> bool:
        where = f"{journal.mode} of {journal.backup_id} stopped at step '{journal.step}'"
        if journal.failure:
            where += f" ({journal.failure})"
        if self.mode == "restore":
            hint = (
                f"run alfred-tui restore {self.service} --rollback to bring back the safety copy "
                f"{journal.safety_id}, or --resume to retry {journal.backup_id}"
                if journal.changed_data
                else f"nothing was changed; run alfred-tui restore {self.service} --resume "
                "to start it again, or --rollback to forget it"
            )
            return self._fail(
                step, f"an unfinished restore was found: {where}; {hint}", Outcome.INTERRUPTED_FOUND
            )
        self._say(step, f"unfinished restore found: {where}")
        if self.mode == "rollback":
            if not journal.changed_data:
                self.journals.clear(self.profile, self.service)
                self._say(step, "nothing had been changed yet; there is nothing to roll back")
                self._finish(step, StepStatus.DONE)
                self.outcome = Outcome.NOTHING_TO_DO
                return False
            self.entry = self.catalog.find(journal.safety_folder or journal.safety_id or "")
            self._say(step, f"rolling back to the safety copy {journal.safety_id}")
        else:
            self.entry = self.catalog.find(journal.backup_folder or journal.backup_id)
            if journal.safety_id:
                self.safety = self.catalog.find(journal.safety_folder or journal.safety_id)
            self._say(step, f"retrying the restore of {journal.backup_id}")
        return True

    async def _ensure_running(self, step: Step) -> None:
        """After an interruption the database may have been left stopped: start it."""
        assert self.engine is not None
        try:
            await self.engine.server_version()
            return
        except AlfredError as exc:
            if supports(self.backend, self.service, Capability.STOP_START):
                self._say(step, f"{self.service} does not answer ({exc.message}); starting it")
                await require(self.backend, self.service, Stoppable).start(self.service)
            elif supports(self.backend, self.service, Capability.RESTART):
                self._say(step, f"{self.service} does not answer ({exc.message}); restarting it")
                await require(self.backend, self.service, Restartable).restart(self.service)
            else:
                raise

    async def _preflight(self, step: Step) -> bool:
        assert self.entry is not None
        manifest = self.entry.require()
        problems: list[str] = []
        for item in manifest.files:
            path = self.entry.path(item.name)
            if not path.is_file():
                problems.append(f"{item.name}: missing from {self.entry.folder}")
                continue
            digest = await sha256_file(path, self._progress(step), f"sha256 {item.name}")
            if digest != item.sha256:
                problems.append(
                    f"{item.name}: SHA-256 differs from the manifest (the file changed)"
                )
        if problems:
            self._record_check(False, "sha256", problems)
            return self._fail(step, "; ".join(problems), Outcome.PREFLIGHT_FAILED)
        self._say(step, f"SHA-256 of {len(manifest.files)} file(s) matches the manifest")
        self.engine = await open_engine(self.backend, self.service)
        report: FileReport = await self.engine.check_files(
            self.entry.folder, manifest, manifest.details
        )
        if report.problems:
            self._record_check(False, report.how, report.problems)
            return self._fail(step, "; ".join(report.problems), Outcome.PREFLIGHT_FAILED)
        self._facts = report.facts
        self._say(step, f"readable by the engine's own tool: {report.how}")
        self._record_check(True, f"sha256 + {report.how}", [])
        missing = self.engine.missing_for_restore()
        if missing:
            return self._fail(step, "; ".join(missing), Outcome.PREFLIGHT_FAILED)
        if self.mode != "restore":
            await self._ensure_running(step)
        server = await self.engine.server_version()
        incompatible = self.engine.compatibility(manifest, report.facts, server)
        if incompatible:
            return self._fail(step, "; ".join(incompatible), Outcome.PREFLIGHT_FAILED)
        self._say(
            step,
            f"versions compatible: backup from {manifest.server_version}, server runs {server}",
        )
        return True

    def _record_check(self, ok: bool, how: str, problems: list[str]) -> None:
        if self.entry is not None:
            with contextlib.suppress(OSError):
                self.entry.record_check(FileCheck(datetime.now(UTC), ok, how, tuple(problems)))

    async def _plan(self, step: Step) -> None:
        assert self.engine is not None and self.entry is not None
        for line in await self.engine.plan(self.entry.require()):
            self._say(step, line)
        if self.mode == "rollback":
            self._say(step, "no new safety copy: the data now is a half-finished restore")
        elif self.safety is not None:
            self._say(step, f"the safety copy taken before is kept: {self.safety.id}")
        else:
            self._say(
                step,
                f"first, a safety copy of the current {self.service} data is taken "
                f"into {self.catalog.root / self.service} (marked as a safety copy)",
            )

    # --- 4: confirmation --------------------------------------------------------------

    @property
    def waiting_for_confirmation(self) -> bool:
        return self.step(StepId.CONFIRM).status == StepStatus.RUNNING

    def confirm(
        self, typed: str | None = None, *, assume_yes: bool = False, readonly: bool = False
    ) -> bool:
        """Step 4: the operator typed the service name (or ``--yes``); refused read-only."""
        step = self.step(StepId.CONFIRM)
        if step.status != StepStatus.RUNNING:
            raise AlfredError("the restore is not waiting for confirmation", title="Restore")
        if readonly:
            return self._fail(step, "read-only mode: restores are disabled", Outcome.REFUSED)
        if assume_yes:
            self._say(step, "confirmed by --yes")
        elif typed is not None and typed.strip() == self.service:
            self._say(step, f"confirmed: typed '{self.service}'")
        else:
            return self._fail(
                step,
                f"not confirmed (expected '{self.service}'); nothing was changed",
                Outcome.REFUSED,
            )
        self._finish(step, StepStatus.DONE)
        return True

    # --- 5-6: the changes -------------------------------------------------------------

    def _write_journal(self, step_name: str, failure: str | None = None) -> None:
        assert self.entry is not None
        if self.journal is None:
            self.journal = Journal(
                profile=self.profile,
                service=self.service,
                backend=self.backend.name,
                backup_id=self.entry.id,
                backup_folder=str(self.entry.folder),
                mode=self.mode,
                step=step_name,
            )
        else:
            self.journal.mode = self.mode
        self.journal.step = step_name
        self.journal.failure = failure
        if self.safety is not None:
            self.journal.safety_id = self.safety.id
            self.journal.safety_folder = str(self.safety.folder)
        self.journals.write(self.journal)

    def offer_safety(self) -> str:
        """The command that brings the safety copy back, for a failure message."""
        if self.safety is None:
            return ""
        return (
            f"the data from before is in the safety copy {self.safety.id}: "
            f"alfred-tui restore {self.service} {self.safety.id}"
        )

    async def execute(self) -> Outcome:
        """Steps 5 to 7, after :meth:`confirm`; the operator journal gets the plan and outcome."""
        from alfred_tui.operator_journal import journaled

        assert self.engine is not None and self.entry is not None
        if self.step(StepId.CONFIRM).status != StepStatus.DONE:
            raise AlfredError("confirm the restore first", title="Restore")
        action = "restore" if self.mode == "restore" else f"restore --{self.mode}"
        with journaled(
            action,
            profile=self.profile,
            backend=self.backend.name,
            plan=[f"restore {self.service} from {self.entry.id}", *self.step(StepId.PLAN).messages],
            service=self.service,
        ) as journal:
            outcome = await self._execute()
            last = next((s for s in reversed(self.steps) if s.messages), None)
            said = last.messages[-1] if last is not None else ""
            if outcome == Outcome.RESTORED:
                journal.succeeded(said or outcome.value)
            else:
                journal.failed(f"{outcome.value}: {said}")
        return outcome

    async def _execute(self) -> Outcome:
        assert self.engine is not None and self.entry is not None
        manifest = self.entry.require()

        step = self._start(StepId.SAFETY_COPY)
        if self.mode == "rollback":
            self._say(step, "skipped: rolling back to the safety copy itself")
            self._finish(step, StepStatus.SKIPPED)
        elif self.safety is not None:
            self._say(step, f"already taken: {self.safety.id}")
            self._finish(step, StepStatus.SKIPPED)
        else:
            self._write_journal(StepId.SAFETY_COPY.value)
            try:
                self.safety = await take_backup(
                    self.backend,
                    self.service,
                    self.catalog,
                    self._progress(step),
                    safety_for=f"restore of {manifest.id}",
                )
            except AlfredError as exc:
                self.journals.clear(self.profile, self.service)
                return self._end(
                    step,
                    f"no safety copy, so nothing was changed: {exc.message}",
                    Outcome.SAFETY_FAILED,
                )
            self._say(
                step,
                f"{self.safety.id}: {format_bytes(self.safety.require().bytes)}, "
                f"{self.safety.require().summary()}",
            )
            self._finish(step, StepStatus.DONE)

        step = self._start(StepId.RESTORE)
        self._write_journal(StepId.RESTORE.value)
        try:
            await self.engine.restore(self.entry, self._progress(step))
        except AlfredError as exc:
            self._write_journal(StepId.RESTORE.value, failure=exc.message)
            hint = (
                (
                    f"; run alfred-tui restore {self.service} --rollback to bring back "
                    f"{self.safety.id}, or --resume to retry"
                )
                if self.safety
                else ""
            )
            return self._end(step, exc.message + hint, Outcome.RESTORE_FAILED)
        assert step.started_at is not None, "set by _start"
        self._say(step, f"{manifest.id} restored in {time.monotonic() - step.started_at:.1f} s")
        self._finish(step, StepStatus.DONE)

        step = self._start(StepId.VERIFY)
        self._write_journal(StepId.VERIFY.value)
        try:
            mismatches = await self.engine.verify(manifest)
        except AlfredError as exc:
            self._write_journal(StepId.VERIFY.value, failure=exc.message)
            return self._end(
                step, f"cannot count what was restored: {exc.message}", Outcome.VERIFY_FAILED
            )
        self.journals.clear(self.profile, self.service)
        if mismatches:
            for mismatch in mismatches[:20]:
                self._say(step, mismatch.line())
            if len(mismatches) > 20:
                self._say(step, f"... and {len(mismatches) - 20} more")
            self._record_check(False, "restored, counts differ", [m.line() for m in mismatches])
            return self._end(
                step,
                "the restore FAILED verification; " + self.offer_safety(),
                Outcome.VERIFY_FAILED,
            )
        self._say(step, f"counts match the manifest: {manifest.summary()}")
        self._record_check(True, "restored and verified", [])
        self._finish(step, StepStatus.DONE)
        self.outcome = Outcome.RESTORED
        return self.outcome

    def _end(self, step: Step, message: str, outcome: Outcome) -> Outcome:
        self._fail(step, message, outcome)
        return outcome

    # --- reporting --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The flow as the ``alfred-tui/restore`` JSON document."""
        return {
            "schema": "alfred-tui/restore",
            "version": 1,
            "profile": self.profile,
            "backend": self.backend.name,
            "service": self.service,
            "mode": self.mode,
            "backup": self.entry.id if self.entry else None,
            "safety_copy": self.safety.id if self.safety else None,
            "outcome": self.outcome.value,
            "steps": [step.to_dict() for step in self.steps],
        }
