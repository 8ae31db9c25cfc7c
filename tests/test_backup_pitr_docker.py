"""PostgreSQL point-in-time recovery on the Docker backend, on a real engine.

The same story as the local backend's test (rows at t1 and t2, recovery to a
moment between them), carried out through the engine: the WAL archive is a
volume of the container, the base backup is taken by the container's own
pg_basebackup, and the safety copy is a tar of the data directory on this
machine.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from backup_support import alfred, json_out, psql, recover_killed_at, write_t1_then_t2

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WAL_VOLUME = """    volumes:
      - db-postgres-data:/var/lib/postgresql/data
      - db-postgres-wal:/archive"""


@pytest.fixture(scope="module")
def stack(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """PostgreSQL alone, with the WAL archive on its own volume."""
    from docker_support import docker_stack

    with docker_stack(
        tmp_path_factory.mktemp("pitr-docker"), services=["postgres"], postgres_extra=WAL_VOLUME
    ) as deployed:
        yield deployed


def status(profile: Path) -> dict:
    result = alfred("pitr", "status", "--profile", str(profile), "--output", "json")
    assert result.returncode == 0, result.stderr
    return json_out(result, "pitr-status.v1.schema.json")


def test_archive_outside_a_volume_is_refused_with_the_fix(
    docker_engine: None, tmp_path: Path
) -> None:
    from docker_support import docker_stack

    with docker_stack(tmp_path, services=["postgres"]) as plain:
        result = alfred("pitr", "enable", "--yes", "--profile", str(plain.profile_path))
        assert result.returncode == 2
        assert "/archive is not a volume" in result.stderr
        assert "db-postgres-wal:/archive" in result.stderr
        assert status(plain.profile_path)["settings"]["archive_mode"] == "off"


def test_recovery_to_a_time_between_two_writes_through_the_engine(stack) -> None:  # type: ignore[no-untyped-def]
    port, profile = stack.ports["postgres"], str(stack.profile_path)
    enabled = alfred("pitr", "enable", "--yes", "--profile", profile)
    assert enabled.returncode == 0, enabled.stderr

    base = alfred("pitr", "base-backup", "--profile", profile)
    assert base.returncode == 0, base.stderr
    assert "pg_verifybackup ok" in base.stdout
    ready = status(stack.profile_path)
    assert ready["ready"] is True, ready["problems"]
    assert ready["backend"] == "docker" and ready["archive"]["path"] == "/archive"
    assert ready["archive"]["files"] >= 1  # read from the volume, inside the container

    between = write_t1_then_t2(port)
    container = stack.container("db-postgres")
    started_before = stack.inspect(container, "{{.State.StartedAt}}")

    result = alfred("pitr", "recover", "--to", between.isoformat(), "--yes", "--profile", profile)
    assert result.returncode == 0, result.stderr
    assert "timeline 2" in result.stdout
    assert psql(port, "SELECT phase, count(*), min(n) FROM events GROUP BY phase") == "t1|500|1"
    assert psql(port, "SELECT pg_is_in_recovery()") == "f"
    assert stack.inspect(container, "{{.State.StartedAt}}") != started_before  # same container

    safety = Path(result.stdout.split("kept in ", 1)[1].strip().rstrip("."))
    with tarfile.open(safety) as saved:  # the replaced data directory, on this machine
        assert "data/PG_VERSION" in saved.getnames()

    after = status(stack.profile_path)
    assert after["ready"] is True, after["problems"]
    psql(port, "INSERT INTO events VALUES ('after-recovery', 1)")  # open for writes


def test_a_recovery_killed_after_refilling_the_container_is_rolled_back(stack) -> None:  # type: ignore[no-untyped-def]
    """kill -9 once the base backup is in the volume: --rollback refills it from the tar.

    Runs after the recovery test (archiving on, the events table); the catalog
    is this test's own (a fresh data folder), so it takes its base backup.
    """
    port, profile = stack.ports["postgres"], str(stack.profile_path)
    base = alfred("pitr", "base-backup", "--profile", profile)
    assert base.returncode == 0, base.stderr
    psql(port, "INSERT INTO events VALUES ('before-kill', 7)")
    before = psql(port, "SELECT phase, count(*), sum(n) FROM events GROUP BY phase ORDER BY 1")
    container = stack.container("db-postgres")

    recover_killed_at(stack.profile_path, datetime.now(UTC), 5)

    assert stack.inspect(container, "{{.State.Running}}") == "false"
    journals = Path(os.environ["ALFRED_TUI_STATE_DIR"]) / "restores"
    journal = next(journals.glob("*/postgres-pitr.json"))
    assert '"step": "start"' in journal.read_text()
    refused = alfred("pitr", "status", "--profile", profile)
    assert refused.returncode == 2 and "pitr recover --rollback" in refused.stderr

    rolled = alfred("pitr", "recover", "--rollback", "--yes", "--profile", profile)
    assert rolled.returncode == 0, rolled.stderr
    assert "refill it from" in rolled.stdout and "Rolled back" in rolled.stdout
    assert psql(port, "SELECT phase, count(*), sum(n) FROM events GROUP BY phase ORDER BY 1") == (
        before
    )
    assert not journal.exists()
    kept = Path(rolled.stdout.split("it replaced is kept in ", 1)[1].strip().rstrip("."))
    with tarfile.open(kept) as replaced:  # the half-done recovery, kept as well
        assert "data/recovery.signal" in replaced.getnames()
    assert status(stack.profile_path)["ready"] is True
