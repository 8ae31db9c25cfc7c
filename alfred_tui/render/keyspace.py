"""``alfred-tui keyspace``: the JSON document and the tables people read."""

from __future__ import annotations

import math
from typing import Any

from alfred_tui.databases.keyspace_model import DatabaseKeyspace, KeyGroup, KeyspaceReport
from alfred_tui.databases.keyspace_scripts import TTL_BUCKETS, TYPES
from alfred_tui.databases.keyspace_stats import Estimate
from alfred_tui.render import now_iso
from alfred_tui.units import format_bytes, format_duration

SCHEMA = "alfred-tui/keyspace"
VERSION = 1

TTL_LABELS = {"none": "no TTL", "lt_1h": "<1h", "lt_1d": "<1d", "longer": "longer"}


# --- JSON -------------------------------------------------------------------


def _whole(estimate: Estimate) -> dict[str, Any]:
    """A count or a size: whole numbers, bounds widened outward."""
    return {
        "value": round(estimate.value),
        "low": math.floor(estimate.low),
        "high": math.ceil(estimate.high),
        "exact": estimate.is_exact,
    }


def _seconds(estimate: Estimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "value": round(estimate.value, 3),
        "low": round(estimate.low, 3),
        "high": round(estimate.high, 3),
        "exact": estimate.is_exact,
    }


def _group_json(group: KeyGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "declared": group.declared,
        "expected_db": group.expected_db,
        "misplaced": group.misplaced,
        "keys": _whole(group.keys),
        "memory_bytes": _whole(group.memory),
        "types": {kind: _whole(group.types[kind]) for kind in TYPES},
        "ttl": {bucket: _whole(group.ttl[bucket]) for bucket in TTL_BUCKETS},
        "sampled": group.sampled,
    }


def _database_json(database: DatabaseKeyspace) -> dict[str, Any]:
    return {
        "db": database.db,
        "purpose": database.purpose,
        "prefix": database.prefix,
        "in_profile": database.in_profile,
        "mode": database.mode,
        "engine": database.engine,
        "keys": database.keys,
        "expires": database.expires,
        "scanned": database.scanned,
        "avg_ttl_seconds": _seconds(database.avg_ttl_seconds),
        "memory_bytes": _whole(database.memory),
        "groups": [_group_json(group) for group in database.groups],
        "notes": list(database.notes),
    }


def report_json(report: KeyspaceReport, profile: str) -> dict[str, Any]:
    """``alfred-tui/keyspace`` v1."""
    pubsub = report.pubsub
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "profile": profile,
        "address": report.address,
        "redis_version": report.redis_version,
        "used_memory_bytes": report.used_memory,
        "checked_at": now_iso(),
        "mode": report.mode,
        "confidence": report.confidence,
        "sample_pct": report.sample_pct,
        "duration_ms": round(report.duration_ms, 3),
        "databases": [_database_json(database) for database in report.databases],
        "top_keys": [
            {
                "db": key.db,
                "key": key.key,
                "group": key.group,
                "type": key.type,
                "memory_bytes": key.memory,
                "memory_exact": key.memory_exact,
                "elements": key.elements,
                "ttl_seconds": round(key.ttl_seconds, 3) if key.ttl_seconds is not None else None,
                "from_sample": key.from_sample,
            }
            for key in report.top_keys
        ],
        "queues": [
            {"db": queue.db, "key": queue.key, "type": queue.type, "length": queue.length}
            for queue in report.queues
        ],
        "queues_total": report.queues_total,
        "pubsub": None
        if pubsub is None
        else {
            "db": pubsub.db,
            "channels": [
                {"name": channel.name, "subscribers": channel.subscribers}
                for channel in pubsub.channels
            ],
            "channels_total": pubsub.channels_total,
            "patterns": pubsub.patterns,
        },
        "notes": list(report.notes),
    }


# --- tables -----------------------------------------------------------------


