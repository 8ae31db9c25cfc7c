"""The Backups pane: the catalog per service, backup/verify/prune, PITR readiness, restore.

Reading: one worker loops ``catalog -> PITR status -> wait``; it waits while
the pane is hidden, re-reads at once after a job or on ``r``, and backs off
while PostgreSQL does not answer (the PITR section says DOWN, why, and when
it tries again). Jobs (``b`` back up, ``v`` verify, ``p`` prune) run one at a
time in their own worker, with byte progress under the table, and end in a
notification. ``R`` opens the guided restore (:mod:`.restore`) on the
selected backup. Prune and restore change data: hidden and refused in a
read-only session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable
from textual.worker import Worker

from alfred_tui.backends.base import Progress, ProgressCallback
from alfred_tui.config.models import SERVICE_KINDS, ServiceKind
from alfred_tui.control.backoff import Backoff
from alfred_tui.control.backups import (
    BackupsSource,
    CatalogView,
    Job,
    JobKind,
    LiveBackups,
    PitrReading,
    PrunePlan,
)
from alfred_tui.control.deployment_actions import ActionPlan
from alfred_tui.control.session import Session
from alfred_tui.screens.backup_messages import (
    CatalogLoaded,
    JobEnded,
    JobFinished,
    JobProgressed,
    PitrLoaded,
    PrunePlanned,
)
from alfred_tui.screens.base import PaletteCommand, PaneScreen
from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.screens.io import poster, report, run_io, worker_ended
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.backup_tables import (
    WIDE,
    BackupDetail,
    CatalogNotes,
    CatalogTable,
    PitrPanel,
)

JobWork = Callable[[Callable[[Progress], None]], Awaitable[None]]
"""A job: given a progress callback, does its work and posts what it did."""

#: Seconds between two readings of the catalog and PITR status while all is well.
INTERVAL = 15.0
#: Longest a PITR reading may take before PostgreSQL counts as not answering.
PITR_TIMEOUT = 15.0
#: Longest a backup, a verification or a prune may run.
JOB_TIMEOUT = 6 * 3600.0


class BackupsPane(PaneScreen):
    """The backup catalog of every service, the jobs on it, and PITR readiness."""

    pane_id = "backups"
    MUTATING = frozenset({"prune", "restore"})

    BINDINGS: ClassVar[list[Any]] = [
        Binding("b", "backup", "Back up", id="backup", tooltip="Back up the selected service"),
        Binding("v", "verify", "Verify", id="verify", tooltip="Read the selected backup back"),
        Binding(
            "P",
            "prune",
            "Prune",
            id="prune",
            tooltip="Delete what retention does not keep (asks first)",
        ),
        Binding(
            "R",
            "restore",
            "Restore",
            id="restore",
            tooltip="Guided restore of the selected backup",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.source: BackupsSource | None = None
        self.catalog: CatalogView | None = None
        self.pitr: PitrReading | None = None
        self.retry_in: float | None = None
        self._wake = asyncio.Event()
        self._job: Job | None = None
        self._restore_screen: Any = None
        """The open Restore screen, if any (it reports its own job)."""
        self._drawn_minute = -1
        self._select_after_read = ""
        """A backup to put the cursor on once the catalog shows it (the one just taken)."""

    def compose_body(self) -> ComposeResult:
        yield CatalogNotes(id="backup-notes", classes="-empty")
        yield CatalogTable(id="catalog")
        yield BackupDetail(id="backup-detail")
        yield PitrPanel(id="pitr")
        yield ActionProgress(id="backup-progress")

    @staticmethod
    def keymap_screens() -> tuple[type, ...]:
        """The screens this pane opens, whose keys a profile's ``ui.keymap`` may remap."""
        from alfred_tui.screens.restore import JournalOfferDialog, RestoreScreen

        return (RestoreScreen, JournalOfferDialog)

    def source_for(self, session: Session) -> BackupsSource:
        """Where the pane's data comes from (the snapshot tests give fixed data here)."""
        return LiveBackups(session)

    # --- loading and reading --------------------------------------------------------

    def load(self, session: Session) -> None:
        super().load(session)  # cancels the previous session's reader and job
        self._job = None
        self.query_one(ActionProgress).stop()
        screen = self._restore_screen
        if screen is not None:
            screen.target_switched()
        self.source = self.source_for(session)
        self.catalog = None
        self.pitr = None
        self._wake = asyncio.Event()
        self.call_after_refresh(self._draw)  # (not mounted yet on the first load)
        self.call_after_refresh(self._start_reading, session)

    def _start_reading(self, session: Session) -> None:
        if session is not self.session:
            return
        run_io(
            self,
            lambda: self._read_loop(session, self._source()),
            context="read the backup catalog",
            timeout=None,
            group="read",
            exclusive=True,
        )

    def _source(self) -> BackupsSource:
        assert self.source is not None
        return self.source

    async def _read_loop(self, session: Session, source: BackupsSource) -> None:
        backoff = Backoff(base=2.0, cap=60.0)
        while True:
            await self.in_view.wait()
            try:
                view = await asyncio.wait_for(source.catalog(), 30)
            except Exception as exc:  # an unreadable catalog must not stop the pane
                report(self, exc, "read the backup catalog")
            else:
                self.post_message(CatalogLoaded(session.generation, view))
            wait = INTERVAL
            try:
                reading = await asyncio.wait_for(source.pitr(), PITR_TIMEOUT)
            except TimeoutError:
                reading = PitrReading(
                    error=f"no answer within {PITR_TIMEOUT:g} s", checked_at=session.clock()
                )
            if reading.error is None:
                backoff.succeeded()
                retry = None
            else:
                wait = retry = backoff.failed(session.clock())
            self.post_message(PitrLoaded(session.generation, reading, retry))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def on_catalog_loaded(self, message: CatalogLoaded) -> None:
        if message.generation != self.session.generation:
            return
        minute = int(self.session.clock() // 60)
        if message.view == self.catalog and minute == self._drawn_minute:
            return  # nothing new, and the ages shown are still right: no redraw
        self._drawn_minute = minute
        self.catalog = message.view
        self._draw()
        key = self._select_after_read
        table = self.query_one(CatalogTable)
        if key and key in table.visible_keys:
            table.move_cursor(row=table.visible_keys.index(key), animate=False)
            self._select_after_read = ""

    def on_pitr_loaded(self, message: PitrLoaded) -> None:
        if message.generation != self.session.generation:
            return
        self.pitr = message.reading
        self.retry_in = message.retry_in
        self._draw_pitr()

    def action_refresh(self) -> None:
        """Read the catalog and PITR status now (also retries a PostgreSQL that was down)."""
        self._wake.set()

    # --- rendering ------------------------------------------------------------------

    @property
    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def on_resize(self, event: events.Resize) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        now = self.session.clock()
        view = self.catalog or CatalogView("…", tuple(self.session.services))
        self.query_one(CatalogNotes).show(view, self.session.readonly)
        table = self.query_one(CatalogTable)
        table.show(view, now, self._width)
        self._draw_detail()
        self._draw_pitr()

    def _draw_detail(self) -> None:
        view = self.catalog or CatalogView("…", tuple(self.session.services))
        key = self.query_one(CatalogTable).selected_key
        self.query_one(BackupDetail).show(view, key, self.session.clock())

    def _draw_pitr(self) -> None:
        if self.is_mounted:
            self.query_one(PitrPanel).show(
                self.pitr, self.session.clock(), self.retry_in, self._width >= WIDE
            )

    @on(DataTable.RowHighlighted, "#catalog")
    def _highlighted(self) -> None:
        self._draw_detail()

    @on(DataTable.RowSelected, "#catalog")
    def _selected(self) -> None:
        """Enter on a backup opens the guided restore on it."""
        if self.query_one(CatalogTable).selected_backup is not None:
            self.action_restore()

    # --- availability and the palette --------------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Refresh backups now", "Read the catalog and PITR status", "refresh")
        for service in self.session.services:
            yield PaletteCommand(
                f"Back up {service}", "Dump, checksum, read back, enter in the catalog",
                f"backup('{service}')",
            )  # fmt: skip
        for service in self.session.services:
            yield PaletteCommand(
                f"Restore {service}…",
                "Guided restore: pre-flight, plan, typed confirmation, safety copy, verification",
                f"restore('{service}')",
                True,
            )
        yield PaletteCommand(
            "Prune backups by retention…", "Delete what keep_last/keep_daily do not keep", "prune",
            True,
        )  # fmt: skip

    # --- jobs -----------------------------------------------------------------------

    @property
    def action_running(self) -> Job | None:
        """The job or restore in progress (the app refuses to switch target meanwhile)."""
        if self._job is not None:
            return self._job
        screen = self._restore_screen
        return screen.job if screen is not None else None

    def _busy(self) -> bool:
        running = self.action_running
        if running is not None:
            self.notify(
                f"wait for {running.title} to finish",
                title="A job is running",
                severity="warning",
                markup=False,
            )
            return True
        return False

    def _run_job(self, job: Job, work: JobWork) -> None:
        """Run ``work(progress)`` as the pane's one job, with progress and a re-read after."""
        generation = self.session.generation
        progress: ProgressCallback = poster(self, lambda update: JobProgressed(generation, update))
        self._job = job
        self.query_one(ActionProgress).start(job.title)
        run_io(self, lambda: work(progress), context=job.title, timeout=JOB_TIMEOUT, group="job")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if worker_ended(event, "job"):
            self.post_message(JobEnded(self.session.generation))

    def on_job_progressed(self, message: JobProgressed) -> None:
        if message.generation == self.session.generation:
            self.query_one(ActionProgress).advance(message.progress)

    def on_job_finished(self, message: JobFinished) -> None:
        if message.generation != self.session.generation:
            return
        if message.problems:
            self.notify(
                "; ".join(message.problems), title=message.text, severity="error", timeout=15,
                markup=False,
            )  # fmt: skip
        else:
            self.notify(message.text, title="Done", markup=False)
        if message.select:
            self._select_after_read = message.select

    def on_job_ended(self, message: JobEnded) -> None:
        if message.generation != self.session.generation:
            return
        self._job = None
        self.query_one(ActionProgress).stop()
        self.action_refresh()

    def _selected_service(self, service: str) -> ServiceKind | None:
        if service in self.session.services:
            return service
        chosen = self.query_one(CatalogTable).selected_service
        if not chosen:
            return self.session.services[0] if self.session.services else None
        return chosen if chosen in SERVICE_KINDS else None  # a row of no known service

    def action_backup(self, service: str = "") -> None:
        if self.blocked("backup") or self._busy():
            return
        kind = self._selected_service(service)
        if kind is None:
            return
        source = self._source()
        generation = self.session.generation

        async def work(progress: Callable[[Progress], None]) -> None:
            row = await source.take(kind, progress)
            self.post_message(
                JobFinished(
                    generation,
                    f"Backed up {kind}: {row.id}, {row.size}, {row.summary}",
                    select=row.id,
                )
            )

        self._run_job(Job(JobKind.BACKUP, f"back up {kind}", kind), work)

    def action_verify(self) -> None:
        if self.blocked("verify") or self._busy():
            return
        table = self.query_one(CatalogTable)
        backup_id = table.selected_backup
        row = self.catalog.find(backup_id) if self.catalog and backup_id else None
        if row is None or row.error is not None:
            self.notify(
                "put the cursor on a backup (not a service row, not an unreadable one)",
                title="Verify",
                severity="warning",
                markup=False,
            )
            return
        source = self._source()
        generation = self.session.generation

        async def work(progress: Callable[[Progress], None]) -> None:
            result = await source.verify(row.id, progress)
            if result.problems:
                self.post_message(
                    JobFinished(generation, f"Verify FAILED: {row.id}", result.problems)
                )
            else:
                how = result.row.check.how if result.row.check else "sha256"
                self.post_message(JobFinished(generation, f"{row.id} reads back whole ({how})"))

        self._run_job(Job(JobKind.VERIFY, f"verify {row.id}", row.service), work)

    def action_prune(self) -> None:
        if self.blocked("prune") or self._busy():
            return
        source = self._source()
        generation = self.session.generation

        async def plan() -> None:
            self.post_message(PrunePlanned(generation, await source.prune_plan()))

        run_io(self, plan, context="plan the prune", timeout=60, group="prune-plan")

    def on_prune_planned(self, message: PrunePlanned) -> None:
        if message.generation != self.session.generation or self.blocked("prune"):
            return
        plan = message.plan
        if not plan.doomed:
            self.notify(plan.lines()[-1], title="Prune", markup=False)
            return
        dialog = ConfirmDialog(
            ActionPlan(
                f"Prune {len(plan.doomed)} backups of {self.session.profile_name}",
                tuple(plan.lines()),
                "Delete",
                destructive=True,
            ),
            type_to_confirm="delete",
        )

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self._run_prune(plan)

        self.app.push_screen(dialog, decided)

    def _run_prune(self, plan: PrunePlan) -> None:
        if self.blocked("prune") or self._busy():
            return
        source = self._source()
        generation = self.session.generation

        async def work(_progress: Callable[[Progress], None]) -> None:
            deleted = await source.prune(plan)
            names = ", ".join(deleted) if len(deleted) <= 3 else f"{', '.join(deleted[:3])}, …"
            self.post_message(
                JobFinished(generation, f"Pruned {len(deleted)} backups: {names or 'none'}")
            )

        self._run_job(Job(JobKind.PRUNE, "prune backups"), work)

    # --- restore --------------------------------------------------------------------

    def action_restore(self, service: str = "") -> None:
        """Open the guided restore on the selected backup (or ``service``'s newest)."""
        if self.blocked("restore") or self._busy():
            return
        from alfred_tui.screens.restore import RestoreScreen

        table = self.query_one(CatalogTable)
        kind = self._selected_service(service)
        backup = None if service else table.selected_backup
        if kind is None:
            return
        row = self.catalog.find(backup) if self.catalog and backup else None
        if row is not None and not row.restorable:
            reason = (
                "a base backup is recovered to a point in time: alfred-tui pitr recover --to TIME"
                if row.kind == "basebackup"
                else f"its manifest cannot be read: {row.error}"
            )
            self.notify(reason, title=f"{row.id} is not restorable here", markup=False)
            return
        screen = RestoreScreen(self, self._source(), kind, backup)
        self._restore_screen = screen

        def closed(_result: object) -> None:
            self._restore_screen = None
            self.action_refresh()

        self.app.push_screen(screen, closed)
