"""PITR's base backups: ``pg_basebackup -F p -X stream`` into the catalog, checked.

Taken where the engine takes it (:class:`~alfred_tui.backends.pgdata.InstanceBaseBackup`:
in the container, then copied out) or else by this machine's
``pg_basebackup`` against the endpoint; either way read back with this
machine's ``pg_verifybackup`` before the catalog keeps it (kind
``basebackup``). The oldest one's end is the earliest point a recovery
reaches.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from alfred_tui.backends.base import ProgressCallback
from alfred_tui.backends.pgdata import InstanceBaseBackup, PostgresDataDirectory
from alfred_tui.backup.catalog import Catalog, CatalogEntry, FileCheck
from alfred_tui.backup.engine import BackupError, EngineContext
from alfred_tui.backup.files import sha256_file, untar
from alfred_tui.backup.manifest import FileEntry, Manifest
from alfred_tui.backup.pg_tools import HostPgTools, host_bindir
from alfred_tui.backup.pitr_settings import PitrError
from alfred_tui.backup.process import run_tool

#: The folder of a base backup inside its catalog entry.
BASE_FOLDER = "data"


async def take_base_backup(
    context: EngineContext,
    version: str,
    catalog: Catalog,
    data: PostgresDataDirectory | None,
    archive: str,
    progress: ProgressCallback,
) -> CatalogEntry:
    """A base backup of the server at ``context`` (PostgreSQL ``version``) into ``catalog``."""
    major = int(version.split(".")[0])
    bindir = host_bindir(major)
    if bindir is None:
        raise PitrError(f"no pg_basebackup for PostgreSQL {major} or newer on this machine")
    started = datetime.now(UTC)
    backup_id = catalog.new_id("postgres", started, kind="basebackup")
    env = HostPgTools(context, bindir).env()
    with catalog.staging(backup_id) as staging:
        target = staging / BASE_FOLDER
        if data is not None and isinstance(data, InstanceBaseBackup):
            method = "pg_basebackup -F p -X stream (in the instance)"
            label = f"alfred-tui {backup_id}"
            await _unpacked_base_backup(data, target, label, progress)
        else:
            method = "pg_basebackup -F p -X stream (host client)"
            await _host_base_backup(bindir, env, target, backup_id, progress)
        ended = datetime.now(UTC)
        check = await run_tool([str(bindir / "pg_verifybackup"), str(target)], timeout=3600)
        if not check.ok:
            raise BackupError(f"pg_verifybackup rejects the base backup: {check.last_lines()}")
        manifest_file = target / "backup_manifest"
        manifest = Manifest(
            id=backup_id,
            service="postgres",
            kind="basebackup",
            profile=context.backend.profile.name,
            backend=context.backend.name,
            created_at=started,
            duration_seconds=round((ended - started).total_seconds(), 3),
            method=method,
            server_version=version,
            address=f"{env['PGHOST']}:{env['PGPORT']}",
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
                "wal_archive": archive,
                "note": "backup_manifest lists a checksum of every file; pg_verifybackup "
                "checks them",
            },
            tool_check="pg_verifybackup",
        )
        entry = catalog.commit(staging, manifest)
    entry.record_check(FileCheck(datetime.now(UTC), True, "pg_verifybackup"))
    return entry


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


async def _unpacked_base_backup(
    data: InstanceBaseBackup, target: Path, label: str, progress: ProgressCallback
) -> None:
    """A base backup taken where the server runs, unpacked into the folder ``target``."""
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        tar_path = Path(scratch) / "base.tar"
        inside = await data.base_backup(tar_path, label, progress)
        unpacked = Path(scratch) / "unpacked"
        await untar(tar_path, unpacked, progress, "unpack", "postgres")
        (unpacked / inside).rename(target)


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
