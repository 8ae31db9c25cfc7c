"""Qdrant collections against the profile (``alfred-tui collections`` and its data layer).

Against the Qdrant stand-in server (real segments, indexing and payload
indexes from qdrant-edge) and against an embedded qdrant-client store: missing
collections listed and created, drift flagged, extra ones listed, points
counted, the CLI twin's table and JSON (validated against its schema), and
errors as one line with exit 2.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from qdrant_standin.launcher import StandinProcess, write_qdrant_shim

from alfred_tui import paths
from alfred_tui.backends.base import Endpoint
from alfred_tui.config.loader import load_profile
from alfred_tui.databases.qdrant_collections import (
    QdrantUnavailable,
    ensure_collections,
    inspect_collections,
    report_json,
)

SPEC_COLLECTIONS = [
    "general-knowledge",
    "financial-knowledge",
    "legal-knowledge",
    "social-knowledge",
]
SCHEMA = json.loads((paths.assets_dir() / "schemas" / "collections.v1.schema.json").read_text())


def validate(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)


def put(
    server: StandinProcess, name: str, body: dict[str, Any], api_key: str | None = None
) -> None:
    headers = {"api-key": api_key} if api_key else {}
    reply = httpx.put(f"{server.url}/collections/{name}", json=body, headers=headers, timeout=60)
    assert reply.status_code == 200, reply.text


def load_points(server: StandinProcess, name: str, count: int, size: int) -> None:
    generator = random.Random(3)
    points = [
        {
            "id": i,
            "vector": [generator.random() for _ in range(size)],
            "payload": {"source": f"s{i % 4}"},
        }
        for i in range(count)
    ]
    reply = httpx.put(
        f"{server.url}/collections/{name}/points",
        params={"wait": "true"},
        json={"points": points},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text


def wait_green(server: StandinProcess, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        info = httpx.get(f"{server.url}/collections/{name}").json()["result"]
        if info["status"] == "green" or time.monotonic() > deadline:
            return info
        time.sleep(0.05)


def server_state(server: StandinProcess) -> None:
    """The spec's collections in every state: ok with data, two drifted, one missing, one extra."""
    put(
        server,
        "general-knowledge",
        {
            "vectors": {"size": 1536, "distance": "Cosine"},
            "optimizers_config": {"indexing_threshold": 100},
        },
    )
    load_points(server, "general-knowledge", 120, 1536)
    index = {"field_name": "source", "field_schema": "keyword"}
    assert (
        httpx.put(f"{server.url}/collections/general-knowledge/index", json=index).status_code
        == 200
    )
    put(server, "financial-knowledge", {"vectors": {"size": 768, "distance": "Cosine"}})
    put(server, "legal-knowledge", {"vectors": {"size": 1536, "distance": "Dot"}})
    put(server, "scratch", {"vectors": {"size": 4, "distance": "Euclid"}})
    wait_green(server, "general-knowledge")


def spec_profile() -> Any:
    return load_profile("base").profile


# --- data layer, server -------------------------------------------------------------------


async def test_server_collections_against_the_spec(qdrant_standin: StandinProcess) -> None:
    server_state(qdrant_standin)
    endpoint = Endpoint("127.0.0.1", qdrant_standin.port)
    report = await inspect_collections(spec_profile(), endpoint)

    assert report.address == qdrant_standin.url and not report.embedded
    by_name = {c.name: c for c in report.collections}
    assert [c.name for c in report.collections] == [*SPEC_COLLECTIONS, "scratch"]
    assert {name: c.state for name, c in by_name.items()} == {
        "general-knowledge": "ok",
        "financial-knowledge": "drift",
        "legal-knowledge": "drift",
        "social-knowledge": "missing",
        "scratch": "extra",
    }
    general = by_name["general-knowledge"]
    assert general.status == "green" and general.optimizer == "ok"
    assert general.points == 120
    assert general.indexed_vectors == 120  # indexed by the engine past the 100 kB threshold
    assert general.segments is not None and general.segments >= 1
    assert [(i.field, i.data_type, i.points) for i in general.payload_indexes or ()] == [
        ("source", "keyword", 120)
    ]
    assert general.purpose == "General RAG knowledge base"
    assert by_name["financial-knowledge"].drift == ("size 768, profile expects 1536",)
    assert by_name["legal-knowledge"].drift == ("distance Dot, profile expects Cosine",)
    assert by_name["social-knowledge"].points is None
    assert by_name["scratch"].expected is None
    assert by_name["scratch"].vectors[0].describe() == "4 Euclid"

    document = report_json(report, "docker")
    validate(document)
    assert document["summary"] == {
        "expected": 4,
        "present": 4,
        "ok": 1,
        "drift": 2,
        "missing": 1,
        "extra": 1,
        "created": 0,
    }


