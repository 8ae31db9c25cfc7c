"""Fixed data for the Backups pane's and the Restore screen's snapshots: the same picture every run.

Nothing here talks to a server and nothing here is a stand-in for an
engine: :class:`FixedBackups` hands the real pane a frozen catalog, frozen
PITR readiness and (optionally) an unfinished restore, and the restore views
below are the states the real flow goes through, written out, so that the
SVG snapshots change only when the UI does. Behaviour is tested against real
PostgreSQL and Redis in test_ui_backups.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ui_fixed import NOW, NOW_DT, FixedBackend, FixedSource, seed_history

from alfred_tui.app import AlfredApp
from alfred_tui.backends.base import Progress, ProgressCallback
from alfred_tui.config.loader import load_profile
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.backups import (
    BackupRow,
    BackupsSource,
    CatalogView,
    CheckView,
    PitrReading,
    PitrView,
    PrunePlan,
    VerifyResult,
)
from alfred_tui.control.restore import RestoreView, StepView, UnfinishedRestore
from alfred_tui.control.session import Session
from alfred_tui.screens.backups import BackupsPane
from alfred_tui.screens.panes import PANES, PaneSpec

MIB = 1024**2
ROOT = "/var/lib/alfred-tui/dev/backups"


def _at(**delta: float) -> datetime:
    return NOW_DT - timedelta(**delta)


def _row(backup_id: str, service: str, ago: timedelta, size: float, summary: str,
         check: CheckView | None, **extra: object) -> BackupRow:  # fmt: skip
    return BackupRow(
        id=backup_id,
        service=service,
        folder=f"{ROOT}/{service}/{backup_id}",
        created_at=NOW_DT - ago,
        bytes=int(size * MIB),
        summary=summary,
        method=extra.pop("method", "pg_dump -F c (in the container)"),  # type: ignore[arg-type]
        server_version=extra.pop("server_version", "PostgreSQL 15.1"),  # type: ignore[arg-type]
        check=check,
        **extra,  # type: ignore[arg-type]
    )


PG_OK = CheckView(_at(hours=1, minutes=50), True, "sha256 + pg_restore --list")
ROWS: tuple[BackupRow, ...] = (
    _row("postgres-20250513T100000Z", "postgres", timedelta(hours=2), 42.3,
         "10,000 rows in 3 tables", PG_OK),
    _row("postgres-20250513T093012Z", "postgres", timedelta(hours=2, minutes=30), 40.1,
         "9,412 rows in 4 tables", PG_OK, safety_copy=True,
         safety_for="restore of postgres-20250512T020000Z"),
    _row("postgres-20250512T020000Z", "postgres", timedelta(hours=34), 39.8,
         "9,980 rows in 3 tables",
         CheckView(_at(minutes=5), False, "sha256",
                   ("postgres.dump: SHA-256 differs from the manifest",))),
    _row("postgres-base-20250511T020000Z", "postgres", timedelta(days=2, hours=10), 310.0,
         "base backup for point-in-time recovery",
         CheckView(_at(days=2, hours=10), True, "pg_verifybackup"), kind="basebackup",
         method="pg_basebackup -F p -X stream"),
    _row("redis-20250513T113000Z", "redis", timedelta(minutes=30), 12.4,
         "1,500 keys in 5 DBs",
         CheckView(_at(minutes=29), True, "sha256 + redis-check-rdb"),
         method="BGSAVE + copy", server_version="Redis 7.2.4"),
    _row("redis-20250510T020000Z", "redis", timedelta(days=3, hours=10), 11.9,
         "1,460 keys in 5 DBs", None, method="BGSAVE + copy", server_version="Redis 7.2.4"),
)  # fmt: skip

UNFINISHED = UnfinishedRestore(
    service="postgres",
    backup_id="postgres-20250513T100000Z",
    mode="restore",
    step="restore",
    safety_id="postgres-20250513T115502Z",
    failure=None,
    changed_data=True,
    started_at="2025-05-13T11:55:00Z",
    path="/root/.local/state/alfred-tui/restores/dev/postgres.json",
)

PITR = PitrView(
    ready=True,
    wal_level="replica",
    archive_mode="on",
    archive_command=(
        "test ! -f /var/lib/alfred-tui/dev/wal-archive/%f && "
        "cp %p /var/lib/alfred-tui/dev/wal-archive/%f"
    ),
    archive_timeout="1min",
    archive="/var/lib/alfred-tui/dev/wal-archive",
    archive_files=42,
    newest_wal="00000001000000000000002A",
    newest_wal_time=_at(minutes=1),
    last_archived_wal="00000001000000000000002A",
    last_archived_time=_at(minutes=1),
    base_backups=1,
    earliest=_at(days=2, hours=9, minutes=59),
    latest=_at(minutes=1),
)

PITR_NOT_READY = PitrView(
    ready=False,
    wal_level="replica",
    archive_mode="off",
    archive_command="(disabled)",
    archive_timeout="0",
    archive="/var/lib/alfred-tui/dev/wal-archive",
    problems=(
        "archive_mode is off; run alfred-tui pitr enable",
        "archive_command is empty; run alfred-tui pitr enable",
        "no base backup yet; run alfred-tui pitr base-backup",
    ),
)


class FixedBackups(BackupsSource):
    """A frozen catalog and PITR reading (see the module docstring); jobs are refused."""

    unfinished: tuple[UnfinishedRestore, ...] = ()
    pitr_reading = PitrReading(view=PITR, checked_at=NOW)

    async def catalog(self) -> CatalogView:
        return CatalogView(ROOT, tuple(self.services), ROWS, self.unfinished)

    async def pitr(self) -> PitrReading:
        return self.pitr_reading

    async def take(self, service: ServiceKind, progress: ProgressCallback) -> BackupRow:
        raise AssertionError("fixed data: snapshot tests run no jobs")

    async def verify(self, backup_id: str, progress: ProgressCallback) -> VerifyResult:
        raise AssertionError("fixed data: snapshot tests run no jobs")

    async def prune_plan(self) -> PrunePlan:
        raise AssertionError("fixed data: snapshot tests run no jobs")

    async def prune(self, plan: PrunePlan) -> list[str]:
        raise AssertionError("fixed data: snapshot tests run no jobs")


class FixedBackupsPane(BackupsPane):
    """The real pane, fed by :class:`FixedBackups` as set by :func:`fixed_backups_app`."""

    settings: ClassVar[dict[str, Any]] = {}

    def source_for(self, session: Session) -> BackupsSource:
        source = FixedBackups(session)
        source.unfinished = self.settings.get("unfinished", ())
        source.pitr_reading = self.settings.get("pitr") or FixedBackups.pitr_reading
        return source


def fixed_backups_app(
    readonly: bool = False,
    unfinished: tuple[UnfinishedRestore, ...] = (),
    pitr: PitrReading | None = None,
) -> AlfredApp:
    """The real app on fixed data (profile ``dev``), its Backups pane on :class:`FixedBackups`."""
    FixedBackupsPane.settings = {"unfinished": unfinished, "pitr": pitr}
    loaded = load_profile("dev")
    session = Session(
        loaded,
        FixedBackend(loaded),
        readonly=readonly,
        clock=lambda: NOW,
        source_factory=lambda backend, _timeout: FixedSource(backend),
    )
    seed_history(session)
    panes = tuple(
        PaneSpec(p.id, p.title, "ui_fixed_backups:FixedBackupsPane", p.summary, p.twin)
        if p.id == "backups"
        else p
        for p in PANES
    )
    return AlfredApp(session, panes=panes)


# --- the restore flow's states -----------------------------------------------------------

BACKUP_ID = "postgres-20250513T100000Z"
SAFETY_ID = "postgres-20250513T120005Z"

STEP_1 = (
    f"{BACKUP_ID}: taken 2 h 0 min ago, 42.3 MiB, verified 1 h 50 min ago "
    "(sha256 + pg_restore --list)",
    "holds 10,000 rows in 3 tables; PostgreSQL 15.1, from profile 'dev' on docker",
)
STEP_2 = (
    "SHA-256 of 1 file(s) matches the manifest",
    "readable by the engine's own tool: pg_restore --list",
    "versions compatible: backup from PostgreSQL 15.1, server runs 15.1",
)
STEP_3 = (
    "database 'postgres' at 127.0.0.1:5432 (PostgreSQL 15.1)",
    "drop and recreate every object of the dump (3 tables, 10,000 rows); the tables now hold "
    "about 8,012 rows",
    "tables that are not in the backup are kept as they are: public.created_after_the_backup",
    "in one transaction (pg_restore --single-transaction): a failure changes nothing",
    "first, a safety copy of the current postgres data is taken into "
    f"{ROOT}/postgres (marked as a safety copy)",
)
TITLES = (
    ("backup", "Backup"),
    ("preflight", "Pre-flight"),
    ("plan", "Plan"),
    ("confirm", "Confirmation"),
    ("safety_copy", "Safety copy"),
    ("restore", "Restore"),
    ("verify", "Verification"),
)


def restore_view(
    statuses: str,
    messages: dict[str, tuple[str, ...]] | None = None,
    progress: Progress | None = None,
    outcome: str = "pending",
    safety: bool = False,
    readonly: bool = False,
    service: str = "postgres",
) -> RestoreView:
    """A view whose steps have ``statuses`` (one letter each: p r d f s)."""
    words = {"p": "pending", "r": "running", "d": "done", "f": "failed", "s": "skipped"}
    messages = messages or {}
    durations = {"backup": 0.0, "preflight": 1.4, "plan": 0.1, "confirm": 6.2,
                 "safety_copy": 3.8, "restore": 12.5, "verify": 0.6}  # fmt: skip
    steps = []
    for number, ((step_id, title), letter) in enumerate(zip(TITLES, statuses, strict=True), 1):
        status = words[letter]
        steps.append(
            StepView(
                step_id,
                number,
                title,
                status,
                messages.get(step_id, ()),
                progress if status == "running" else None,
                durations[step_id] if status in ("done", "failed", "skipped") else None,
            )
        )
    return RestoreView(
        service=service,
        reference=BACKUP_ID,
        backup_id=BACKUP_ID,
        safety_id=SAFETY_ID if safety else None,
        outcome=outcome,
        steps=tuple(steps),
        readonly=readonly,
    )


def _progress(step: str, done: float, total: float) -> Progress:
    return Progress(step, int(done * MIB), int(total * MIB), "bytes", "postgres")


VIEWS: dict[str, Callable[[], tuple[RestoreView, str]]] = {
    "preflight_running": lambda: (
        restore_view(
            "drppppp",
            {"backup": STEP_1},
            _progress("sha256 postgres.dump", 17.5, 42.3),
        ),
        "prepare",
    ),
    "preflight_failed": lambda: (
        restore_view(
            "dfppppp",
            {
                "backup": STEP_1,
                "preflight": (
                    "postgres.dump: SHA-256 differs from the manifest (the file changed)",
                ),
            },
            outcome="preflight_failed",
        ),
        "ended",
    ),
    "confirm": lambda: (
        restore_view("dddrppp", {"backup": STEP_1, "preflight": STEP_2, "plan": STEP_3}),
        "confirm",
    ),
    "restoring": lambda: (
        restore_view(
            "dddddrp",
            {
                "backup": STEP_1,
                "preflight": STEP_2,
                "plan": STEP_3,
                "confirm": ("confirmed: typed 'postgres'",),
                "safety_copy": (f"{SAFETY_ID}: 38.2 MiB, 8,012 rows in 4 tables",),
            },
            _progress("pg_restore", 25.0, 42.3),
            safety=True,
        ),
        "execute",
    ),
    "restored": lambda: (
        restore_view(
            "ddddddd",
            {
                "backup": STEP_1,
                "preflight": STEP_2,
                "plan": STEP_3,
                "confirm": ("confirmed: typed 'postgres'",),
                "safety_copy": (f"{SAFETY_ID}: 38.2 MiB, 8,012 rows in 4 tables",),
                "restore": (f"{BACKUP_ID} restored in 12.5 s",),
                "verify": ("counts match the manifest: 10,000 rows in 3 tables",),
            },
            outcome="restored",
            safety=True,
        ),
        "ended",
    ),
    "verify_failed": lambda: (
        restore_view(
            "ddddddf",
            {
                "backup": STEP_1,
                "preflight": STEP_2,
                "plan": STEP_3,
                "confirm": ("confirmed: typed 'postgres'",),
                "safety_copy": (f"{SAFETY_ID}: 38.2 MiB, 8,012 rows in 4 tables",),
                "restore": (f"{BACKUP_ID} restored in 12.5 s",),
                "verify": (
                    "rows in public.agent_runs: expected 6001, found 6000",
                    "the restore FAILED verification; the data from before is in the safety "
                    f"copy {SAFETY_ID}: alfred-tui restore postgres {SAFETY_ID}",
                ),
            },
            outcome="verify_failed",
            safety=True,
        ),
        "ended",
    ),
    "read_only": lambda: (
        restore_view(
            "dddfppp",
            {
                "backup": STEP_1,
                "preflight": STEP_2,
                "plan": STEP_3,
                "confirm": ("read-only mode: restores are disabled",),
            },
            outcome="refused",
            readonly=True,
        ),
        "ended",
    ),
}
