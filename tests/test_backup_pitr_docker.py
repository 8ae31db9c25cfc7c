"""PostgreSQL point-in-time recovery on the Docker backend, on a real engine.

The same story as the local backend's test (rows at t1 and t2, recovery to a
moment between them), carried out through the engine: the WAL archive is a
volume of the container, the base backup is taken by the container's own
pg_basebackup, and the safety copy is a tar of the data directory on this
machine.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_support import alfred, json_out, psql, write_t1_then_t2

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
