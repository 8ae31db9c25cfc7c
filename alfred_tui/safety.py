"""Safety copies: where data goes before a destructive action removes it.

Every backend keeps what ``down --volumes`` (or a scale to zero) would delete
under ``<data dir>/<profile>/safety/<UTC timestamp>/`` on this machine, and
the CLI says where. The local backend moves its data folders there (a rename:
instant, nothing is copied); an engine backend exports each volume there.
Nothing here deletes a safety copy: that stays the operator's decision.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from alfred_tui import paths
from alfred_tui.config.models import Profile

SAFETY_FOLDER = "safety"


def profile_root(profile: Profile) -> Path:
    """This profile's folder on this machine: ``local.data_dir``, else the data dir, + name."""
    return paths.profile_data_dir(profile.name, profile.local.data_dir)


def safety_root(profile: Profile) -> Path:
    """Where this profile's safety copies accumulate."""
    return profile_root(profile) / SAFETY_FOLDER


def new_safety_dir(profile: Profile, now: datetime | None = None) -> Path:
    """A fresh, empty, private folder for one destructive action's safety copy."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return unique_folder(safety_root(profile), moment.strftime("%Y%m%dT%H%M%SZ"))


def unique_folder(root: Path, name: str) -> Path:
    """``root/name``, else ``root/name-1``, ``-2``...: created empty and private (0700)."""
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        candidate = root / (name if attempt == 0 else f"{name}-{attempt}")
        try:
            candidate.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"cannot create a safety folder under {root}")


def move_into(safety_dir: Path, source: Path) -> Path:
    """Move ``source`` (file or folder) into ``safety_dir``; returns its new path.

    A rename when both are on one filesystem (owners and modes kept);
    otherwise a copy under a ``.partial`` name with the originals' owners
    and modes, renamed when complete, then removal of the original: whoever
    finds ``target`` (a process resuming after a kill) can rely on it being
    whole, and a data directory moved back this way still belongs to its
    server's user (PostgreSQL refuses to start on one that does not).
    """
    target = safety_dir / source.name
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        partial = target.with_name(target.name + ".partial")
        if source.is_dir():
            shutil.copytree(source, partial, symlinks=True)
        else:
            shutil.copy2(source, partial)
        _keep_owners(source, partial)
        os.rename(partial, target)
        if source.is_dir():
            shutil.rmtree(source)
        else:
            source.unlink()
    return target


def _keep_owners(source: Path, copy: Path) -> None:
    """Give every path of ``copy`` the owner of its original (a copy belongs to whoever ran it).

    Only root can give files away; without root the copy stays the copier's.
    """
    originals = [str(source)]
    for folder, dirs, files in os.walk(source):
        originals += [os.path.join(folder, name) for name in [*dirs, *files]]
    with contextlib.suppress(PermissionError):
        for original in originals:
            info = os.lstat(original)
            copied = os.path.join(copy, os.path.relpath(original, source))
            os.lchown(copied, info.st_uid, info.st_gid)


def folder_size(path: Path) -> int:
    """Bytes of the files below ``path`` (0 when it does not exist)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total
