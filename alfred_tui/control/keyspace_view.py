"""The Keyspace pane's data: one analysis of the session's Redis, as plain rows.

:class:`KeyspaceScanner` runs what ``alfred-tui keyspace`` runs
(:class:`~alfred_tui.databases.keyspace.KeyspaceAnalyzer`) on the session's
Redis and turns the report into a :class:`KeyspaceView`: strings ready to
show, sampled figures with their error bound (``12.3k ±410``), so screens
never import a database module. The analysis is cancellable at any await
(the pane's Esc, a pane or target switch): Redis finishes at most the one
short script in flight and the analyzer closes its connections.

A scan is not a poll: it reads every key (or a sample), so it runs when the
pane is first shown, on ``r``, and when the mode changes; never on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from alfred_tui.backends.base import ProgressCallback, no_progress
from alfred_tui.control.data_targets import import_in_thread, redis_target
from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.control.session import Session
    from alfred_tui.databases.keyspace_model import KeyspaceReport

RESOURCE_KEY = "keyspace"
Mode = Literal["auto", "exact", "sample"]
DEFAULT_SAMPLE_PCT = 1.0
CALL_TIMEOUT = 5.0
"""Seconds for each call to Redis (the whole scan is as long as the keyspace needs)."""
SCAN_TIMEOUT = 3600.0
"""A ceiling on a whole scan, far above 10M keys read exactly."""


class RedisUnreachable(AlfredError):
    """Redis did not answer; the message says where and why."""

    title = "Redis unavailable"


@dataclass(frozen=True)
class DatabaseRow:
    """One Redis database."""

    db: int
    purpose: str
    """The profile's purpose; empty for a database the profile does not map."""
    keys: str
    expires: str
    avg_ttl: str
    memory: str
    read: str
    """``exact`` or ``1,000 draws``."""
    sampled: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupRow:
    """One key group (a profile prefix, or keys by their first two segments) of a database."""

    db: int
    name: str
    keys: str
    memory: str
    types: str
    """``string 90% hash 10%``."""
    ttl: str
    """``no TTL 50% <1h 50%``."""
    misplaced: str
    """``profile: db 1`` when the profile puts this prefix in another database."""
    sampled: bool


@dataclass(frozen=True)
class BigKeyRow:
    """One of the biggest keys."""

    db: int
    key: str
    type: str
    elements: str
    memory: str
    """``4.1 MiB``; ``4.1 MiB ~`` when measured from a sample of its elements."""
    ttl: str
    from_sample: bool


@dataclass(frozen=True)
class QueueRow:
    """A queue (list, sorted set or stream under the queue prefix) and its length."""

    db: int
    key: str
    type: str
    length: str


@dataclass(frozen=True)
class ChannelRow:
    """A pub/sub channel and its subscribers."""

    name: str
    subscribers: int


@dataclass(frozen=True)
class KeyspaceView:
    """One analysis, ready to show."""

    address: str
    summary: str
    """``redis 7.2.4 at 127.0.0.1:6379: used memory 1.2 GiB, exact (lua) in 1.2s`` (the CLI's)."""
    redis_version: str
    used_memory: str
    how: str
    """How it was read, in short: ``exact, 1.8s`` or ``sampled 1%, 95% bounds, 310.0ms``."""
    mode: str
    """``exact``, ``sampled`` or ``mixed`` (what the analysis did)."""
    confidence: float
    sample_pct: float | None
    databases: tuple[DatabaseRow, ...]
    groups: tuple[GroupRow, ...]
    top_keys: tuple[BigKeyRow, ...]
    queues: tuple[QueueRow, ...]
    queues_total: int
    pubsub_db: int | None
    """The profile's pub/sub database (channels are server-wide in Redis)."""
    channels: tuple[ChannelRow, ...]
    channels_total: int
    patterns: int
    notes: tuple[str, ...]

    @property
    def sampled(self) -> bool:
        """Whether any figure is an estimate (then it carries its ``±`` bound)."""
        return self.mode != "exact"


