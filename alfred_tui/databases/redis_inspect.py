"""Redis diagnostics: memory, evictions, slow log, latency events, clients, big keys.

Everything here is bounded so it is safe to run against a production server
at 3 a.m.: key sampling uses ``SCAN`` with a hard cap on keys (never
``KEYS``), ``MEMORY USAGE`` uses Redis's default sampling of nested values,
and every command goes through :class:`RedisClient` with its timeouts.

Key names are shown (that is what they are for) but pass through
:func:`redact`; command arguments from the slow log do too, and Redis itself
already hides the arguments of ``AUTH`` and friends.

Why one module of this size: one reading of the server (memory, evictions,
slow log, latency, clients, big keys) that the two Redis runbooks share,
each part a short function over one INFO or command reply.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from alfred_tui.database_actions import ActionOutcome, ActionRefused, ReadOnlyRefused, record
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.databases.redis import RedisClient

POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)

#: Length-of commands by type, for "how many elements" in a big key.
_LENGTH = {
    "list": "LLEN",
    "hash": "HLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
    "string": "STRLEN",
}


def text(value: Any) -> str:
    """A reply element as text (replies are bytes; undecodable bytes are escaped)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return "" if value is None else str(value)


def number(value: Any, default: float = 0.0) -> float:
    """A reply element as a number."""
    try:
        return float(text(value))
    except ValueError:
        return default


async def info(client: RedisClient, *sections: str) -> dict[str, Any]:
    """``INFO`` sections, parsed (keys as text)."""
    reply = await client.call("INFO", *sections) if sections else await client.call("INFO")
    return {text(key): value for key, value in (reply or {}).items()}


async def config_get(client: RedisClient, name: str) -> str | None:
    """One ``CONFIG GET`` value, or None when CONFIG is renamed or disabled."""
    try:
        reply = await client.call("CONFIG", "GET", name)
    except Exception as exc:
        if type(exc).__name__ == "ResponseError":
            return None
        raise
    if isinstance(reply, dict):
        for key, value in reply.items():
            if text(key) == name:
                return text(value)
        return None
    if isinstance(reply, list) and len(reply) >= 2:
        return text(reply[1])
    return None


async def server_time(client: RedisClient) -> float:
    """The server's clock (``TIME``), in Unix seconds."""
    reply = await client.call("TIME")
    if isinstance(reply, tuple | list):
        return number(reply[0]) + number(reply[1]) / 1e6
    return time.time()


# --- memory ------------------------------------------------------------------


@dataclass(frozen=True)
class MemorySample:
    """Memory and eviction counters at one moment."""

    taken_at: float
    used: int
    rss: int
    peak: int
    maxmemory: int
    policy: str
    fragmentation: float
    evicted_keys: int
    expired_keys: int
    oom_rejections: int
    """Writes refused with "OOM command not allowed" since start (``INFO errorstats``)."""
    keyspace: dict[int, tuple[int, int]]
    """db -> (keys, keys with a TTL)."""


async def memory_sample(client: RedisClient) -> MemorySample:
    """One reading of memory, evictions and refused writes (one round trip)."""
    data = await info(client, "memory", "stats", "errorstats", "keyspace")
    oom = data.get("errorstat_OOM")
    keyspace = {
        int(key[2:]): (int(value.get("keys", 0)), int(value.get("expires", 0)))
        for key, value in data.items()
        if key.startswith("db") and key[2:].isdigit() and isinstance(value, dict)
    }
    return MemorySample(
        taken_at=time.monotonic(),
        used=int(number(data.get("used_memory"))),
        rss=int(number(data.get("used_memory_rss"))),
        peak=int(number(data.get("used_memory_peak"))),
        maxmemory=int(number(data.get("maxmemory"))),
        policy=text(data.get("maxmemory_policy")),
        fragmentation=number(data.get("mem_fragmentation_ratio")),
        evicted_keys=int(number(data.get("evicted_keys"))),
        expired_keys=int(number(data.get("expired_keys"))),
        oom_rejections=int(number(oom.get("count", 0))) if isinstance(oom, dict) else 0,
        keyspace=keyspace,
    )


def rate(current: float, previous: float, seconds: float) -> float | None:
    """Per-second change of a counter; None when it went back (a restart) or no time passed."""
    if seconds <= 0 or current < previous:
        return None
    return (current - previous) / seconds


# --- key sampling --------------------------------------------------------------


@dataclass(frozen=True)
class KeySample:
    """One sampled key."""

    db: int
    key: str
    type: str
    memory: int
    """Bytes from ``MEMORY USAGE`` (an estimate for big collections)."""
    length: int | None = None
    """Elements (or bytes of a string), for the biggest keys only."""
    raw: bytes = field(default=b"", repr=False, compare=False)
    """The key as stored, for follow-up commands (``key`` is for display)."""


