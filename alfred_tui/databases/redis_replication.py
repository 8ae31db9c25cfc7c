"""Redis replication as one server sees it, from the ``INFO`` the probe already reads.

A master lists its replicas (``slaveN: ip, port, state, offset, lag``) and
its own replication offset; a replica reports its master, whether the link
is up (``master_link_status``), how long since it last heard from the master
(``master_last_io_seconds_ago``) and its own offset. Offsets count bytes of
the replication stream, so a replica's lag in bytes is the master's offset
less the replica's acknowledged one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class ReplicaLink:
    """One replica as its master lists it."""

    address: str
    """``ip:port`` as the replica announced it."""
    state: str
    """``wait_bgsave``, ``send_bulk``, ``online``..."""
    offset: int
    ack_age: int | None
    """Seconds since the replica last acknowledged (``lag`` in ``INFO``)."""
    lag_bytes: int | None

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "address": self.address,
            "state": self.state,
            "offset": self.offset,
            "ack_age_seconds": self.ack_age,
            "lag_bytes": self.lag_bytes,
        }


@dataclass(frozen=True)
class RedisReplication:
    """Replication as one Redis server sees it, master or replica."""

    role: str
    """``master`` or ``slave`` (Redis's words)."""
    offset: int
    """``master_repl_offset``: the stream position this server has reached."""
    replicas: tuple[ReplicaLink, ...] = ()
    master_host: str | None = None
    master_port: int | None = None
    link_up: bool | None = None
    """A replica's ``master_link_status`` (None on a master)."""
    last_io_age: int | None = None
    """``master_last_io_seconds_ago`` (-1 from Redis, None here, when the link is down)."""
    link_down_for: int | None = None
    """``master_link_down_since_seconds`` while the link is down."""
    sync_in_progress: bool = False

    @property
    def is_replica(self) -> bool:
        """Whether this server replicates from a master."""
        return self.role == "slave"

    def not_streaming(self) -> str:
        """Why a replica does not follow its master, in a few words; empty when it does."""
        if not self.is_replica:
            return ""
        if self.sync_in_progress:
            return "full synchronisation in progress"
        if not self.link_up:
            since = f" for {self.link_down_for} s" if self.link_down_for is not None else ""
            return f"link to master {self.master_host}:{self.master_port} is down{since}"
        return ""

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``check``, ``status`` and ``overview`` JSON."""
        return {
            "role": "primary" if not self.is_replica else "replica",
            "offset": self.offset,
            "replicas": [link.to_json() for link in self.replicas],
            "master": (None if not self.is_replica else f"{self.master_host}:{self.master_port}"),
            "master_link_up": self.link_up,
            "master_last_io_seconds_ago": self.last_io_age,
            "not_streaming": self.not_streaming() or None,
        }


def parse_replication(info: dict[str, Any]) -> RedisReplication:
    """The replication view from redis-py's parsed ``INFO`` (the replication section)."""
    role = str(info.get("role", "master"))
    offset = _int(info.get("master_repl_offset"), 0) or 0
    links = []
    index = 0
    while isinstance(info.get(f"slave{index}"), dict):
        item = info[f"slave{index}"]
        replica_offset = _int(item.get("offset"), 0) or 0
        links.append(
            ReplicaLink(
                address=f"{item.get('ip', '?')}:{item.get('port', '?')}",
                state=str(item.get("state", "")),
                offset=replica_offset,
                ack_age=_int(item.get("lag")),
                lag_bytes=max(0, offset - replica_offset) if role == "master" else None,
            )
        )
        index += 1
    if role != "slave":
        return RedisReplication(role=role, offset=offset, replicas=tuple(links))
    last_io = _int(info.get("master_last_io_seconds_ago"))
    return RedisReplication(
        role=role,
        offset=_int(info.get("slave_repl_offset"), offset) or 0,
        replicas=tuple(links),
        master_host=str(info.get("master_host", "")) or None,
        master_port=_int(info.get("master_port")),
        link_up=str(info.get("master_link_status", "")) == "up",
        last_io_age=None if last_io is None or last_io < 0 else last_io,
        link_down_for=_int(info.get("master_link_down_since_seconds")),
        sync_in_progress=bool(_int(info.get("master_sync_in_progress"), 0)),
    )


#: Seconds without an acknowledgement after which a master's link to a replica counts as
#: down: a replica acknowledges every second (``REPLCONF ACK``), so this is ten missed
#: acknowledgements, and the master's own keepalive period (``repl-ping-replica-period``).
LINK_STALE_SECONDS = 10


def link_is_up(link: ReplicaLink) -> bool:
    """Whether a master's link to this replica works: online and acknowledging."""
    return link.state == "online" and (link.ack_age is None or link.ack_age < LINK_STALE_SECONDS)


def replication_metrics(
    replication: RedisReplication | None,
) -> dict[str, tuple[float | None, str]]:
    """``redis_replication_lag_bytes`` and ``redis_master_link_up`` as this server sees them.

    On a master: the replica furthest behind in bytes, and the link seen from
    the master's end: 0 when any replica is not ``online`` or has not
    acknowledged for :data:`LINK_STALE_SECONDS` (a replica that froze or was
    cut off stays listed until ``repl-timeout``, 60 s). On a replica: its own
    ``master_link_status``; its lag in bytes needs its master's offset, which
    only the master's reading has.
    """
    if replication is None:
        return {
            "redis_replication_lag_bytes": (None, "replication not readable"),
            "redis_master_link_up": (None, "replication not readable"),
        }
    if replication.is_replica:
        why = replication.not_streaming()
        link_note = why or (
            f"master {replication.master_host}:{replication.master_port}, "
            f"last heard {replication.last_io_age} s ago"
        )
        return {
            "redis_replication_lag_bytes": (None, "this is a replica: its master has the lag"),
            "redis_master_link_up": (1.0 if replication.link_up else 0.0, link_note),
        }
    if not replication.replicas:
        none = "no replica follows this master"
        return {
            "redis_replication_lag_bytes": (None, none),
            "redis_master_link_up": (None, none),
        }
    count = len(replication.replicas)
    worst = max(replication.replicas, key=lambda link: (link.lag_bytes or 0, link.ack_age or 0))
    broken = [link for link in replication.replicas if not link_is_up(link)]
    if broken:
        first = broken[0]
        link_note = (
            f"{len(broken)} of {count} replica(s) not following: {first.address} "
            f"{first.state}, last ack {first.ack_age} s ago"
        )
    else:
        link_note = f"{count} replica(s) online"
    return {
        "redis_replication_lag_bytes": (
            float(worst.lag_bytes or 0),
            f"worst of {count} replica(s): {worst.address} ({worst.state}, "
            f"last ack {worst.ack_age} s ago)",
        ),
        "redis_master_link_up": (0.0 if broken else 1.0, link_note),
    }


async def promote(client: Any) -> None:
    """Make the replica ``client`` talks to a master, and write its dataset to disk.

    ``REPLICAOF NO ONE`` keeps the data and the replication history (the other
    replicas can continue with a partial resynchronisation); ``SAVE`` then
    writes the RDB file, so the data survives the restart that gives the new
    master the service's port and name, whatever the profile's ``save``
    setting.
    """
    await client.call("REPLICAOF", "NO", "ONE")
    await client.call("SAVE")