def build_view(report: KeyspaceReport) -> KeyspaceView:
    """The pane's rows from the analysis (the CLI's formatting, one line per cell)."""
    from alfred_tui.render.keyspace import (
        format_count,
        format_seconds,
        format_size,
        summary_line,
        ttl_mix,
        type_mix,
    )
    from alfred_tui.units import format_bytes, format_duration

    databases = tuple(
        DatabaseRow(
            db=database.db,
            purpose=database.purpose,
            keys=f"{database.keys:,}",
            expires=f"{database.expires:,}",
            avg_ttl=format_seconds(database.avg_ttl_seconds),
            memory=format_size(database.memory),
            read="exact" if database.mode == "exact" else f"{database.scanned:,} draws",
            sampled=database.mode != "exact",
            notes=database.notes,
        )
        for database in report.databases
    )
    groups = tuple(
        GroupRow(
            db=database.db,
            name=group.name,
            keys=format_count(group.keys),
            memory=format_size(group.memory),
            types=type_mix(group),
            ttl=ttl_mix(group),
            misplaced=f"profile: db {group.expected_db}" if group.misplaced else "",
            sampled=database.mode != "exact",
        )
        for database in report.databases
        for group in database.groups
    )
    top_keys = tuple(
        BigKeyRow(
            db=key.db,
            key=key.key,
            type=key.type,
            elements=f"{key.elements:,}" if key.elements is not None else "",
            memory=format_bytes(key.memory) + ("" if key.memory_exact else " ~"),
            ttl=format_duration(key.ttl_seconds) if key.ttl_seconds is not None else "-",
            from_sample=key.from_sample,
        )
        for key in report.top_keys
    )
    pubsub = report.pubsub
    notes = [
        f"db {database.db}: {note}" for database in report.databases for note in database.notes
    ]
    notes += list(report.notes)
    how = "exact" if report.mode == "exact" else f"{report.mode} {report.sample_pct:g}%"
    if report.mode != "exact":
        how += f", {report.confidence:.0%} bounds"
    engines = sorted({database.engine for database in report.databases})
    if engines == ["pipeline"]:
        how += " (no scripts: pipelines)"
    how += f", {format_duration(report.duration_ms / 1000)}"
    return KeyspaceView(
        address=report.address,
        summary=summary_line(report),
        redis_version=report.redis_version,
        used_memory=format_bytes(report.used_memory),
        how=how,
        mode=report.mode,
        confidence=report.confidence,
        sample_pct=report.sample_pct,
        databases=databases,
        groups=groups,
        top_keys=top_keys,
        queues=tuple(
            QueueRow(queue.db, queue.key, queue.type, f"{queue.length:,}")
            for queue in report.queues
        ),
        queues_total=report.queues_total,
        pubsub_db=pubsub.db if pubsub else None,
        channels=tuple(ChannelRow(c.name, c.subscribers) for c in pubsub.channels)
        if pubsub
        else (),
        channels_total=pubsub.channels_total if pubsub else 0,
        patterns=pubsub.patterns if pubsub else 0,
        notes=tuple(notes),
    )


class KeyspaceReader(Protocol):
    """What the pane needs from a keyspace source (fixed data stands in for snapshots)."""

    async def scan(self, mode: Mode, sample_pct: float, progress: ProgressCallback) -> KeyspaceView:
        """One analysis; cancellable."""
        ...

    async def close(self) -> None:
        """Release what is held between scans (nothing, for the real one)."""
        ...


class KeyspaceScanner:
    """The session's Redis, through the keyspace analysis."""

    def __init__(self, session: Session, *, timeout: float = CALL_TIMEOUT) -> None:
        self.session = session
        self.timeout = timeout

    async def scan(
        self,
        mode: Mode = "auto",
        sample_pct: float = DEFAULT_SAMPLE_PCT,
        progress: ProgressCallback = no_progress,
    ) -> KeyspaceView:
        """Analyse the profile's databases and every non-empty one, as ``alfred-tui keyspace``."""
        target = await redis_target(self.session)
        await import_in_thread("alfred_tui.databases.keyspace")
        await import_in_thread("alfred_tui.render.keyspace")
        from alfred_tui.databases.failures import DatabaseUnavailable
        from alfred_tui.databases.keyspace import KeyspaceAnalyzer

        analyzer = KeyspaceAnalyzer(
            target, self.session.profile.redis_databases, timeout=self.timeout
        )
        try:
            report = await analyzer.analyze(None, mode, sample_pct, progress)
        except DatabaseUnavailable as exc:
            raise RedisUnreachable(f"{exc.reason}") from None
        view = build_view(report)
        self.session.tap.keyspace(view)
        return view

    async def close(self) -> None:
        return None  # each scan opens and closes its own connections


def scanner_for(session: Session) -> KeyspaceReader:
    """The session's keyspace scanner."""
    reader: KeyspaceReader = session.resource(RESOURCE_KEY, KeyspaceScanner)
    return reader
