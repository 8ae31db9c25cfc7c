"""The catalog, retention and prune, manifests, and the engines' compatibility rules.

These need no database: backups are written through the catalog's own API
with real files, so listing, checksums and deletion act on real folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from backup_support import alfred, json_out, validate

from alfred_tui.backup.catalog import Catalog
from alfred_tui.backup.manifest import Count, FileEntry, Manifest, ManifestError
from alfred_tui.backup.rdb import max_rdb_version
from alfred_tui.backup.redis import new_aof_manifest, parse_aof_manifest
from alfred_tui.backup.retention import plan_retention

NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def add_backup(catalog: Catalog, service: str, when: datetime, safety: bool = False,
               kind: str = "dump") -> str:  # fmt: skip
    """A real catalog entry: one file with its checksum, written through the catalog."""
    backup_id = catalog.new_id(service, when, kind=kind)
    content = f"{service} at {when.isoformat()}".encode()
    with catalog.staging(backup_id) as folder:
        (folder / "data.bin").write_bytes(content)
        manifest = Manifest(
            id=backup_id,
            service=service,  # type: ignore[arg-type]
            kind=kind,  # type: ignore[arg-type]
            profile="catalog-test",
            backend="local",
            created_at=when,
            duration_seconds=0.1,
            method="test fixture",
            server_version="7.0.15",
            files=[
                FileEntry(
                    name="data.bin", bytes=len(content), sha256=hashlib.sha256(content).hexdigest()
                )
            ],
            contents=[Count(kind="keys", name="db0", count=3)],
            safety_copy=safety,
            safety_for="restore of x" if safety else None,
        )
        catalog.commit(folder, manifest)
    return backup_id


@pytest.fixture
def catalog_profile(tmp_path: Path, write_profile) -> tuple[Path, Catalog]:  # type: ignore[no-untyped-def]
    root = tmp_path / "catalog"
    profile = write_profile(
        f"""
        extends: local
        name: catalog-test
        backups: {{catalog: {root}, keep_last: 2, keep_daily: 3}}
        """
    )
    return profile, Catalog(root)


def test_retention_keeps_last_n_and_newest_per_day_per_group(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c")
    ids = [add_backup(catalog, "redis", NOON - timedelta(days=d, hours=h))
           for d in range(5) for h in (0, 3)]  # fmt: skip
    safety = [add_backup(catalog, "redis", NOON - timedelta(days=d), safety=True) for d in (7, 8)]
    other = add_backup(catalog, "postgres", NOON - timedelta(days=30))
    decisions = plan_retention(catalog.entries(), keep_last=2, keep_daily=3, tz=UTC)
    kept = {d.entry.id for d in decisions if d.keep}
    # the two newest, plus the newest of each of the three newest days (day 0's is one of them)
    assert kept == {ids[0], ids[1], ids[2], ids[4], *safety, other}
    reasons = {d.entry.id: d.reasons for d in decisions}
    assert reasons[ids[4]] == ("newest of 2026-11-18",)
    protected = plan_retention(catalog.entries(), 2, 3, protected=[ids[9]], tz=UTC)
    assert next(d for d in protected if d.entry.id == ids[9]).keep


def test_prune_asks_honours_read_only_and_deletes_only_what_retention_drops(
    catalog_profile: tuple[Path, Catalog],
) -> None:
    profile, catalog = catalog_profile
    ids = [add_backup(catalog, "redis", NOON - timedelta(days=d)) for d in range(6)]

    dry = alfred("backups", "prune", "--dry-run", "-o", "json", "--profile", str(profile))
    assert dry.returncode == 0, dry.stderr
    document = json_out(dry, "backups-prune.v1.schema.json")
    assert [d["id"] for d in document["decisions"] if not d["keep"]] == ids[3:]
    assert not any(d["deleted"] for d in document["decisions"])

    refused = alfred("backups", "prune", "--profile", str(profile), input="")
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    readonly = alfred("--readonly", "backups", "prune", "--yes", "--profile", str(profile))
    assert readonly.returncode == 2 and "read-only" in readonly.stderr
    assert len(catalog.entries()) == 6

    pruned = alfred("backups", "prune", "--yes", "-o", "json", "--profile", str(profile))
    assert pruned.returncode == 0, pruned.stderr
    assert [d["id"] for d in json_out(pruned, "backups-prune.v1.schema.json")["decisions"]
            if d["deleted"]] == ids[3:]  # fmt: skip
    assert [e.id for e in catalog.entries()] == ids[:3]


def test_an_unreadable_manifest_is_listed_with_its_error_and_never_pruned(
    catalog_profile: tuple[Path, Catalog],
) -> None:
    profile, catalog = catalog_profile
    good = add_backup(catalog, "redis", NOON)
    broken = catalog.root / "redis" / "redis-20200101T000000Z"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text(
        '{"schema": "alfred-tui/backup-manifest",\n  "version": 1,\n oops'
    )

    listing = alfred("backups", "list", "-o", "json", "--profile", str(profile))
    document = json_out(listing, "backups.v1.schema.json")
    errors = {b["id"]: b.get("error") for b in document["backups"]}
    assert errors[good] is None
    assert errors["redis-20200101T000000Z"].startswith(f"{broken / 'manifest.json'}:3: not JSON")
    table = alfred("backups", "list", "--profile", str(profile))
    assert "unreadable" in table.stdout

    alfred("backups", "prune", "--yes", "--profile", str(profile))
    assert broken.exists()


def test_manifest_errors_name_the_field() -> None:
    with pytest.raises(ManifestError, match=r"x\.json: files\.0\.sha256"):
        Manifest.parse(
            {"schema": "alfred-tui/backup-manifest", "version": 1, "id": "redis-1",
             "service": "redis", "profile": "p", "backend": "local",
             "created_at": "2026-01-01T00:00:00Z", "duration_seconds": 1, "method": "m",
             "server_version": "7", "files": [{"name": "a", "bytes": 1, "sha256": "zz"}]},
            "x.json",
        )  # fmt: skip
    with pytest.raises(ManifestError, match="version 2 is not supported"):
        Manifest.parse({"schema": "alfred-tui/backup-manifest", "version": 2}, "y.json")


def test_written_manifests_validate_and_files_are_private(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c")
    backup_id = add_backup(catalog, "qdrant", NOON)
    folder = catalog.root / "qdrant" / backup_id
    validate(json.loads((folder / "manifest.json").read_text()), "backup-manifest.v1.schema.json")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct((folder / "data.bin").stat().st_mode & 0o777) == "0o600"


def test_a_staging_folder_left_by_a_killed_backup_is_cleaned(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c")
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = catalog.root / ".staging" / "redis-20260101T000000Z"
    leftover.mkdir(parents=True)
    (leftover / ".writer.pid").write_text(f"{dead.pid}\n")
    (leftover / "dump.rdb").write_bytes(b"half")
    alive = catalog.root / ".staging" / "redis-20260101T000001Z"
    alive.mkdir()
    (alive / ".writer.pid").write_text(f"{os.getppid()}\n")
    add_backup(catalog, "redis", NOON)
    assert not leftover.exists() and alive.exists()
    assert [e.id for e in catalog.entries()] == ["redis-20261120T120000Z"]


def test_compatibility_rules() -> None:
    assert max_rdb_version("7.0.15") == 10
    assert max_rdb_version("7.2.4") == 11
    assert max_rdb_version("6.2.14") == 9
    assert max_rdb_version("8.0.0") is None  # newer than the table: not refused


def test_aof_manifest_makes_the_restored_rdb_the_base() -> None:
    old = parse_aof_manifest(
        "file appendonly.aof.3.base.rdb seq 3 type b\n"
        "file appendonly.aof.5.incr.aof seq 5 type i\n"
        "file appendonly.aof.6.incr.aof seq 6 type i\n"
    )
    text, base, incr = new_aof_manifest(old, "appendonly.aof")
    assert (base, incr) == ("appendonly.aof.4.base.rdb", "appendonly.aof.7.incr.aof")
    assert text.splitlines() == [
        "file appendonly.aof.4.base.rdb seq 4 type b",
        "file appendonly.aof.3.base.rdb seq 3 type h",
        "file appendonly.aof.5.incr.aof seq 5 type h",
        "file appendonly.aof.6.incr.aof seq 6 type h",
        "file appendonly.aof.7.incr.aof seq 7 type i",
    ]


async def test_engines_refuse_a_server_older_than_the_backup(write_profile) -> None:  # type: ignore[no-untyped-def]
    from alfred_tui.backends.local.backend import LocalBackend
    from alfred_tui.backup.engines import open_engine
    from alfred_tui.config.loader import load_profile

    backend = LocalBackend(load_profile(str(write_profile("extends: local\n"))))
    base = {"profile": "p", "backend": "local", "created_at": NOON, "duration_seconds": 1,
            "method": "m", "files": [FileEntry(name="f", bytes=0, sha256="0" * 64)]}  # fmt: skip
    pg = await open_engine(backend, "postgres")
    dump = Manifest(id="postgres-1", service="postgres", server_version="16.2", **base)
    assert "restores into the same or a newer major" in pg.compatibility(dump, {}, "15.18")[0]
    assert pg.compatibility(dump, {}, "17.0") == []
    rds = await open_engine(backend, "redis")
    rdb = Manifest(id="redis-1", service="redis", server_version="7.2.4",
                   details={"rdb_version": 11}, **base)  # fmt: skip
    assert "reads up to version 10" in rds.compatibility(rdb, {}, "7.0.15")[0]
    assert rds.compatibility(rdb, {}, "7.2.5") == []
    await rds.close()


async def test_a_cancelled_backup_leaves_no_entry_and_no_pg_dump(pg, write_profile) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from alfred_tui.backends.local.backend import LocalBackend
    from alfred_tui.backup.take import take_backup
    from alfred_tui.config.loader import load_profile

    pg.psql("DROP TABLE IF EXISTS cancel_me; CREATE TABLE cancel_me AS "
            "SELECT i, md5(i::text) h FROM generate_series(1, 1500000) i")  # fmt: skip
    profile = write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{pg.port}:5432"]
            environment: {{POSTGRES_PASSWORD: {pg.password}}}
        """
    )
    loaded = load_profile(str(profile))
    catalog = Catalog.for_profile(loaded.profile)
    dumping = asyncio.Event()

    def progress(item) -> None:  # type: ignore[no-untyped-def]
        if item.step.startswith("pg_dump") and item.current:
            dumping.set()

    task = asyncio.create_task(take_backup(LocalBackend(loaded), "postgres", catalog, progress))
    await asyncio.wait_for(dumping.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert catalog.entries() == []
    assert list((catalog.root / ".staging").iterdir()) == []
    await asyncio.sleep(0.2)
    leftover = subprocess.run(["pgrep", "-f", f"pg_dump .*{catalog.root}"], capture_output=True)
    assert leftover.returncode == 1, "pg_dump outlived the cancelled backup"
    pg.psql("DROP TABLE cancel_me")
