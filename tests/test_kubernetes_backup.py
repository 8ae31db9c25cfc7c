"""Backups and verified restores on the Kubernetes backend, on pods that really run.

The shared deployment of tests/kube_support.py (the stand-in with its Docker
kubelet) gets data of every kind; ``alfred-tui backup`` takes it out through
exec (pg_dump in the PostgreSQL pod, the RDB file of the Redis pod) and
Qdrant's snapshot API through the port-forward; the data is then changed,
and ``alfred-tui restore`` must bring back every row of every table, every
Redis key (type, value, TTL) and every Qdrant point, compared by checksums
read with each database's own client through alfred-tui's port-forwards.
Point-in-time recovery on Kubernetes is in test_kubernetes_e2e.py (it needs
PostgreSQL without read replicas, as there right after ``up``).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
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
from kube_support import port_forwards

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

SPEC_COLLECTIONS = ("general-knowledge", "legal-knowledge")


def fingerprints(ports: dict[str, int], passwords: dict[str, str]) -> dict[str, Any]:
    from qdrant_client import QdrantClient

    qdrant = QdrantClient(url=f"http://127.0.0.1:{ports['qdrant']}", timeout=30)
    try:
        return {
            "postgres": pg_fingerprint(ports["postgres"], password=passwords["postgres"]),
            "redis": redis_fingerprint(ports["redis"], password=passwords["redis"]),
            "qdrant": qdrant_fingerprint(qdrant),
        }
    finally:
        qdrant.close()


def test_backup_then_verified_restore_brings_every_row_key_and_point_back(kube_shared) -> None:  # type: ignore[no-untyped-def]
    from qdrant_client import QdrantClient

    profile = kube_shared.profile_path
    tag = f"k{uuid.uuid4().hex[:6]}"
    passwords = {
        "postgres": kube_shared.secret("db-password"),
        "redis": kube_shared.secret("redis-password"),
    }
    with port_forwards(kube_shared) as ports:
        pg = ports["postgres"]
        psql(
            pg,
            f"CREATE TABLE {tag}_runs (id int PRIMARY KEY, note text, at timestamptz);"
            f"INSERT INTO {tag}_runs SELECT i, md5(i::text), now() FROM generate_series(1, 3000) i;"
            f"CREATE TABLE {tag}_tags (run int REFERENCES {tag}_runs, tag text);"
            f"INSERT INTO {tag}_tags SELECT i, 'x' || i FROM generate_series(1, 500) i",
            password=passwords["postgres"],
        )
        seed_redis(ports["redis"], tag, keys_per_type=20, password=passwords["redis"])
        qdrant = QdrantClient(url=f"http://127.0.0.1:{ports['qdrant']}", timeout=30)
        try:
            seed_qdrant(qdrant, tag, {name: 40 for name in SPEC_COLLECTIONS})
        finally:
            qdrant.close()
        before = fingerprints(ports, passwords)

    taken = {entry["service"]: entry for entry in take(profile, "postgres", "redis", "qdrant")}
    assert set(taken) == {"postgres", "redis", "qdrant"}
    assert all(e["manifest"]["backend"] == "kubernetes" for e in taken.values()), taken
    assert taken["postgres"]["manifest"]["method"] == "pg_dump -F c (in the instance)"

    with port_forwards(kube_shared) as ports:  # everything changes after the backup
        psql(
            ports["postgres"],
            f"DELETE FROM {tag}_tags; UPDATE {tag}_runs SET note = 'lost';"
            f"CREATE TABLE {tag}_later (a int)",
            password=passwords["postgres"],
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=ports["redis"], password=passwords["redis"])
        client.flushall()
        client.set(f"{tag}:after", "1")
        client.close()
        qdrant = QdrantClient(url=f"http://127.0.0.1:{ports['qdrant']}", timeout=30)
        try:
            qdrant.delete_collection(SPEC_COLLECTIONS[0])
        finally:
            qdrant.close()
        assert fingerprints(ports, passwords) != before

    for service in ("postgres", "redis", "qdrant"):
        code, document, stderr = restore(profile, service, taken[service]["id"], "--yes")
        assert code == 0, stderr
        assert document["outcome"] == "restored", document
        verify = next(step for step in document["steps"] if step["id"] == "verify")
        assert verify["status"] == "done", document

    with port_forwards(kube_shared) as ports:
        after = fingerprints(ports, passwords)
        cleanup = f"DROP TABLE {tag}_tags, {tag}_runs, {tag}_later"
        psql(ports["postgres"], cleanup, password=passwords["postgres"])
    after["postgres"].pop(f"public.{tag}_later")  # pg_restore puts back, it does not drop
    for service in ("postgres", "redis", "qdrant"):
        assert after[service] == before[service], service
