"""The Backups pane's data and jobs, as plain values: no Textual, no database client.

:class:`LiveBackups` reads the profile's catalog, the restore journals and
PostgreSQL's point-in-time-recovery readiness, and runs the pane's jobs
(take a backup, verify one, prune by retention) on the session's backend
with the same code as ``alfred-tui backup|backups|pitr``. The pane only
ever holds the frozen views defined here, so it can be drawn from fixed data
(the snapshot tests) exactly as from a live catalog.

Disk reads run in a thread (a catalog on a slow or network filesystem must
not stall the event loop); database calls are async under the caller's
timeout (``screens.io.run_io``).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from alfred_tui.backends.base import ProgressCallback, no_progress
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact
from alfred_tui.units import format_bytes

if TYPE_CHECKING:
    from alfred_tui.backup.catalog import Catalog, CatalogEntry
    from alfred_tui.backup.journal import JournalStore
    from alfred_tui.control.restore import (
        RestoreDriver,
        RestoreMode,
        RestoreView,
        UnfinishedRestore,
    )
    from alfred_tui.control.session import Session


class ReadOnlyRefused(AlfredError):
    """A job that changes data was asked for in a read-only session."""

    title = "Read-only"


# --- views ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckView:
    """The last time a backup's files were read back."""

    at: datetime
    ok: bool
    how: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupRow:
    """One backup in the catalog, as the pane shows it."""

    id: str
    service: str
    folder: str
    kind: str = "dump"
    """``dump`` (restorable) or ``basebackup`` (PostgreSQL PITR)."""
    created_at: datetime | None = None
    bytes: int | None = None
    summary: str = ""
    """``8,000 rows in 3 tables``."""
    safety_copy: bool = False
    safety_for: str | None = None
    method: str = ""
    server_version: str = ""
    check: CheckView | None = None
    error: str | None = None
    """Why the manifest cannot be read (the row is shown, never restored or pruned)."""
    protected: bool = False
    """Named by an unfinished restore: prune keeps it."""

    @property
    def restorable(self) -> bool:
        return self.error is None and self.kind == "dump"

    @property
    def size(self) -> str:
        return "-" if self.bytes is None else format_bytes(self.bytes)

    @property
    def label(self) -> str:
        """What kind of backup: ``backup``, ``safety copy``, ``base backup``, ``unreadable``."""
        if self.error is not None:
            return "unreadable"
        if self.kind == "basebackup":
            return "base backup"
        return "safety copy" if self.safety_copy else "backup"


@dataclass(frozen=True)
class CatalogView:
    """The whole catalog of the profile, newest first, and its unfinished restores."""

    root: str
    services: tuple[str, ...]
    rows: tuple[BackupRow, ...] = ()
    unfinished: tuple[UnfinishedRestore, ...] = ()
    error: str | None = None
    """Why the catalog (or a journal) could not be read."""

    def of(self, service: str) -> list[BackupRow]:
        """The backups of ``service``, newest first."""
        return [row for row in self.rows if row.service == service]

    def find(self, backup_id: str) -> BackupRow | None:
        return next((row for row in self.rows if row.id == backup_id), None)

    def unfinished_for(self, service: str) -> UnfinishedRestore | None:
        return next((u for u in self.unfinished if u.service == service), None)


@dataclass(frozen=True)
class PitrView:
    """PostgreSQL's point-in-time-recovery readiness (``alfred-tui pitr status``)."""

    ready: bool
    wal_level: str = ""
    archive_mode: str = ""
    archive_command: str = ""
    archive_timeout: str = ""
    archive: str = ""
    archive_files: int | None = None
    newest_wal: str | None = None
    newest_wal_time: datetime | None = None
    last_archived_wal: str | None = None
    last_archived_time: datetime | None = None
    failed_count: int = 0
    base_backups: int = 0
    earliest: datetime | None = None
    latest: datetime | None = None
    in_recovery: bool = False
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class PitrReading:
    """A PITR reading or why there is none (PostgreSQL down, not enabled)."""

    view: PitrView | None = None
    error: str | None = None
    """``connection refused (127.0.0.1:5432)``: shown in place of the view."""
    disabled: str | None = None
    """Why there is nothing to read (the profile has no PostgreSQL)."""
    checked_at: float = 0.0
    interrupted: str | None = None
    """A point-in-time recovery that did not finish: its step and the way out
    (``at step 'install': run alfred-tui pitr recover --rollback --profile p``).

    Read from its journal, so it is shown whether PostgreSQL answers or not."""


