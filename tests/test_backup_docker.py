"""Backup and restore on the Docker backend, on a real engine with the locally built test images.

Here the tools run *inside* the containers (the backend's exec: pg_dump and
pg_restore of the server image) and files cross with the engine's archive
API; Redis is restarted through the engine. The Qdrant service is the REST
stand-in's image.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import redis
from backup_support import (
    pg_fingerprint,
    psql,
    qdrant_fingerprint,
    redis_fingerprint,
    restore,
    seed_qdrant,
    seed_redis,
    take,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_postgres_round_trip_with_the_tools_of_the_container(docker_stack) -> None:  # type: ignore[no-untyped-def]
    port, profile = docker_stack.ports["postgres"], docker_stack.profile_path
    psql(
        port,
        "DROP TABLE IF EXISTS runs; CREATE TABLE runs (id serial PRIMARY KEY, v text); "
        "INSERT INTO runs (v) SELECT md5(i::text) FROM generate_series(1, 5000) i",
    )
    before = pg_fingerprint(port)
    (backup,) = take(profile, "postgres")
    assert backup["manifest"]["method"] == "pg_dump -F c (in the instance)"
    assert backup["manifest"]["backend"] == "docker"
    psql(port, "DELETE FROM runs WHERE id > 10; CREATE TABLE extra (a int)")
    code, document, stderr = restore(profile, "postgres", backup["id"], "--yes")
    assert code == 0, (document, stderr)
    after = pg_fingerprint(port)
    after.pop("public.extra")
    assert after == before


def test_redis_round_trip_through_the_engine(docker_stack) -> None:  # type: ignore[no-untyped-def]
    port, profile = docker_stack.ports["redis"], docker_stack.profile_path
    client = redis.Redis(host="127.0.0.1", port=port)
    client.flushall()
    seed_redis(port, "docker", keys_per_type=20)
    before = redis_fingerprint(port)
    (backup,) = take(profile, "redis")
    client.flushall()
    client.set("after", "1")
    code, document, stderr = restore(profile, "redis", backup["id"], "--yes")
    assert code == 0, (document, stderr)
    assert redis_fingerprint(port) == before
    client.close()


def test_qdrant_round_trip_against_the_standin_image(docker_stack) -> None:  # type: ignore[no-untyped-def]
    if "qdrant" not in docker_stack.services:
        pytest.skip("the Qdrant stand-in image is not available")
    from qdrant_client import QdrantClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        client = QdrantClient(
            url=f"http://127.0.0.1:{docker_stack.ports['qdrant']}", check_compatibility=False
        )
    seed_qdrant(client, "docker", {"general-knowledge": 80})
    before = qdrant_fingerprint(client)
    (backup,) = take(Path(docker_stack.profile_path), "qdrant")
    client.delete_collection("general-knowledge")
    code, document, stderr = restore(docker_stack.profile_path, "qdrant", backup["id"], "--yes")
    assert code == 0, (document, stderr)
    assert qdrant_fingerprint(client) == before
    client.close()
