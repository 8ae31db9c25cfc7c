"""Whether point-in-time recovery is possible, and to which times: :class:`PitrStatus`.

Read by ``alfred-tui pitr status`` (table and the versioned JSON document
``alfred-tui/pitr-status``) and by the Backups pane; :func:`problems` says
in words what stands between the server and a recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alfred_tui.backup.catalog import CatalogEntry
from alfred_tui.backup.journal import Journal


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
        ends = [end_time(entry) for entry in self.base_backups]
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
                {"id": entry.id, "end_time": stamp(end_time(entry))} for entry in self.base_backups
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


def end_time(entry: CatalogEntry) -> datetime:
    manifest = entry.require()
    text = manifest.details.get("end_time")
    return datetime.fromisoformat(text) if text else manifest.created_at


def problems(status: PitrStatus, archive: str) -> list[str]:
    """What is missing before a recovery to ``archive``'s WAL can work, in words."""
    found = []
    if status.wal_level not in ("replica", "logical"):
        found.append(f"wal_level is {status.wal_level}; it must be replica or logical")
    if status.archive_mode not in ("on", "always"):
        found.append(f"archive_mode is {status.archive_mode}; run alfred-tui pitr enable")
    if not status.archive_command or status.archive_command == "(disabled)":
        found.append("archive_command is empty; run alfred-tui pitr enable")
    elif archive not in status.archive_command:
        found.append(f"archive_command archives elsewhere than {archive}: {status.archive_command}")
    if status.last_failed_time and (
        status.last_archived_time is None or status.last_failed_time > status.last_archived_time
    ):
        found.append(
            f"archiving fails: the last attempt ({status.last_failed_wal}) failed; "
            "see the PostgreSQL log"
        )
    if not status.base_backups:
        found.append("no base backup yet; run alfred-tui pitr base-backup")
    return found