def _count(value: float) -> str:
    """``950``, ``12.3k``, ``4.56M``: short enough for a narrow column."""
    if abs(value) < 10_000:
        return f"{value:,.0f}"
    if abs(value) < 1_000_000:
        return f"{value / 1000:.1f}k"
    return f"{value / 1_000_000:.2f}M"


def format_count(estimate: Estimate) -> str:
    """A count, with ``±`` its margin when sampled."""
    text = _count(estimate.value)
    return text if estimate.is_exact else f"{text} ±{_count(estimate.margin)}"


def format_size(estimate: Estimate) -> str:
    """A size, with ``±`` its margin when sampled."""
    text = format_bytes(estimate.value)
    return text if estimate.is_exact else f"{text} ±{format_bytes(estimate.margin)}"


def format_seconds(estimate: Estimate | None) -> str:
    """A duration, with ``±`` its margin when sampled."""
    if estimate is None:
        return "-"
    text = format_duration(estimate.value)
    return text if estimate.is_exact else f"{text} ±{format_duration(estimate.margin)}"


def _cell(value: str, margin: str | None) -> Any:
    """A table cell: the figure, and under it its ``±`` margin (dim) when sampled."""
    from rich.text import Text

    text = Text(value)
    if margin is not None:
        text.append(f"\n±{margin}", "dim")
    return text


def count_cell(estimate: Estimate) -> Any:
    """A count cell for a table."""
    margin = None if estimate.is_exact else _count(estimate.margin)
    return _cell(_count(estimate.value), margin)


def size_cell(estimate: Estimate) -> Any:
    """A size cell for a table."""
    margin = None if estimate.is_exact else format_bytes(estimate.margin)
    return _cell(format_bytes(estimate.value), margin)


def seconds_cell(estimate: Estimate | None) -> Any:
    """A duration cell for a table."""
    if estimate is None:
        return "-"
    margin = None if estimate.is_exact else format_duration(estimate.margin)
    return _cell(format_duration(estimate.value), margin)


def _share(share: float) -> str:
    """``90%``; ``<1%`` for a share that exists but rounds to nothing (never ``0%``)."""
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def type_mix(group: KeyGroup) -> str:
    """``string 90% hash 10%``: the types present, largest share first."""
    total = group.keys.value or 1
    shares = sorted(
        ((group.types[kind].value / total, kind) for kind in TYPES if group.types[kind].value),
        reverse=True,
    )
    return " ".join(f"{kind} {_share(share)}" for share, kind in shares)


def ttl_mix(group: KeyGroup) -> str:
    """``<1d 49% longer 49% <1h 2%``: the TTL buckets present, largest share first."""
    total = group.keys.value or 1
    shares = sorted(
        (
            (group.ttl[bucket].value / total, TTL_LABELS[bucket])
            for bucket in TTL_BUCKETS
            if group.ttl[bucket].value
        ),
        reverse=True,
    )
    return " ".join(f"{label} {_share(share)}" for share, label in shares)


def summary_line(report: KeyspaceReport) -> str:
    """One line: where, how much, how it was read."""
    engines = sorted({database.engine for database in report.databases})
    mode: str = report.mode
    if report.sample_pct is not None:
        mode += f" {report.sample_pct:g}%, {report.confidence:.0%} intervals"
    return (
        f"redis {report.redis_version} at {report.address}: used memory "
        f"{format_bytes(report.used_memory)}, {mode} ({', '.join(engines) or 'no keys'}) "
        f"in {format_duration(report.duration_ms / 1000)}"
    )


