"""The restore journal: a small file that says a restore is under way, and how far it got.

Written (atomically) before every step that can change data, removed when
the restore ends in a known state. If the process is killed, or the database
dies mid-restore, the file stays; the next ``alfred-tui restore`` for that
service finds it and offers to roll back to the safety copy it names or to
retry. A lock file next to it (``flock``) tells a journal left by a dead
process from one being written right now by another restore.

Location: ``<state dir>/restores/<profile>/<service>.json``; a point-in-time
recovery's is ``postgres-pitr.json`` next to them (:data:`PITR_JOURNAL`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from alfred_tui import paths
from alfred_tui.errors import AlfredError

SCHEMA_ID = "alfred-tui/restore-journal"
SCHEMA_VERSION = 1
#: The journal of a point-in-time recovery (``mode="pitr"``). Kept apart from
#: restore's ``postgres.json`` so that the restore screens never offer to
#: resume it, and written under the same lock as a restore of postgres, so
#: that the two never run at once.
PITR_JOURNAL = "postgres-pitr"


class RestoreInProgress(AlfredError):
    """Another process is restoring this service right now."""

    title = "Restore in progress"


@dataclass
class Journal:
    """Where an unfinished restore stands."""

    profile: str
    service: str
    backend: str
    backup_id: str
    backup_folder: str
    mode: str
    """``restore``, ``resume`` or ``rollback``."""
    step: str
    """The step that was about to run or running: ``safety_copy``, ``restore``, ``verify``."""
    safety_id: str | None = None
    safety_folder: str | None = None
    started_at: str = field(default_factory=lambda: _now())
    updated_at: str = field(default_factory=lambda: _now())
    pid: int = field(default_factory=os.getpid)
    failure: str | None = None
    """Why the restore step failed, when it failed rather than being killed."""
    details: dict[str, str] = field(default_factory=dict)
    """What a rollback needs beyond the above (PITR: the data directory, the target time)."""

    @property
    def changed_data(self) -> bool:
        """Whether the restore may have touched the database (the safety copy exists)."""
        return self.safety_id is not None and self.step in ("restore", "verify")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class JournalStore:
    """The journals of one profile, one per service."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.state_dir() / "restores"

    def path(self, profile: str, service: str) -> Path:
        return self.root / profile / f"{service}.json"

    def load(self, profile: str, service: str) -> Journal | None:
        """The journal left for ``service``, if any (an unreadable one is reported, not lost)."""
        path = self.path(profile, service)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise AlfredError(
                f"{path}: unreadable restore journal ({exc}); inspect it, then delete it",
                title="Restore journal",
            ) from None
        data.pop("schema", None)
        data.pop("version", None)
        try:
            return Journal(**data)
        except TypeError as exc:
            raise AlfredError(
                f"{path}: not a restore journal this version reads ({exc})",
                title="Restore journal",
            ) from None

    def write(self, journal: Journal) -> None:
        """Save ``journal`` atomically (write, fsync, rename)."""
        journal.updated_at = _now()
        path = self.path(journal.profile, journal.service)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".tmp")
        document: dict[str, Any] = {"schema": SCHEMA_ID, "version": SCHEMA_VERSION}
        document.update(asdict(journal))
        with temporary.open("w") as handle:
            handle.write(json.dumps(document, indent=2) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def clear(self, profile: str, service: str) -> None:
        self.path(profile, service).unlink(missing_ok=True)

    def protected_ids(self) -> set[str]:
        """Backups named by any journal (prune must keep them)."""
        ids: set[str] = set()
        if not self.root.is_dir():
            return ids
        for path in self.root.glob("*/*.json"):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                data = json.loads(path.read_text())
                ids.update(x for x in (data.get("backup_id"), data.get("safety_id")) if x)
        return ids

    @contextlib.contextmanager
    def lock(self, profile: str, service: str) -> Iterator[None]:
        """Hold the service's restore lock for the whole restore; refuse if another holds it."""
        path = self.path(profile, service).with_suffix(".lock")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle: IO[str] = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RestoreInProgress(
                f"another alfred-tui is restoring {service} of profile '{profile}' right now "
                f"(lock {path}); wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
