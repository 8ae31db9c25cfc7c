"""PostgreSQL's data directory and WAL archive, as an engine reaches them.

Point-in-time recovery (:mod:`alfred_tui.backup.pitr`) replaces a stopped
server's data directory and reads its WAL archive. Where those are depends on
the engine: folders on this machine for the local engine
(:mod:`alfred_tui.backends.local.pgdata`), a volume of the container for
Docker (:mod:`alfred_tui.backends.docker.pgdata`). An engine that can do this
implements :class:`~alfred_tui.backends.capabilities.PostgresDataAccess`,
which hands out a :class:`PostgresDataDirectory`; recovery itself (the
order of the steps, the journal, the settings) stays in the backup layer and
never asks which engine it runs on.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from alfred_tui.backends.base import ProgressCallback, no_progress

#: Configuration files kept from the current data directory rather than the base backup's.
CONFIG_FILES = ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf")


class PostgresDataDirectory(Protocol):
    """The steps recovery needs, done where the engine keeps PostgreSQL's files."""

    server: str
    """How a plan names what is stopped: ``PostgreSQL``, ``the PostgreSQL container``."""
    default_archive: str
    """The WAL archive's folder unless ``backups.wal_archive`` names one."""
    moves_aside: bool
    """Whether :meth:`save` moves the data directory away (a folder here) rather than
    copying it (a tar here, the directory staying in place until :meth:`install`)."""
    save_step: str
    """The progress line of :meth:`save` (``move the data directory aside``)."""

    async def make_archive(self, archive: str, data_dir: str) -> None:
        """Create the archive folder, writable by the server's user only."""
        ...

    async def read_archive(self, archive: str) -> tuple[int | None, str | None, datetime | None]:
        """WAL files in the archive: how many (None: no archive), the newest's name and time."""
        ...

    async def check(self, data_dir: str) -> None:
        """Refuse early, with the fix, what recovery could not do here."""
        ...

    def describe_save(self, data_dir: str) -> str:
        """The plan's line for stopping the server and keeping its data directory."""
        ...

    async def owner(self, data_dir: str) -> tuple[int, int]:
        """uid and gid owning the data directory (read while the server runs)."""
        ...

    async def stop(self, progress: ProgressCallback = no_progress) -> None:
        """Stop the server cleanly; it stays stopped until :meth:`start`."""
        ...

    async def start(self, progress: ProgressCallback = no_progress) -> None:
        """Start the server again."""
        ...

    async def has_data(self, data_dir: str) -> bool:
        """Whether there is a data directory to keep (the server is stopped)."""
        ...

    async def save(self, data_dir: str, folder: Path) -> Path:
        """Keep the stopped server's data directory in ``folder``; where it went.

        Complete when it returns: an interrupted save leaves nothing that
        looks like a safety copy (see :meth:`saved_copy`).
        """
        ...

    def saved_copy(self, folder: Path, data_dir: str) -> Path:
        """Where :meth:`save` puts ``data_dir`` in ``folder``."""
        ...

    async def install(
        self, base: Path, data_dir: str, saved: Path, recovery_settings: str, owner: tuple[int, int]
    ) -> None:
        """Make ``base`` (a base backup here) the data directory, owned by ``owner``.

        The configuration files come from the saved copy (today's, not the base
        backup's), ``recovery_settings`` are appended to ``postgresql.auto.conf``
        and ``recovery.signal`` is created.
        """
        ...

    async def put_back(self, saved: Path, data_dir: str) -> None:
        """Make the saved copy the data directory again (whatever is there goes)."""
        ...


@runtime_checkable
class InstanceBaseBackup(Protocol):
    """A data directory whose base backups are taken where the server runs.

    Without it, ``pg_basebackup`` on this machine reaches the server's endpoint.
    """

    async def base_backup(self, tar_path: Path, label: str, progress: ProgressCallback) -> str:
        """``pg_basebackup -F p`` where the server runs, copied here as the tar ``tar_path``;
        returns the name of the folder inside the tar that holds the backup."""
        ...


# --- shared by the engines that reach the data directory through a container ----------

MAKE_ARCHIVE = 'mkdir -p "$1" && chown postgres:postgres "$1" && chmod 700 "$1"'
"""A shell script creating the archive folder ``$1``, the server's user's alone (run as root)."""

LIST_ARCHIVE = (
    'cd "$1" 2>/dev/null || exit 0; for f in *; do '
    '[ ${#f} -eq 24 ] && [ -f "$f" ] && echo "$(stat -c %Y "$f") $f"; done; exit 0'
)
"""A shell script listing the WAL files of the archive ``$1``: ``<mtime> <name>`` lines."""


def basebackup_argv(folder: str, label: str) -> list[str]:
    """``pg_basebackup`` of the server it runs beside, plain, into ``folder``, WAL streamed."""
    return [
        "pg_basebackup",
        f"--pgdata={folder}",
        "--format=plain",
        "--wal-method=stream",
        "--checkpoint=fast",
        "--no-password",
        f"--label={label}",
    ]


def archive_listing(out: str) -> tuple[int, str | None, datetime | None]:
    """What :data:`LIST_ARCHIVE` printed: how many WAL files, the newest's name and time."""
    files = [line.split(" ", 1) for line in out.splitlines() if " " in line]
    if not files:
        return 0, None, None
    mtime, newest = max(files, key=lambda item: item[1])
    return len(files), newest, datetime.fromtimestamp(int(mtime), UTC)


def saved_tar(folder: Path, data_dir: str) -> Path:
    """Where a container engine's :meth:`~PostgresDataDirectory.save` puts the tar of
    ``data_dir`` in ``folder``."""
    return folder / f"{posixpath.basename(data_dir.rstrip('/'))}.tar"


# --- tar work (blocking; run in threads) ---------------------------------------------


def _safety_member(safety: tarfile.TarFile, name: str) -> bytes | None:
    for member in safety.getmembers():
        parts = member.name.split("/", 1)
        if len(parts) == 2 and parts[1] == name and member.isfile():
            extracted = safety.extractfile(member)
            return extracted.read() if extracted else None
    return None


def build_install_tar(
    base: Path, safety: Path, recovery_settings: str, owner: tuple[int, int], tar_path: Path
) -> None:
    """The base backup with today's configuration files and ``recovery.signal``, as a tar."""
    uid, gid = owner

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        if info.isdir():
            info.mode = 0o700
        return info

    with tarfile.open(safety) as previous:
        configuration = {name: _safety_member(previous, name) for name in CONFIG_FILES}
    with tarfile.open(tar_path, "w") as archive:
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            relative = os.path.relpath(folder, base)
            for name in sorted(dirs):
                archive.add(
                    os.path.join(folder, name),
                    arcname=os.path.normpath(os.path.join(relative, name)),
                    recursive=False,
                    filter=owned,
                )
            for name in sorted(files):
                arcname = os.path.normpath(os.path.join(relative, name))
                if arcname in CONFIG_FILES or arcname == "postmaster.pid":
                    continue
                archive.add(os.path.join(folder, name), arcname=arcname, filter=owned)
        extra = dict(configuration)
        extra["postgresql.auto.conf"] = (configuration.get("postgresql.auto.conf") or b"") + (
            recovery_settings.encode()
        )
        extra["recovery.signal"] = b""
        for name, data in extra.items():
            if data is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            info.mtime = int(datetime.now(UTC).timestamp())
            archive.addfile(owned(info), io.BytesIO(data))
