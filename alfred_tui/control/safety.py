"""Safety copies taken before data is deleted.

Tearing down with volumes deletes the databases' files. Before that happens
the data is copied somewhere the teardown does not touch, so an operator who
ticked the box by mistake can get it back. Where a backend offers no way to
copy its volumes, the UI says so and does not offer the deletion at all.
"""

from __future__ import annotations

import asyncio
import os
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alfred_tui import paths
from alfred_tui.backends.base import Backend, OperationFailed, Progress, ProgressCallback


def safety_dir(profile: str) -> Path:
    """Where safety copies of ``profile`` go (outside every backend's data dir)."""
    return paths.state_dir() / "safety-copies" / profile


@dataclass(frozen=True)
class SafetySupport:
    """Whether a safety copy of the volumes can be taken, and how it is described."""

    possible: bool
    description: str


def _local_root(backend: Backend) -> Path | None:
    root = getattr(backend, "root", None)
    return root if backend.name == "local" and isinstance(root, Path) else None


def _exporter(backend: Backend) -> Callable[..., object] | None:
    """A backend's own ``export_volumes(dest, progress)``, if it offers one."""
    exporter = getattr(backend, "export_volumes", None)
    return exporter if callable(exporter) else None


def support(backend: Backend) -> SafetySupport:
    """What taking a safety copy of ``backend``'s volumes would do."""
    target = safety_dir(backend.profile.name)
    root = _local_root(backend)
    if root is not None:
        return SafetySupport(True, f"a copy of {root} is written to {target}/ first")
    if _exporter(backend) is not None:
        return SafetySupport(True, f"a copy of every volume is written to {target}/ first")
    return SafetySupport(
        False,
        f"the {backend.name} backend cannot copy its volumes yet, so alfred-tui will not "
        "delete them; take a backup, then run `alfred-tui down --volumes`",
    )


async def take_safety_copy(backend: Backend, progress: ProgressCallback) -> Path:
    """Copy the backend's data (services already stopped) and return where it went."""
    target = safety_dir(backend.profile.name)
    target.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    root = _local_root(backend)
    if root is not None:
        archive = target / f"{stamp}-teardown.tar.gz"
        await asyncio.to_thread(_archive_folder, root, archive, progress)
        return archive
    exporter = _exporter(backend)
    if exporter is None:
        raise OperationFailed(support(backend).description)
    destination = target / f"{stamp}-teardown"
    result = exporter(destination, progress)
    if asyncio.iscoroutine(result):
        await result
    return destination


def _archive_folder(root: Path, archive: Path, progress: ProgressCallback) -> None:
    """``root`` as a gzip tarball, written under a temporary name then renamed."""
    if not root.exists():
        raise OperationFailed(f"nothing to copy: {root} does not exist")
    files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    total = sum(_size(p) for p in files)
    done = 0
    partial = archive.with_name(archive.name + ".partial")
    try:
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
            tar.add(root, arcname=root.name, recursive=False)
            for path in files:
                tar.add(path, arcname=str(Path(root.name) / path.relative_to(root)))
                done += _size(path)
                progress(Progress("safety copy", done, total, "bytes"))
        os.replace(partial, archive)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
