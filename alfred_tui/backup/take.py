"""Taking a backup: capture, checksum, read back with the engine's tool, enter in the catalog.

A backup enters the catalog only when every step passed: the engine wrote
its files, each file's SHA-256 is recorded, and the engine's own tool read
the files back (``pg_restore --list``, ``redis-check-rdb``, the snapshot
checksum). Until then it lives in the catalog's staging folder, which a
failure or a cancellation removes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from alfred_tui.backends.base import Backend, Progress, ProgressCallback, no_progress
from alfred_tui.backup.catalog import Catalog, CatalogEntry, FileCheck
from alfred_tui.backup.engine import BackupError
from alfred_tui.backup.engines import open_engine
from alfred_tui.backup.files import sha256_file
from alfred_tui.backup.manifest import FileEntry, Manifest
from alfred_tui.config.models import ServiceKind


async def take_backup(
    backend: Backend,
    service: ServiceKind,
    catalog: Catalog,
    progress: ProgressCallback = no_progress,
    safety_for: str | None = None,
) -> CatalogEntry:
    """Back up ``service`` into ``catalog``; ``safety_for`` marks a safety copy (says what for)."""
    started = time.monotonic()
    created_at = datetime.now(UTC)
    backup_id = catalog.new_id(service, created_at)
    async with await open_engine(backend, service) as engine:
        with catalog.staging(backup_id) as staging:
            progress(Progress(f"back up {service}", 1, 3, "steps", service))
            capture = await engine.capture(staging, progress)
            progress(Progress(f"checksum {service}", 2, 3, "steps", service))
            files = []
            for name in capture.files:
                path = staging / name
                digest = await sha256_file(path, progress, f"sha256 {name}", service)
                files.append(FileEntry(name=name, bytes=path.stat().st_size, sha256=digest))
            progress(Progress(f"read back {service}", 3, 3, "steps", service))
            report = capture.report or await engine.check_files(staging, None, capture.details)
            if report.problems:
                raise BackupError(
                    f"{service}: the backup was written but {report.how} rejects it: "
                    + "; ".join(report.problems)
                )
            manifest = Manifest(
                id=backup_id,
                service=service,
                profile=backend.profile.name,
                backend=backend.name,
                created_at=created_at,
                duration_seconds=round(time.monotonic() - started, 3),
                method=capture.method,
                server_version=capture.server_version,
                address=engine.context.endpoint.address(),
                files=files,
                contents=capture.contents,
                details={**capture.details, **{f"file_{k}": v for k, v in report.facts.items()}},
                safety_copy=safety_for is not None,
                safety_for=safety_for,
                tool_check=report.how,
            )
            entry = catalog.commit(staging, manifest)
    entry.record_check(FileCheck(datetime.now(UTC), True, f"sha256 + {report.how}"))
    return entry
