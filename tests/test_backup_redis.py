"""Redis backup and restore end to end, on a real redis-server run by the local backend.

The local profile runs Redis with ``--appendonly yes``, so every restore here
also proves the AOF does not replay the old data over the restored RDB: the
content is checked after the restore *and* after a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from backup_support import (
    alfred,
    json_out,
    kill_when,
    redis_fingerprint,
    restore,
    seed_redis,
    take,
)
from localdeploy import LocalDeployment

from alfred_tui.backends.local.processes import is_alive, read_pid

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment() -> LocalDeployment:
    with LocalDeployment(name="redis-backup") as deployment:
        deployment.up()
        yield deployment


def flush(port: int) -> None:
    redis.Redis(host="127.0.0.1", port=port).flushall()


def test_round_trip_keeps_every_type_ttl_and_database(deployment: LocalDeployment) -> None:
    port, profile = deployment.redis_port, deployment.profile_path
    flush(port)
    seed_redis(port, "before")
    before = redis_fingerprint(port)
    assert {kind for kind, _, _ in before.values()} == {
        "string", "hash", "list", "set", "zset", "stream"
    }  # fmt: skip
    assert {key.split("/")[0] for key in before} == {"0", "1", "2", "3", "4"}

    (backup,) = take(profile, "redis")
    manifest = backup["manifest"]
    assert manifest["details"]["aof_enabled"] is True
    assert manifest["details"]["rdb_version"] == 10
    counts = {(c["kind"], c["name"]): (c["count"], c["minimum"]) for c in manifest["contents"]}
    for db in range(5):
        assert counts[("keys", f"db{db}")] == (280, None)  # 300 keys, 20 with a TTL
        assert counts[("volatile_keys", f"db{db}")] == (20, 0)

    flush(port)
    seed_redis(port, "after", keys_per_type=10)
    redis.Redis(host="127.0.0.1", port=port, db=7).set("only-after", "x")

    code, document, stderr = restore(profile, "redis", backup["id"], "--yes")
    assert code == 0, (document, stderr)
    plan = " ".join(next(s for s in document["steps"] if s["id"] == "plan")["messages"])
    assert "AOF is on" in plan and "every key of every database is replaced" in plan
    assert redis_fingerprint(port) == before
    assert redis.Redis(host="127.0.0.1", port=port, db=7).dbsize() == 0

    restarted = alfred("restart", "redis", "--yes", "--profile", str(profile))
    assert restarted.returncode == 0, restarted.stderr
    assert redis_fingerprint(port) == before  # the AOF now starts from the restored data

    ttl = redis.Redis(host="127.0.0.1", port=port).pttl("before:0:0:h")
    assert 0 < ttl <= 7200 * 1000


def test_flipped_byte_with_a_matching_checksum_is_refused_by_redis_check_rdb(
    deployment: LocalDeployment,
) -> None:
    port, profile = deployment.redis_port, deployment.profile_path
    flush(port)
    seed_redis(port, "x", keys_per_type=5)
    (backup,) = take(profile, "redis")
    redis.Redis(host="127.0.0.1", port=port).set("changed", "1")
    current = redis_fingerprint(port)

    folder = Path(backup["folder"])
    rdb = folder / "dump.rdb"
    data = bytearray(rdb.read_bytes())
    data[len(data) // 2] ^= 0x01
    rdb.write_bytes(bytes(data))

    code, document, _ = restore(profile, "redis", backup["id"], "--yes")
    assert code == 2 and document["outcome"] == "preflight_failed"
    preflight = next(s for s in document["steps"] if s["id"] == "preflight")
    assert any("SHA-256 differs" in m for m in preflight["messages"])

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][0]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, document, _ = restore(profile, "redis", backup["id"], "--yes")
    assert code == 2 and document["outcome"] == "preflight_failed"
    preflight = next(s for s in document["steps"] if s["id"] == "preflight")
    assert any("redis-check-rdb rejects it" in m for m in preflight["messages"]), preflight
    assert redis_fingerprint(port) == current


def test_killed_while_redis_is_down_then_rolled_back(deployment: LocalDeployment) -> None:
    port, profile = deployment.redis_port, deployment.profile_path
    flush(port)
    seed_redis(port, "old", keys_per_type=400)
    (backup,) = take(profile, "redis")
    flush(port)
    seed_redis(port, "current", keys_per_type=30)
    current = redis_fingerprint(port)

    journal = Path(os.environ["ALFRED_TUI_STATE_DIR"]) / "restores" / "redis-backup" / "redis.json"
    pid_file = deployment.data_dir / "redis" / "redis.pid"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "alfred-tui"), "restore", "redis", backup["id"],
         "--yes", "--profile", str(profile)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def redis_stopped_midway() -> bool:
        try:
            step = json.loads(journal.read_text())["step"]
        except (OSError, ValueError, KeyError):
            return False
        # A restart keeps the pid file until the new server replaces it: stopped is its
        # process gone (or no file), and the port refusing.
        pid = read_pid(pid_file)
        if step != "restore" or (pid is not None and is_alive(pid)):
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.05).close()
        except OSError:
            return True  # stopped, not started again yet
        return False

    kill_when(process, redis_stopped_midway)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=port).ping()  # left stopped by the killed restore

    result = alfred("restore", "redis", backup["id"], "--yes", "--profile", str(profile))
    assert result.returncode == 2
    assert "an unfinished restore was found" in result.stdout
    assert "alfred-tui restore redis --rollback" in result.stdout

    code, document, stderr = restore(profile, "redis", "--rollback", "--yes")
    assert code == 0, (document, stderr)
    preflight = " ".join(next(s for s in document["steps"] if s["id"] == "preflight")["messages"])
    assert "starting it" in preflight
    assert redis_fingerprint(port) == current
    assert not journal.exists()


def test_catalog_lists_safety_copies_and_verify_rereads_files(deployment: LocalDeployment) -> None:
    profile = deployment.profile_path
    (backup,) = take(profile, "redis")
    code, document, _ = restore(profile, "redis", backup["id"], "--yes")
    assert code == 0
    listing = json_out(
        alfred("backups", "list", "redis", "--profile", str(profile), "--output", "json"),
        "backups.v1.schema.json",
    )["backups"]
    safety = next(b for b in listing if b["id"] == document["safety_copy"])
    assert safety["safety_copy"] is True
    table = alfred("backups", "list", "redis", "--profile", str(profile))
    assert f"{document['safety_copy']} (safety)" in table.stdout

    verified = alfred("backups", "verify", backup["id"], "--profile", str(profile))
    assert verified.returncode == 0, verified.stderr
    assert "sha256 + redis-check-rdb" in verified.stdout
    (Path(backup["folder"]) / "dump.rdb").write_bytes(b"REDIS0010 not really")
    verified = alfred("backups", "verify", backup["id"], "--profile", str(profile))
    assert verified.returncode == 2 and "SHA-256 differs" in verified.stderr
