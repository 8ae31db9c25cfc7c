"""Replication as the service's endpoint sees it, as Rich tables for the detail view.

The probe keeps the endpoint's own replication view in its details
(``replication``: PostgreSQL standbys and slots, Redis replicas) and
Qdrant's cluster (``cluster``); these tables show them as the primary sees
them, which is the side that keeps counting while a replica is frozen.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from alfred_tui.control.monitor import ServiceView
from alfred_tui.units import format_bytes, format_duration


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left", box=None, expand=True, pad_edge=False)
    for index, column in enumerate(columns):
        # The first column names the row: it may fold; the others stay on one line.
        table.add_column(column, overflow="fold", no_wrap=index > 0)
    return table


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return "0s" if value < 1 else format_duration(value)


def _bytes(value: int | float | None) -> str:
    return "-" if value is None else format_bytes(value, 0)


def _postgres(view: dict[str, Any], wide: bool) -> list[Any]:
    parts: list[Any] = []
    if view.get("role") == "replica":
        receiver = view.get("receiver") or {}
        line = (
            f"this endpoint is a standby: receiver {receiver.get('status', 'absent')}"
            f", from {receiver.get('sender_host') or '?'}:{receiver.get('sender_port') or '?'}"
        )
        if view.get("not_streaming"):
            line += f"; {view['not_streaming']}"
        return [Text(""), Text(line)]
    columns: tuple[str, ...] = (
        ("Name", "Client", "State", "Sync", "Replay LSN", "Lag", "Behind", "Replied")
        if wide
        else ("Name", "State", "Lag", "Behind", "Replied")
    )
    standbys = _table("Standbys, as the primary sees them", columns)
    for row in view.get("standbys") or []:
        cells = {
            "Name": row.get("name") or "-",
            "Client": row.get("client") or "-",
            "State": row.get("state") or "-",
            "Sync": row.get("sync_state") or "-",
            "Replay LSN": row.get("replay_lsn") or "-",
            "Lag": _seconds(row.get("lag_seconds")),
            "Behind": _bytes(row.get("lag_bytes")),
            "Replied": _seconds(row.get("reply_age_seconds")) + " ago",
        }
        standbys.add_row(*(cells[column] for column in columns))
    if not view.get("standbys"):
        standbys.caption = "no standby streams from this primary"
        standbys.caption_justify = "left"
    parts += [Text(""), standbys]
    slots = view.get("slots") or []
    if slots:
        table = _table("Replication slots", ("Slot", "Type", "Active", "Retains WAL", "WAL status"))
        for slot in slots:
            table.add_row(
                slot.get("name") or "-",
                slot.get("type") or "-",
                "yes" if slot.get("active") else "no",
                _bytes(slot.get("retained_bytes")),
                slot.get("wal_status") or "-",
            )
        parts += [Text(""), table]
    return parts


def _redis(view: dict[str, Any]) -> list[Any]:
    if view.get("role") == "replica":
        line = f"this endpoint is a replica of {view.get('master') or '?'}"
        if view.get("not_streaming"):
            line += f": {view['not_streaming']}"
        return [Text(""), Text(line)]
    table = _table(
        "Replicas, as the master sees them", ("Address", "State", "Offset", "Behind", "Last ack")
    )
    for link in view.get("replicas") or []:
        table.add_row(
            link.get("address") or "-",
            link.get("state") or "-",
            str(link.get("offset", "-")),
            _bytes(link.get("lag_bytes")),
            _seconds(link.get("ack_age_seconds")) + " ago",
        )
    if not view.get("replicas"):
        table.caption = "no replica follows this master"
        table.caption_justify = "left"
    return [Text(""), table]


def _qdrant(cluster: dict[str, Any]) -> list[Any]:
    if not cluster.get("enabled"):
        return [Text(""), Text(f"cluster: {cluster.get('summary') or 'single node'}")]
    peers = _table("Cluster peers", ("Peer", "URI", "Role"))
    for peer in cluster.get("peers") or []:
        peers.add_row(str(peer.get("id")), peer.get("uri") or "-", peer.get("role") or "-")
    shards = _table("Shards", ("Collection", "Shard", "Peer", "State", "Points"))
    for shard in cluster.get("shards") or []:
        shards.add_row(
            shard.get("collection") or "-",
            str(shard.get("shard_id")),
            str(shard.get("peer_id")),
            shard.get("state") or "-",
            "-" if shard.get("points") is None else str(shard["points"]),
        )
    return [Text(""), Text(cluster.get("summary") or ""), peers, Text(""), shards]


def replication_sections(view: ServiceView, wide: bool = True) -> list[Any]:
    """The endpoint's replication (or Qdrant's cluster) as tables; nothing when unknown."""
    details = view.report.details if view.report is not None else {}
    if view.kind == "qdrant":
        cluster = details.get("cluster")
        return _qdrant(cluster) if isinstance(cluster, dict) else []
    replication = details.get("replication")
    if not isinstance(replication, dict):
        return []
    return _postgres(replication, wide) if view.kind == "postgres" else _redis(replication)
