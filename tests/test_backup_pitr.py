"""PostgreSQL point-in-time recovery on a real server run by the local backend.

Rows are written at t1 and at t2; recovery to a moment between them must
bring back t1's rows and none of t2's, and keep the data directory it
replaced.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from backup_support import alfred, json_out, psql, recover_killed_at, write_t1_then_t2
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


def pitr_journal(profile_name: str) -> Path:
    journals = Path(os.environ["ALFRED_TUI_STATE_DIR"]) / "restores"
    return journals / profile_name / "postgres-pitr.json"


@pytest.mark.parametrize(
    ("kill_at", "journaled", "replaced"),
    [(3, "stop", False), (4, "install", True), (5, "start", True)],
    ids=["stopped", "moved-aside", "base-installed"],
)
def test_a_killed_recovery_is_found_refused_over_and_rolled_back(
    deployment: LocalDeployment, kill_at: int, journaled: str, replaced: bool
) -> None:
    """kill -9 during ``pitr recover``: nothing is lost and one command undoes it.

    Runs after the recovery test (archiving on, a base backup, the events table).
    """
    port, profile = deployment.postgres_port, str(deployment.profile_path)
    psql(port, f"INSERT INTO events VALUES ('before-kill-{kill_at}', {kill_at})")
    before = psql(port, "SELECT phase, count(*), sum(n) FROM events GROUP BY phase ORDER BY 1")
    data_dir = deployment.data_dir / "postgres" / "data"
    assert (data_dir / "PG_VERSION").is_file()

    recover_killed_at(deployment.profile_path, datetime.now(UTC), kill_at)

    journal = pitr_journal(deployment.name)
    assert journal.is_file()
    assert f'"step": "{journaled}"' in journal.read_text()
    # PostgreSQL is down; every way in names the unfinished recovery and the way out.
    for command in (
        ("pitr", "status", "--profile", profile),
        ("pitr", "recover", "--to", datetime.now(UTC).isoformat(), "--yes", "--profile", profile),
    ):
        refused = alfred(*command)
        assert refused.returncode == 2, refused.stdout
        assert (
            f"recovery interrupted at step '{journaled}': run alfred-tui pitr recover "
            f"--rollback --profile {deployment.name}; it was recovering to " in refused.stderr
        )
        assert "the data from before it is in " in refused.stderr
    restore = alfred("restore", "postgres", "any-backup", "--yes", "--profile", profile)
    assert restore.returncode == 2
    assert f"interrupted at step '{journaled}'" in restore.stdout + restore.stderr

    asked = alfred("pitr", "recover", "--rollback", "--profile", profile, input="")
    assert asked.returncode == 2 and "needs confirmation" in asked.stderr  # not without a yes
    assert journal.is_file()

    rolled = alfred("pitr", "recover", "--rollback", "--yes", "--profile", profile)
    assert rolled.returncode == 0, rolled.stderr
    if replaced:
        moved = f"move {data_dir} as it is now into a new safety folder"
        assert (moved in rolled.stdout) == (kill_at == 5)  # at 4 it is not there yet
        assert "Rolled back" in rolled.stdout
    else:
        assert "was never replaced: nothing to put back" in rolled.stdout
        assert "Nothing had been replaced" in rolled.stdout
    assert psql(port, "SELECT phase, count(*), sum(n) FROM events GROUP BY phase ORDER BY 1") == (
        before
    )
    assert psql(port, "SELECT pg_is_in_recovery()") == "f"
    assert not journal.exists()
    if kill_at == 5:  # the half-done recovery's data directory is kept, not deleted
        kept = Path(rolled.stdout.split("it replaced is kept in ", 1)[1].strip().rstrip("."))
        assert kept.parent.name.endswith("-replaced") and (kept / "recovery.signal").is_file()
    assert status(deployment.profile_path)["ready"] is True

    again = alfred("pitr", "recover", "--rollback", "--yes", "--profile", profile)
    assert again.returncode == 2 and "no unfinished point-in-time recovery" in again.stderr


async def test_a_failed_copy_puts_the_data_back_and_forgets_the_recovery(
    deployment: LocalDeployment,
) -> None:
    """A failure recover can repair itself (the base backup cannot be copied) needs no rollback."""
    from alfred_tui.backends import create_backend
    from alfred_tui.backup.catalog import Catalog
    from alfred_tui.backup.pitr import Pitr
    from alfred_tui.backup.pitr_base import BASE_FOLDER
    from alfred_tui.safety import safety_root

    port = deployment.postgres_port
    before = psql(port, "SELECT phase, count(*), sum(n) FROM events GROUP BY phase ORDER BY 1")
    loaded = deployment.loaded()
    pitr = Pitr(create_backend(loaded), Catalog.for_profile(loaded.profile))
    try:
        plan = await pitr.plan_recovery(datetime.now(UTC))
        base = plan.base.path(BASE_FOLDER)
        hidden = base.with_name("hidden-for-the-test")
        base.rename(hidden)  # the copy of the base backup fails
        try:
            with pytest.raises(FileNotFoundError):
                await pitr.recover(plan, safety_root(loaded.profile))
        finally:
            hidden.rename(base)
    finally:
        await pitr.backend.close()
    assert not pitr_journal(deployment.name).exists()
    assert psql(port, "SELECT phase, count(*), sum(n) FROM events GROUP BY phase ORDER BY 1") == (
        before
    )
    assert status(deployment.profile_path)["ready"] is True