async def test_create_missing_creates_only_what_is_missing(qdrant_standin: StandinProcess) -> None:
    server_state(qdrant_standin)
    endpoint = Endpoint("127.0.0.1", qdrant_standin.port)
    report = await inspect_collections(spec_profile(), endpoint, create_missing=True)

    assert report.created == ["social-knowledge"]
    social = next(c for c in report.collections if c.name == "social-knowledge")
    assert social.state == "ok" and social.created and social.points == 0
    info = httpx.get(f"{qdrant_standin.url}/collections/social-knowledge").json()["result"]
    assert info["config"]["params"]["vectors"] == {"size": 1536, "distance": "Cosine"}
    # Drifted collections are left exactly as they were.
    financial = httpx.get(f"{qdrant_standin.url}/collections/financial-knowledge").json()["result"]
    assert financial["config"]["params"]["vectors"]["size"] == 768
    assert "scratch" in [
        c["name"]
        for c in httpx.get(f"{qdrant_standin.url}/collections").json()["result"]["collections"]
    ]


async def test_ensure_collections_with_an_api_key_is_idempotent(
    qdrant_standin_factory: Any, write_profile: Any
) -> None:
    server = qdrant_standin_factory(api_key="ensure-key")
    put(
        server, "general-knowledge", {"vectors": {"size": 1536, "distance": "Cosine"}}, "ensure-key"
    )
    path = write_profile(
        """
        extends: base
        services:
          qdrant:
            api_key: ensure-key
        """
    )
    profile = load_profile(str(path)).profile
    endpoint = Endpoint("127.0.0.1", server.port)
    created = await ensure_collections(profile, endpoint)
    assert created == ["financial-knowledge", "legal-knowledge", "social-knowledge"]
    assert await ensure_collections(profile, endpoint) == []
    names = httpx.get(f"{server.url}/collections", headers={"api-key": "ensure-key"}).json()
    assert sorted(c["name"] for c in names["result"]["collections"]) == sorted(SPEC_COLLECTIONS)


async def test_named_vectors_are_drift(qdrant_standin: StandinProcess) -> None:
    put(
        qdrant_standin,
        "general-knowledge",
        {"vectors": {"text": {"size": 1536, "distance": "Cosine"}}},
    )
    report = await inspect_collections(spec_profile(), Endpoint("127.0.0.1", qdrant_standin.port))
    general = report.collections[0]
    assert general.state == "drift"
    assert general.drift == (
        "has named vectors (text); the profile expects one unnamed 1536 Cosine vector",
    )


async def test_server_errors_are_one_line(qdrant_standin_factory: Any) -> None:
    server = qdrant_standin_factory(api_key="right")
    keyless = load_profile("base").profile.model_copy(deep=True)
    with pytest.raises(QdrantUnavailable) as refused:
        await inspect_collections(keyless, Endpoint("127.0.0.1", server.port))
    assert refused.value.one_line() == (
        f"Qdrant unavailable: authentication failed ({server.url}): api-key"
    )
    server.stop()
    with pytest.raises(QdrantUnavailable) as down:
        await inspect_collections(keyless, Endpoint("127.0.0.1", server.port), timeout=2)
    assert down.value.message == f"connection refused (127.0.0.1:{server.port})"


