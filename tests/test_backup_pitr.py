"""PostgreSQL point-in-time recovery on a real server run by the local backend.

Rows are written at t1 and at t2; recovery to a moment between them must
bring back t1's rows and none of t2's, and keep the data directory it
replaced.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from backup_support import alfred, json_out, psql, write_t1_then_t2
from localdeploy import LocalDeployment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment() -> LocalDeployment:
    with LocalDeployment(name="pitr") as deployment:
        deployment.up()
        yield deployment


def status(profile: Path) -> dict:
    result = alfred("pitr", "status", "--profile", str(profile), "--output", "json")
    assert result.returncode == 0, result.stderr
    return json_out(result, "pitr-status.v1.schema.json")


def test_read_only_mode_refuses_enable_and_recover(deployment: LocalDeployment) -> None:
    profile = str(deployment.profile_path)
    result = alfred("--readonly", "pitr", "enable", "--yes", "--profile", profile)
    assert result.returncode == 2 and "read-only mode" in result.stderr
    result = alfred("--readonly", "pitr", "recover", "--to", "2026-01-01 00:00:00", "--yes",
                    "--profile", profile)  # fmt: skip
    assert result.returncode == 2 and "read-only mode" in result.stderr
    assert status(deployment.profile_path)["settings"]["archive_mode"] == "off"


def test_status_says_what_is_missing(deployment: LocalDeployment) -> None:
    document = status(deployment.profile_path)
    assert document["ready"] is False
    assert document["settings"]["wal_level"] == "logical"
    problems = " ".join(document["problems"])
    assert "archive_mode is off" in problems and "no base backup" in problems
    assert document["archive"]["path"] == str(deployment.data_dir / "wal-archive")


def test_recovery_to_a_time_between_two_writes(deployment: LocalDeployment) -> None:
    port, profile = deployment.postgres_port, str(deployment.profile_path)
    enabled = alfred("pitr", "enable", "--yes", "--profile", profile)
    assert enabled.returncode == 0, enabled.stderr
    assert "WAL archiving on" in enabled.stdout

    too_early = datetime.now(UTC)
    time.sleep(1.1)
    base = alfred("pitr", "base-backup", "--profile", profile)
    assert base.returncode == 0, base.stderr
    assert "pg_verifybackup ok" in base.stdout
    ready = status(deployment.profile_path)
    assert ready["ready"] is True, ready["problems"]
    assert ready["settings"]["archive_mode"] == "on"
    assert len(ready["base_backups"]) == 1 and ready["earliest_recovery_time"]

    between = write_t1_then_t2(port)

    result = alfred("pitr", "recover", "--to", too_early.isoformat(), "--yes", "--profile", profile)
    assert result.returncode == 2
    assert "the earliest point is" in result.stderr

    result = alfred("pitr", "recover", "--to", between.isoformat(), "--yes", "--profile", profile)
    assert result.returncode == 0, result.stderr
    assert "timeline 2" in result.stdout
    assert psql(port, "SELECT phase, count(*), min(n) FROM events GROUP BY phase") == "t1|500|1"
    assert psql(port, "SELECT pg_is_in_recovery()") == "f"

    safety = Path(result.stdout.split("kept in ", 1)[1].strip().rstrip("."))
    assert (safety / "PG_VERSION").is_file()  # the replaced data directory, intact

    after = status(deployment.profile_path)
    assert after["ready"] is True, after["problems"]
    psql(port, "INSERT INTO events VALUES ('after-recovery', 1)")  # open for writes


def test_kubernetes_gets_the_spec_settings_and_steps_rendered(deployment: LocalDeployment) -> None:
    result = alfred("pitr", "recover", "--to", "2026-11-25 10:00:00", "--backend", "kubernetes",
                    "--yes", "--profile", str(deployment.profile_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "does not carry PITR out on kubernetes" in result.stdout
    assert "archive_command = 'test ! -f /archive/%f && cp %p /archive/%f'" in result.stdout
    assert "restore_command = 'cp /archive/%f %p'" in result.stdout
    assert "recovery.signal" in result.stdout
