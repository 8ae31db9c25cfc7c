"""Property-based fuzzing of the backup catalog: broken manifests and archives never crash it.

One real backup is taken once (the embedded Qdrant store of a local profile:
no server needed), then each example copies it into a catalog of its own and
breaks it as a disk, a person or an attacker might: the manifest truncated,
with bytes flipped, not UTF-8, nested deep, or hand-edited (one field given
a wrong type or value, a file name leaving the folder); the archive
truncated, corrupted, missing, a folder, or a symlink out of the catalog;
the whole backup folder a symlink elsewhere. ``backups list`` (table and
JSON), ``backups verify`` and ``restore`` (without ``--yes``: it must stop
before changing anything) run through the real ``main()``. The property:
exit 0 or 2 with no traceback or "Internal error", a corrupted archive is
never verified as good, and the restore changes nothing.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_support import assert_clean_failure, few, field_paths, qdrant_only_profile, run_main
from hypothesis import example, given
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def taken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the data dir, one good backup's folder): the embedded Qdrant store backed up."""
    home = tmp_path_factory.mktemp("fuzz-backups")
    profile = home / "good.yaml"
    profile.write_text(qdrant_only_profile(home / "data", home / "catalog"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALFRED_TUI_STATE_DIR", str(home / "state"))
        up = run_main(["up", "--yes", "--profile", str(profile)])
        assert up.code == 0, up.describe()
        backup = run_main(["backup", "qdrant", "--profile", str(profile), "-o", "json"])
        assert backup.code == 0, backup.describe()
    folder = Path(json.loads(backup.stdout)["backups"][0]["folder"])
    yield home / "data", folder


wrong = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "storage.tar/..", "", "0" * 64, "2"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)

breakages = st.one_of(
    st.tuples(st.just("truncate-manifest"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("flip-manifest"), st.integers(0, 10_000)),
    st.tuples(st.just("not-utf8-manifest"), st.just(0)),
    st.tuples(st.just("deep-manifest"), st.integers(10, 200_000)),
    st.tuples(st.just("truncate-archive"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("flip-archive"), st.integers(0, 60_000)),
    st.tuples(st.just("missing-archive"), st.just(0)),
    st.tuples(st.just("archive-is-folder"), st.just(0)),
    st.tuples(st.just("archive-links-out"), st.just(0)),
    st.tuples(st.just("folder-links-out"), st.just(0)),
)


def break_backup(
    folder: Path, kind: str, amount: Any, edit: tuple[tuple[Any, ...], Any] | None
) -> None:
    manifest = folder / "manifest.json"
    archive = folder / "storage.tar"
    raw = manifest.read_bytes()
    if edit is not None:
        data = json.loads(raw)
        path, value = edit
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        manifest.write_text(json.dumps(data))
    if kind == "truncate-manifest":
        manifest.write_bytes(raw[: int(len(raw) * amount)])
    elif kind == "flip-manifest":
        index = amount % len(raw)
        manifest.write_bytes(raw[:index] + bytes([raw[index] ^ 0xFF]) + raw[index + 1 :])
    elif kind == "not-utf8-manifest":
        manifest.write_bytes(b"\xff\xfe" + raw)
    elif kind == "deep-manifest":
        manifest.write_text("[" * amount + "]" * amount)
    elif kind == "truncate-archive":
        archive.write_bytes(archive.read_bytes()[: int(archive.stat().st_size * amount)])
    elif kind == "flip-archive":
        body = bytearray(archive.read_bytes())
        body[amount % len(body)] ^= 0xFF
        archive.write_bytes(bytes(body))
    elif kind == "missing-archive":
        archive.unlink()
    elif kind == "archive-is-folder":
        archive.unlink()
        archive.mkdir()
    elif kind == "archive-links-out":
        archive.unlink()
        archive.symlink_to("/etc/passwd")


def changes_the_archive(kind: str, edit: tuple[tuple[Any, ...], Any] | None) -> bool:
    return kind.endswith("archive") or kind in ("archive-is-folder", "archive-links-out")


@few(8)
@given(broken=breakages, edit=st.none() | st.tuples(st.nothing(), wrong), data=st.data())
@example(broken=("not-utf8-manifest", 0), edit=None, data=None)  # UnicodeDecodeError
@example(broken=("deep-manifest", 100_000), edit=None, data=None)  # RecursionError
@example(broken=("archive-links-out", 0), edit=None, data=None)
def test_broken_backups(
    taken: tuple[Path, Path], tmp_path: Path, broken: tuple[str, Any], edit: Any, data: Any
) -> None:
    data_dir, good = taken
    home = Path(tempfile.mkdtemp(dir=tmp_path))
    catalog = home / "catalog"
    kind, amount = broken
    if data is not None and data.draw(st.booleans(), label="hand-edited"):
        manifest = json.loads((good / "manifest.json").read_text())
        path = data.draw(st.sampled_from(field_paths(manifest)), label="field")
        edit = (path, data.draw(wrong, label="value"))
    else:
        edit = None
    backup_id = good.name
    if kind == "folder-links-out":
        outside = home / "elsewhere" / backup_id
        shutil.copytree(good, outside)
        (catalog / "qdrant").mkdir(parents=True)
        (catalog / "qdrant" / backup_id).symlink_to(outside)
        folder = outside
    else:
        folder = catalog / "qdrant" / backup_id
        shutil.copytree(good, folder)
    break_backup(folder, kind, amount, copy.deepcopy(edit))
    profile = home / "broken.yaml"
    profile.write_text(qdrant_only_profile(data_dir, catalog))
    before = (
        sorted(p.name for p in (data_dir / "broken" / "qdrant").glob("*"))
        if (data_dir / "broken").exists()
        else []
    )

    for output in ("table", "json"):
        listed = run_main(["backups", "list", "--profile", str(profile), "-o", output])
        assert_clean_failure(listed)
    verified = run_main(["backups", "verify", backup_id, "--profile", str(profile)])
    assert_clean_failure(verified)
    if changes_the_archive(kind, edit):
        assert verified.code == 2, f"a broken archive verified as good: {verified.describe()}"
    restored = run_main(["restore", "qdrant", backup_id, "--profile", str(profile)])
    assert_clean_failure(restored)
    assert restored.code == 2, restored.describe()  # never without --yes
    after = (
        sorted(p.name for p in (data_dir / "broken" / "qdrant").glob("*"))
        if (data_dir / "broken").exists()
        else []
    )
    assert before == after  # the restore changed nothing
