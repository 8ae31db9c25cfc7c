"""The lifecycle commands on the Kubernetes backend, end to end against the **stand-in**.

``up``, ``status`` (table and JSON, validated against its schema), ``scale``,
``resize``, ``restart``, ``logs`` and ``down`` run as a user runs them, in a
subprocess with ``KUBECONFIG`` pointing at the stand-in; then the safety copy
of ``down --volumes`` and the file copies through exec, in-process.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import jsonschema
import pytest

from alfred_tui import paths
from alfred_tui.backends.kubernetes import KubernetesBackend
from alfred_tui.config.loader import load_profile

NS = "alfred-platform"


def test_lifecycle_commands_on_kubernetes(k8s_kubeconfig, k8s_standin, qdrant_standin, cli) -> None:  # type: ignore[no-untyped-def]
    # up creates the profile's Qdrant collections through the port-forward, so the
    # stand-in cluster's qdrant pods relay to a Qdrant stand-in server.
    server = k8s_standin.server
    k8s_standin.call(server.connect_backend, "vector-db", 6333, "127.0.0.1", qdrant_standin.port)
    common = ("--profile", "dev", "--backend", "kubernetes")
    up = cli("up", *common, timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Traceback" not in up.stderr
    assert "created collection general-knowledge" in up.stderr

    status = cli("status", *common, "--output", "json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    schema = json.loads((paths.assets_dir() / "schemas" / "status.v1.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["backend"] == "kubernetes" and document["target"] == f"stand-in/{NS}"
    assert {s["service"] for s in document["services"]} == {"postgres", "redis", "qdrant"}

    scaled = cli("scale", "redis", "2", *common)
    assert scaled.returncode == 0, scaled.stderr
    table = cli("status", *common)
    assert table.returncode == 0 and "redis" in table.stdout

    resized = cli("resize", "redis", "--memory", "512M", "--cpus", "0.5", *common)
    assert resized.returncode == 0, resized.stderr
    sts = k8s_standin.find("statefulsets", NS, "redis", "apps")
    limits = sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "500m", "memory": "512Mi"}

    restarted = cli("restart", "qdrant", *common)
    assert restarted.returncode == 0, restarted.stderr

    logs = cli("logs", "redis", "--tail", "5", *common)
    assert logs.returncode == 0, logs.stderr
    assert "Ready to accept connections" in logs.stdout
    assert "redis-0" in logs.stdout and "redis-1" in logs.stdout

    down = cli("down", *common, timeout=180)
    assert down.returncode == 0, down.stderr
    assert k8s_standin.objects("statefulsets", NS, "apps") == []
    assert len(k8s_standin.objects("persistentvolumeclaims", NS)) == 4  # redis-1 too


@pytest.fixture
def host_paths_profile(write_profile, tmp_path):  # type: ignore[no-untyped-def]
    """Data volumes at paths that exist on this host, where the stand-in runs exec."""
    folders = {kind: tmp_path / "pods" / kind for kind in ("postgres", "redis", "qdrant")}
    for kind, folder in folders.items():
        folder.mkdir(parents=True)
        (folder / f"{kind}.dat").write_text(f"{kind} data\n")
    path = write_profile(
        f"""
        extends: dev
        services:
          postgres:
            volumes: ["db-postgres-data:{folders["postgres"]}"]
          redis:
            volumes: ["redis-data:{folders["redis"]}"]
          qdrant:
            volumes: ["vector-db-data:{folders["qdrant"]}"]
        """,
        name="host-paths",
    )
    return path, folders


async def test_down_volumes_keeps_a_safety_copy(
    k8s_kubeconfig, k8s_standin, host_paths_profile, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    profile, _folders = host_paths_profile
    backend = KubernetesBackend(load_profile(str(profile)), wait_timeout=20, poll_interval=0.05)
    safety = tmp_path / "safety"
    safety.mkdir()
    try:
        await backend.deploy()
        plan = await backend.describe_teardown(remove_volumes=True)
        assert plan[0].startswith("delete StatefulSets postgres-primary, postgres-replica, qdrant")
        assert "data-redis-0 (10Gi)" in plan[1] and plan[1].startswith("delete the Persistent")
        await backend.teardown(remove_volumes=True, safety_dir=safety)
    finally:
        await backend.close()
    copies = sorted(p.name for p in safety.iterdir())
    assert copies == ["data-postgres-primary-0.tar", "data-qdrant-0.tar", "data-redis-0.tar"]
    with tarfile.open(safety / "data-redis-0.tar") as archive:
        assert "./redis.dat" in archive.getnames()
    assert (safety / "data-redis-0.tar").stat().st_mode & 0o777 == 0o600
    assert k8s_standin.objects("persistentvolumeclaims", NS) == []


async def test_copy_to_and_from_an_instance(
    k8s_kubeconfig, k8s_standin, host_paths_profile, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    profile, folders = host_paths_profile
    backend = KubernetesBackend(load_profile(str(profile)), wait_timeout=20, poll_interval=0.05)
    source = tmp_path / "dump.rdb"
    source.write_bytes(b"REDIS0011\x00\xff binary")
    try:
        await backend.deploy(services=["redis"])
        inside = str(folders["redis"] / "restore.rdb")
        await backend.copy_to("redis", source, inside)
        assert Path(inside).read_bytes() == source.read_bytes()
        back = await backend.copy_from("redis", inside, tmp_path / "out" / "copy.rdb")
        assert back.read_bytes() == source.read_bytes()
    finally:
        await backend.close()