async def sample_keys(client: RedisClient, limit: int, count: int = 200) -> list[KeySample]:
    """Up to ``limit`` keys of the client's database, with type and memory.

    ``SCAN`` walks the keyspace in steps of about ``count`` keys, so the
    server is never blocked; type and memory come in one pipelined round trip
    per step.
    """
    found: list[KeySample] = []
    cursor = 0
    redis = client.client()
    while True:
        reply = await client.call("SCAN", cursor, "COUNT", count)
        cursor = int(number(reply[0]))
        keys = list(reply[1])[: max(0, limit - len(found))]
        if keys:
            pipe = redis.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command("TYPE", key)
                pipe.execute_command("MEMORY", "USAGE", key)
            replies = await asyncio.wait_for(
                pipe.execute(raise_on_error=False), client.connect_timeout + client.query_timeout
            )
            for index, key in enumerate(keys):
                kind, memory = replies[2 * index], replies[2 * index + 1]
                if isinstance(kind, Exception) or memory is None or isinstance(memory, Exception):
                    continue  # expired or deleted between SCAN and now
                raw = key if isinstance(key, bytes) else str(key).encode()
                found.append(
                    KeySample(client.db, redact(text(key)), text(kind), int(memory), raw=raw)
                )
        if cursor == 0 or len(found) >= limit:
            return found


async def with_lengths(client: RedisClient, samples: Sequence[KeySample]) -> list[KeySample]:
    """``samples`` with their element counts (LLEN, HLEN, ...), one pipelined round trip."""
    pipe = client.client().pipeline(transaction=False)
    asked = []
    for sample in samples:
        command = _LENGTH.get(sample.type)
        if command:
            pipe.execute_command(command, sample.raw or sample.key)
            asked.append(sample)
    if not asked:
        return list(samples)
    replies = await asyncio.wait_for(
        pipe.execute(raise_on_error=False), client.connect_timeout + client.query_timeout
    )
    lengths = {
        id(sample): int(reply)
        for sample, reply in zip(asked, replies, strict=True)
        if isinstance(reply, int)
    }
    return [replace(s, length=lengths.get(id(s))) for s in samples]


def prefix_of(key: str, known: Sequence[str]) -> str:
    """The key's prefix: the longest profile prefix it has, else its first segments.

    ``alfred:cache:user:42`` with the spec's map gives ``alfred:cache:``;
    ``user:42:profile`` gives ``user:``; a key without ``:`` is its own group.
    """
    matches = [prefix for prefix in known if key.startswith(prefix)]
    if matches:
        return max(matches, key=len)
    parts = key.split(":")
    if len(parts) == 1:
        return "(no prefix)"
    return ":".join(parts[: min(2, len(parts) - 1)]) + ":"


@dataclass(frozen=True)
class PrefixUsage:
    """Memory of one key prefix in one database, from a sample."""

    db: int
    prefix: str
    sampled_keys: int
    sampled_memory: int
    estimated_memory: int
    """Sampled memory scaled to the database's key count (equal when fully sampled)."""


def prefix_usage(
    samples: Sequence[KeySample], keys_per_db: dict[int, int], known: Sequence[str]
) -> list[PrefixUsage]:
    """Memory per (database, prefix), biggest first, scaled from the sample."""
    grouped: dict[tuple[int, str], list[int]] = defaultdict(list)
    sampled_per_db: dict[int, int] = defaultdict(int)
    for sample in samples:
        grouped[(sample.db, prefix_of(sample.key, known))].append(sample.memory)
        sampled_per_db[sample.db] += 1
    usage = []
    for (db, prefix), sizes in grouped.items():
        total_keys = keys_per_db.get(db, sampled_per_db[db])
        scale = max(1.0, total_keys / sampled_per_db[db]) if sampled_per_db[db] else 1.0
        usage.append(PrefixUsage(db, prefix, len(sizes), sum(sizes), int(sum(sizes) * scale)))
    return sorted(usage, key=lambda u: -u.estimated_memory)


# --- latency -------------------------------------------------------------------


@dataclass(frozen=True)
class SlowEntry:
    """One ``SLOWLOG GET`` entry."""

    id: int
    started: float
    """Unix time, by the server's clock."""
    seconds: float
    command: str
    client: str
    client_name: str


