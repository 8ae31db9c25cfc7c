"""Saving the Logs pane's view to a file: never over an existing file unless asked.

The lines are written as the view shows them (``instance | line``), which
the backends have already passed through ``redact()``: nothing here undoes
that. The file is created readable by its owner only (logs say a lot about
a system), a new file with ``O_EXCL`` so a file that appeared meanwhile is
not clobbered, and an overwrite goes through a temporary file and a rename
so the old content survives a failed write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from alfred_tui.errors import AlfredError

FILE_MODE = 0o600


class SaveFailed(AlfredError):
    """The view could not be written; the message names the path and why."""

    title = "Save failed"


class TargetExists(AlfredError):
    """The file exists; the caller asks before overwriting it."""

    title = "File exists"

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} exists")
        self.path = path


def default_path(profile: str, now: datetime, folder: Path | None = None) -> Path:
    """``./alfred-logs-<profile>-<YYYYmmdd-HHMMSS>.log`` (or under ``folder``)."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return (folder or Path.cwd()) / f"alfred-logs-{profile}-{stamp}.log"


def resolve(text: str, cwd: Path | None = None) -> Path:
    """What the operator typed as a path: ``~`` expanded, relative to ``cwd``.

    Raises :class:`SaveFailed` for an empty path.
    """
    text = text.strip()
    if not text:
        raise SaveFailed("type a file name")
    path = Path(text).expanduser()
    return path if path.is_absolute() else (cwd or Path.cwd()) / path


def save_lines(path: Path, lines: Sequence[str], overwrite: bool = False) -> int:
    """Write ``lines`` to ``path``; returns the bytes written. Blocking: call it in a thread.

    Raises :class:`TargetExists` when ``path`` exists and ``overwrite`` is
    False, :class:`SaveFailed` for anything else (missing folder, a folder in
    the way, no permission, disk full).
    """
    data = "".join(line + "\n" for line in lines).encode("utf-8", "replace")
    if path.is_dir():
        raise SaveFailed(f"{path} is a folder: add a file name")
    if not path.parent.is_dir():
        raise SaveFailed(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        if overwrite and path.exists():
            _replace(path, data)
        else:
            _create(path, data)
    except FileExistsError:
        raise TargetExists(path) from None
    except OSError as exc:
        raise SaveFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(data)


def _create(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


def _replace(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
