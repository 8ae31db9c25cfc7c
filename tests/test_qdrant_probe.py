"""The Qdrant probe (``alfred_tui.databases.qdrant``) against the Qdrant stand-in and embedded mode.

Server figures come from the stand-in's real request counters (``/metrics``,
or ``/telemetry`` when ``/metrics`` is off); embedded mode has none, and the
probe must say so rather than report zero.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from qdrant_standin.launcher import StandinProcess, write_qdrant_shim

from alfred_tui.databases.failures import DatabaseUnavailable
from alfred_tui.databases.qdrant import (
    QdrantBusy,
    QdrantClient,
    QdrantTarget,
    qdrant_metrics,
    queries_per_second,
    request_stats_from_metrics,
)

COLLECTION = {"vectors": {"size": 4, "distance": "Cosine"}}


def create(server: StandinProcess, *names: str, api_key: str | None = None) -> None:
    headers = {"api-key": api_key} if api_key else {}
    for name in names:
        reply = httpx.put(f"{server.url}/collections/{name}", json=COLLECTION, headers=headers)
        assert reply.status_code == 200, reply.text


def traffic(server: StandinProcess, requests: int) -> None:
    """``requests`` real client requests (counts) besides the probe's own."""
    with httpx.Client(base_url=server.url) as http:
        for _ in range(requests):
            assert http.post("/collections/a/points/count", json={}).status_code == 200


async def sample_twice(target: QdrantTarget, server: StandinProcess, requests: int) -> Any:
    async with QdrantClient(target) as client:
        first = await client.sample()
        traffic(server, requests)
        second = await client.sample()
    return first, second


@pytest.mark.parametrize("metrics_enabled", [True, False], ids=["metrics", "telemetry"])
async def test_server_figures_from_metrics_or_telemetry(
    qdrant_standin_factory: Any, metrics_enabled: bool
) -> None:
    server = (
        qdrant_standin_factory() if metrics_enabled else qdrant_standin_factory("--disable-metrics")
    )
    create(server, "a", "b", "c")
    first, second = await sample_twice(QdrantTarget(url=server.url), server, 20)

    assert second.collections == ["a", "b", "c"]
    assert second.version == "1.7.4"
    assert second.requests is not None
    assert second.requests.source == ("metrics" if metrics_enabled else "telemetry")
    # Exactly the 20 requests made between the samples: not the probe's own GET /collections.
    elapsed = second.taken_at - first.taken_at
    rate = queries_per_second(second, first)
    assert rate is not None
    assert round(rate * elapsed) == 20

    metrics = qdrant_metrics(second, first)
    assert metrics["qdrant_collections_count"] == (3.0, "")
    duration, note = metrics["qdrant_request_duration_seconds"]
    assert duration is not None and 0 < duration < 5
    assert ("metrics" if metrics_enabled else "telemetry") in note
    assert metrics["qdrant_queries_per_second"][0] == rate


async def test_first_sample_has_no_rate_yet(qdrant_standin: StandinProcess) -> None:
    async with QdrantClient(QdrantTarget(url=qdrant_standin.url)) as client:
        sample = await client.sample()
    value, note = qdrant_metrics(sample, None)["qdrant_queries_per_second"]
    assert value is None and note == "needs a previous sample"


async def test_api_key_is_sent_and_a_wrong_one_is_reported(qdrant_standin_factory: Any) -> None:
    server = qdrant_standin_factory(api_key="probe-key")
    create(server, "a", api_key="probe-key")
    good = QdrantTarget(url=server.url, api_key=SecretStr("probe-key"))
    async with QdrantClient(good) as client:
        sample = await client.sample()
    assert sample.collections == ["a"]
    assert sample.requests is not None and sample.requests.source == "metrics"

    bad = QdrantTarget(url=server.url, api_key=SecretStr("nope"))
    async with QdrantClient(bad) as client:
        with pytest.raises(DatabaseUnavailable) as failure:
            await client.sample()
    assert "authentication failed" in failure.value.reason
    assert "nope" not in failure.value.reason


async def test_server_down_is_one_line(qdrant_standin: StandinProcess) -> None:
    qdrant_standin.stop()
    async with QdrantClient(QdrantTarget(url=qdrant_standin.url), timeout=2) as client:
        with pytest.raises(DatabaseUnavailable) as failure:
            await client.sample()
    assert failure.value.reason == f"connection refused (127.0.0.1:{qdrant_standin.port})"


