"""Qdrant runbooks against the Qdrant stand-in server (tests/qdrant_standin) and embedded mode.

The stand-in stores vectors with Qdrant's own engine (qdrant-edge), so index
coverage, segment counts, collection status and request durations are real.
A ``qdrant`` shim on PATH makes the local backend treat Qdrant as a server,
as the Qdrant probe tests do.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from doctor_support import context_for, write
from qdrant_standin.launcher import StandinProcess, write_qdrant_shim

from alfred_tui.backends.base import InstanceStatus, ResourceAmounts, ServiceStatus
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.qdrant_memory import MemoryFacts, QdrantMemory
from alfred_tui.troubleshoot.qdrant_search import QdrantSlowSearches


@pytest.fixture
def qdrant_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``qdrant`` (the stand-in's shim) on PATH: the local backend then expects a server."""
    folder = write_qdrant_shim(tmp_path / "bin").parent
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


def _profile(server: StandinProcess, extra: str = "") -> str:
    return (
        "extends: local\nservices:\n  postgres: {enabled: false}\n  redis: {enabled: false}\n"
        f"  qdrant:\n    ports: ['127.0.0.1:{server.port}:6333']\n{extra}"
    )


def _load(server: StandinProcess, name: str, size: int, points: int, **config: Any) -> None:
    rng = random.Random(7)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        body = {"vectors": {"size": size, "distance": "Cosine"}, **config}
        assert http.put(f"/collections/{name}", json=body).status_code == 200
        for start in range(0, points, 500):
            batch = [
                {"id": i, "vector": [rng.random() for _ in range(size)], "payload": {"n": i}}
                for i in range(start, min(points, start + 500))
            ]
            reply = http.put(f"/collections/{name}/points?wait=true", json={"points": batch})
            assert reply.status_code == 200, reply.text


def _search(server: StandinProcess, name: str, size: int, count: int) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(count):
            reply = http.post(
                f"/collections/{name}/points/search", json={"vector": [0.5] * size, "limit": 5}
            )
            assert reply.status_code == 200, reply.text


