"""The catalog: a folder with one sub-folder per backup, each with its manifest.

Layout (``profile.backups.catalog``, default ``<data dir>/<profile>/backups``)::

    <catalog>/
      postgres/postgres-20261125T180635Z/manifest.json
                                        postgres.dump
                                        check.json      <- last check of the files, if any
      redis/redis-20261125T181002Z/...
      .staging/                                         <- backups being written

A backup is written under ``.staging`` and moved into place (one rename) only
once its manifest is complete, so a backup interrupted midway never appears
in the catalog; a staging folder whose writer process is gone (killed
midway) is removed by the next backup.
Folders and files are private to the user (they hold the data).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alfred_tui import paths
from alfred_tui.backup.files import private_folder
from alfred_tui.backup.manifest import MANIFEST_NAME, Manifest, ManifestError
from alfred_tui.config.models import Profile
from alfred_tui.errors import AlfredError

STAGING = ".staging"
CHECK_NAME = "check.json"
WRITER_PID = ".writer.pid"


class CatalogError(AlfredError):
    """The catalog has no such backup, or cannot be written."""

    title = "Backup catalog"


@dataclass(frozen=True)
class FileCheck:
    """The last time a backup's files were read back and what was found."""

    checked_at: datetime
    ok: bool
    how: str
    """``sha256 + pg_restore --list``, ``restored and verified``..."""
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat().replace("+00:00", "Z"),
            "ok": self.ok,
            "how": self.how,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class CatalogEntry:
    """A backup in the catalog: its folder and manifest (or why the manifest is unreadable)."""

    folder: Path
    manifest: Manifest | None
    error: str | None = None

    @property
    def id(self) -> str:
        return self.manifest.id if self.manifest else self.folder.name

    @property
    def ok(self) -> bool:
        return self.manifest is not None

    def require(self) -> Manifest:
        """The manifest, or the error that made it unreadable."""
        if self.manifest is None:
            raise ManifestError(self.error or f"{self.folder}: no manifest")
        return self.manifest

    def path(self, name: str) -> Path:
        """A file of this backup, refusing names that leave its folder."""
        candidate = (self.folder / name).resolve()
        if self.folder.resolve() not in candidate.parents:
            raise ManifestError(
                f"{self.folder / MANIFEST_NAME}: file name {name!r} leaves the folder"
            )
        return candidate

    def last_check(self) -> FileCheck | None:
        """The most recent check of the files, if any was recorded."""
        record = self.folder / CHECK_NAME
        try:
            data = json.loads(record.read_text())
            return FileCheck(
                datetime.fromisoformat(data["checked_at"].replace("Z", "+00:00")),
                bool(data["ok"]),
                str(data["how"]),
                tuple(data.get("problems", [])),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def record_check(self, check: FileCheck) -> None:
        """Remember a check of the files (the manifest itself never changes)."""
        target = self.folder / CHECK_NAME
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(check.to_dict(), indent=2) + "\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)


def default_root(profile: Profile) -> Path:
    """``<data dir>/<profile>/backups``, the data dir being the local backend's."""
    return paths.profile_data_dir(profile.name, profile.local.data_dir) / "backups"


class Catalog:
    """The backups of one profile."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_profile(cls, profile: Profile) -> Catalog:
        """The profile's catalog (``backups.catalog`` or the default)."""
        return cls(
            paths.backup_catalog_dir(profile.name, profile.backups.catalog, profile.local.data_dir)
        )

    # --- reading -----------------------------------------------------------------

    def entries(
        self, service: str | None = None, include_broken: bool = True
    ) -> list[CatalogEntry]:
        """Every backup (of ``service``), newest first; unreadable ones carry their error."""
        found: list[CatalogEntry] = []
        if not self.root.is_dir():
            return found
        services = [service] if service else sorted(os.listdir(self.root))
        for name in services:
            folder = self.root / name
            if name.startswith(".") or not folder.is_dir():
                continue
            for child in sorted(folder.iterdir()):
                if not child.is_dir() or child.name.startswith("."):
                    continue
                entry = self._entry(child)
                if entry.ok or include_broken:
                    found.append(entry)

        def newest_first(entry: CatalogEntry) -> tuple[float, str]:
            stamp = entry.manifest.created_at.timestamp() if entry.manifest else 0.0
            return (-stamp, entry.id)

        return sorted(found, key=newest_first)

    @staticmethod
    def _entry(folder: Path) -> CatalogEntry:
        manifest_path = folder / MANIFEST_NAME
        try:
            return CatalogEntry(folder, Manifest.read(manifest_path))
        except ManifestError as exc:
            return CatalogEntry(folder, None, exc.message)

    def find(self, reference: str, service: str | None = None) -> CatalogEntry:
        """A backup by catalog id, or by the path of its folder or manifest."""
        candidate = Path(reference).expanduser()
        if candidate.exists() or os.sep in reference:
            folder = candidate.parent if candidate.name == MANIFEST_NAME else candidate
            if not (folder / MANIFEST_NAME).is_file():
                raise CatalogError(f"{folder}: no {MANIFEST_NAME} there; not a backup folder")
            entry = self._entry(folder)
            entry.require()
            return entry
        for entry in self.entries(service):
            if entry.id == reference:
                entry.require()
                return entry
        known = [e.id for e in self.entries(service) if e.ok][:5]
        hint = f" (newest: {', '.join(known)})" if known else " (the catalog is empty)"
        raise CatalogError(
            f"no backup '{reference}' in {self.root}{hint}; see alfred-tui backups list"
        )

    # --- writing -----------------------------------------------------------------

    def new_id(self, service: str, now: datetime, kind: str = "dump") -> str:
        """A fresh id: ``<service>[-base]-<UTC time>``, suffixed when taken."""
        prefix = service if kind == "dump" else f"{service}-base"
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        taken = {entry.id for entry in self.entries(service)}
        staging = self.root / STAGING
        for attempt in range(1000):
            candidate = f"{prefix}-{stamp}" if attempt == 0 else f"{prefix}-{stamp}-{attempt}"
            if candidate not in taken and not (staging / candidate).exists():
                return candidate
        raise CatalogError(f"cannot find a free backup id for {service} at {stamp}")

    @contextlib.contextmanager
    def staging(self, backup_id: str) -> Iterator[Path]:
        """A private folder to write a backup into; removed unless :meth:`commit` moved it."""
        self._clean_stale_staging()
        folder = private_folder(self.root / STAGING / backup_id)
        try:
            # Inside the try: on a full disk even this write fails, and the folder must go.
            (folder / WRITER_PID).write_text(f"{os.getpid()}\n")
            yield folder
        finally:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)

    def commit(self, folder: Path, manifest: Manifest) -> CatalogEntry:
        """Write the manifest and move the staged backup into the catalog (one rename)."""
        (folder / WRITER_PID).unlink(missing_ok=True)
        manifest_path = folder / MANIFEST_NAME
        manifest_path.write_text(manifest.to_json())
        for path in folder.rglob("*"):
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
        target_parent = private_folder(self.root / manifest.service)
        target = target_parent / manifest.id
        if target.exists():
            raise CatalogError(f"{target} already exists; not overwriting a backup")
        os.replace(folder, target)
        return CatalogEntry(target, manifest)

    def remove(self, entry: CatalogEntry) -> None:
        """Delete a backup's folder."""
        shutil.rmtree(entry.folder)

    def _clean_stale_staging(self) -> None:
        """Remove staging folders whose writer process is gone (killed mid-backup)."""
        staging = self.root / STAGING
        if not staging.is_dir():
            return
        for child in staging.iterdir():
            try:
                pid = int((child / WRITER_PID).read_text().strip())
            except (OSError, ValueError):
                pid = None
            if pid is None or not _alive(pid):
                shutil.rmtree(child, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
