"""Contract tests of the Qdrant stand-in (``tests/qdrant_standin``).

Every reply is validated against the matching ``qdrant_client.http.models``
type (the client's own description of Qdrant's API), and the stand-in is
driven by the real ``QdrantClient(url=...)`` the way the platform's services
drive Qdrant. The stand-in is a stand-in: these tests prove it answers like
Qdrant for what alfred-tui uses, not that it is Qdrant.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter
from qdrant_client import QdrantClient
from qdrant_client.http import models
from qdrant_client.http.exceptions import UnexpectedResponse
from qdrant_standin.launcher import StandinProcess

#: Fields Qdrant 1.7.4 sends that the 1.20 client model no longer declares.
LEGACY_FIELDS = {"CollectionInfo": {"vectors_count"}}


def known_fields(model: type[BaseModel], data: dict[str, Any]) -> None:
    """Every key the stand-in sent is a field of the model (typos would pass pydantic)."""
    unknown = set(data) - set(model.model_fields) - LEGACY_FIELDS.get(model.__name__, set())
    assert not unknown, f"{model.__name__} has no fields {sorted(unknown)}"


def result(response: httpx.Response, expected: Any) -> Any:
    """Check Qdrant's envelope and validate ``result`` against ``expected``; return it."""
    assert response.status_code == 200, response.text
    document = response.json()
    assert set(document) == {"result", "status", "time"}, document
    assert document["status"] == "ok"
    assert isinstance(document["time"], float)
    TypeAdapter(expected).validate_python(document["result"])
    if isinstance(expected, type) and issubclass(expected, BaseModel):
        known_fields(expected, document["result"])
    return document["result"]


def error(response: httpx.Response, status: int) -> str:
    """Check Qdrant's error envelope; return the message."""
    assert response.status_code == status, response.text
    document = models.ErrorResponse.model_validate(response.json())
    assert document.status is not None and document.status.error
    return document.status.error


def vectors(count: int, size: int, seed: int = 7) -> list[list[float]]:
    generator = random.Random(seed)
    return [[generator.random() for _ in range(size)] for _ in range(count)]


@pytest.fixture
def http(qdrant_standin: StandinProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=qdrant_standin.url, timeout=30) as client:
        yield client


@pytest.fixture
def client(qdrant_standin: StandinProcess) -> Iterator[QdrantClient]:
    qdrant = QdrantClient(url=qdrant_standin.url, timeout=30, check_compatibility=False)
    yield qdrant
    qdrant.close()


def wait_for_green(http: httpx.Client, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info = result(http.get(f"/collections/{name}"), models.CollectionInfo)
        if info["status"] == "green" or time.monotonic() > deadline:
            return info
        time.sleep(0.05)


# --- service endpoints ----------------------------------------------------------


def test_root_names_itself_a_stand_in_and_reports_the_spec_version(http: httpx.Client) -> None:
    reply = http.get("/")
    info = models.VersionInfo.model_validate(reply.json())
    assert "stand-in" in info.title
    assert info.version == "1.7.4"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/healthz", "healthz check passed"),
        ("/livez", "healthz check passed"),
        ("/readyz", "all shards are ready"),
    ],
)
def test_health_endpoints(http: httpx.Client, path: str, text: str) -> None:
    reply = http.get(path)
    assert reply.status_code == 200
    assert reply.text == text


def test_unknown_path_and_wrong_method(http: httpx.Client) -> None:
    error(http.get("/nothing-here"), 404)
    error(http.post("/collections"), 405)


# --- collections ------------------------------------------------------------------


