"""What a keyspace analysis found: per database, per key group, the biggest keys, queues, channels.

Plain frozen data, returned by
:class:`~alfred_tui.databases.keyspace.KeyspaceAnalyzer` and read by the
Keyspace pane (through :mod:`alfred_tui.control.keyspace_view`) and by
``alfred-tui keyspace`` (:mod:`alfred_tui.render.keyspace`). Figures of a
sampled database are :class:`~alfred_tui.databases.keyspace_stats.Estimate`
values with their interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alfred_tui.databases.keyspace_stats import Estimate
from alfred_tui.errors import AlfredError

Mode = Literal["auto", "exact", "sample"]
Engine = Literal["lua", "pipeline"]
#: Channels a report lists, most subscribed first.
MAX_CHANNELS = 1_000


class KeyspaceRefused(AlfredError):
    """Redis refused a command the analysis needs (ACL rules, a renamed command)."""

    title = "Redis refused"


@dataclass(frozen=True)
class KeyGroup:
    """Keys of one group in one database."""

    name: str
    """``alfred:cache:*``, ``celery:task:*``, ``(no prefix)`` or ``(other)``."""
    declared: bool
    """A prefix of the profile's database map."""
    expected_db: int | None
    """Where the profile puts this prefix (None for undeclared groups)."""
    misplaced: bool
    """Declared for another database than the one it was found in."""
    keys: Estimate
    memory: Estimate
    types: dict[str, Estimate]
    ttl: dict[str, Estimate]
    """By bucket: ``none``, ``lt_1h``, ``lt_1d``, ``longer``."""
    sampled: int
    """Draws that fell in this group (0 when read exactly)."""


@dataclass(frozen=True)
class DatabaseKeyspace:
    """One database's figures."""

    db: int
    purpose: str
    prefix: str | None
    in_profile: bool
    mode: Literal["exact", "sampled"]
    engine: Engine
    keys: int
    """``INFO keyspace`` when the analysis started (exact)."""
    expires: int
    """Keys with a TTL, from ``INFO keyspace`` (exact)."""
    scanned: int
    """Keys read (exact) or draws (sampled)."""
    avg_ttl_seconds: Estimate | None
    """Over keys with a TTL; None when none has one."""
    memory: Estimate
    """Sum of ``MEMORY USAGE`` over the keys."""
    groups: tuple[KeyGroup, ...]
    """Largest memory first."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BigKey:
    """One of the biggest keys."""

    db: int
    key: str
    group: str
    type: str
    memory: int
    memory_exact: bool
    """Measured in full (False: from :data:`BIG_KEY_SAMPLES` elements)."""
    elements: int | None
    """Length: bytes of a string, fields, items or members of a collection."""
    ttl_seconds: float | None
    from_sample: bool
    """Found by sampling: among the biggest drawn, maybe not the biggest there are."""


@dataclass(frozen=True)
class QueueLength:
    """A queue key and its length."""

    db: int
    key: str
    type: str
    length: int


@dataclass(frozen=True)
class Channel:
    """A pub/sub channel with at least one subscriber."""

    name: str
    subscribers: int


@dataclass(frozen=True)
class PubSubInfo:
    """Pub/sub activity (server-wide; shown with the profile's pub/sub database)."""

    db: int | None
    channels: tuple[Channel, ...]
    """Most subscribed first, at most :data:`MAX_CHANNELS`."""
    channels_total: int
    patterns: int
    """Pattern subscriptions (``PSUBSCRIBE``), server-wide."""


@dataclass(frozen=True)
class KeyspaceReport:
    """The whole analysis."""

    address: str
    redis_version: str
    used_memory: int
    mode: Literal["exact", "sampled", "mixed"]
    confidence: float
    sample_pct: float | None
    databases: tuple[DatabaseKeyspace, ...]
    top_keys: tuple[BigKey, ...]
    queues: tuple[QueueLength, ...]
    queues_total: int
    pubsub: PubSubInfo | None
    duration_ms: float
    notes: tuple[str, ...] = ()

    def database(self, db: int) -> DatabaseKeyspace:
        """The figures of database ``db`` (KeyError if it was not analysed)."""
        for item in self.databases:
            if item.db == db:
                return item
        raise KeyError(db)
