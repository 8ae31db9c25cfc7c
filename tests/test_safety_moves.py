"""Moving data folders aside and back when a rename cannot (another filesystem).

The local backend's ``down --volumes`` and ``pitr recover`` move a data
directory into the safety folder; ``pitr recover --rollback`` moves it back
(``move_back``: the same ``move_into``, the other way).
Within one filesystem that is a rename. Across two (here ``/dev/shm``, a
tmpfs, and the temporary folder) it is a copy, which must be whole before
it carries the final name and keep the owner PostgreSQL needs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from alfred_tui.backends.local.pgdata import move_back
from alfred_tui.safety import move_into

SERVER_UID = 4321  # an owner that is not ours, as the postgres user's would be


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A folder on another filesystem than ``tmp_path`` (tmpfs at /dev/shm)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temporary folder")
    folder = Path(tempfile.mkdtemp(dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_data_dir(path: Path) -> None:
    (path / "base" / "1").mkdir(parents=True)
    (path / "PG_VERSION").write_text("15\n")
    (path / "base" / "1" / "1259").write_bytes(os.urandom(70_000))
    (path / "pg_wal").symlink_to("/nonexistent/wal")  # kept as a link, not followed
    path.chmod(0o700)


def test_move_into_across_filesystems_copies_whole_then_removes(
    tmp_path: Path, other_filesystem: Path
) -> None:
    source = other_filesystem / "data"
    make_data_dir(source)
    original = (source / "base" / "1" / "1259").read_bytes()
    safety = tmp_path / "safety"
    safety.mkdir()

    moved = move_into(safety, source)

    assert moved == safety / "data" and not source.exists()
    assert (moved / "base" / "1" / "1259").read_bytes() == original
    assert os.readlink(moved / "pg_wal") == "/nonexistent/wal"
    assert [p.name for p in safety.iterdir()] == ["data"]  # no .partial left


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_move_back_across_filesystems_keeps_the_servers_owner(
    tmp_path: Path, other_filesystem: Path
) -> None:
    saved = other_filesystem / "data"
    make_data_dir(saved)
    for folder, dirs, files in os.walk(saved):
        for name in [".", *dirs, *files]:
            os.lchown(os.path.join(folder, name), SERVER_UID, SERVER_UID)
    data_dir = tmp_path / "postgres" / "data"
    data_dir.parent.mkdir()

    move_back(saved, data_dir)

    assert not saved.exists() and (data_dir / "PG_VERSION").read_text() == "15\n"
    owners = {
        os.lstat(os.path.join(folder, name)).st_uid
        for folder, dirs, files in os.walk(data_dir)
        for name in [".", *dirs, *files]
    }
    assert owners == {SERVER_UID}
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in data_dir.parent.iterdir()] == ["data"]  # no .partial left