def report_tables(report: KeyspaceReport) -> Any:
    """Rich renderables: databases, groups per database, biggest keys, queues, channels."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    def table(title: str) -> Table:
        return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)

    parts: list[Any] = []
    databases = table("Databases")
    databases.add_column("DB", justify="right", no_wrap=True, min_width=2)
    databases.add_column("Purpose", overflow="fold", min_width=10)
    databases.add_column("Keys", justify="right", no_wrap=True)
    databases.add_column("Expires", justify="right", no_wrap=True)
    databases.add_column("Avg TTL", justify="right", no_wrap=True)
    databases.add_column("Memory", justify="right", no_wrap=True)
    databases.add_column("Read", no_wrap=True)
    for database in report.databases:
        purpose = database.purpose or Text("not in the profile", "yellow")
        read = "exact" if database.mode == "exact" else f"{database.scanned:,} draws"
        databases.add_row(
            str(database.db),
            purpose,
            _count(database.keys),
            _count(database.expires),
            seconds_cell(database.avg_ttl_seconds),
            size_cell(database.memory),
            read,
        )
    parts.append(databases)
    for database in report.databases:
        if not database.groups:
            continue
        groups = table(f"DB {database.db} by key group")
        groups.add_column("Group", overflow="fold", min_width=16)
        groups.add_column("Keys", justify="right", no_wrap=True)
        groups.add_column("Memory", justify="right", no_wrap=True)
        groups.add_column("Types", overflow="fold", min_width=10)
        groups.add_column("TTL", overflow="fold", min_width=10)
        for group in database.groups:
            name = Text(group.name)
            if group.misplaced:
                name.append(f" (profile: db {group.expected_db})", "yellow")
            groups.add_row(
                name,
                count_cell(group.keys),
                size_cell(group.memory),
                type_mix(group),
                ttl_mix(group),
            )
        parts.append(groups)
        parts.extend(Text(f"db {database.db}: {note}", "yellow") for note in database.notes)
    if report.top_keys:
        top = table(f"Biggest {len(report.top_keys)} keys")
        top.add_column("DB", justify="right", no_wrap=True, min_width=2)
        top.add_column("Key", overflow="fold", min_width=16)
        top.add_column("Type", no_wrap=True)
        top.add_column("Elements", justify="right", no_wrap=True)
        top.add_column("Memory", justify="right", no_wrap=True)
        top.add_column("TTL", justify="right", no_wrap=True)
        for key in report.top_keys:
            memory = format_bytes(key.memory) + ("" if key.memory_exact else " ~")
            top.add_row(
                str(key.db),
                key.key,
                key.type,
                f"{key.elements:,}" if key.elements is not None else "",
                memory,
                format_duration(key.ttl_seconds) if key.ttl_seconds is not None else "-",
            )
        parts.append(top)
    if report.queues:
        shown = len(report.queues)
        title = "Queues" + (
            f" (longest {shown} of {report.queues_total})" if shown < report.queues_total else ""
        )
        queues = table(title)
        queues.add_column("DB", justify="right", no_wrap=True, min_width=2)
        queues.add_column("Queue", overflow="fold", min_width=16)
        queues.add_column("Type", no_wrap=True)
        queues.add_column("Length", justify="right", no_wrap=True)
        for queue in report.queues:
            queues.add_row(str(queue.db), queue.key, queue.type, f"{queue.length:,}")
        parts.append(queues)
    if report.pubsub is not None:
        pubsub = report.pubsub
        where = f" (db {pubsub.db}; channels are server-wide)" if pubsub.db is not None else ""
        total = pubsub.channels_total
        parts.append(
            Text(
                f"Pub/sub{where}: {total} channel{'s' if total != 1 else ''} with subscribers, "
                f"{pubsub.patterns} pattern subscription{'s' if pubsub.patterns != 1 else ''}"
            )
        )
        if pubsub.channels:
            channels = table("")
            channels.add_column("Channel", overflow="fold")
            channels.add_column("Subscribers", justify="right", no_wrap=True)
            for channel in pubsub.channels:
                channels.add_row(channel.name, str(channel.subscribers))
            parts.append(channels)
    parts.extend(Text(note, "yellow") for note in report.notes)
    return Group(*parts)
