"""Qdrant's cluster as one node sees it: peers, the Raft leader, each collection's shards.

A server started without cluster mode answers ``GET /cluster`` with
``{"status": "disabled"}``: a single node, nothing to replicate. In cluster
mode it lists its peers and Raft state, and ``GET /collections/{name}/cluster``
gives each shard's state on this peer and the others (``Active``,
``Partial``, ``Dead``...), which is where a lost replica of a shard shows.
Embedded Qdrant (qdrant-client's local mode) is a single node by nature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alfred_tui.databases.failures import DatabaseUnavailable

if TYPE_CHECKING:
    from alfred_tui.databases.qdrant import QdrantClient


def single_node(why: str) -> dict[str, Any]:
    """The cluster view of a node that is not in a cluster."""
    return {"enabled": False, "summary": why, "peers": [], "shards": []}


async def read_cluster(client: QdrantClient, collections: list[str]) -> dict[str, Any]:
    """The cluster view (``enabled``, ``summary``, ``peers``, ``shards``) of the node."""
    if client.target.embedded:
        return single_node("single node (embedded)")
    try:
        answer = await client.get_json("/cluster")
    except DatabaseUnavailable as exc:
        return single_node(f"cluster state not readable: {exc.reason}")
    result = answer.get("result") or {} if isinstance(answer, dict) else {}
    if result.get("status") != "enabled":
        return single_node("single node (cluster mode off)")
    raft = result.get("raft_info") or {}
    leader = raft.get("leader")
    peers = [
        {
            "id": int(peer_id),
            "uri": (info or {}).get("uri"),
            "role": "leader" if str(peer_id) == str(leader) else "follower",
        }
        for peer_id, info in sorted((result.get("peers") or {}).items())
    ]
    shards: list[dict[str, Any]] = []
    for name in collections:
        try:
            shard_answer = await client.get_json(f"/collections/{name}/cluster")
        except DatabaseUnavailable:
            continue
        info = shard_answer.get("result") or {}
        for shard in info.get("local_shards") or []:
            shards.append(
                {
                    "collection": name,
                    "shard_id": shard.get("shard_id"),
                    "peer_id": info.get("peer_id"),
                    "state": shard.get("state"),
                    "points": shard.get("points_count"),
                }
            )
        for shard in info.get("remote_shards") or []:
            shards.append(
                {
                    "collection": name,
                    "shard_id": shard.get("shard_id"),
                    "peer_id": shard.get("peer_id"),
                    "state": shard.get("state"),
                    "points": None,
                }
            )
    unhealthy = [s for s in shards if s.get("state") not in ("Active", None)]
    summary = f"cluster of {len(peers)} peer(s), leader {leader}, term {raft.get('term')}"
    if unhealthy:
        summary += f"; {len(unhealthy)} shard replica(s) not Active"
    return {"enabled": True, "summary": summary, "peers": peers, "shards": shards}