async def slowlog(client: RedisClient, count: int = 128) -> list[SlowEntry]:
    """The newest ``count`` slow log entries, newest first."""
    reply = await client.call("SLOWLOG", "GET", count)
    entries = []
    for item in reply or []:
        if isinstance(item, dict):
            command = item.get("command")
            entries.append(
                SlowEntry(
                    id=int(item.get("id", 0)),
                    started=number(item.get("start_time")),
                    seconds=number(item.get("duration")) / 1e6,
                    command=redact(text(command)),
                    client=text(item.get("client_address")),
                    client_name=text(item.get("client_name")),
                )
            )
        elif isinstance(item, list | tuple) and len(item) >= 4:
            args = " ".join(text(arg) for arg in item[3])
            entries.append(
                SlowEntry(
                    id=int(item[0]),
                    started=number(item[1]),
                    seconds=number(item[2]) / 1e6,
                    command=redact(args),
                    client=text(item[4]) if len(item) > 4 else "",
                    client_name=text(item[5]) if len(item) > 5 else "",
                )
            )
    return entries


@dataclass(frozen=True)
class LatencyEvent:
    """One ``LATENCY LATEST`` row."""

    event: str
    latest: float
    """Unix time of the latest spike."""
    latest_ms: int
    max_ms: int


async def latency_latest(client: RedisClient) -> list[LatencyEvent]:
    """The latency monitor's latest spike per event (empty when the monitor is off)."""
    reply = await client.call("LATENCY", "LATEST")
    return [
        LatencyEvent(text(row[0]), number(row[1]), int(number(row[2])), int(number(row[3])))
        for row in reply or []
        if isinstance(row, list | tuple) and len(row) >= 4
    ]


async def latency_history(client: RedisClient, event: str) -> list[tuple[float, int]]:
    """(Unix time, milliseconds) of an event's recorded spikes, oldest first."""
    reply = await client.call("LATENCY", "HISTORY", event)
    return [(number(row[0]), int(number(row[1]))) for row in reply or []]


async def latency_doctor(client: RedisClient) -> str:
    """Redis's own latency analysis, in its words."""
    return text(await client.call("LATENCY", "DOCTOR"))


async def ping_seconds(client: RedisClient, count: int = 10) -> list[float]:
    """Round-trip times of ``count`` PINGs, measured here (network + server)."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await client.call("PING")
        times.append(time.perf_counter() - started)
    return times


def median(values: Sequence[float]) -> float:
    """The median, 0 for no values."""
    return statistics.median(values) if values else 0.0


@dataclass(frozen=True)
class CommandStat:
    """One command's figures from ``INFO commandstats``."""

    command: str
    calls: int
    usec: int
    usec_per_call: float


def command_stats(data: dict[str, Any]) -> list[CommandStat]:
    """Commands by total time spent, from a parsed ``INFO commandstats``."""
    stats = []
    for key, value in data.items():
        if key.startswith("cmdstat_") and isinstance(value, dict):
            stats.append(
                CommandStat(
                    key.removeprefix("cmdstat_"),
                    int(number(value.get("calls"))),
                    int(number(value.get("usec"))),
                    number(value.get("usec_per_call")),
                )
            )
    return sorted(stats, key=lambda s: -s.usec)


@dataclass(frozen=True)
class ClientSummary:
    """``CLIENT LIST`` boiled down to what explains latency."""

    total: int
    by_name: dict[str, int]
    by_host: dict[str, int]
    blocked: int
    """Clients waiting in a blocking command (BLPOP...): normal for queues."""
    max_idle_seconds: int
    biggest_output: tuple[str, int] | None
    """(client, bytes) with the largest output buffer: a slow reader or a huge reply."""


async def client_summary(client: RedisClient) -> ClientSummary:
    """A summary of every connected client (our own included)."""
    reply = await client.call("CLIENT", "LIST")
    rows: list[dict[str, str]] = []
    if isinstance(reply, list):
        rows = [{text(k): text(v) for k, v in row.items()} for row in reply]
    else:
        for line in text(reply).splitlines():
            rows.append(dict(part.split("=", 1) for part in line.split() if "=" in part))
    by_name: dict[str, int] = defaultdict(int)
    by_host: dict[str, int] = defaultdict(int)
    blocked = 0
    max_idle = 0
    biggest: tuple[str, int] | None = None
    for row in rows:
        by_name[row.get("name") or "(unnamed)"] += 1
        by_host[row.get("addr", "").rsplit(":", 1)[0] or "(unix socket)"] += 1
        if "b" in row.get("flags", ""):
            blocked += 1
        max_idle = max(max_idle, int(number(row.get("idle"))))
        output = int(number(row.get("omem"))) + int(number(row.get("obl")))
        if biggest is None or output > biggest[1]:
            biggest = (f"{row.get('addr', '')} {row.get('name', '')}".strip(), output)
    return ClientSummary(len(rows), dict(by_name), dict(by_host), blocked, max_idle, biggest)


# --- actions -------------------------------------------------------------------


