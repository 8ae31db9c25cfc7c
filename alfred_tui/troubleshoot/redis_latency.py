"""Runbook: Redis high latency.

Symptom (spec): slow response times. Redis runs commands one at a time, so
one slow command (a KEYS, an HGETALL of a huge hash, a DEL of a big key)
delays every client queued behind it. The server's own records say which:
the slow log (always on), the latency monitor (when its threshold is set)
and the per-command statistics. A round trip measured from here separates
"Redis is slow" from "the network is slow".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace

from alfred_tui.databases.redis_inspect import (
    ClientSummary,
    CommandStat,
    KeySample,
    LatencyEvent,
    SlowEntry,
    client_summary,
    command_stats,
    config_get,
    info,
    latency_doctor,
    latency_history,
    latency_latest,
    median,
    number,
    ping_seconds,
    sample_keys,
    server_time,
    slowlog,
    with_lengths,
)
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import Detection, Evidence, Remedy, RunbookInfo, Table
from alfred_tui.troubleshoot.profile_yaml import command_yaml, redis_command_with
from alfred_tui.troubleshoot.runbook import Runbook, metric_evidence
from alfred_tui.units import format_bytes, format_duration

#: Only slow-log entries and latency spikes this recent count towards the verdict.
WINDOW_SECONDS = 15 * 60
#: A command this slow delays every client behind it noticeably / badly.
WARN_SECONDS = 0.1
CRITICAL_SECONDS = 1.0
#: Median PING round trip from here past which the path (not Redis) is the suspect.
WARN_PING = 0.05
CRITICAL_PING = 0.2
PINGS = 10
#: What to suggest for latency-monitor-threshold, in milliseconds.
SUGGESTED_MONITOR_MS = 100
#: A collection with more elements than this is slow to read or delete whole.
BIG_ELEMENTS = 10_000
BIG_BYTES = 1024 * 1024

_ADVICE = {
    "keys": "KEYS walks every key while all other clients wait: use SCAN.",
    "flushall": "FLUSHALL blocks until done: use FLUSHALL ASYNC.",
    "flushdb": "FLUSHDB blocks until done: use FLUSHDB ASYNC.",
    "del": "DEL of a big key frees it while clients wait: use UNLINK (frees in the background).",
    "hgetall": "HGETALL of a big hash sends it whole: use HSCAN or HMGET of the fields needed.",
    "smembers": "SMEMBERS of a big set sends it whole: use SSCAN.",
    "lrange": "LRANGE over a long list is O(n): fetch smaller ranges.",
    "zrange": "ZRANGE over a big sorted set is O(n): fetch smaller ranges or use ZSCAN.",
    "sort": "SORT is O(n log n) on the server: sort in the application or keep a sorted set.",
    "eval": "A Lua script blocks the server for its whole run: keep scripts short.",
    "evalsha": "A Lua script blocks the server for its whole run: keep scripts short.",
    "debug": "DEBUG commands block the server; they do not belong in production.",
}


@dataclass(frozen=True)
class LatencyFacts:
    """What the runbook read."""

    now: float
    """The server's clock."""
    slow: tuple[SlowEntry, ...]
    slower_than_us: int | None
    monitor_ms: int | None
    events: tuple[LatencyEvent, ...]
    pings: tuple[float, ...]
    commands_per_second: float
    clients: int
    doctor: str = ""
    history: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    stats: tuple[CommandStat, ...] = ()
    client_summary: ClientSummary | None = None
    big_keys: tuple[KeySample, ...] = ()

    def recent(self) -> list[SlowEntry]:
        """Slow-log entries inside the window, slowest first."""
        since = self.now - WINDOW_SECONDS
        return sorted((e for e in self.slow if e.started >= since), key=lambda e: -e.seconds)


async def _commands_per_second(ctx: TroubleshootContext) -> tuple[float, int]:
    client = await ctx.redis()
    first = await info(client, "stats", "clients")
    started = time.monotonic()
    previous = ctx.remember("redis-latency", first)
    if previous is not None and 0.5 <= started - previous[0] <= 60:
        before, elapsed = previous[1], started - previous[0]
        after = first
    else:
        await asyncio.sleep(ctx.sample_seconds)
        after = await info(client, "stats", "clients")
        ctx.remember("redis-latency", after)
        before, elapsed = first, time.monotonic() - started
    delta = number(after.get("total_commands_processed")) - number(
        before.get("total_commands_processed")
    )
    per_second = delta / elapsed if elapsed > 0 and delta >= 0 else 0.0
    return per_second, int(number(after.get("connected_clients")))