async def test_ensure_without_qdrant_or_collections_connects_nowhere(write_profile: Any) -> None:
    path = write_profile(
        """
        extends: base
        services:
          qdrant: {enabled: false}
        """
    )
    nowhere = Endpoint("127.0.0.1", 9)  # discard port: any connection attempt would fail
    assert await ensure_collections(load_profile(str(path)).profile, nowhere) == []


# --- data layer, embedded --------------------------------------------------------------------


def embedded_state(store: Path) -> None:
    from qdrant_client import QdrantClient
    from qdrant_client.http import models

    client = QdrantClient(path=str(store))
    try:
        client.create_collection(
            "general-knowledge",
            vectors_config=models.VectorParams(size=1536, distance=models.Distance.COSINE),
        )
        client.upsert(
            "general-knowledge",
            points=[models.PointStruct(id=i, vector=[0.1] * 1536) for i in range(7)],
        )
        client.create_collection(
            "legal-knowledge",
            vectors_config=models.VectorParams(size=384, distance=models.Distance.EUCLID),
        )
        client.create_collection(
            "notes", vectors_config=models.VectorParams(size=8, distance=models.Distance.DOT)
        )
    finally:
        client.close()


async def test_embedded_collections_against_the_spec(tmp_path: Path) -> None:
    store = tmp_path / "qdrant"
    embedded_state(store)
    endpoint = Endpoint(path=str(store))
    report = await inspect_collections(spec_profile(), endpoint)
    assert report.embedded and report.address == f"embedded:{store}"
    states = {c.name: c.state for c in report.collections}
    assert states == {
        "general-knowledge": "ok",
        "financial-knowledge": "missing",
        "legal-knowledge": "drift",
        "social-knowledge": "missing",
        "notes": "extra",
    }
    general = report.collections[0]
    assert general.points == 7
    # Not tracked by local mode: not available, never zero.
    assert (general.indexed_vectors, general.segments, general.payload_indexes) == (
        None,
        None,
        None,
    )
    assert general.optimizer is None
    legal = next(c for c in report.collections if c.name == "legal-knowledge")
    assert legal.drift == (
        "size 384, profile expects 1536",
        "distance Euclid, profile expects Cosine",
    )
    validate(report_json(report, "local"))

    created = await ensure_collections(spec_profile(), endpoint)
    assert created == ["financial-knowledge", "social-knowledge"]
    again = await inspect_collections(spec_profile(), endpoint)
    assert {c.name: c.state for c in again.collections}["social-knowledge"] == "ok"


async def test_embedded_store_is_created_only_when_asked(tmp_path: Path) -> None:
    store = tmp_path / "fresh"
    endpoint = Endpoint(path=str(store))
    with pytest.raises(QdrantUnavailable) as missing:
        await inspect_collections(spec_profile(), endpoint)
    assert "does not exist" in missing.value.message
    assert not store.exists()
    assert await ensure_collections(spec_profile(), endpoint) == SPEC_COLLECTIONS
    assert (store / "meta.json").is_file()


# --- the CLI twin --------------------------------------------------------------------------


@pytest.fixture
def server_profile(write_profile: Any, qdrant_standin: StandinProcess) -> Path:
    return write_profile(
        f"""
        extends: local
        services:
          qdrant:
            ports: ["127.0.0.1:{qdrant_standin.port}:6333"]
        """,
        name="standin",
    )


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """PATH with a `qdrant` binary (the stand-in shim): the local backend sees a server."""
    return {"PATH": f"{write_qdrant_shim(tmp_path / 'bin').parent}:/usr/bin:/bin"}