@dataclass(frozen=True)
class PruneDecision:
    id: str
    service: str
    label: str
    keep: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PrunePlan:
    """What retention keeps and deletes, per service (``backups prune --dry-run``)."""

    keep_last: int
    keep_daily: int
    decisions: tuple[PruneDecision, ...]

    @property
    def doomed(self) -> list[PruneDecision]:
        return [d for d in self.decisions if not d.keep]

    def lines(self) -> list[str]:
        """The confirmation's text: the rule, then every backup deleted."""
        doomed = self.doomed
        rule = (
            f"Retention keeps the last {self.keep_last} and the newest of each of "
            f"{self.keep_daily} days, per service (backups, safety copies and base "
            "backups counted apart); backups named by an unfinished restore are kept."
        )
        if not doomed:
            return [rule, f"Nothing to delete: all {len(self.decisions)} backups are kept."]
        lines = [rule, f"Deletes {len(doomed)} of {len(self.decisions)} backups:"]
        lines += [f"  {d.id}  ({d.label})" for d in doomed]
        return lines


@dataclass(frozen=True)
class VerifyResult:
    row: BackupRow
    problems: tuple[str, ...]


class JobKind(enum.StrEnum):
    """What the pane can be busy with (one at a time)."""

    BACKUP = "backup"
    VERIFY = "verify"
    PRUNE = "prune"
    RESTORE = "restore"


@dataclass(frozen=True)
class Job:
    """The job in progress; ``kind.value`` names it when the app refuses to switch target."""

    kind: JobKind
    title: str
    service: str | None = None


# --- conversions ---------------------------------------------------------------------


def row_of(entry: CatalogEntry, protected: frozenset[str] = frozenset()) -> BackupRow:
    """A catalog entry as a plain row (reads ``check.json``: call it off the loop)."""
    manifest = entry.manifest
    if manifest is None:
        return BackupRow(
            entry.id, entry.folder.parent.name, str(entry.folder), error=entry.error or "?"
        )
    check = entry.last_check()
    return BackupRow(
        id=manifest.id,
        service=manifest.service,
        folder=str(entry.folder),
        kind=manifest.kind,
        created_at=manifest.created_at,
        bytes=manifest.bytes,
        summary=manifest.summary(),
        safety_copy=manifest.safety_copy,
        safety_for=manifest.safety_for,
        method=manifest.method,
        server_version=manifest.server_version,
        check=None
        if check is None
        else CheckView(check.checked_at, check.ok, check.how, check.problems),
        protected=manifest.id in protected,
    )