async def set_memory(
    client: RedisClient,
    *,
    maxmemory: int | None,
    policy: str | None,
    confirm: bool,
    readonly: bool,
    profile_yaml: str = "",
) -> ActionOutcome:
    """``CONFIG SET maxmemory`` and/or ``maxmemory-policy``, previous values kept.

    Takes effect at once and lasts until Redis restarts; ``profile_yaml`` (the
    caller builds it from the profile) is what keeps it.
    """
    if readonly:
        raise ReadOnlyRefused("change Redis's memory settings")
    if maxmemory is None and policy is None:
        raise ActionRefused("nothing to change: give a maxmemory, a policy or both")
    if policy is not None and policy not in POLICIES:
        raise ActionRefused(f"unknown policy '{policy}' (one of {', '.join(POLICIES)})")
    if maxmemory is not None and maxmemory < 0:
        raise ActionRefused("maxmemory cannot be negative")
    old_max = await config_get(client, "maxmemory")
    old_policy = await config_get(client, "maxmemory-policy")
    if old_max is None or old_policy is None:
        raise ActionRefused("CONFIG is disabled or renamed on this server; change the profile")
    sample = await memory_sample(client)
    from alfred_tui.units import format_bytes

    steps, parts = [], []
    if maxmemory is not None:
        steps.append(f"CONFIG SET maxmemory {maxmemory}")
        parts.append(
            f"maxmemory from {format_bytes(int(old_max)) if int(old_max) else 'no limit'} to "
            f"{format_bytes(maxmemory) if maxmemory else 'no limit'}"
        )
        if 0 < maxmemory < sample.used:
            parts.append(
                f"(below the {format_bytes(sample.used)} in use: Redis will "
                + (
                    "refuse writes until memory is freed"
                    if (policy or old_policy) == "noeviction"
                    else "evict keys at once to get under it"
                )
                + ")"
            )
    if policy is not None:
        steps.append(f"CONFIG SET maxmemory-policy {policy}")
        parts.append(f"maxmemory-policy from {old_policy} to {policy}")
    outcome = ActionOutcome(
        action="redis-memory",
        service="redis",
        applied=False,
        summary="Change " + ", ".join(parts) + ". It applies at once and is lost at the next "
        "restart unless the profile says the same.",
        steps=tuple(steps),
        previous={"maxmemory": int(old_max), "maxmemory-policy": old_policy},
        undo=f"CONFIG SET maxmemory {old_max}; CONFIG SET maxmemory-policy {old_policy}",
        profile_yaml=profile_yaml,
    )
    if not confirm:
        return outcome
    journal = record(outcome, client.target.address)
    results = []
    if maxmemory is not None:
        await client.call("CONFIG", "SET", "maxmemory", str(maxmemory))
        results.append(f"maxmemory is now {await config_get(client, 'maxmemory')}")
    if policy is not None:
        await client.call("CONFIG", "SET", "maxmemory-policy", policy)
        results.append(f"maxmemory-policy is now {await config_get(client, 'maxmemory-policy')}")
    return replace(outcome, applied=True, results=tuple(results), journal=journal)


async def enable_latency_monitor(
    client: RedisClient,
    *,
    threshold_ms: int,
    confirm: bool,
    readonly: bool,
    profile_yaml: str = "",
) -> ActionOutcome:
    """``CONFIG SET latency-monitor-threshold`` so Redis records its latency spikes."""
    if readonly:
        raise ReadOnlyRefused("turn on Redis's latency monitor")
    if threshold_ms < 0:
        raise ActionRefused("the threshold cannot be negative")
    old = await config_get(client, "latency-monitor-threshold")
    if old is None:
        raise ActionRefused("CONFIG is disabled or renamed on this server; change the profile")
    outcome = ActionOutcome(
        action="latency-monitor",
        service="redis",
        applied=False,
        summary=(
            f"Set latency-monitor-threshold from {old} ms to {threshold_ms} ms: Redis records "
            f"every event slower than {threshold_ms} ms (LATENCY LATEST / HISTORY / DOCTOR). "
            "Recording costs next to nothing; lost at restart unless the profile says it."
            if threshold_ms
            else f"Turn the latency monitor off (threshold {old} ms to 0)."
        ),
        steps=(f"CONFIG SET latency-monitor-threshold {threshold_ms}",),
        previous={"latency-monitor-threshold": int(old)},
        undo=f"CONFIG SET latency-monitor-threshold {old}",
        profile_yaml=profile_yaml,
    )
    if not confirm:
        return outcome
    journal = record(outcome, client.target.address)
    await client.call("CONFIG", "SET", "latency-monitor-threshold", str(threshold_ms))
    now = await config_get(client, "latency-monitor-threshold")
    return replace(
        outcome,
        applied=True,
        results=(f"latency-monitor-threshold is now {now} ms",),
        journal=journal,
    )
