"""PostgreSQL's data directory and WAL archive on this machine: folders, moved and copied.

The local engine's side of point-in-time recovery
(:class:`~alfred_tui.backends.pgdata.PostgresDataDirectory`): the data
directory is *moved* aside as the safety copy (a rename, nothing is
deleted), the base backup is copied in with the previous directory's owner
and mode, and today's configuration files are kept rather than the base
backup's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from alfred_tui.backends.base import BackendError, ProgressCallback, no_progress
from alfred_tui.backends.pgdata import CONFIG_FILES
from alfred_tui.safety import move_into, profile_root

if TYPE_CHECKING:
    from alfred_tui.backends.capabilities import Stoppable
    from alfred_tui.config.models import Profile


class HostDataDirectory:
    """The local PostgreSQL's data directory, a folder on this machine."""

    server = "PostgreSQL"
    moves_aside = True
    save_step = "move the data directory aside"

    def __init__(self, engine: Stoppable, profile: Profile) -> None:
        self.engine = engine
        self.default_archive = str(profile_root(profile) / "wal-archive")
        """Beside the local data, outside the server's own folder: it survives the data's loss."""

    async def make_archive(self, archive: str, data_dir: str) -> None:
        await asyncio.to_thread(make_archive, Path(archive), Path(data_dir))

    async def read_archive(self, archive: str) -> tuple[int | None, str | None, datetime | None]:
        return await asyncio.to_thread(read_archive, Path(archive))

    async def check(self, data_dir: str) -> None:
        """Nothing to refuse: the folder is here and the engine stops and starts it."""

    def describe_save(self, data_dir: str) -> str:
        return f"stop PostgreSQL; move its data directory {data_dir} aside as the safety copy"

    async def owner(self, data_dir: str) -> tuple[int, int]:
        info = await asyncio.to_thread(os.stat, data_dir)
        return info.st_uid, info.st_gid

    async def stop(self, progress: ProgressCallback = no_progress) -> None:
        await self.engine.stop("postgres", progress)

    async def start(self, progress: ProgressCallback = no_progress) -> None:
        await self.engine.start("postgres", progress)

    async def has_data(self, data_dir: str) -> bool:
        return await asyncio.to_thread(Path(data_dir).exists)

    async def save(self, data_dir: str, folder: Path) -> Path:
        """Move the data directory into ``folder`` (a rename; a copy only across filesystems)."""
        return await asyncio.to_thread(move_into, folder, Path(data_dir))

    def saved_copy(self, folder: Path, data_dir: str) -> Path:
        return folder / Path(data_dir).name

    async def install(
        self, base: Path, data_dir: str, saved: Path, recovery_settings: str, owner: tuple[int, int]
    ) -> None:
        await asyncio.to_thread(install_base, base, Path(data_dir), saved, owner)
        await asyncio.to_thread(write_recovery_settings, Path(data_dir), recovery_settings)

    async def put_back(self, saved: Path, data_dir: str) -> None:
        await asyncio.to_thread(put_back, saved, Path(data_dir))


# --- file work (blocking; run in threads) ---------------------------------------------


def make_archive(archive: Path, data_dir: Path) -> None:
    """The archive folder, owned by whoever owns the data directory (the server's user)."""
    archive.mkdir(parents=True, exist_ok=True)
    info = data_dir.stat()
    os.chown(archive, info.st_uid, info.st_gid)
    archive.chmod(0o700)
    parent = archive.parent
    if not os.access(parent, os.X_OK):
        raise BackendError(
            f"the server cannot enter {parent}; make it traversable (chmod o+x)",
            title="Point-in-time recovery",
        )


def read_archive(folder: Path) -> tuple[int | None, str | None, datetime | None]:
    """WAL segments (24-character names) in ``folder``: count, newest name, its mtime."""
    if not folder.is_dir():
        return None, None, None
    wal = [p for p in folder.iterdir() if len(p.name) == 24 and p.is_file()]
    if not wal:
        return 0, None, None
    newest = max(wal, key=lambda p: p.name)
    return len(wal), newest.name, datetime.fromtimestamp(newest.stat().st_mtime, UTC)


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """``chown -R``: a copied data directory must belong to the server's user."""
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, gid)


def move_back(saved: Path, data_dir: Path) -> None:
    """Put a data directory saved by :func:`~alfred_tui.safety.move_into` back where it was."""
    assert saved.name == data_dir.name, (saved, data_dir)
    move_into(data_dir.parent, saved)


def put_back(saved: Path, data_dir: Path) -> None:
    """Drop what is in ``data_dir`` (half a base backup), move the saved directory back."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    move_back(saved, data_dir)


def install_base(base: Path, data_dir: Path, previous: Path, owner: tuple[int, int]) -> None:
    """Copy the base backup to ``data_dir``, owned by ``owner``, with today's configuration."""
    uid, gid = owner
    shutil.copytree(base, data_dir, symlinks=True)
    chown_tree(data_dir, uid, gid)
    data_dir.chmod(0o700)
    # configuration is not data: keep the current files (archiving settings included)
    # rather than the ones of the base backup's time
    for name in CONFIG_FILES:
        if (previous / name).is_file():
            shutil.copy2(previous / name, data_dir / name)
            os.chown(data_dir / name, uid, gid)
    (data_dir / "postmaster.pid").unlink(missing_ok=True)


def write_recovery_settings(data_dir: Path, recovery_settings: str) -> None:
    """Append the settings to ``postgresql.auto.conf`` and create ``recovery.signal``."""
    with (data_dir / "postgresql.auto.conf").open("a") as handle:
        handle.write(recovery_settings)
    signal_file = data_dir / "recovery.signal"
    signal_file.write_text("")
    info = data_dir.stat()
    os.chown(signal_file, info.st_uid, info.st_gid)