@pytest.fixture
def not_qdrant() -> Iterator[str]:
    """An HTTP server that answers HTML, as a wrong port would."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_server_that_is_not_qdrant_is_named_as_such(not_qdrant: str) -> None:
    async with QdrantClient(QdrantTarget(url=not_qdrant)) as client:
        with pytest.raises(DatabaseUnavailable) as failure:
            await client.sample()
    assert failure.value.reason.startswith("not a Qdrant server")


def test_metrics_average_is_weighted_per_status() -> None:
    get = 'endpoint="/collections/{name}",method="GET"'
    probe = 'endpoint="/metrics",method="GET",status="200"'
    text = "\n".join(
        [
            f'rest_responses_total{{{get},status="200"}} 9',
            f'rest_responses_total{{{get},status="404"}} 1',
            f'rest_responses_avg_duration_seconds{{{get},status="200"}} 0.002',
            f'rest_responses_avg_duration_seconds{{{get},status="404"}} 0.1',
            f"rest_responses_total{{{probe}}} 50",
            f"rest_responses_avg_duration_seconds{{{probe}}} 1",
        ]
    )
    stats = request_stats_from_metrics(text)
    assert stats is not None
    assert stats.requests_total == 10  # /metrics is the probe's own
    assert stats.avg_duration_seconds == pytest.approx((9 * 0.002 + 1 * 0.1) / 10)


# --- embedded mode ---------------------------------------------------------------------


def make_store(path: Path, *names: str) -> None:
    from qdrant_client import QdrantClient as LocalClient
    from qdrant_client.http import models

    client = LocalClient(path=str(path))
    try:
        for name in names:
            client.create_collection(
                name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
            )
    finally:
        client.close()


async def test_embedded_reports_collections_and_no_request_figures(tmp_path: Path) -> None:
    store = tmp_path / "qdrant"
    make_store(store, "general-knowledge", "legal-knowledge")
    async with QdrantClient(QdrantTarget(path=str(store))) as client:
        first = await client.sample()
        second = await client.sample()
    assert second.embedded
    assert second.collections == ["general-knowledge", "legal-knowledge"]
    assert second.version.startswith("embedded (qdrant-client ")
    metrics = qdrant_metrics(second, first)
    assert metrics["qdrant_collections_count"] == (2.0, "")
    for name in ("qdrant_request_duration_seconds", "qdrant_queries_per_second"):
        assert metrics[name] == (None, "not exposed by embedded mode")  # never a zero


async def test_embedded_store_that_does_not_exist_is_down_and_not_created(tmp_path: Path) -> None:
    store = tmp_path / "never-deployed"
    async with QdrantClient(QdrantTarget(path=str(store))) as client:
        with pytest.raises(DatabaseUnavailable) as failure:
            await client.sample()
    assert "does not exist" in failure.value.reason
    assert not store.exists()


async def test_embedded_store_held_by_another_client_is_busy(tmp_path: Path) -> None:
    from qdrant_client import QdrantClient as LocalClient

    store = tmp_path / "qdrant"
    make_store(store, "a")
    holder = LocalClient(path=str(store))
    try:
        async with QdrantClient(QdrantTarget(path=str(store))) as client:
            with pytest.raises(QdrantBusy) as failure:
                await client.sample()
        assert "held by another process" in failure.value.reason
    finally:
        holder.close()


# --- through `alfred-tui check` ------------------------------------------------------------


def test_check_reads_the_stand_in_as_a_server_and_keeps_samples_between_runs(
    cli: Any, write_profile: Any, qdrant_standin: StandinProcess, tmp_path: Path
) -> None:
    create(qdrant_standin, "general-knowledge", "legal-knowledge")
    profile = write_profile(
        f"""
        extends: local
        services:
          postgres: {{enabled: false}}
          redis: {{enabled: false}}
          qdrant:
            ports: ["127.0.0.1:{qdrant_standin.port}:6333"]
        """
    )
    # A `qdrant` on PATH makes the local backend treat Qdrant as a server (the stand-in here).
    shim_dir = write_qdrant_shim(tmp_path / "bin").parent
    env = {"PATH": f"{shim_dir}:/usr/bin:/bin"}
    first = cli(
        "check", "--profile", str(profile), "--service", "qdrant", "--output", "json", env=env
    )
    time.sleep(0.2)
    second = cli(
        "check", "--profile", str(profile), "--service", "qdrant", "--output", "json", env=env
    )
    for run in (first, second):
        assert run.returncode in (0, 1), run.stderr
    report = json.loads(second.stdout)["services"][0]
    assert report["up"] is True
    assert report["address"] == qdrant_standin.url
    metrics = {m["name"]: m for m in report["metrics"]}
    assert metrics["qdrant_collections_count"]["value"] == 2
    assert metrics["qdrant_request_duration_seconds"]["available"] is True
    # The only traffic between the runs was the probes' own: zero queries per second.
    assert metrics["qdrant_queries_per_second"]["value"] == 0
    assert report["details"]["missing_collections"] == ["financial-knowledge", "social-knowledge"]


def test_check_on_an_embedded_store(cli: Any, write_profile: Any, tmp_path: Path) -> None:
    profile = write_profile(
        """
        extends: local
        services:
          postgres: {enabled: false}
          redis: {enabled: false}
        """,
        name="embedded",
    )
    env = {"PATH": "/usr/bin:/bin"}  # no `qdrant` binary: embedded
    before = cli(
        "check", "--profile", str(profile), "--service", "qdrant", "--output", "json", env=env
    )
    assert before.returncode == 2
    down = json.loads(before.stdout)["services"][0]
    assert down["up"] is False and "does not exist" in down["reason"]

    from alfred_tui import paths

    store = Path(paths.data_dir()) / "embedded" / "qdrant"
    assert not store.exists()
    make_store(store, "general-knowledge")
    after = cli(
        "check", "--profile", str(profile), "--service", "qdrant", "--output", "json", env=env
    )
    report = json.loads(after.stdout)["services"][0]
    assert report["up"] is True and report["details"]["embedded"] is True
    metrics = {m["name"]: m for m in report["metrics"]}
    assert metrics["qdrant_collections_count"]["value"] == 1
    for name in ("qdrant_request_duration_seconds", "qdrant_queries_per_second"):
        assert metrics[name]["value"] is None
        assert metrics[name]["available"] is False
        assert metrics[name]["note"] == "not exposed by embedded mode"
