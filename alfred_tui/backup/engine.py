"""What every database's backup engine does, so the flows above never branch on the engine.

An :class:`Engine` knows one database: how to capture it into files, how to
read those files back with the database's own tool, whether a server can
take them, what a restore will replace, how to put them back, and how to
count what is there (the same counts the manifest records, so a restore is
verified by comparing like with like).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import Backend, Endpoint, ProgressCallback, no_progress
from alfred_tui.backends.capabilities import Capability, NotSupported, supports
from alfred_tui.backup.manifest import Count, Manifest
from alfred_tui.config.models import ServiceKind, ServiceSpec
from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.backup.catalog import CatalogEntry


class BackupError(AlfredError):
    """A backup could not be taken."""

    title = "Backup failed"


class Unreachable(BackupError):
    """The database does not answer (down, refusing, wrong password, timeout)."""

    title = "Database unreachable"


class RestoreError(AlfredError):
    """A restore could not be carried out."""

    title = "Restore failed"


@dataclass(frozen=True)
class FileReport:
    """The result of reading a backup's files back with the engine's own tool."""

    how: str
    """The tool, as a person would run it (``pg_restore --list``)."""
    problems: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    """What the tool told about the file (``dumped_from``, ``rdb_version``)."""


@dataclass
class Capture:
    """What an engine wrote into the staging folder, and what it counted."""

    files: list[str]
    """Names relative to the staging folder."""
    contents: list[Count]
    server_version: str
    method: str
    details: dict[str, Any] = field(default_factory=dict)
    report: FileReport | None = None
    """The engine's own read-back of the files, when the capture already ran it."""


@dataclass(frozen=True)
class Mismatch:
    """A count that differs after a restore."""

    kind: str
    name: str
    expected: str
    found: int

    def line(self) -> str:
        label = {
            "table_rows": "rows in",
            "keys": "keys without TTL in",
            "volatile_keys": "keys with TTL in",
            "points": "points in",
        }.get(self.kind, self.kind)
        return f"{label} {self.name}: expected {self.expected}, found {self.found}"


@dataclass
class EngineContext:
    """Where the engine works: the backend, the profile's service and its endpoint."""

    backend: Backend
    service: ServiceKind
    spec: ServiceSpec
    endpoint: Endpoint

    @property
    def profile_name(self) -> str:
        return self.backend.profile.name


class Engine(abc.ABC):
    """Backup, check, restore and count one database."""

    #: Count kinds for which a name missing from the backup must be empty after a restore
    #: (Redis replaces the whole dataset); for the others extra names are left alone.
    replaces_everything: bool = False

    def __init__(self, context: EngineContext) -> None:
        self.context = context

    @property
    def backend(self) -> Backend:
        return self.context.backend

    @property
    def service(self) -> ServiceKind:
        return self.context.service

    # --- capture ---------------------------------------------------------------------

    @abc.abstractmethod
    async def capture(self, staging: Path, progress: ProgressCallback = no_progress) -> Capture:
        """Write a consistent copy of the data into ``staging``; count what it holds."""

    @abc.abstractmethod
    async def check_files(
        self, folder: Path, manifest: Manifest | None, details: dict[str, Any]
    ) -> FileReport:
        """Read the backup's files with the engine's own tool; list what is wrong."""

    # --- restore ---------------------------------------------------------------------

    def missing_for_restore(self) -> list[str]:
        """Capabilities the backend lacks for a restore, as sentences (empty: can restore)."""
        return []

    def _need(self, *capabilities: Capability) -> list[str]:
        return [
            f"{NotSupported(self.backend.name, cap, self.service).message}, "
            "which this restore needs"
            for cap in capabilities
            if not supports(self.backend, self.service, cap)
        ]

    @abc.abstractmethod
    async def server_version(self) -> str:
        """The version of the server a restore would go into."""

    @abc.abstractmethod
    def compatibility(self, manifest: Manifest, facts: dict[str, Any], server: str) -> list[str]:
        """Why the server (version ``server``) cannot take this backup; empty when it can."""

    @abc.abstractmethod
    async def plan(self, manifest: Manifest) -> list[str]:
        """Exactly what a restore of ``manifest`` replaces, one line each."""

    @abc.abstractmethod
    async def restore(self, entry: CatalogEntry, progress: ProgressCallback = no_progress) -> None:
        """Put the backup in place of the current data."""

    # --- verification ----------------------------------------------------------------

    @abc.abstractmethod
    async def count(self) -> list[Count]:
        """The live counts, named like the manifest's."""

    async def verify(self, manifest: Manifest) -> list[Mismatch]:
        """Compare the live counts with the manifest's; empty when the restore is faithful."""
        live = {(c.kind, c.name): c.count for c in await self.count()}
        mismatches = []
        for expected in manifest.contents:
            found = live.pop((expected.kind, expected.name), 0)
            if not expected.accepts(found):
                mismatches.append(
                    Mismatch(expected.kind, expected.name, expected.expected(), found)
                )
        if self.replaces_everything:
            for (kind, name), found in sorted(live.items()):
                if found:
                    mismatches.append(Mismatch(kind, name, "0 (not in the backup)", found))
        return mismatches

    async def close(self) -> None:  # noqa: B027 - most engines hold nothing
        """Release connections."""

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
