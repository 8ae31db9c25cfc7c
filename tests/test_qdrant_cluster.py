"""Qdrant's cluster view: single node on the Qdrant stand-in and embedded; cluster mode parsed.

There is no Qdrant server here, let alone a cluster: a single node is read
from the Qdrant stand-in (which answers ``/cluster`` as Qdrant does without
cluster mode), and cluster mode from a tiny HTTP stand-in (named so) serving
the documents Qdrant 1.7's REST API returns for ``/cluster`` and
``/collections/{name}/cluster`` on a three-peer cluster with one dead shard
replica.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from qdrant_standin.launcher import StandinProcess

from alfred_tui.databases.qdrant import QdrantClient, QdrantTarget
from alfred_tui.databases.qdrant_cluster import read_cluster

CLUSTER = {
    "result": {
        "status": "enabled",
        "peer_id": 101,
        "peers": {"101": {"uri": "http://qdrant-0.qdrant:6335/"},
                  "102": {"uri": "http://qdrant-1.qdrant:6335/"},
                  "103": {"uri": "http://qdrant-2.qdrant:6335/"}},
        "raft_info": {"term": 4, "commit": 57, "pending_operations": 0, "leader": 102,
                      "role": "Follower", "is_voter": True},
    },
    "status": "ok",
    "time": 0.0001,
}  # fmt: skip
SHARDS = {
    "result": {
        "peer_id": 101,
        "shard_count": 2,
        "local_shards": [{"shard_id": 0, "points_count": 1200, "state": "Active"}],
        "remote_shards": [
            {"shard_id": 1, "peer_id": 102, "state": "Active"},
            {"shard_id": 0, "peer_id": 103, "state": "Dead"},
        ],
        "shard_transfers": [],
    },
    "status": "ok",
    "time": 0.0001,
}


@pytest.fixture
def cluster_standin() -> Iterator[str]:
    """A stand-in for one node of a Qdrant cluster: just the two cluster documents."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"/cluster": CLUSTER, "/collections/general-knowledge/cluster": SHARDS}.get(
                self.path
            )
            payload = json.dumps(body or {"status": {"error": "Not found"}}).encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_server_without_cluster_mode_is_a_single_node(
    qdrant_standin: StandinProcess,
) -> None:
    async with QdrantClient(QdrantTarget(url=qdrant_standin.url)) as client:
        view = await read_cluster(client, [])
    assert view == {
        "enabled": False,
        "summary": "single node (cluster mode off)",
        "peers": [],
        "shards": [],
    }


async def test_embedded_is_a_single_node(tmp_path: Path) -> None:
    async with QdrantClient(QdrantTarget(path=str(tmp_path))) as client:
        view = await read_cluster(client, [])
    assert (view["enabled"], view["summary"]) == (False, "single node (embedded)")


async def test_cluster_mode_lists_peers_and_shard_states(cluster_standin: str) -> None:
    async with QdrantClient(QdrantTarget(url=cluster_standin)) as client:
        view = await read_cluster(client, ["general-knowledge", "missing"])
    assert view["enabled"] is True
    assert [(p["id"], p["role"]) for p in view["peers"]] == [
        (101, "follower"), (102, "leader"), (103, "follower")
    ]  # fmt: skip
    assert {(s["shard_id"], s["peer_id"], s["state"]) for s in view["shards"]} == {
        (0, 101, "Active"),
        (1, 102, "Active"),
        (0, 103, "Dead"),
    }
    assert (
        view["summary"] == "cluster of 3 peer(s), leader 102, term 4; 1 shard replica(s) not Active"
    )