def test_collection_lifecycle_replies_match_the_client_models(http: httpx.Client) -> None:
    assert result(http.get("/collections"), models.CollectionsResponse) == {"collections": []}
    body = {"vectors": {"size": 1536, "distance": "Cosine"}}
    assert result(http.put("/collections/general-knowledge", json=body), bool) is True

    message = error(http.put("/collections/general-knowledge", json=body), 409)
    assert "already exists" in message

    info = result(http.get("/collections/general-knowledge"), models.CollectionInfo)
    assert info["status"] == "green"
    assert info["optimizer_status"] == "ok"
    assert (info["points_count"], info["indexed_vectors_count"]) == (0, 0)
    assert info["segments_count"] >= 1
    assert info["config"]["params"]["vectors"] == {"size": 1536, "distance": "Cosine"}
    config = info["config"]
    known_fields(models.CollectionConfig, config)
    known_fields(models.CollectionParams, config["params"])
    known_fields(models.HnswConfig, config["hnsw_config"])
    known_fields(models.OptimizersConfig, config["optimizer_config"])
    assert config["hnsw_config"]["m"] == 16
    assert config["optimizer_config"]["indexing_threshold"] == 20000

    exists = result(http.get("/collections/general-knowledge/exists"), models.CollectionExistence)
    assert exists == {"exists": True}
    missing = result(http.get("/collections/nope/exists"), models.CollectionExistence)
    assert missing == {"exists": False}
    assert "doesn't exist" in error(http.get("/collections/nope"), 404)

    patch = {"optimizers_config": {"indexing_threshold": 100}, "hnsw_config": {"m": 32}}
    assert result(http.patch("/collections/general-knowledge", json=patch), bool) is True
    info = result(http.get("/collections/general-knowledge"), models.CollectionInfo)
    assert info["config"]["optimizer_config"]["indexing_threshold"] == 100
    assert info["config"]["hnsw_config"]["m"] == 32

    names = result(http.get("/collections"), models.CollectionsResponse)
    assert names == {"collections": [{"name": "general-knowledge"}]}
    assert result(http.delete("/collections/general-knowledge"), bool) is True
    assert result(http.delete("/collections/general-knowledge"), bool) is False


def test_named_vectors_and_bad_input(http: httpx.Client) -> None:
    body = {
        "vectors": {
            "text": {"size": 4, "distance": "Dot"},
            "image": {"size": 2, "distance": "Euclid"},
        }
    }
    result(http.put("/collections/multi", json=body), bool)
    info = result(http.get("/collections/multi"), models.CollectionInfo)
    assert info["config"]["params"]["vectors"] == {
        "text": {"size": 4, "distance": "Dot"},
        "image": {"size": 2, "distance": "Euclid"},
    }
    assert "unknown variant" in error(
        http.put("/collections/bad", json={"vectors": {"size": 4, "distance": "Cosinus"}}), 400
    )
    error(http.put("/collections/bad", json={"vectors": {"size": 0, "distance": "Dot"}}), 422)
    error(http.put("/collections/bad", content=b"{not json"), 400)
    error(http.put("/collections/.hidden", json={"vectors": {"size": 4, "distance": "Dot"}}), 422)
    point = {"points": [{"id": 1, "vector": {"text": [1, 2, 3]}}]}
    assert "expected dim: 4, got 3" in error(http.put("/collections/multi/points", json=point), 400)


# --- points --------------------------------------------------------------------------


