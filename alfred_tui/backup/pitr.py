"""PostgreSQL point-in-time recovery: WAL archiving, base backups, recovery to a time.

The spec's procedure, made safe and checkable:

- **Archiving** (``pitr enable``): ``archive_mode = on`` and the spec's
  ``archive_command = 'test ! -f /archive/%f && cp %p /archive/%f'`` with
  ``/archive`` replaced by ``backups.wal_archive`` (default
  ``<data dir>/<profile>/wal-archive`` for the local backend, outside the
  server's own folder so the archive survives the loss of the data);
  ``archive_timeout`` so a quiet server still archives at least once a
  minute. Set with ``ALTER SYSTEM`` (kept in the data directory), then the
  server restarts, because ``archive_mode`` needs it.
- **Base backups** (``pitr base-backup``): ``pg_basebackup -F p -X stream``
  into the catalog (kind ``basebackup``), read back with ``pg_verifybackup``.
  The oldest one's end is the earliest point one can recover to.
- **Recovery** (``pitr recover --to TIME``): the current WAL segment is
  archived first (``pg_switch_wal()``) so everything up to now can be
  replayed; the server is stopped; its data directory is *moved* aside as
  the safety copy (nothing is deleted); the newest base backup that ended
  before TIME is copied in; ``restore_command = 'cp <archive>/%f %p'``,
  ``recovery_target_time = TIME`` and ``recovery_target_action = 'promote'``
  are set and ``recovery.signal`` created, as in the spec; the server
  starts, replays the archive up to TIME and opens for writes on a new
  timeline. The recovery settings are then reset. Each step is journaled
  first (:class:`PitrStep`, :data:`~alfred_tui.backup.journal.PITR_JOURNAL`)
  under the restore lock of postgres: a recovery killed midway is reported
  by ``status``, refused over by the next ``recover`` and by ``restore``,
  and undone by ``recover --rollback`` (:mod:`alfred_tui.backup.pitr_rollback`).

Carried out on every engine that reaches PostgreSQL's data directory
(:class:`~alfred_tui.backends.capabilities.PostgresDataAccess`): the local
engine, where it is a folder on this machine; Docker, where the same steps
go through the engine (the archive must be a volume, the safety copy is a
tar of the data directory on this machine); Kubernetes, through the API and
exec (the archive on the primary's data claim, the data replaced from a
maintenance pod while the primary is scaled to 0). What is written into
PostgreSQL lives in :mod:`.pitr_settings`, the status in :mod:`.pitr_status`.

Why one module of this size: one class, the recovery procedure and its
journal, step by step; its settings, status and base backups are already
apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from alfred_tui.backends.base import Backend, Progress, ProgressCallback, no_progress
from alfred_tui.backends.capabilities import PostgresDataAccess, Restartable, capable, require
from alfred_tui.backends.pgdata import PostgresDataDirectory
from alfred_tui.backup.catalog import Catalog, CatalogEntry
from alfred_tui.backup.engines import open_engine
from alfred_tui.backup.journal import PITR_JOURNAL, Journal, JournalStore
from alfred_tui.backup.pitr_base import BASE_FOLDER, take_base_backup
from alfred_tui.backup.pitr_settings import (
    RECOVERY_SETTINGS,
    PitrError,
    default_archive,
    enable_statements,
    pg_time,
    recovery_settings,
)
from alfred_tui.backup.pitr_status import PitrStatus, describe_unfinished, end_time, problems
from alfred_tui.backup.postgres import PostgresEngine
from alfred_tui.errors import AlfredError
from alfred_tui.safety import unique_folder

RECOVERY_TIMEOUT = 3600.0
#: Steps ``recover`` reports: switch WAL, stop, safety copy, install, start, reset.
RECOVERY_STEPS = 6


class PitrStep:
    """The steps a recovery journals: the one about to run when it stopped.

    ``stop`` and ``safety_copy`` leave the data directory as it was (the local
    backend's move aside is a rename, and a copy is only complete once renamed
    into place); ``install`` and ``start`` have replaced it.
    """

    STOP = "stop"
    SAFETY_COPY = "safety_copy"
    INSTALL = "install"
    START = "start"


@dataclass
class RecoveryPlan:
    """What ``pitr recover`` will do."""

    target: datetime
    base: CatalogEntry
    data_dir: Path
    archive: str
    lines: list[str]


class Pitr:
    """Point-in-time recovery of the profile's PostgreSQL on one backend."""

    def __init__(
        self, backend: Backend, catalog: Catalog, journals: JournalStore | None = None
    ) -> None:
        self.backend = backend
        self.catalog = catalog
        self.journals = journals or JournalStore()
        self.profile_name = backend.profile.name
        self.journal: Journal | None = None
        """The journal of the recovery under way in this process."""
        access = capable(backend, "postgres", PostgresDataAccess)
        self.data: PostgresDataDirectory | None = (
            access.postgres_data_directory() if access is not None else None
        )
        """Where the engine keeps PostgreSQL's files; None where alfred-tui cannot reach them."""
        self.archive = default_archive(backend.profile, self.data)

    def _reached(self, action: str) -> PostgresDataDirectory:
        if self.data is None:
            raise PitrError(
                f"the {self.backend.name} backend cannot {action}: it does not reach "
                "PostgreSQL's data directory"
            )
        return self.data

    async def _engine(self) -> PostgresEngine:
        engine = await open_engine(self.backend, "postgres")
        assert isinstance(engine, PostgresEngine)
        return engine

    async def _connect(self) -> asyncpg.Connection:
        engine = await self._engine()
        return await engine.connect()

    def base_backups(self) -> list[CatalogEntry]:
        """Base backups in the catalog, newest first."""
        return [
            entry
            for entry in self.catalog.entries("postgres", include_broken=False)
            if entry.require().kind == "basebackup"
        ]

    # --- status -----------------------------------------------------------------------

    def unfinished(self) -> Journal | None:
        """The journal of a recovery that did not finish (killed, or failed midway)."""
        return self.journals.load(self.profile_name, PITR_JOURNAL)

    def unfinished_problem(self, journal: Journal) -> str:
        """An unfinished recovery: the step, the command that undoes it first, then the rest.

        In that order because the Backups pane shows it on one line at 80 columns.
        """
        return (
            f"recovery interrupted at step '{journal.step}': run alfred-tui pitr recover "
            f"--rollback --profile {self.profile_name}; {describe_unfinished(journal)}"
        )

    async def status(self, report_unfinished: bool = True) -> PitrStatus:
        """Settings, archiver, archive and base backups; ``problems`` says what is missing.

        An unfinished recovery comes first among the problems (and in the error
        when PostgreSQL does not answer) unless ``report_unfinished`` is False:
        the Backups pane reads the journal itself and gives it a line of its own.
        """
        status = PitrStatus(archive=self.archive, base_backups=self.base_backups())
        journal = self.unfinished() if report_unfinished else None
        try:
            connection = await self._connect()
        except AlfredError as exc:
            if journal is None:
                raise
            raise PitrError(f"{self.unfinished_problem(journal)} ({exc.message})") from None
        try:
            settings = {
                row["name"]: (row["setting"], row["source"])
                for row in await connection.fetch(
                    "SELECT name, setting, source FROM pg_settings WHERE name = ANY($1::text[])",
                    ["wal_level", "archive_mode", "archive_command", "archive_timeout"],
                )
            }
            archiver = await connection.fetchrow("SELECT * FROM pg_stat_archiver")
            assert archiver is not None, "pg_stat_archiver has exactly one row"
            status.in_recovery = bool(await connection.fetchval("SELECT pg_is_in_recovery()"))
        finally:
            await connection.close(timeout=2)
        status.wal_level = settings["wal_level"][0]
        status.archive_mode = settings["archive_mode"][0]
        status.archive_command = settings["archive_command"][0]
        status.archive_timeout = settings["archive_timeout"][0]
        status.overridden = [
            name for name, (_value, source) in settings.items() if source == "command line"
        ]
        status.last_archived_wal = archiver["last_archived_wal"]
        status.last_archived_time = archiver["last_archived_time"]
        status.failed_count = int(archiver["failed_count"] or 0)
        status.last_failed_wal = archiver["last_failed_wal"]
        status.last_failed_time = archiver["last_failed_time"]
        if self.data is not None:
            listing = await self.data.read_archive(self.archive)
            status.archive_files, status.newest_wal, status.newest_wal_time = listing
        status.problems = problems(status, self.archive)
        if journal is not None:
            status.problems.insert(0, self.unfinished_problem(journal))
        return status

    # --- enable -----------------------------------------------------------------------

    def enable_statements(self) -> list[str]:
        """The ALTER SYSTEM statements that turn archiving on."""
        return enable_statements(self.archive)

    async def describe_enable(self) -> list[str]:
        status = await self.status()
        lines = [f"create the WAL archive {self.archive} (owned by the server's user)"]
        lines += [f"{statement};" for statement in self.enable_statements()]
        if status.wal_level == "minimal":
            lines.append("ALTER SYSTEM SET wal_level = 'replica';")
        lines.append("restart PostgreSQL (archive_mode takes effect only at start)")
        return lines

    async def enable(self, progress: ProgressCallback = no_progress) -> PitrStatus:
        """Turn WAL archiving on and restart the server; the new status says if it worked."""
        data = self._reached("set up WAL archiving")
        restarter = require(self.backend, "postgres", Restartable)
        data_dir = await self._data_dir()
        progress(Progress(f"create {self.archive}", 1, 3, "steps", "postgres"))
        await data.make_archive(self.archive, str(data_dir))
        connection = await self._connect()
        try:
            for statement in self.enable_statements():
                await connection.execute(statement)
            if await connection.fetchval("SHOW wal_level") == "minimal":
                await connection.execute("ALTER SYSTEM SET wal_level = 'replica'")
        finally:
            await connection.close(timeout=2)
        progress(Progress("restart postgres", 2, 3, "steps", "postgres"))
        await restarter.restart("postgres", progress)
        progress(Progress("check the settings", 3, 3, "steps", "postgres"))
        status = await self.status()
        blocking = [p for p in status.problems if "base backup" not in p]
        if blocking:
            hint = (
                f"; the profile's command line sets {', '.join(status.overridden)}, "
                "which ALTER SYSTEM cannot change: edit services.postgres.command"
                if status.overridden
                else ""
            )
            raise PitrError("archiving is still not on: " + "; ".join(blocking) + hint)
        return status

    async def _data_dir(self) -> Path:
        connection = await self._connect()
        try:
            return Path(await connection.fetchval("SHOW data_directory"))
        finally:
            await connection.close(timeout=2)

    # --- base backup ------------------------------------------------------------------

    async def base_backup(self, progress: ProgressCallback = no_progress) -> CatalogEntry:
        """``pg_basebackup`` into the catalog, read back with ``pg_verifybackup``."""
        engine = await self._engine()
        try:
            version = await engine.server_version()
        finally:
            await engine.close()
        return await take_base_backup(
            engine.context, version, self.catalog, self.data, self.archive, progress
        )

    # --- recovery ---------------------------------------------------------------------

    async def plan_recovery(self, target: datetime) -> RecoveryPlan:
        """Check that ``target`` is reachable and say exactly what recovery will do."""
        data = self._reached("recover to a point in time")
        self._refuse_unfinished()
        now = datetime.now(UTC)
        if target > now:
            raise PitrError(f"{pg_time(target)} is in the future")
        candidates = [e for e in self.base_backups() if end_time(e) <= target]
        if not candidates:
            earliest = min((end_time(e) for e in self.base_backups()), default=None)
            where = (
                f"the earliest point is {pg_time(earliest)} (the oldest base backup's end)"
                if earliest
                else "there is no base backup (alfred-tui pitr base-backup)"
            )
            raise PitrError(f"cannot recover to {pg_time(target)}: {where}")
        base = max(candidates, key=end_time)
        status = await self.status()
        archiving = [p for p in status.problems if "base backup" not in p]
        if archiving:
            raise PitrError("WAL archiving is not working: " + "; ".join(archiving))
        data_dir = await self._data_dir()
        await data.check(str(data_dir))
        lines = [
            "archive the current WAL segment (pg_switch_wal) so the archive reaches now",
            data.describe_save(str(data_dir)),
            f"copy the base backup {base.id} (ended {pg_time(end_time(base))}) in its place",
            f"replay WAL from {self.archive} up to {pg_time(target)}, then promote "
            "(recovery.signal, recovery_target_time, recovery_target_action = 'promote')",
            "start PostgreSQL on a new timeline; every change after the target time is gone "
            "from the database (it stays in the safety copy)",
        ]
        return RecoveryPlan(target, base, data_dir, self.archive, lines)

    def _refuse_unfinished(self) -> None:
        """No recovery over an unfinished one, nor over an unfinished restore of postgres."""
        journal = self.unfinished()
        if journal is not None:
            raise PitrError(self.unfinished_problem(journal))
        restore = self.journals.load(self.profile_name, "postgres")
        if restore is not None:
            raise PitrError(
                f"an unfinished restore of postgres ({restore.backup_id}, step "
                f"'{restore.step}') was found; finish it first with alfred-tui restore "
                "postgres --rollback or --resume"
            )

    def _mark(self, step: str, failure: str | None = None) -> None:
        """Journal the step about to run (before it can change anything)."""
        assert self.journal is not None
        self.journal.step = step
        self.journal.failure = failure
        self.journals.write(self.journal)

    async def recover(
        self, plan: RecoveryPlan, safety_root: Path, progress: ProgressCallback = no_progress
    ) -> dict[str, Any]:
        """Carry out ``plan``; returns what happened (safety folder, timeline, times).

        Holds the restore lock of postgres throughout and journals each step
        (:data:`PITR_JOURNAL`), so that a recovery killed midway is found by
        ``pitr status``, refused over by the next ``recover`` or ``restore``,
        and undone by :func:`alfred_tui.backup.pitr_rollback.rollback`. A
        failure that puts the data back itself clears the journal.
        """
        with self.journals.lock(self.profile_name, "postgres"):
            self._refuse_unfinished()
            steps = RECOVERY_STEPS
            progress(Progress("archive the current WAL segment", 1, steps, "steps", "postgres"))
            await self._switch_and_wait()
            folder = new_pitr_folder(safety_root)
            self.journal = Journal(
                profile=self.profile_name,
                service=PITR_JOURNAL,
                backend=self.backend.name,
                backup_id=plan.base.id,
                backup_folder=str(plan.base.folder),
                mode="pitr",
                step=PitrStep.STOP,
                safety_folder=str(folder),
                details={"data_dir": str(plan.data_dir), "target": pg_time(plan.target)},
            )
            self.journals.write(self.journal)
            assert self.data is not None  # plan_recovery refused otherwise
            safety = await self._replace_data(self.data, plan, folder, progress)
            return await self._finish_recovery(plan, safety, progress)

    async def _finish_recovery(
        self, plan: RecoveryPlan, safety: Path, progress: ProgressCallback
    ) -> dict[str, Any]:
        """Wait for the promotion, reset the recovery settings, clear the journal."""
        steps = RECOVERY_STEPS
        try:
            await self.wait_primary()
        except (AlfredError, OSError) as exc:
            self._mark(PitrStep.START, failure=str(exc))
            raise
        progress(Progress("reset the recovery settings", 6, steps, "steps", "postgres"))
        connection = await self._connect()
        try:
            for name in RECOVERY_SETTINGS:
                await connection.execute(f"ALTER SYSTEM RESET {name}")
            await connection.execute("SELECT pg_reload_conf()")
            timeline = await connection.fetchval("SELECT timeline_id FROM pg_control_checkpoint()")
        finally:
            await connection.close(timeout=2)
        self.journals.clear(self.profile_name, PITR_JOURNAL)
        self.journal = None
        return {
            "target": pg_time(plan.target),
            "base_backup": plan.base.id,
            "safety_copy": str(safety),
            "timeline": timeline,
        }

    async def _replace_data(
        self,
        data: PostgresDataDirectory,
        plan: RecoveryPlan,
        folder: Path,
        progress: ProgressCallback,
    ) -> Path:
        """Steps 2-5: stop, keep the data directory, put the base backup in its place, start."""
        steps = RECOVERY_STEPS
        data_dir = str(plan.data_dir)
        owner = await data.owner(data_dir)
        progress(Progress("stop postgres", 2, steps, "steps", "postgres"))
        try:
            await data.stop(progress)
            progress(Progress(data.save_step, 3, steps, "steps", "postgres"))
            self._mark(PitrStep.SAFETY_COPY)
            safety = await data.save(data_dir, folder)
        except BaseException as exc:
            await self._restart_untouched(data.start, exc)
            raise
        try:
            self._mark(PitrStep.INSTALL)
            progress(Progress(f"copy {plan.base.id}", 4, steps, "steps", "postgres"))
            settings = recovery_settings(plan.archive, plan.target)
            await data.install(plan.base.path(BASE_FOLDER), data_dir, safety, settings, owner)
        except BaseException as exc:
            await self._put_back_after(exc, data.put_back(safety, data_dir), data.start)
            raise
        self._mark(PitrStep.START)
        progress(Progress("start postgres: replay WAL", 5, steps, "steps", "postgres"))
        try:
            await data.start(progress)
        except (AlfredError, OSError) as exc:
            self._mark(PitrStep.START, failure=str(exc))
            raise
        return safety

    async def _restart_untouched(
        self, start: Callable[[], Awaitable[None]], exc: BaseException
    ) -> None:
        """Stopping or saving failed: the data is as it was; start it again.

        The journal is cleared when the server runs again (nothing changed);
        kept, with the failure, when it does not (the rollback starts it).
        """
        try:
            await start()
        except Exception as failure:  # reported through the journal
            self._mark(self.journal.step if self.journal else "", failure=f"{exc}; {failure}")
            return
        self.journals.clear(self.profile_name, PITR_JOURNAL)
        if self.journal is not None and self.journal.safety_folder:
            with contextlib.suppress(OSError):
                Path(self.journal.safety_folder).rmdir()  # only if empty: nothing was saved

    async def _put_back_after(
        self,
        exc: BaseException,
        put_back: Awaitable[None],
        start: Callable[[], Awaitable[None]],
    ) -> None:
        """Installing failed: put the saved data directory back, then start it.

        The journal is cleared once the data is back (the state is known);
        kept, with both failures, when putting back fails too.
        """
        try:
            await put_back
        except Exception as failure:  # reported through the journal
            self._mark(PitrStep.INSTALL, failure=f"{exc}; putting back failed: {failure}")
            return
        self.journals.clear(self.profile_name, PITR_JOURNAL)
        with contextlib.suppress(Exception):
            await start()

    async def _switch_and_wait(self) -> None:
        """Close the current WAL segment and wait until the archiver has it."""
        connection = await self._connect()
        try:
            segment = await connection.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
            deadline = asyncio.get_running_loop().time() + 120
            while asyncio.get_running_loop().time() < deadline:
                archived = await connection.fetchval(
                    "SELECT last_archived_wal FROM pg_stat_archiver"
                )
                if archived and archived[:24] >= segment:
                    return
                await asyncio.sleep(0.2)
        finally:
            await connection.close(timeout=2)
        raise PitrError(
            f"WAL segment {segment} was not archived within 120 s; check archive_command"
        )

    async def wait_primary(self, timeout: float = RECOVERY_TIMEOUT) -> None:
        """Wait until PostgreSQL accepts connections and is out of recovery (promoted)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(AlfredError, OSError, asyncpg.PostgresError):
                connection = await self._connect()
                try:
                    if not await connection.fetchval("SELECT pg_is_in_recovery()"):
                        return
                finally:
                    await connection.close(timeout=2)
            await asyncio.sleep(0.5)
        raise PitrError(
            f"PostgreSQL not accepting connections as a primary after {timeout:g} s; see its log"
        )


def new_pitr_folder(safety_root: Path, suffix: str = "") -> Path:
    """A fresh, private ``pitr-<UTC time><suffix>[-n]`` folder for one recovery's copies."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return unique_folder(safety_root, f"pitr-{stamp}{suffix}")
