"""File work every backup step shares: checksums, copies, folders, all with byte progress.

Big files are read in chunks on a worker thread (``asyncio.to_thread``) so the
event loop, the UI's included, keeps running; each chunk reports progress and
gives cancellation a chance to land between chunks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.config.models import ServiceKind

CHUNK = 1024 * 1024


def _progress_reporter(
    progress: ProgressCallback, step: str, total: int | None, service: ServiceKind | None
) -> Callable[[int], None]:
    loop = asyncio.get_running_loop()

    def report(done: int) -> None:
        item = Progress(step, done, total, "bytes", service)
        loop.call_soon_threadsafe(progress, item)

    return report


async def sha256_file(
    path: Path,
    progress: ProgressCallback = no_progress,
    step: str = "checksum",
    service: ServiceKind | None = None,
) -> str:
    """The SHA-256 of ``path`` in hex, read in chunks off the event loop."""
    total = path.stat().st_size
    report = _progress_reporter(progress, step, total, service)
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        while True:
            chunk = await asyncio.to_thread(handle.read, CHUNK * 8)
            if not chunk:
                break
            await asyncio.to_thread(digest.update, chunk)
            done += len(chunk)
            report(done)
    return digest.hexdigest()


def folder_bytes(path: Path) -> int:
    """Bytes of the regular files below ``path``."""
    total = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(folder, name)
            if os.path.isfile(full) and not os.path.islink(full):
                total += os.path.getsize(full)
    return total


async def tar_folder(
    source: Path,
    destination: Path,
    progress: ProgressCallback = no_progress,
    step: str = "archive",
    service: ServiceKind | None = None,
    exclude: Callable[[str], bool] = lambda _name: False,
) -> None:
    """Write ``source``'s content to the tar file ``destination`` (paths relative to it)."""
    total = folder_bytes(source)
    report = _progress_reporter(progress, step, total, service)

    def work() -> None:
        done = 0
        with tarfile.open(destination, "w") as archive:
            for folder, dirs, names in os.walk(source):
                dirs.sort()
                relative_folder = os.path.relpath(folder, source)
                for name in sorted(names):
                    relative = os.path.normpath(os.path.join(relative_folder, name))
                    if exclude(relative):
                        continue
                    full = os.path.join(folder, name)
                    archive.add(full, arcname=relative, recursive=False)
                    if os.path.isfile(full):
                        done += os.path.getsize(full)
                        report(done)

    await asyncio.to_thread(work)


async def untar(
    archive_path: Path,
    destination: Path,
    progress: ProgressCallback = no_progress,
    step: str = "extract",
    service: ServiceKind | None = None,
) -> None:
    """Extract ``archive_path`` into ``destination``, refusing paths that escape it."""
    total = archive_path.stat().st_size
    report = _progress_reporter(progress, step, total, service)

    def work() -> None:
        destination.mkdir(parents=True, exist_ok=True)
        done = 0
        with tarfile.open(archive_path, "r") as archive:
            for member in archive:
                archive.extract(member, destination, filter="data")
                done += member.size
                report(done)

    await asyncio.to_thread(work)


async def copy_file(
    source: Path,
    destination: Path,
    progress: ProgressCallback = no_progress,
    step: str = "copy",
    service: ServiceKind | None = None,
) -> None:
    """Copy one file in chunks with progress."""
    total = source.stat().st_size
    report = _progress_reporter(progress, step, total, service)

    def work() -> None:
        done = 0
        with source.open("rb") as reader, destination.open("wb") as writer:
            while chunk := reader.read(CHUNK * 8):
                writer.write(chunk)
                done += len(chunk)
                report(done)
        shutil.copymode(source, destination)

    await asyncio.to_thread(work)


def private_folder(path: Path) -> Path:
    """Create ``path`` (and parents) readable by this user only; backups hold the data."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path