def test_points_upsert_count_scroll_search_query_retrieve_delete(http: httpx.Client) -> None:
    result(http.put("/collections/docs", json={"vectors": {"size": 8, "distance": "Cosine"}}), bool)
    rows = vectors(50, 8)
    points = [
        {"id": i, "vector": rows[i], "payload": {"topic": "legal" if i % 2 else "finance", "n": i}}
        for i in range(50)
    ]
    update = result(
        http.put("/collections/docs/points", params={"wait": "true"}, json={"points": points}),
        models.UpdateResult,
    )
    assert update["status"] == "completed"
    batch = {"batch": {"ids": ["5c56c793-69f3-4fbf-87e6-c4bf54c28c26"], "vectors": [rows[0]]}}
    result(http.put("/collections/docs/points", json=batch), models.UpdateResult)

    count = result(
        http.post("/collections/docs/points/count", json={"exact": True}), models.CountResult
    )
    assert count == {"count": 51}
    legal = {"filter": {"must": [{"key": "topic", "match": {"value": "legal"}}]}}
    assert result(http.post("/collections/docs/points/count", json=legal), models.CountResult) == {
        "count": 25
    }
    ranged = {"filter": {"must": [{"key": "n", "range": {"gte": 10, "lt": 20}}]}}
    assert result(http.post("/collections/docs/points/count", json=ranged), models.CountResult) == {
        "count": 10
    }

    page = result(
        http.post("/collections/docs/points/scroll", json={"limit": 20}), models.ScrollResult
    )
    assert len(page["points"]) == 20
    assert page["next_page_offset"] == 20
    for record in page["points"]:
        known_fields(models.Record, record)

    found = result(
        http.post("/collections/docs/points/search", json={"vector": rows[3], "limit": 3}),
        list[models.ScoredPoint],
    )
    assert found[0]["id"] in (0, 3, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26")
    assert len(found) == 3

    queried = result(
        http.post(
            "/collections/docs/points/query",
            json={"query": rows[7], "limit": 2, "with_payload": True},
        ),
        models.QueryResponse,
    )
    assert queried["points"][0]["id"] == 7
    assert queried["points"][0]["payload"] == {"topic": "legal", "n": 7}

    records = result(
        http.post("/collections/docs/points", json={"ids": [1, 2], "with_vector": True}),
        list[models.Record],
    )
    assert [r["id"] for r in records] == [1, 2]
    assert len(records[0]["vector"]) == 8
    single = result(http.get("/collections/docs/points/1"), models.Record)
    assert single["payload"]["n"] == 1
    error(http.get("/collections/docs/points/999"), 404)

    deleted = result(
        http.post("/collections/docs/points/delete", json={"points": [1, 2]}), models.UpdateResult
    )
    assert deleted["status"] == "acknowledged"
    assert result(http.post("/collections/docs/points/count", json={}), models.CountResult) == {
        "count": 49
    }
    error(http.post("/collections/missing/points/count", json={}), 404)


def test_payload_index_is_reported_with_its_point_count(http: httpx.Client) -> None:
    result(http.put("/collections/docs", json={"vectors": {"size": 4, "distance": "Dot"}}), bool)
    points = [
        {"id": i, "vector": [1, 2, 3, i], "payload": {"source": f"s{i % 3}"}} for i in range(30)
    ]
    result(http.put("/collections/docs/points", json={"points": points}), models.UpdateResult)
    index = {"field_name": "source", "field_schema": "keyword"}
    result(
        http.put("/collections/docs/index", params={"wait": "true"}, json=index),
        models.UpdateResult,
    )
    info = result(http.get("/collections/docs"), models.CollectionInfo)
    assert info["payload_schema"] == {"source": {"data_type": "keyword", "points": 30}}
    known_fields(models.PayloadIndexInfo, info["payload_schema"]["source"])
    result(http.delete("/collections/docs/index/source"), models.UpdateResult)
    assert result(http.get("/collections/docs"), models.CollectionInfo)["payload_schema"] == {}


def test_optimizer_indexes_in_the_background_and_reports_yellow_meanwhile(
    http: httpx.Client,
) -> None:
    body = {
        "vectors": {"size": 64, "distance": "Cosine"},
        "optimizers_config": {"indexing_threshold": 50},
    }
    result(http.put("/collections/rag", json=body), bool)
    points = [{"id": i, "vector": row} for i, row in enumerate(vectors(2000, 64))]
    result(
        http.put("/collections/rag/points", params={"wait": "true"}, json={"points": points}),
        models.UpdateResult,
    )
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = result(http.get("/collections/rag"), models.CollectionInfo)
        seen.add(info["status"])
        # Reads keep working while the optimizer runs.
        count = result(http.post("/collections/rag/points/count", json={}), models.CountResult)
        assert count == {"count": 2000}
        if info["status"] == "green" and info["indexed_vectors_count"]:
            break
        time.sleep(0.02)
    assert "yellow" in seen
    assert info["indexed_vectors_count"] == 2000
    assert info["points_count"] == 2000
    assert info["segments_count"] >= 1


def test_writes_during_optimization_are_kept(qdrant_standin_factory: Any) -> None:
    # The optimizer waits 1 s before it starts, so the second batch lands mid-optimization.
    server = qdrant_standin_factory("--optimizer-pause", "1")
    http = httpx.Client(base_url=server.url, timeout=30)
    body = {
        "vectors": {"size": 32, "distance": "Dot"},
        "optimizers_config": {"indexing_threshold": 20},
    }
    result(http.put("/collections/busy", json=body), bool)
    rows = vectors(1500, 32)
    first = [{"id": i, "vector": rows[i]} for i in range(1000)]
    result(http.put("/collections/busy/points", json={"points": first}), models.UpdateResult)
    server.wait_for_log("Optimizing collection busy", timeout=30)
    more = [{"id": i, "vector": rows[i]} for i in range(1000, 1500)]
    result(http.put("/collections/busy/points", json={"points": more}), models.UpdateResult)
    assert result(http.get("/collections/busy"), models.CollectionInfo)["status"] == "yellow"
    deadline = time.monotonic() + 60
    while True:
        info = wait_for_green(http, "busy")
        if info["indexed_vectors_count"] == 1500 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "Replayed 1 writes made during the optimization of busy" in server.log()
    assert info["points_count"] == 1500
    assert info["indexed_vectors_count"] == 1500
    assert result(http.post("/collections/busy/points/count", json={}), models.CountResult) == {
        "count": 1500
    }
    http.close()


# --- snapshots ----------------------------------------------------------------------


def _load(http: httpx.Client, name: str, count: int) -> None:
    result(
        http.put(f"/collections/{name}", json={"vectors": {"size": 4, "distance": "Cosine"}}), bool
    )
    points = [{"id": i, "vector": [1, 0.5, 0.25, i], "payload": {"i": i}} for i in range(count)]
    result(http.put(f"/collections/{name}/points", json={"points": points}), models.UpdateResult)


def test_collection_snapshots_create_list_download_recover_delete(
    http: httpx.Client, qdrant_standin: StandinProcess
) -> None:
    _load(http, "legal-knowledge", 25)
    snapshot = result(
        http.post("/collections/legal-knowledge/snapshots", params={"wait": "true"}),
        models.SnapshotDescription,
    )
    assert snapshot["name"].startswith("legal-knowledge-") and snapshot["name"].endswith(
        ".snapshot"
    )
    listed = result(
        http.get("/collections/legal-knowledge/snapshots"), list[models.SnapshotDescription]
    )
    assert listed == [snapshot]

    download = http.get(f"/collections/legal-knowledge/snapshots/{snapshot['name']}")
    assert download.status_code == 200
    assert len(download.content) == snapshot["size"]
    assert hashlib.sha256(download.content).hexdigest() == snapshot["checksum"]

    # Recover from the file in the snapshots folder over a changed collection.
    result(
        http.post("/collections/legal-knowledge/points/delete", json={"points": [0, 1, 2]}),
        models.UpdateResult,
    )
    location = f"file://{qdrant_standin.snapshots}/legal-knowledge/{snapshot['name']}"
    recover = {"location": location, "checksum": snapshot["checksum"]}
    assert result(http.put("/collections/legal-knowledge/snapshots/recover", json=recover), bool)
    assert result(
        http.post("/collections/legal-knowledge/points/count", json={}), models.CountResult
    ) == {"count": 25}

    mismatch = {"location": location, "checksum": "0" * 64}
    assert "checksum mismatch" in error(
        http.put("/collections/legal-knowledge/snapshots/recover", json=mismatch), 400
    )
    outside = {"location": "file:///etc/passwd"}
    assert "inside the snapshots folder" in error(
        http.put("/collections/legal-knowledge/snapshots/recover", json=outside), 400
    )

    # Upload the downloaded bytes as a new collection.
    upload = http.post(
        "/collections/restored/snapshots/upload",
        params={"wait": "true", "checksum": snapshot["checksum"]},
        files={"snapshot": (snapshot["name"], download.content, "application/octet-stream")},
    )
    assert result(upload, bool) is True
    assert result(http.post("/collections/restored/points/count", json={}), models.CountResult) == {
        "count": 25
    }

    assert result(http.delete(f"/collections/legal-knowledge/snapshots/{snapshot['name']}"), bool)
    assert (
        result(http.get("/collections/legal-knowledge/snapshots"), list[models.SnapshotDescription])
        == []
    )
    error(http.get(f"/collections/legal-knowledge/snapshots/{snapshot['name']}"), 404)
    error(http.get("/collections/nope/snapshots"), 404)


def test_a_foreign_archive_is_refused_with_a_clear_message(http: httpx.Client) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"{}"
        info = tarfile.TarInfo("config.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    upload = http.post(
        "/collections/x/snapshots/upload",
        files={"snapshot": ("real-qdrant.snapshot", buffer.getvalue())},
    )
    assert "not a snapshot made by the alfred-tui Qdrant stand-in" in error(upload, 400)
    assert not result(http.get("/collections/x/exists"), models.CollectionExistence)["exists"]


def test_full_storage_snapshots_and_start_up_recovery(
    http: httpx.Client, qdrant_standin_factory: Any, tmp_path: Any
) -> None:
    _load(http, "general-knowledge", 10)
    _load(http, "social-knowledge", 7)
    full = result(http.post("/snapshots"), models.SnapshotDescription)
    assert full["name"].startswith("full-snapshot-")
    assert result(http.get("/snapshots"), list[models.SnapshotDescription]) == [full]
    download = http.get(f"/snapshots/{full['name']}")
    assert hashlib.sha256(download.content).hexdigest() == full["checksum"]
    archive = tmp_path / full["name"]
    archive.write_bytes(download.content)
    assert result(http.delete(f"/snapshots/{full['name']}"), bool)
    assert result(http.get("/snapshots"), list[models.SnapshotDescription]) == []

    fresh = qdrant_standin_factory("--storage-snapshot", str(archive))
    with httpx.Client(base_url=fresh.url) as other:
        names = result(other.get("/collections"), models.CollectionsResponse)["collections"]
        assert sorted(n["name"] for n in names) == ["general-knowledge", "social-knowledge"]
        count = result(
            other.post("/collections/social-knowledge/points/count", json={}), models.CountResult
        )
        assert count == {"count": 7}


def test_data_survives_a_restart(qdrant_standin_factory: Any) -> None:
    first = qdrant_standin_factory()
    with httpx.Client(base_url=first.url) as http:
        _load(http, "financial-knowledge", 12)
    first.stop()
    second = qdrant_standin_factory(storage=first.storage)
    with httpx.Client(base_url=second.url) as http:
        count = result(
            http.post("/collections/financial-knowledge/points/count", json={}), models.CountResult
        )
        assert count == {"count": 12}
    assert "Loading collection: financial-knowledge" in second.log()


# --- metrics and telemetry ------------------------------------------------------------


def test_metrics_use_qdrant_names_and_count_requests(http: httpx.Client) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    _load(http, "docs", 5)
    for _ in range(3):
        http.post("/collections/docs/points/count", json={})
    http.get("/collections/missing")
    text = http.get("/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name in (
        "app_info",
        "collections_total",
        "collections_vector_total",
        "rest_responses_total",
        "rest_responses_fail_total",
        "rest_responses_avg_duration_seconds",
        "rest_responses_min_duration_seconds",
        "rest_responses_max_duration_seconds",
    ):
        assert name in families, name
    samples = {
        (s.name, s.labels.get("method"), s.labels.get("endpoint"), s.labels.get("status")): s.value
        for family in families.values()
        for s in family.samples
    }
    assert samples[("collections_total", None, None, None)] == 1
    assert samples[("collections_vector_total", None, None, None)] == 5
    assert samples[("rest_responses_total", "POST", "/collections/{name}/points/count", "200")] == 3
    assert samples[("rest_responses_total", "GET", "/collections/{name}", "404")] == 1
    assert samples[("rest_responses_fail_total", "GET", "/collections/{name}", "404")] == 1
    average = samples[
        ("rest_responses_avg_duration_seconds", "POST", "/collections/{name}/points/count", "200")
    ]
    assert 0 < average < 5


def test_telemetry_matches_the_client_model_and_counts_requests(http: httpx.Client) -> None:
    _load(http, "docs", 3)
    http.get("/collections")
    http.get("/collections")
    telemetry = result(http.get("/telemetry"), models.TelemetryData)
    assert telemetry["collections"]["number_of_collections"] == 1
    responses = telemetry["requests"]["rest"]["responses"]
    assert responses["GET /collections"]["200"]["count"] == 2
    assert responses["GET /collections"]["200"]["avg_duration_micros"] > 0
    assert telemetry["app"]["version"] == "1.7.4"


def test_metrics_can_be_disabled(qdrant_standin_factory: Any) -> None:
    server = qdrant_standin_factory("--disable-metrics")
    with httpx.Client(base_url=server.url) as http:
        error(http.get("/metrics"), 404)
        result(http.get("/telemetry"), models.TelemetryData)


# --- API keys ------------------------------------------------------------------------------


def test_api_key_is_required_except_for_health(qdrant_standin_factory: Any) -> None:
    server = qdrant_standin_factory(api_key="s3cret-key")
    with httpx.Client(base_url=server.url) as http:
        missing = http.get("/collections")
        assert missing.status_code == 401
        assert missing.text == "Must provide an API key or an Authorization bearer token"
        assert http.get("/collections", headers={"api-key": "wrong"}).status_code == 401
        assert http.get("/metrics").status_code == 401
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200
        result(
            http.get("/collections", headers={"api-key": "s3cret-key"}), models.CollectionsResponse
        )
        bearer = {"authorization": "Bearer s3cret-key"}
        result(http.get("/collections", headers=bearer), models.CollectionsResponse)
    assert "s3cret-key" not in " ".join(server.process.args)  # never on the command line
    assert "s3cret-key" not in server.log()


def test_read_only_key_reads_but_cannot_write(qdrant_standin_factory: Any) -> None:
    server = qdrant_standin_factory("--read-only-api-key", "reader", api_key="admin")
    with httpx.Client(base_url=server.url) as http:
        body = {"vectors": {"size": 4, "distance": "Dot"}}
        assert (
            http.put("/collections/x", json=body, headers={"api-key": "reader"}).status_code == 403
        )
        result(http.put("/collections/x", json=body, headers={"api-key": "admin"}), bool)
        result(http.get("/collections/x", headers={"api-key": "reader"}), models.CollectionInfo)


# --- the real client -------------------------------------------------------------------------


def test_qdrant_client_drives_the_stand_in(
    client: QdrantClient, qdrant_standin: StandinProcess
) -> None:
    client.create_collection(
        "general-knowledge",
        vectors_config=models.VectorParams(size=16, distance=models.Distance.COSINE),
    )
    client.create_collection(
        "legal-knowledge", vectors_config=models.VectorParams(size=16, distance=models.Distance.DOT)
    )
    assert {c.name for c in client.get_collections().collections} == {
        "general-knowledge",
        "legal-knowledge",
    }
    assert client.collection_exists("legal-knowledge")
    info = client.get_collection("general-knowledge")
    assert info.config.params.vectors.size == 16
    assert info.config.params.vectors.distance == models.Distance.COSINE

    points = [
        models.PointStruct(id=i, vector=row, payload={"doc": f"d{i}"})
        for i, row in enumerate(vectors(40, 16))
    ]
    client.upsert("general-knowledge", points=points, wait=True)
    assert client.count("general-knowledge", exact=True).count == 40
    client.create_payload_index("general-knowledge", "doc", models.PayloadSchemaType.KEYWORD)
    assert client.get_collection("general-knowledge").payload_schema["doc"].points == 40
    hits = client.query_points("general-knowledge", query=points[5].vector, limit=1).points
    assert hits[0].id == 5
    found, _ = client.scroll(
        "general-knowledge",
        scroll_filter=models.Filter(
            must=[models.FieldCondition(key="doc", match=models.MatchValue(value="d9"))]
        ),
    )
    assert [p.id for p in found] == [9]

    snapshot = client.create_snapshot("general-knowledge", wait=True)
    assert snapshot is not None
    assert [s.name for s in client.list_snapshots("general-knowledge")] == [snapshot.name]
    data = httpx.get(
        f"{qdrant_standin.url}/collections/general-knowledge/snapshots/{snapshot.name}"
    ).content
    assert hashlib.sha256(data).hexdigest() == snapshot.checksum

    client.delete_collection("general-knowledge")
    assert not client.collection_exists("general-knowledge")
    uploaded = client.http.snapshots_api.recover_from_uploaded_snapshot(
        collection_name="general-knowledge",
        wait=True,
        checksum=snapshot.checksum,
        snapshot=io.BytesIO(data),
    )
    assert uploaded.result is True
    assert client.count("general-knowledge").count == 40

    client.upsert(
        "general-knowledge",
        points=[*points[:1], models.PointStruct(id=99, vector=points[0].vector)],
    )
    location = f"file://{qdrant_standin.snapshots}/general-knowledge/{snapshot.name}"
    assert client.recover_snapshot("general-knowledge", location=location, wait=True)
    assert client.count("general-knowledge").count == 40

    full = client.create_full_snapshot(wait=True)
    assert full is not None
    assert [s.name for s in client.list_full_snapshots()] == [full.name]
    client.delete_full_snapshot(full.name, wait=True)
    client.delete_snapshot("general-knowledge", snapshot.name, wait=True)
    assert client.list_snapshots("general-knowledge") == []

    client.delete_collection("legal-knowledge")
    assert [c.name for c in client.get_collections().collections] == ["general-knowledge"]


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_qdrant_client_with_and_without_the_api_key(qdrant_standin_factory: Any) -> None:
    server = qdrant_standin_factory(api_key="k-123")
    keyed = QdrantClient(url=server.url, api_key="k-123", https=False, check_compatibility=False)
    keyless = QdrantClient(url=server.url, check_compatibility=False)
    try:
        keyed.create_collection(
            "c", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)
        )
        assert keyed.collection_exists("c")
        with pytest.raises(UnexpectedResponse) as refused:
            keyless.get_collections()
        assert refused.value.status_code == 401
    finally:
        keyed.close()
        keyless.close()


def test_access_log_uses_qdrants_format(http: httpx.Client, qdrant_standin: StandinProcess) -> None:
    http.get("/collections")
    logged = qdrant_standin.wait_for_log('"GET /collections ')
    lines = [line for line in logged.splitlines() if '"GET /collections ' in line]
    stamp, level, target = lines[-1].split()[:3]
    assert stamp.endswith("Z") and level == "INFO"
    assert target == "actix_web::middleware::logger:"
    assert json.loads(http.get("/").text)["title"].endswith("(alfred-tui stand-in)")
