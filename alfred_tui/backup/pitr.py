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

Executed on the local backend, where the data directory is a folder on this
machine, and on the Docker backend, where the same steps go through the
engine (:mod:`alfred_tui.backup.pitr_docker`: the archive must be a volume,
the safety copy is a tar of the data directory on this machine). Kubernetes
gets the same settings rendered with the steps to carry them out
(:func:`render_steps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from alfred_tui.backends.base import Backend, Capability, Progress, ProgressCallback, no_progress
from alfred_tui.backup.catalog import Catalog, CatalogEntry, FileCheck, default_root
from alfred_tui.backup.engine import BackupError, open_engine
from alfred_tui.backup.files import sha256_file
from alfred_tui.backup.journal import PITR_JOURNAL, Journal, JournalStore
from alfred_tui.backup.manifest import FileEntry, Manifest
from alfred_tui.backup.pg_tools import host_bindir
from alfred_tui.backup.postgres import PostgresEngine
from alfred_tui.backup.process import run_tool
from alfred_tui.config.models import Profile
from alfred_tui.errors import AlfredError
from alfred_tui.safety import move_into, unique_folder

if TYPE_CHECKING:
    from alfred_tui.backup.pitr_docker import ContainerData

BASE_FOLDER = "data"
ARCHIVE_TIMEOUT = "60s"
RECOVERY_TIMEOUT = 3600.0
#: Steps ``recover`` reports: switch WAL, stop, safety copy, install, start, reset.
RECOVERY_STEPS = 6
RECOVERY_SETTINGS = ("restore_command", "recovery_target_time", "recovery_target_action")


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


class PitrError(AlfredError):
    """Point-in-time recovery cannot go ahead as asked."""

    title = "Point-in-time recovery"


def default_archive(profile: Profile, backend_name: str) -> str:
    """``backups.wal_archive``, else a folder beside the local data, else the spec's /archive."""
    configured = profile.backups.wal_archive
    if configured:
        return configured
    if backend_name == "local":
        return str(default_root(profile).parent / "wal-archive")
    return "/archive"


def archive_command(archive: str) -> str:
    """The spec's archive_command with its folder."""
    folder = shlex.quote(archive.rstrip("/"))
    return f"test ! -f {folder}/%f && cp %p {folder}/%f"


def restore_command(archive: str) -> str:
    """The spec's restore_command with its folder."""
    return f"cp {shlex.quote(archive.rstrip('/'))}/%f %p"


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-11-25T18:00:00Z``, ``2026-11-25 18:00:00``); naive is local."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PitrError(
            f"--to {text!r} is not a time; write e.g. '2026-11-25 18:00:00' (local time) "
            "or '2026-11-25T17:00:00Z'"
        ) from None
    return moment.astimezone() if moment.tzinfo is None else moment


def pg_time(moment: datetime) -> str:
    """A time as PostgreSQL reads it, with its offset: ``2026-11-25 17:00:00.000000+00:00``."""
    return moment.astimezone(UTC).isoformat(sep=" ")


@dataclass
class PitrStatus:
    """Whether point-in-time recovery is possible, and to which times."""

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
    last_failed_wal: str | None = None
    last_failed_time: datetime | None = None
    in_recovery: bool = False
    base_backups: list[CatalogEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)
    """Settings the server's command line sets, which ALTER SYSTEM cannot change."""

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def earliest(self) -> datetime | None:
        """The oldest base backup's end: no recovery can go further back."""
        ends = [_end_time(entry) for entry in self.base_backups]
        return min(ends) if ends else None

    @property
    def latest(self) -> datetime | None:
        """When the newest archived WAL was archived. ``pitr recover`` archives the
        current segment first, so while archiving works recovery reaches up to now."""
        times = [t for t in (self.last_archived_time, self.newest_wal_time) if t is not None]
        return max(times) if times else None

    def to_dict(self, profile: str, backend: str) -> dict[str, Any]:
        def stamp(moment: datetime | None) -> str | None:
            return (
                None
                if moment is None
                else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
            )

        return {
            "schema": "alfred-tui/pitr-status",
            "version": 1,
            "profile": profile,
            "backend": backend,
            "ready": self.ready,
            "problems": list(self.problems),
            "settings": {
                "wal_level": self.wal_level,
                "archive_mode": self.archive_mode,
                "archive_command": self.archive_command,
                "archive_timeout": self.archive_timeout,
            },
            "archive": {
                "path": self.archive,
                "files": self.archive_files,
                "newest_wal": self.newest_wal,
                "newest_wal_time": stamp(self.newest_wal_time),
                "last_archived_wal": self.last_archived_wal,
                "last_archived_time": stamp(self.last_archived_time),
                "failed_count": self.failed_count,
                "last_failed_wal": self.last_failed_wal,
                "last_failed_time": stamp(self.last_failed_time),
            },
            "base_backups": [
                {"id": entry.id, "end_time": stamp(_end_time(entry))} for entry in self.base_backups
            ],
            "earliest_recovery_time": stamp(self.earliest),
            "latest_recovery_time": stamp(self.latest),
            "in_recovery": self.in_recovery,
        }


def describe_unfinished(journal: Journal) -> str:
    """What an unfinished recovery was doing and where the data from before it is."""
    text = (
        f"it was recovering to {journal.details.get('target', '?')} from {journal.backup_id}, "
        f"started {journal.started_at}"
    )
    if journal.failure:
        text += f", and failed: {journal.failure}"
    return f"{text}; the data from before it is in {journal.safety_folder}"


def _end_time(entry: CatalogEntry) -> datetime:
    manifest = entry.require()
    text = manifest.details.get("end_time")
    return datetime.fromisoformat(text) if text else manifest.created_at


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
        self.archive = default_archive(backend.profile, backend.name)
        self.container: ContainerData | None = None
        """The Docker backend's container work; None where the files are on this machine."""
        if backend.name == "docker":
            from alfred_tui.backup.pitr_docker import ContainerData

            self.container = ContainerData(backend)  # type: ignore[arg-type]

    @property
    def executes(self) -> bool:
        """Whether this backend carries PITR out (else its steps are rendered)."""
        return self.backend.name in ("local", "docker")

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
        if self.container is not None:
            listing = await self.container.read_archive(self.archive)
            status.archive_files, status.newest_wal, status.newest_wal_time = listing
        elif self.executes:
            self._read_archive(status)
        status.problems = self._problems(status)
        if journal is not None:
            status.problems.insert(0, self.unfinished_problem(journal))
        return status

    def _read_archive(self, status: PitrStatus) -> None:
        folder = Path(self.archive)
        if not folder.is_dir():
            return
        wal = [p for p in folder.iterdir() if len(p.name) == 24 and p.is_file()]
        status.archive_files = len(wal)
        if wal:
            newest = max(wal, key=lambda p: p.name)
            status.newest_wal = newest.name
            status.newest_wal_time = datetime.fromtimestamp(newest.stat().st_mtime, UTC)

    def _problems(self, status: PitrStatus) -> list[str]:
        problems = []
        if status.wal_level not in ("replica", "logical"):
            problems.append(f"wal_level is {status.wal_level}; it must be replica or logical")
        if status.archive_mode not in ("on", "always"):
            problems.append(f"archive_mode is {status.archive_mode}; run alfred-tui pitr enable")
        if not status.archive_command or status.archive_command == "(disabled)":
            problems.append("archive_command is empty; run alfred-tui pitr enable")
        elif self.archive not in status.archive_command:
            problems.append(
                f"archive_command archives elsewhere than {self.archive}: {status.archive_command}"
            )
        if status.last_failed_time and (
            status.last_archived_time is None or status.last_failed_time > status.last_archived_time
        ):
            problems.append(
                f"archiving fails: the last attempt ({status.last_failed_wal}) failed; "
                "see the PostgreSQL log"
            )
        if not status.base_backups:
            problems.append("no base backup yet; run alfred-tui pitr base-backup")
        return problems

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
        self._require_execution("set up WAL archiving")
        self.backend.require("postgres", Capability.RESTART)
        data_dir = await self._data_dir()
        progress(Progress(f"create {self.archive}", 1, 3, "steps", "postgres"))
        if self.container is not None:
            await self.container.make_archive(self.archive)
        else:
            await asyncio.to_thread(_make_archive, Path(self.archive), data_dir)
        connection = await self._connect()
        try:
            for statement in self.enable_statements():
                await connection.execute(statement)
            if await connection.fetchval("SHOW wal_level") == "minimal":
                await connection.execute("ALTER SYSTEM SET wal_level = 'replica'")
        finally:
            await connection.close(timeout=2)
        progress(Progress("restart postgres", 2, 3, "steps", "postgres"))
        await self.backend.restart("postgres", progress)
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

    def _require_execution(self, action: str) -> None:
        if not self.executes:
            raise PitrError(
                f"the {self.backend.name} backend cannot {action} from here; "
                "alfred-tui pitr shows the settings and the steps to carry out"
            )

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
        major = int(version.split(".")[0])
        bindir = host_bindir(major)
        if bindir is None:
            raise PitrError(f"no pg_basebackup for PostgreSQL {major} or newer on this machine")
        started = datetime.now(UTC)
        backup_id = self.catalog.new_id("postgres", started, kind="basebackup")
        from alfred_tui.backup.pg_tools import HostPgTools

        env = HostPgTools(engine.context, bindir).env()
        with self.catalog.staging(backup_id) as staging:
            target = staging / BASE_FOLDER
            if self.container is not None:
                method = "pg_basebackup -F p -X stream (in the instance)"
                await self.container.base_backup(target, f"alfred-tui {backup_id}", progress)
            else:
                method = "pg_basebackup -F p -X stream (host client)"
                await self._host_base_backup(bindir, env, target, backup_id, progress)
            ended = datetime.now(UTC)
            check = await run_tool([str(bindir / "pg_verifybackup"), str(target)], timeout=3600)
            if not check.ok:
                raise BackupError(f"pg_verifybackup rejects the base backup: {check.last_lines()}")
            manifest_file = target / "backup_manifest"
            manifest = Manifest(
                id=backup_id,
                service="postgres",
                kind="basebackup",
                profile=self.backend.profile.name,
                backend=self.backend.name,
                created_at=started,
                duration_seconds=round((ended - started).total_seconds(), 3),
                method=method,
                server_version=version,
                address=self.backend_address(env),
                files=[
                    FileEntry(
                        name=f"{BASE_FOLDER}/backup_manifest",
                        bytes=manifest_file.stat().st_size,
                        sha256=await sha256_file(manifest_file),
                    )
                ],
                details={
                    "end_time": ended.isoformat(),
                    "bytes_total": _folder_bytes(target),
                    "wal_archive": self.archive,
                    "note": "backup_manifest lists a checksum of every file; pg_verifybackup "
                    "checks them",
                },
                tool_check="pg_verifybackup",
            )
            entry = self.catalog.commit(staging, manifest)
        entry.record_check(FileCheck(datetime.now(UTC), True, "pg_verifybackup"))
        return entry

    @staticmethod
    async def _host_base_backup(
        bindir: Path, env: dict[str, str], target: Path, backup_id: str, progress: ProgressCallback
    ) -> None:
        result = await run_tool(
            [
                str(bindir / "pg_basebackup"),
                f"--pgdata={target}",
                "--format=plain",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-password",
                f"--label=alfred-tui {backup_id}",
            ],
            env=env,
            progress=progress,
            step="pg_basebackup",
            service="postgres",
        )
        if not result.ok:
            raise BackupError(f"pg_basebackup failed: {result.last_lines()}")

    @staticmethod
    def backend_address(env: dict[str, str]) -> str:
        return f"{env['PGHOST']}:{env['PGPORT']}"

    # --- recovery ---------------------------------------------------------------------

    async def plan_recovery(self, target: datetime) -> RecoveryPlan:
        """Check that ``target`` is reachable and say exactly what recovery will do."""
        self._require_execution("recover to a point in time")
        if self.container is None:
            self.backend.require("postgres", Capability.STOP_START)
        self._refuse_unfinished()
        now = datetime.now(UTC)
        if target > now:
            raise PitrError(f"{pg_time(target)} is in the future")
        candidates = [e for e in self.base_backups() if _end_time(e) <= target]
        if not candidates:
            earliest = min((_end_time(e) for e in self.base_backups()), default=None)
            where = (
                f"the earliest point is {pg_time(earliest)} (the oldest base backup's end)"
                if earliest
                else "there is no base backup (alfred-tui pitr base-backup)"
            )
            raise PitrError(f"cannot recover to {pg_time(target)}: {where}")
        base = max(candidates, key=_end_time)
        status = await self.status()
        archiving = [p for p in status.problems if "base backup" not in p]
        if archiving:
            raise PitrError("WAL archiving is not working: " + "; ".join(archiving))
        data_dir = await self._data_dir()
        if self.container is not None:
            await self.container.check_data_volume(str(data_dir))
            aside = (
                f"stop the PostgreSQL container; save its data directory {data_dir} to this "
                "machine as the safety copy (a tar)"
            )
        else:
            aside = f"stop PostgreSQL; move its data directory {data_dir} aside as the safety copy"
        lines = [
            "archive the current WAL segment (pg_switch_wal) so the archive reaches now",
            aside,
            f"copy the base backup {base.id} (ended {pg_time(_end_time(base))}) in its place",
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
            if self.container is not None:
                safety = await self._recover_container(self.container, plan, folder, progress)
            else:
                safety = await self._recover_host(plan, folder, progress)
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

    async def _recover_container(
        self,
        container: ContainerData,
        plan: RecoveryPlan,
        folder: Path,
        progress: ProgressCallback,
    ) -> Path:
        """Steps 2-5 on Docker: stop, save, refill through the engine, start."""
        steps = RECOVERY_STEPS
        data_dir = str(plan.data_dir)
        owner = await container.owner(data_dir)
        progress(Progress("stop postgres", 2, steps, "steps", "postgres"))
        try:
            await container.stop(progress)
            progress(Progress("save the data directory", 3, steps, "steps", "postgres"))
            self._mark(PitrStep.SAFETY_COPY)
            safety = await container.save(data_dir, folder)
        except BaseException as exc:
            await self._restart_untouched(container.start, exc)
            raise
        try:
            self._mark(PitrStep.INSTALL)
            progress(Progress(f"copy {plan.base.id}", 4, steps, "steps", "postgres"))
            await container.install(
                plan.base.path(BASE_FOLDER), data_dir, safety, recovery_settings_text(plan), owner
            )
        except BaseException as exc:
            await self._put_back_after(exc, container.put_back(safety, data_dir), container.start)
            raise
        self._mark(PitrStep.START)
        progress(Progress("start postgres: replay WAL", 5, steps, "steps", "postgres"))
        await container.start()
        return safety

    async def _recover_host(
        self, plan: RecoveryPlan, folder: Path, progress: ProgressCallback
    ) -> Path:
        """Steps 2-5 on this machine: stop, move aside, copy in, start."""
        steps = RECOVERY_STEPS

        async def start() -> None:
            await self.backend.start("postgres")

        progress(Progress("stop postgres", 2, steps, "steps", "postgres"))
        try:
            await self.backend.stop("postgres", progress)
            progress(Progress("move the data directory aside", 3, steps, "steps", "postgres"))
            self._mark(PitrStep.SAFETY_COPY)
            safety = await asyncio.to_thread(move_into, folder, plan.data_dir)
        except BaseException as exc:
            await self._restart_untouched(start, exc)
            raise
        try:
            self._mark(PitrStep.INSTALL)
            progress(Progress(f"copy {plan.base.id}", 4, steps, "steps", "postgres"))
            await asyncio.to_thread(
                _install_base, plan.base.path(BASE_FOLDER), plan.data_dir, safety
            )
            await asyncio.to_thread(_write_recovery_settings, plan)
        except BaseException as exc:
            put_back = asyncio.to_thread(_put_back, safety, plan.data_dir)
            await self._put_back_after(exc, put_back, start)
            raise
        self._mark(PitrStep.START)
        progress(Progress("start postgres: replay WAL", 5, steps, "steps", "postgres"))
        try:
            await self.backend.start("postgres", progress)
        except (AlfredError, OSError) as exc:
            self._mark(PitrStep.START, failure=str(exc))
            raise
        return safety

    async def _restart_untouched(self, start: Any, exc: BaseException) -> None:
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

    async def _put_back_after(self, exc: BaseException, put_back: Any, start: Any) -> None:
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


# --- file work (blocking; run in threads) ---------------------------------------------


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _owner(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid


def _make_archive(archive: Path, data_dir: Path) -> None:
    """The archive folder, owned by whoever owns the data directory (the server's user)."""
    archive.mkdir(parents=True, exist_ok=True)
    uid, gid = _owner(data_dir)
    os.chown(archive, uid, gid)
    archive.chmod(0o700)
    parent = archive.parent
    if not os.access(parent, os.X_OK):
        raise PitrError(f"the server cannot enter {parent}; make it traversable (chmod o+x)")


def new_pitr_folder(safety_root: Path, suffix: str = "") -> Path:
    """A fresh, private ``pitr-<UTC time><suffix>[-n]`` folder for one recovery's copies."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return unique_folder(safety_root, f"pitr-{stamp}{suffix}")


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """``chown -R``: a copied data directory must belong to the server's user."""
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, gid)


def move_back(saved: Path, data_dir: Path) -> None:
    """Put a data directory saved by :func:`move_into` back where it was."""
    assert saved.name == data_dir.name, (saved, data_dir)
    move_into(data_dir.parent, saved)


def _put_back(safety: Path, data_dir: Path) -> None:
    """After a failed install: drop the half-copied base backup, the saved directory back."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    move_back(safety, data_dir)


def _install_base(base: Path, data_dir: Path, previous: Path) -> None:
    """Copy the base backup to ``data_dir`` with the previous data directory's owner and mode."""
    uid, gid = _owner(previous)
    shutil.copytree(base, data_dir, symlinks=True)
    chown_tree(data_dir, uid, gid)
    data_dir.chmod(0o700)
    # configuration is not data: keep the current files (archiving settings included)
    # rather than the ones of the base backup's time
    for name in ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"):
        if (previous / name).is_file():
            shutil.copy2(previous / name, data_dir / name)
            os.chown(data_dir / name, uid, gid)
    (data_dir / "postmaster.pid").unlink(missing_ok=True)


def recovery_settings_text(plan: RecoveryPlan) -> str:
    """The lines appended to ``postgresql.auto.conf`` for the recovery (reset after)."""
    settings = {
        "restore_command": restore_command(plan.archive),
        "recovery_target_time": pg_time(plan.target),
        "recovery_target_action": "promote",
    }
    lines = ["", "# point-in-time recovery by alfred-tui (reset after promotion)"]
    for name, value in settings.items():
        lines.append(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'")
    return "\n".join(lines) + "\n"


def _write_recovery_settings(plan: RecoveryPlan) -> None:
    auto = plan.data_dir / "postgresql.auto.conf"
    with auto.open("a") as handle:
        handle.write(recovery_settings_text(plan))
    signal_file = plan.data_dir / "recovery.signal"
    signal_file.write_text("")
    uid, gid = _owner(plan.data_dir)
    os.chown(signal_file, uid, gid)


def enable_statements(archive: str) -> list[str]:
    """The ALTER SYSTEM statements that turn archiving on into ``archive``."""
    command = archive_command(archive).replace("'", "''")
    return [
        "ALTER SYSTEM SET archive_mode = 'on'",
        f"ALTER SYSTEM SET archive_command = '{command}'",
        f"ALTER SYSTEM SET archive_timeout = '{ARCHIVE_TIMEOUT}'",
    ]


def render_steps(profile: Profile, backend_name: str) -> list[str]:
    """For backends alfred-tui does not drive through PITR (Kubernetes): settings and steps."""
    archive = default_archive(profile, backend_name)
    namespace = profile.kubernetes.namespace
    name = profile.postgres.name if profile.postgres else "db-postgres"
    return [
        f"1. Mount a persistent volume at {archive} in the PostgreSQL pod "
        "(backups.wal_archive), writable by the postgres user.",
        "2. Turn archiving on (psql as the superuser), then restart the pod:",
        *[f"     {statement};" for statement in enable_statements(archive)],
        f"     kubectl -n {namespace} rollout restart statefulset/{name}",
        "3. Take a base backup into the same volume or object storage:",
        f"     pg_basebackup -D {archive}/base-$(date +%Y%m%dT%H%M%S) -F p -X stream -c fast",
        "4. To recover to TIME: scale PostgreSQL to 0, keep a copy of its data volume, "
        "replace its data directory with the base backup, then add to postgresql.auto.conf:",
        f"     restore_command = '{restore_command(archive)}'",
        "     recovery_target_time = 'TIME'",
        "     recovery_target_action = 'promote'",
        "   create an empty recovery.signal in the data directory and scale back to 1.",
    ]