def _wait_indexed(server: StandinProcess, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = httpx.get(f"{server.url}/collections/{name}").json()["result"]
        if info["status"] == "green" and info["indexed_vectors_count"] >= info["vectors_count"]:
            return info
        time.sleep(0.2)
    raise AssertionError(f"{name} was not indexed in {timeout} s: {info}")


async def test_unindexed_collection_slows_searches_and_indexing_fixes_it(
    qdrant_standin: StandinProcess, qdrant_on_path: None, tmp_path: Path
) -> None:
    await asyncio.to_thread(
        _load,
        qdrant_standin,
        "general-knowledge",
        64,
        2000,
        optimizers_config={"indexing_threshold": 0},
    )
    await asyncio.to_thread(_search, qdrant_standin, "general-knowledge", 64, 20)
    path = write(tmp_path, _profile(qdrant_standin))
    async with context_for(path) as ctx:
        report = await QdrantSlowSearches().run(ctx)
    assert report.verdict == Verdict.WARNING
    evidence = {e.label: e for e in report.detection.evidence}
    assert "indexing disabled" in evidence["general-knowledge index"].value
    assert evidence["search time (mean)"].verdict == Verdict.OK  # fast: a small collection
    assert "over 20 searches" in evidence["search time (mean)"].value
    row = report.table("Collections").rows[0]
    assert row[0] == "general-knowledge" and row[3] == 2000 and row[4] == "0 of 2000"
    assert row[8] == "0 KB"
    requests = report.table("Request times")
    assert dict(requests.rows)["searches served"] == 20
    fix = report.remedy("enable-indexing-general-knowledge")
    assert '"indexing_threshold": 20000' in fix.steps[0] and "PATCH" in fix.steps[0]

    # A profile whose duration alert sits below what these searches took: CRITICAL.
    tight = write(
        tmp_path,
        _profile(
            qdrant_standin,
            "metrics:\n  qdrant_request_duration_seconds:\n    unit: s\n"
            "    normal: {min: 0, max: 0.0000001}\n    alert: {above: 0.000001}\n"
            "    warn: above\n",
        ),
        name="tight",
    )
    async with context_for(tight) as ctx:
        assert (await QdrantSlowSearches().detect(ctx)).verdict == Verdict.CRITICAL

    # Switch indexing on (a threshold this small collection passes): the stand-in's real
    # optimizer builds the HNSW index and the runbook's index finding goes away.
    reply = await asyncio.to_thread(
        httpx.patch,
        f"{qdrant_standin.url}/collections/general-knowledge",
        json={"optimizers_config": {"indexing_threshold": 100}},
    )
    assert reply.status_code == 200, reply.text
    info = await asyncio.to_thread(_wait_indexed, qdrant_standin, "general-knowledge")
    assert info["indexed_vectors_count"] == 2000
    async with context_for(path) as ctx:
        detection = await QdrantSlowSearches().detect(ctx)
    assert detection.verdict == Verdict.OK, detection.summary


async def test_collections_that_outgrow_the_memory_limit_warn_and_on_disk_helps(
    qdrant_standin: StandinProcess, qdrant_on_path: None, tmp_path: Path
) -> None:
    await asyncio.to_thread(_load, qdrant_standin, "legal-knowledge", 1536, 1000)
    limit = "  qdrant:\n    resources:\n      limits: {memory: 10M}\n"
    path = write(tmp_path, _profile(qdrant_standin).replace("  qdrant:\n", limit, 1))
    async with context_for(path) as ctx:
        report = await QdrantMemory().run(ctx)
    assert report.verdict == Verdict.WARNING
    need = {e.label: e for e in report.detection.evidence}["memory the data needs"]
    assert need.verdict == Verdict.WARNING and "of 10.0 MiB" in need.value
    storage = report.table("Collections")
    assert storage.rows[0][:4] == ("legal-knowledge", 1000, 1536, "in RAM")
    # The stand-in was started by the test, not deployed by the local backend, whose
    # status (now real) therefore reports no instance: no restarts, no OOM kills.
    instances = report.table("Instances")
    assert instances.rows == () and instances.empty == "no instances reported"
    on_disk = report.remedy("vectors-on-disk-legal-knowledge")
    assert '{"vectors": {"": {"on_disk": true}}}' in on_disk.steps[0]
    raise_limit = report.remedy("raise-memory-limit")
    assert "memory: 3G" in raise_limit.profile_yaml and raise_limit.needs_restart

    reply = await asyncio.to_thread(
        httpx.patch,
        f"{qdrant_standin.url}/collections/legal-knowledge",
        json={"vectors": {"": {"on_disk": True}}},
    )
    assert reply.status_code == 200, reply.text
    async with context_for(path) as ctx:
        after = await QdrantMemory().run(ctx)
    assert after.verdict == Verdict.OK
    assert after.table("Collections").rows[0][3] == "on disk"


def test_an_oom_killed_instance_is_critical() -> None:
    status = ServiceStatus(
        service="qdrant",
        desired=1,
        ready=1,
        instances=(InstanceStatus("vector-db", "running", restarts=4, detail="OOMKilled"),),
        limits=ResourceAmounts(memory=4 * 1024**3),
    )
    facts = MemoryFacts(
        embedded=False,
        collections=(),
        metrics=None,
        status=status,
        status_note="",
        limit=status.limits.memory,
        limit_source="the backend's limit",
    )
    detection = QdrantMemory().judge(facts, None)  # type: ignore[arg-type]
    assert detection.verdict == Verdict.CRITICAL
    labels = {e.label: e.verdict for e in detection.evidence}
    assert labels == {
        "killed for memory": Verdict.CRITICAL,
        "restarts": Verdict.WARNING,
        "memory the data needs": Verdict.OK,
    }


async def test_embedded_qdrant_is_diagnosed_and_says_what_it_cannot_see(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no qdrant binary: embedded
    path = write(
        tmp_path,
        "extends: local\nservices:\n  postgres: {enabled: false}\n  redis: {enabled: false}\n",
    )
    async with context_for(path) as ctx:
        missing = await QdrantSlowSearches().run(ctx)
        assert missing.verdict == Verdict.UNKNOWN
        assert "does not exist (deploy first" in missing.detection.summary
        client = await ctx.qdrant()
        assert client.target.embedded
        assert not Path(client.target.path).exists()  # looking did not create it
        from qdrant_client import models

        local = client.embedded_client()
        local.create_collection(
            "general-knowledge", vectors_config=models.VectorParams(size=8, distance="Cosine")
        )
        local.upsert("general-knowledge", [models.PointStruct(id=1, vector=[0.1] * 8)])
        search = await QdrantSlowSearches().run(ctx)
        memory = await QdrantMemory().run(ctx)
    assert search.verdict == Verdict.OK and memory.verdict == Verdict.OK
    assert search.table("Collections").rows[0][0] == "general-knowledge"
    assert any("embedded mode" in note for note in search.notes)
    assert any("embedded mode" in note for note in memory.notes)
    assert not [r for r in search.remedies if r.steps]  # no server-side PATCH offered