def test_cli_table_names_every_state(
    cli: Any, server_profile: Path, server_env: dict[str, str], qdrant_standin: StandinProcess
) -> None:
    server_state(qdrant_standin)
    run = cli("collections", "--profile", str(server_profile), env={**server_env, "COLUMNS": "160"})
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    out = run.stdout
    assert f"Qdrant {qdrant_standin.url}" in out
    general = next(line for line in out.splitlines() if line.startswith("general-knowledge"))
    name, state, dot, status, points, indexed, segments = general.split()[:7]
    assert (name, state, dot, status, points, indexed) == (
        "general-knowledge",
        "ok",
        "●",
        "green",
        "120",
        "120",
    )
    assert int(segments) >= 1
    assert "source:keyword (120)" in general
    assert "768 Cosine  profile: 1536 Cosine" in out
    assert "Missing 1 of the profile's collections: social-knowledge." in out
    assert "alfred-tui collections --create-missing" in out
    assert "* Drift in financial-knowledge: size 768, profile expects 1536." in out
    assert "Not in the profile (1): scratch" in out


def test_cli_json_validates_and_create_missing_reports_what_it_made(
    cli: Any, server_profile: Path, server_env: dict[str, str], qdrant_standin: StandinProcess
) -> None:
    server_state(qdrant_standin)
    run = cli("collections", "--profile", str(server_profile), "--output", "json", env=server_env)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    validate(document)
    assert document["summary"]["missing"] == 1 and document["created"] == []

    made = cli(
        "collections",
        "--profile",
        str(server_profile),
        "--create-missing",
        "-o",
        "json",
        env=server_env,
    )
    assert made.returncode == 0, made.stderr
    document = json.loads(made.stdout)
    validate(document)
    assert document["created"] == ["social-knowledge"]
    social = next(c for c in document["collections"] if c["name"] == "social-knowledge")
    assert social["state"] == "ok" and social["created"] is True

    table = cli("collections", "--profile", str(server_profile), "--create-missing", env=server_env)
    assert table.returncode == 0
    assert "Created" not in table.stdout  # nothing left to create
    assert "Missing" not in table.stdout


def test_cli_server_down_is_one_line_exit_2(
    cli: Any, server_profile: Path, server_env: dict[str, str], qdrant_standin: StandinProcess
) -> None:
    qdrant_standin.stop()
    run = cli("collections", "--profile", str(server_profile), "--timeout", "2", env=server_env)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.strip() == (
        f"Qdrant unavailable: connection refused (127.0.0.1:{qdrant_standin.port})"
    )


def test_cli_does_not_show_the_api_key(
    cli: Any, write_profile: Any, qdrant_standin_factory: Any, server_env: dict[str, str]
) -> None:
    server = qdrant_standin_factory(api_key="hidden-api-key-77")
    path = write_profile(
        f"""
        extends: local
        services:
          qdrant:
            api_key: wrong-key-88
            ports: ["127.0.0.1:{server.port}:6333"]
        """,
        name="keyed",
    )
    run = cli("collections", "--profile", str(path), env=server_env)
    assert run.returncode == 2
    assert "authentication failed" in run.stderr
    assert "wrong-key-88" not in run.stderr + run.stdout


def test_cli_embedded(cli: Any, write_profile: Any) -> None:
    path = write_profile("extends: local\n", name="embedded")
    env = {"PATH": "/usr/bin:/bin"}  # no `qdrant` binary: embedded
    before = cli("collections", "--profile", str(path), env=env)
    assert before.returncode == 2
    assert before.stderr.startswith("Qdrant unavailable: embedded store ")
    assert "does not exist" in before.stderr

    refused = cli("--readonly", "collections", "--profile", str(path), "--create-missing", env=env)
    assert refused.returncode == 2
    assert "refused with --readonly" in refused.stderr

    made = cli("collections", "--profile", str(path), "--create-missing", "-o", "json", env=env)
    assert made.returncode == 0, made.stderr
    document = json.loads(made.stdout)
    validate(document)
    assert document["embedded"] is True
    assert document["created"] == SPEC_COLLECTIONS
    assert all(
        c["segments"] is None and c["payload_indexes"] is None for c in document["collections"]
    )

    table = cli("collections", "--profile", str(path), env=env)
    assert table.returncode == 0
    assert "Embedded mode" in table.stdout
    assert "n/a" in table.stdout