class RedisLatency(Runbook):
    """Slow commands, latency spikes, round trips, big keys and busy clients."""

    info = RunbookInfo(
        name="redis-latency",
        service="redis",
        title="Redis high latency",
        symptoms="Slow responses from Redis; agent timeouts on cache, session or queue calls.",
        why=(
            "Redis runs one command at a time: a single slow command (KEYS, a read or "
            "delete of a huge key, a long Lua script) makes every other client wait. If "
            "Redis itself is fast, the time goes to the network or to the client."
        ),
        detects=(
            f"Slow-log entries and latency-monitor spikes of the last "
            f"{WINDOW_SECONDS // 60} minutes (warning from {WARN_SECONDS * 1000:.0f} ms, "
            f"critical from {CRITICAL_SECONDS:g} s), the PING round trip from here, and "
            "the profile's commands-per-second and clients thresholds."
        ),
    )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> LatencyFacts:
        client = await ctx.redis()
        now = await server_time(client)
        slow = tuple(await slowlog(client, 128))
        slower_than = await config_get(client, "slowlog-log-slower-than")
        monitor = await config_get(client, "latency-monitor-threshold")
        events = tuple(await latency_latest(client))
        pings = tuple(await ping_seconds(client, PINGS))
        per_second, clients = await _commands_per_second(ctx)
        facts = LatencyFacts(
            now=now,
            slow=slow,
            slower_than_us=int(slower_than) if slower_than not in (None, "") else None,
            monitor_ms=int(monitor) if monitor not in (None, "") else None,
            events=events,
            pings=pings,
            commands_per_second=per_second,
            clients=clients,
        )
        if not full:
            return facts
        doctor = await latency_doctor(client) if facts.monitor_ms else ""
        history = {e.event: await latency_history(client, e.event) for e in events}
        stats = tuple(command_stats(await info(client, "commandstats"))[:10])
        summary = await client_summary(client)
        samples: list[KeySample] = []
        keyspace = await info(client, "keyspace")
        for key in sorted(keyspace):
            if key.startswith("db") and key[2:].isdigit():
                samples += await sample_keys(await ctx.redis(int(key[2:])), ctx.scan_limit)
        biggest = sorted(samples, key=lambda s: -s.memory)[:10]
        with_counts: list[KeySample] = []
        for db in sorted({s.db for s in biggest}):
            with_counts += await with_lengths(
                await ctx.redis(db), [s for s in biggest if s.db == db]
            )
        with_counts.sort(key=lambda s: -s.memory)
        return replace(
            facts,
            doctor=doctor,
            history=history,
            stats=stats,
            client_summary=summary,
            big_keys=tuple(with_counts),
        )

    def judge(self, facts: LatencyFacts, ctx: TroubleshootContext) -> Detection:
        evidence: list[Evidence] = []
        recent = facts.recent()
        window = f"last {WINDOW_SECONDS // 60} min"
        if recent:
            worst = recent[0]
            evidence.append(
                Evidence(
                    f"slow commands ({window})",
                    f"{len(recent)} in the slow log, slowest {format_duration(worst.seconds)}: "
                    f"{worst.command[:60]}",
                    _slowness(worst.seconds),
                    f"warning from {WARN_SECONDS * 1000:.0f} ms, critical from "
                    f"{CRITICAL_SECONDS:g} s",
                )
            )
        else:
            evidence.append(Evidence(f"slow commands ({window})", "none", Verdict.OK))
        spikes = [e for e in facts.events if e.latest >= facts.now - WINDOW_SECONDS]
        if spikes:
            top = max(spikes, key=lambda e: e.latest_ms)
            evidence.append(
                Evidence(
                    f"latency spikes ({window})",
                    f"{top.event}: {top.latest_ms} ms (all-time max {top.max_ms} ms)",
                    _slowness(top.latest_ms / 1000),
                )
            )
        elif not facts.monitor_ms:
            evidence.append(
                Evidence("latency monitor", "off", Verdict.OK, "latency-monitor-threshold is 0")
            )
        round_trip = median(facts.pings)
        evidence.append(
            Evidence(
                "round trip from here",
                f"median {format_duration(round_trip)}, max "
                f"{format_duration(max(facts.pings, default=0))} over {len(facts.pings)} PINGs",
                Verdict.CRITICAL
                if round_trip >= CRITICAL_PING
                else Verdict.WARNING
                if round_trip >= WARN_PING
                else Verdict.OK,
                f"warning from {WARN_PING * 1000:.0f} ms",
            )
        )
        evidence.append(
            metric_evidence(
                ctx,
                "redis_commands_per_second",
                "commands per second",
                facts.commands_per_second,
                f"{facts.commands_per_second:,.0f}/s",
            )
        )
        evidence.append(
            metric_evidence(
                ctx,
                "redis_connected_clients",
                "connected clients",
                facts.clients,
                str(facts.clients),
            )
        )
        return Detection.from_evidence(
            evidence, f"no slow commands in the {window}; round trip {format_duration(round_trip)}"
        )

    def tables(self, facts: LatencyFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        threshold = (
            f"{facts.slower_than_us / 1000:g} ms" if facts.slower_than_us is not None else "?"
        )
        tables = [
            Table(
                "Slow log",
                f"Commands that took longer than slowlog-log-slower-than ({threshold}) inside "
                "Redis, newest first. Network time is not included.",
                ("Id", "Ago", "Took", "Command", "Client", "Name"),
                tuple(
                    (
                        e.id,
                        format_duration(max(0.0, facts.now - e.started)),
                        format_duration(e.seconds),
                        e.command[:100],
                        e.client,
                        e.client_name,
                    )
                    for e in facts.slow[:20]
                ),
                empty="empty",
            ),
            Table(
                "Latency spikes",
                "Events the latency monitor recorded (command, fork, expire-cycle, "
                "eviction-cycle, aof-fsync...): which part of Redis stalled.",
                ("Event", "Latest", "Latest ms", "Max ms", "Recorded spikes"),
                tuple(
                    (
                        e.event,
                        format_duration(max(0.0, facts.now - e.latest)) + " ago",
                        e.latest_ms,
                        e.max_ms,
                        len(facts.history.get(e.event, [])),
                    )
                    for e in facts.events
                ),
                empty="none recorded"
                if facts.monitor_ms
                else "the latency monitor is off (latency-monitor-threshold 0)",
            ),
        ]
        if facts.doctor:
            tables.append(
                Table(
                    "LATENCY DOCTOR",
                    "Redis's own reading of its latency records.",
                    ("Advice",),
                    tuple((line,) for line in facts.doctor.splitlines() if line.strip()),
                )
            )
        tables.append(
            Table(
                "Commands by time spent",
                "Total time Redis spent per command since start; a high time per call "
                "points at the command to change.",
                ("Command", "Calls", "Total", "Per call"),
                tuple(
                    (
                        s.command,
                        s.calls,
                        format_duration(s.usec / 1e6),
                        format_duration(s.usec_per_call / 1e6),
                    )
                    for s in facts.stats
                ),
                empty="no statistics",
            )
        )
        tables.append(
            Table(
                "Biggest keys",
                "Big keys are slow to read whole, to delete and to expire "
                f"(from a sample of up to {ctx.scan_limit} keys per database).",
                ("DB", "Key", "Type", "Memory", "Elements"),
                tuple(
                    (
                        k.db,
                        k.key[:80],
                        k.type,
                        format_bytes(k.memory),
                        "-" if k.length is None else k.length,
                    )
                    for k in facts.big_keys
                ),
                empty="no keys",
            )
        )
        summary = facts.client_summary
        if summary is not None:
            rows: list[tuple[object, object]] = [
                ("connected", summary.total),
                ("blocked (BLPOP and friends)", summary.blocked),
                ("longest idle", format_duration(summary.max_idle_seconds)),
            ]
            if summary.biggest_output is not None:
                who, size = summary.biggest_output
                rows.append(("largest output buffer", f"{format_bytes(size)} ({who})"))
            for name, count in sorted(summary.by_name.items(), key=lambda i: -i[1])[:5]:
                rows.append((f"named {name}", count))
            for host, count in sorted(summary.by_host.items(), key=lambda i: -i[1])[:5]:
                rows.append((f"from {host}", count))
            tables.append(
                Table(
                    "Clients",
                    "Who is connected. A large output buffer is a client reading slowly "
                    "or a reply too big.",
                    ("What", "Value"),
                    tuple(rows),
                )
            )
        tables.append(
            Table(
                "Round trip from here",
                "PING answered by Redis, measured from this machine: network plus server.",
                ("What", "Value"),
                (
                    ("median", format_duration(median(facts.pings))),
                    ("max", format_duration(max(facts.pings, default=0))),
                    ("commands per second", f"{facts.commands_per_second:,.0f}"),
                ),
            )
        )
        return tuple(tables)

    def remedies(self, facts: LatencyFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        remedies: list[Remedy] = []
        service = ctx.profile.redis
        if not facts.monitor_ms and service is not None:
            remedies.append(
                Remedy(
                    id="enable-latency-monitor",
                    title=f"Turn on the latency monitor ({SUGGESTED_MONITOR_MS} ms)",
                    what_it_does=(
                        "Redis starts recording every stall longer than "
                        f"{SUGGESTED_MONITOR_MS} ms and what caused it (a command, a fork "
                        "for a save, expiring or evicting keys, AOF fsync), so LATENCY "
                        "DOCTOR can explain the next spike."
                    ),
                    cost="Next to nothing; lost at restart unless the profile sets it.",
                    steps=(f"CONFIG SET latency-monitor-threshold {SUGGESTED_MONITOR_MS}",),
                    command="alfred-tui doctor latency-monitor "
                    f"--threshold-ms {SUGGESTED_MONITOR_MS} --yes",
                    profile_yaml=command_yaml(
                        "redis",
                        redis_command_with(
                            service, {"latency-monitor-threshold": str(SUGGESTED_MONITOR_MS)}
                        ),
                    ),
                    action="latency-monitor",
                    parameters={"threshold_ms": SUGGESTED_MONITOR_MS},
                )
            )
        names = {e.command.split(" ", 1)[0].lower() for e in facts.recent()}
        names |= {
            s.command.split("|", 1)[0].lower() for s in facts.stats if s.usec_per_call > 10_000
        }
        advice = [_ADVICE[name] for name in sorted(names) if name in _ADVICE]
        if advice:
            remedies.append(
                Remedy(
                    id="change-slow-commands",
                    title="Replace the slow commands in the application",
                    what_it_does=" ".join(advice),
                    cost="An application change.",
                )
            )
        big = [
            k
            for k in facts.big_keys
            if k.memory >= BIG_BYTES or ((k.length or 0) >= BIG_ELEMENTS and k.type != "string")
        ]
        if big:
            remedies.append(
                Remedy(
                    id="split-big-keys",
                    title=f"Split or trim the {len(big)} big key(s)",
                    what_it_does=(
                        "Reading, deleting or expiring a big key blocks Redis for its whole "
                        "size. Biggest: "
                        + ", ".join(f"{k.key[:60]} ({format_bytes(k.memory)})" for k in big[:3])
                        + ". Split them into smaller keys (by id range or by day), read them "
                        "with *SCAN, delete them with UNLINK."
                    ),
                    cost="An application change.",
                )
            )
        if median(facts.pings) >= WARN_PING and not facts.recent():
            remedies.append(
                Remedy(
                    id="check-network",
                    title="Look at the network, not Redis",
                    what_it_does=(
                        f"Redis logged no slow command, yet a PING takes "
                        f"{format_duration(median(facts.pings))} from here: the time goes to "
                        "the network path, a busy host, or CPU throttling of the container "
                        "(check its CPU limit)."
                    ),
                )
            )
        return tuple(remedies)


def _slowness(seconds: float) -> Verdict:
    if seconds >= CRITICAL_SECONDS:
        return Verdict.CRITICAL
    if seconds >= WARN_SECONDS:
        return Verdict.WARNING
    return Verdict.OK