def short_age(moment: datetime | None, now: float) -> str:
    """``45s``, ``12m``, ``3h12m``, ``1d10h``, ``12d`` ago, for a narrow column."""
    if moment is None:
        return "-"
    seconds = max(0.0, now - moment.timestamp())
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 24 * 3600:
        hours, minutes = divmod(int(seconds // 60), 60)
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(int(seconds // 3600), 24)
    return f"{days}d{hours}h" if days < 10 else f"{days}d"


# --- the live source -----------------------------------------------------------------


class BackupsSource:
    """Where the pane's data comes from; :class:`LiveBackups` is the real one."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def services(self) -> list[ServiceKind]:
        return self.session.services

    async def catalog(self) -> CatalogView:
        raise NotImplementedError

    async def pitr(self) -> PitrReading:
        raise NotImplementedError

    async def take(self, service: ServiceKind, progress: ProgressCallback) -> BackupRow:
        raise NotImplementedError

    async def verify(self, backup_id: str, progress: ProgressCallback) -> VerifyResult:
        raise NotImplementedError

    async def prune_plan(self) -> PrunePlan:
        raise NotImplementedError

    async def prune(self, plan: PrunePlan) -> list[str]:
        raise NotImplementedError

    def restore(
        self,
        service: ServiceKind,
        reference: str | None,
        mode: RestoreMode,
        on_change: Callable[[RestoreView], None],
    ) -> RestoreDriver:
        raise NotImplementedError


class LiveBackups(BackupsSource):
    """The profile's catalog on this machine, the session's backend for the jobs."""

    def __init__(self, session: Session, journals: JournalStore | None = None) -> None:
        super().__init__(session)
        from alfred_tui.backup.catalog import Catalog
        from alfred_tui.backup.journal import JournalStore

        self.store: Catalog = Catalog.for_profile(session.profile)
        self.journals: JournalStore = journals or JournalStore()

    # --- reading -----------------------------------------------------------------------

    async def catalog(self) -> CatalogView:
        return await asyncio.to_thread(self._read_catalog)

    def _read_catalog(self) -> CatalogView:
        from alfred_tui.control.restore import unfinished_of

        profile = self.session.profile_name
        unfinished: list[UnfinishedRestore] = []
        problems: list[str] = []
        for service in self.services:
            try:
                journal = self.journals.load(profile, service)
            except AlfredError as exc:
                problems.append(exc.message)
                continue
            if journal is not None:
                path = str(self.journals.path(profile, service))
                unfinished.append(unfinished_of(journal, path))
        protected = frozenset(self.journals.protected_ids())
        try:
            rows = tuple(row_of(entry, protected) for entry in self.store.entries())
        except OSError as exc:
            rows = ()
            problems.append(f"{self.store.root}: {exc.strerror or exc}")
        return CatalogView(
            str(self.store.root),
            tuple(self.services),
            rows,
            tuple(unfinished),
            "; ".join(problems) or None,
        )

    async def pitr(self) -> PitrReading:
        now = self.session.clock()
        if "postgres" not in self.services:
            return PitrReading(
                disabled=f"profile {self.session.profile_name} has no PostgreSQL", checked_at=now
            )
        from alfred_tui.backup.pitr import Pitr

        pitr = Pitr(self.session.backend, self.store, self.journals)
        interrupted = None
        try:
            journal = await asyncio.to_thread(pitr.unfinished)
        except AlfredError as exc:
            interrupted = exc.message
        else:
            if journal is not None:
                interrupted = (
                    f"at step '{journal.step}': run alfred-tui pitr recover --rollback"
                    f" --profile {self.session.profile_name}"
                )
        try:
            status = await pitr.status(report_unfinished=False)
        except AlfredError as exc:
            return PitrReading(error=exc.message, checked_at=now, interrupted=interrupted)
        except Exception as exc:
            # A query failing after the connection (PostgreSQL shutting down, starting
            # up, a revoked grant) is the server's refusal, not ours: shown and retried.
            from alfred_tui.databases.failures import refusal

            if refusal(exc) is None and not isinstance(exc, OSError):
                raise
            text = redact(f"PostgreSQL: {exc}" if str(exc) else type(exc).__name__)
            return PitrReading(error=text, checked_at=now, interrupted=interrupted)
        view = PitrView(
            ready=status.ready and interrupted is None,
            wal_level=status.wal_level,
            archive_mode=status.archive_mode,
            archive_command=status.archive_command,
            archive_timeout=status.archive_timeout,
            archive=status.archive,
            archive_files=status.archive_files,
            newest_wal=status.newest_wal,
            newest_wal_time=status.newest_wal_time,
            last_archived_wal=status.last_archived_wal,
            last_archived_time=status.last_archived_time,
            failed_count=status.failed_count,
            base_backups=len(status.base_backups),
            earliest=status.earliest,
            latest=status.latest,
            in_recovery=status.in_recovery,
            problems=tuple(status.problems),
        )
        return PitrReading(view=view, checked_at=now, interrupted=interrupted)

    # --- jobs --------------------------------------------------------------------------

    async def take(
        self, service: ServiceKind, progress: ProgressCallback = no_progress
    ) -> BackupRow:
        from alfred_tui.backup.take import take_backup

        plan = [f"back up {service}"]
        with self.session.journaled("backup", plan=plan, service=service) as journal:
            entry = await take_backup(self.session.backend, service, self.store, progress)
            journal.succeeded(f"backed up {entry.id}")
        return await asyncio.to_thread(row_of, entry)

    async def verify(
        self, backup_id: str, progress: ProgressCallback = no_progress
    ) -> VerifyResult:
        from alfred_tui.backup.verify import verify_backup

        entry = await asyncio.to_thread(self.store.find, backup_id)
        problems = await verify_backup(self.session.backend, entry, progress)
        return VerifyResult(await asyncio.to_thread(row_of, entry), tuple(problems))

    async def prune_plan(self) -> PrunePlan:
        return await asyncio.to_thread(self._plan_prune)

    def _plan_prune(self) -> PrunePlan:
        from alfred_tui.backup.retention import plan_retention

        settings = self.session.profile.backups
        decisions = plan_retention(
            self.store.entries(),
            settings.keep_last,
            settings.keep_daily,
            protected=self.journals.protected_ids(),
        )
        return PrunePlan(
            settings.keep_last,
            settings.keep_daily,
            tuple(
                PruneDecision(
                    d.entry.id,
                    d.entry.require().service,
                    row_of(d.entry).label,
                    d.keep,
                    d.reasons,
                )
                for d in decisions
            ),
        )

    async def prune(self, plan: PrunePlan) -> list[str]:
        """Delete what ``plan`` (as confirmed) deletes; never a backup a journal names now."""
        if self.session.readonly:
            raise ReadOnlyRefused("prune deletes backups: this session was opened with --readonly")
        with self.session.journaled("prune", plan=plan.lines()) as journal:
            deleted = await asyncio.to_thread(self._prune, plan)
            journal.succeeded(f"deleted {len(deleted)} backups")
        return deleted

    def _prune(self, plan: PrunePlan) -> list[str]:
        protected = self.journals.protected_ids()
        deleted = []
        for decision in plan.doomed:
            if decision.id in protected:
                continue
            try:
                entry = self.store.find(decision.id, decision.service)
            except AlfredError:
                continue  # already gone (pruned from another terminal)
            self.store.remove(entry)
            deleted.append(decision.id)
        return deleted

    def restore(
        self,
        service: ServiceKind,
        reference: str | None,
        mode: RestoreMode,
        on_change: Callable[[RestoreView], None],
    ) -> RestoreDriver:
        from alfred_tui.control.restore import RestoreDriver

        return RestoreDriver(
            self.session,
            self.store,
            service,
            reference,
            mode=mode,
            journals=self.journals,
            on_change=on_change,
        )
