"""A full disk and stale locks, on real file systems: one line, and nothing left half-written.

The data and state folders on a small tmpfs mounted for the test (root is
needed to mount; CI runs as root), filled to the last byte: a backup into a
full catalog, ``check`` saving its sample, ``down`` and ``status`` of a
deployment whose folder is full. And locks: a lock file left by a process that
died (garbage in it, nobody holding it), or in the way as a folder. Hypothesis
picks the command, which folder fills and how full; unusable folders of other
kinds (a file, unwritable, a dangling link, a fifo) are in test_fuzz_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_support import assert_clean_failure, few, qdrant_only_profile, run_main
from hypothesis import example, given
from hypothesis import strategies as st

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, unmounted after the test."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mount_point)],
        check=True,
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Fill ``folder``'s file system but ``leave`` bytes."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with open(folder / ".filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


@few(6)
@given(
    full=st.sampled_from(["catalog", "state"]),
    leave=st.sampled_from([0, 512, 4096, 20_000]),
    command=st.sampled_from([("backup", "qdrant"), ("check",), ("status",), ("backups", "list")]),
)
@example(full="catalog", leave=0, command=("backup", "qdrant"))
@example(full="state", leave=0, command=("check",))
def test_a_full_disk(
    small_disk: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    full: str,
    leave: int,
    command: tuple[str, ...],
) -> None:
    home = Path(tempfile.mkdtemp(dir=tmp_path))
    on_disk = Path(tempfile.mkdtemp(dir=small_disk))
    catalog = on_disk / "catalog" if full == "catalog" else home / "catalog"
    state = on_disk / "state" if full == "state" else home / "state"
    catalog.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("ALFRED_TUI_STATE_DIR", str(state))
    profile = home / "p.yaml"
    profile.write_text(qdrant_only_profile(home / "data", catalog))
    assert run_main(["up", "--yes", "--profile", str(profile)]).code == 0
    fill(on_disk, leave)
    try:
        outcome = run_main([*command, "--profile", str(profile)])
        codes = (0, 1, 2, 3) if command[0] == "check" else (0, 2)
        assert_clean_failure(outcome, codes)
        if command[0] == "check":
            assert outcome.code != 3, f"a full state dir made check UNKNOWN: {outcome.describe()}"
        if command[0] == "backup" and outcome.code == 2:
            assert "No space left" in outcome.stderr or "space" in outcome.stderr, outcome.stderr
        # Nothing half-written: every backup listed is whole, the staging area is empty.
        listed = run_main(["backups", "list", "--profile", str(profile), "-o", "json"])
        assert listed.code == 0, listed.describe()
        for backup in json.loads(listed.stdout)["backups"]:
            assert backup["manifest"] is not None, backup
        staging = catalog / ".staging"
        assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())
    finally:
        (on_disk / ".filler").unlink(missing_ok=True)


@few(4)
@given(
    lock=st.sampled_from(["garbage", "empty", "folder"]),
    command=st.sampled_from([("down", "--yes"), ("status",), ("up", "--yes")]),
)
@example(lock="garbage", command=("down", "--yes"))
def test_stale_locks(tmp_path: Path, lock: str, command: tuple[str, ...]) -> None:
    """A deployment lock left behind by a process that died holds nobody back."""
    home = Path(tempfile.mkdtemp(dir=tmp_path))
    profile = home / "p.yaml"
    profile.write_text(qdrant_only_profile(home / "data", home / "catalog"))
    assert run_main(["up", "--yes", "--profile", str(profile)]).code == 0
    lock_path = home / "data" / "p" / ".lock"
    lock_path.unlink(missing_ok=True)
    if lock == "folder":
        lock_path.mkdir()
    else:
        lock_path.write_bytes(b"12345\x00\xff stale" if lock == "garbage" else b"")
    outcome = run_main([*command, "--profile", str(profile)])
    assert_clean_failure(outcome)
    if lock != "folder":
        assert outcome.code == 0, outcome.describe()
