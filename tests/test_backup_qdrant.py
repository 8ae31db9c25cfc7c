"""Qdrant backup and restore: through the REST stand-in server, and in embedded mode.

The server path runs the Qdrant **stand-in** (tests/qdrant_standin, real
storage through qdrant-edge) as the local backend's ``qdrant`` binary, so
snapshots are created, downloaded, uploaded and recovered over HTTP exactly
as against Qdrant. The embedded path copies qdrant-client's local store.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
from backup_support import (
    alfred,
    qdrant_fingerprint,
    restore,
    seed_qdrant,
    take,
    write_rest_standin_binary,
)
from localdeploy import LocalDeployment
from servers import free_port

from alfred_tui.backends.local.processes import is_alive

pytestmark = pytest.mark.slow


# --- through the stand-in server ----------------------------------------------------------


@pytest.fixture
def standin_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalDeployment:
    """A local deployment whose Qdrant is the REST stand-in, run as the qdrant binary."""
    binaries = write_rest_standin_binary(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{binaries}{os.pathsep}{os.environ['PATH']}")
    ports = [f"127.0.0.1:{free_port()}:6333", f"127.0.0.1:{free_port()}:6334"]
    overrides = {"services": {"qdrant": {"ports": ports, "api_key": "stand-in-key-4242"}}}
    with LocalDeployment(name="qdrant-backup", overrides=overrides) as deployment:
        deployment.up()
        pid = deployment.backend().runner("qdrant").running_pid()
        assert pid is not None, "the backend does not recognise its Qdrant server process"
        yield deployment
    assert not is_alive(pid), "teardown left the Qdrant stand-in server running"


def server_client(deployment: LocalDeployment):  # type: ignore[no-untyped-def]
    from qdrant_client import QdrantClient

    port = int(deployment.overrides["services"]["qdrant"]["ports"][0].split(":")[1])
    with warnings.catch_warnings():  # an API key over plain HTTP: loopback, on purpose
        warnings.simplefilter("ignore", UserWarning)
        return QdrantClient(
            url=f"http://127.0.0.1:{port}",
            api_key="stand-in-key-4242",
            https=False,
            check_compatibility=False,
        )


def test_snapshot_round_trip_through_the_standin_server(
    standin_deployment: LocalDeployment,
) -> None:
    profile = standin_deployment.profile_path
    client = server_client(standin_deployment)
    seed_qdrant(client, "before", {"general-knowledge": 300, "legal-knowledge": 120})
    before = qdrant_fingerprint(client)

    (backup,) = take(profile, "qdrant")
    manifest = backup["manifest"]
    assert manifest["method"] == "per-collection snapshots over REST"
    # `up` created the profile's four collections; two were filled.
    assert {c["name"]: c["count"] for c in manifest["contents"]} == {
        "general-knowledge": 300,
        "legal-knowledge": 120,
        "financial-knowledge": 0,
        "social-knowledge": 0,
    }
    snapshots = manifest["details"]["snapshots"]
    files = {f["name"]: f["sha256"] for f in manifest["files"]}
    for snapshot in snapshots.values():
        assert files[snapshot["file"]] == snapshot["checksum"]  # the server's own SHA-256
    assert client.list_snapshots("general-knowledge") == []  # removed from the server
    assert "stand-in-key-4242" not in json.dumps(backup)
    assert "stand-in-key-4242" not in (Path(backup["folder"]) / "manifest.json").read_text()

    client.delete("general-knowledge", points_selector=list(range(0, 300, 2)))
    client.delete_collection("legal-knowledge")
    seed_qdrant(client, "after", {"created-after": 10})

    code, document, stderr = restore(profile, "qdrant", backup["id"], "--yes")
    assert code == 0, (document, stderr)
    plan = next(s for s in document["steps"] if s["id"] == "plan")["messages"]
    assert "collection legal-knowledge: replaced by its snapshot (absent now, created)" in plan
    assert any("kept as they are: created-after" in line for line in plan)

    after = qdrant_fingerprint(client)
    assert after.pop("created-after")
    assert after == before
    safety = document["safety_copy"]
    listing = alfred("backups", "list", "qdrant", "--profile", str(profile))
    assert safety in listing.stdout
    client.close()


def test_corrupt_snapshot_is_refused_before_the_server_sees_it(
    standin_deployment: LocalDeployment,
) -> None:
    profile = standin_deployment.profile_path
    client = server_client(standin_deployment)
    seed_qdrant(client, "x", {"general-knowledge": 50})
    (backup,) = take(profile, "qdrant")
    snapshot = next(Path(backup["folder"]).glob("snapshots/*.snapshot"))
    data = bytearray(snapshot.read_bytes())
    data[len(data) // 3] ^= 0x40
    snapshot.write_bytes(bytes(data))
    code, document, _ = restore(profile, "qdrant", backup["id"], "--yes")
    assert code == 2 and document["outcome"] == "preflight_failed"
    assert client.count("general-knowledge").count == 50
    client.close()


# --- embedded ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded_deployment() -> LocalDeployment:
    with LocalDeployment(name="qdrant-embedded") as deployment:
        deployment.up()
        yield deployment


def embedded_client(deployment: LocalDeployment):  # type: ignore[no-untyped-def]
    from qdrant_client import QdrantClient

    return QdrantClient(path=str(deployment.data_dir / "qdrant"))


def test_embedded_round_trip(embedded_deployment: LocalDeployment) -> None:
    profile = embedded_deployment.profile_path
    client = embedded_client(embedded_deployment)
    seed_qdrant(client, "before", {"general-knowledge": 200, "social-knowledge": 40})
    client.close()
    client = embedded_client(embedded_deployment)  # as stored (local mode normalises on load)
    before = qdrant_fingerprint(client)
    client.close()

    (backup,) = take(profile, "qdrant")
    manifest = backup["manifest"]
    assert manifest["details"]["embedded"] is True
    assert manifest["method"] == "copy of the embedded store, taken under its lock"
    assert {c["name"]: c["count"] for c in manifest["contents"]} == {
        "general-knowledge": 200,
        "social-knowledge": 40,
        "financial-knowledge": 0,
        "legal-knowledge": 0,
    }

    client = embedded_client(embedded_deployment)
    client.delete_collection("social-knowledge")
    seed_qdrant(client, "after", {"general-knowledge": 20})
    client.close()

    code, document, stderr = restore(profile, "qdrant", backup["id"], "--yes")
    assert code == 0, (document, stderr)
    client = embedded_client(embedded_deployment)
    assert qdrant_fingerprint(client) == before
    client.close()


def test_an_embedded_store_held_by_a_client_is_not_copied(
    embedded_deployment: LocalDeployment,
) -> None:
    profile = embedded_deployment.profile_path
    (backup,) = take(profile, "qdrant")
    client = embedded_client(embedded_deployment)  # holds the store's lock, as the UI would
    try:
        result = alfred("backup", "qdrant", "--profile", str(profile))
        assert result.returncode == 2
        assert "is open in another process" in result.stderr
        problems = [line for line in result.stderr.splitlines() if not line.startswith("  ...")]
        assert len(problems) == 1 and problems[0].startswith(
            "Store in use: the embedded Qdrant store "
        )
        code, document, _ = restore(profile, "qdrant", backup["id"], "--yes")
        assert code == 2 and document["outcome"] == "preflight_failed"
    finally:
        client.close()
