"""Runbook: Redis memory pressure.

Symptom (spec): "OOM command not allowed" errors, evictions. With a
``maxmemory`` Redis either refuses writes when full (``noeviction``) or
throws keys away to stay under it (the other policies); without one it grows
until the container's memory limit and is killed. This instance holds the
platform's cache, sessions and task queues (the spec's database map), so
which keys a policy may evict matters as much as how much memory there is.

The biggest prefixes come from a bounded ``SCAN`` sample of each database
(see :mod:`alfred_tui.databases.redis_inspect`). The keyspace pane's own
analysis (``alfred_tui/databases/keyspace.py``, issue 6) was not merged when
this was written; switch to it once it is.

Why one module of this size: one runbook: its detection, evidence tables and
remedies come from one set of facts, as for every runbook.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from alfred_tui.databases.redis_inspect import (
    KeySample,
    MemorySample,
    PrefixUsage,
    memory_sample,
    prefix_usage,
    rate,
    sample_keys,
)
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import Detection, Evidence, Remedy, RunbookInfo, Table
from alfred_tui.troubleshoot.profile_yaml import command_yaml, redis_command_with, service_yaml
from alfred_tui.troubleshoot.runbook import Runbook, metric_evidence, ratio_verdict
from alfred_tui.units import format_bytes, format_docker_size

#: Used memory against maxmemory at which the runbook warns.
WARN_USAGE = 0.90
#: Without maxmemory: used memory against the container limit (the kill line).
WARN_LIMIT = 0.75
CRITICAL_LIMIT = 0.90
#: maxmemory to suggest: this share of the container limit (room for fork copy-on-write).
MAXMEMORY_SHARE = 0.75
#: Rates need two samples no further apart than this to mean "now".
MAX_RATE_AGE = 60.0

#: A memory setting's value: maxmemory in bytes, maxmemory-policy by name.
Setting = int | str


@dataclass(frozen=True)
class MemoryFacts:
    """What the runbook read."""

    now: MemorySample
    evicted_per_second: float | None
    oom_per_second: float | None
    limit: int | None
    """The container's or pod's memory limit (backend, else profile), if any."""
    limit_source: str = ""
    prefixes: tuple[PrefixUsage, ...] = ()
    sampled: tuple[KeySample, ...] = field(default_factory=tuple)
    databases: dict[int, str] = field(default_factory=dict)
    """db -> purpose, from the profile's map."""
    notes: tuple[str, ...] = ()


async def _two_samples(ctx: TroubleshootContext) -> tuple[MemorySample, MemorySample | None]:
    """Now, and a sample from a moment ago: the context's previous one, or a fresh wait."""
    client = await ctx.redis()
    now = await memory_sample(client)
    previous = ctx.remember("redis-memory", now)
    if previous is not None and 0.5 <= time.monotonic() - previous[0] <= MAX_RATE_AGE:
        return now, previous[1]
    await asyncio.sleep(ctx.sample_seconds)
    later = await memory_sample(client)
    ctx.remember("redis-memory", later)
    return later, now


def memory_limit(ctx: TroubleshootContext, status_limit: int | None) -> tuple[int | None, str]:
    """The memory the engine allows Redis: from the backend, else from the profile."""
    if status_limit:
        return status_limit, "the backend's limit"
    service = ctx.profile.redis
    limits = service.resources.limits if service else None
    if limits is not None and limits.memory:
        return limits.memory, "the profile's resources.limits.memory"
    return None, ""


class RedisMemory(Runbook):
    """Used memory against maxmemory and the container limit; evictions; who uses it."""

    info = RunbookInfo(
        name="redis-memory",
        service="redis",
        title="Redis memory pressure",
        symptoms="'OOM command not allowed' errors in the agents, keys disappearing (evictions).",
        why=(
            "When Redis reaches maxmemory it either refuses every write (policy noeviction: "
            "sessions and queued tasks cannot be stored) or deletes keys to make room "
            "(cache misses, and with an allkeys policy, lost sessions and queue items). "
            "Without maxmemory it grows until the engine kills it at the container limit."
        ),
        detects=(
            "Used memory against maxmemory and the container's memory limit, evicted keys "
            "per second and refused writes (two samples), the profile's "
            "redis_memory_used_bytes threshold."
        ),
    )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> MemoryFacts:
        now, before = await _two_samples(ctx)
        elapsed = now.taken_at - before.taken_at if before else 0.0
        evicted = rate(now.evicted_keys, before.evicted_keys, elapsed) if before else None
        oom = rate(now.oom_rejections, before.oom_rejections, elapsed) if before else None
        status, _why = await ctx.status("redis") if full else (None, "")
        limit, source = memory_limit(ctx, status.limits.memory if status else None)
        databases = {d.db: d.purpose for d in ctx.profile.redis_databases}
        if not full:
            return MemoryFacts(now, evicted, oom, limit, source, databases=databases)
        known = [d.prefix for d in ctx.profile.redis_databases if d.prefix]
        samples: list[KeySample] = []
        for db, (keys, _expires) in sorted(now.keyspace.items()):
            if keys:
                samples += await sample_keys(await ctx.redis(db), ctx.scan_limit)
        counts = {db: keys for db, (keys, _) in now.keyspace.items()}
        notes = (
            "biggest prefixes come from a sample of up to "
            f"{ctx.scan_limit} keys per database (SCAN), scaled to the key count",
        )
        return MemoryFacts(
            now,
            evicted,
            oom,
            limit,
            source,
            tuple(prefix_usage(samples, counts, known)),
            tuple(samples),
            databases,
            notes,
        )

    def judge(self, facts: MemoryFacts, ctx: TroubleshootContext) -> Detection:
        now = facts.now
        evidence = [
            metric_evidence(
                ctx,
                "redis_memory_used_bytes",
                "memory used (profile threshold)",
                now.used,
                format_bytes(now.used),
            )
        ]
        if now.maxmemory:
            ratio = now.used / now.maxmemory
            full = ratio >= 1.0 or (facts.oom_per_second or 0) > 0
            verdict = ratio_verdict(ratio, WARN_USAGE, 10.0)
            if full:
                verdict = Verdict.CRITICAL if now.policy == "noeviction" else Verdict.WARNING
            evidence.append(
                Evidence(
                    "used of maxmemory",
                    f"{format_bytes(now.used)} of {format_bytes(now.maxmemory)} ({ratio:.0%}, "
                    f"policy {now.policy})",
                    verdict,
                    "full with noeviction: writes are refused"
                    if now.policy == "noeviction"
                    else "full: Redis evicts keys to stay under maxmemory",
                )
            )
        elif facts.limit:
            ratio = now.used / facts.limit
            evidence.append(
                Evidence(
                    "used of the memory limit",
                    f"{format_bytes(now.used)} of {format_bytes(facts.limit)} ({ratio:.0%}) "
                    "with no maxmemory",
                    ratio_verdict(ratio, WARN_LIMIT, CRITICAL_LIMIT),
                    f"{facts.limit_source}; at the limit the engine kills Redis",
                )
            )
        if facts.evicted_per_second is not None:
            evidence.append(
                Evidence(
                    "evicted keys",
                    f"{facts.evicted_per_second:.1f}/s",
                    Verdict.WARNING if facts.evicted_per_second > 0 else Verdict.OK,
                    f"{now.evicted_keys} since start",
                )
            )
        drift = profile_drift(ctx, now)
        if drift:
            evidence.append(
                Evidence(
                    "differs from the profile",
                    "; ".join(
                        f"{name} {_shown(name, live)} (profile: {_shown(name, wanted)})"
                        for name, (live, wanted) in drift.items()
                    ),
                    Verdict.WARNING,
                    "changed at runtime, or not deployed from this profile",
                )
            )
        if facts.oom_per_second:
            evidence.append(
                Evidence(
                    "refused writes",
                    f"{facts.oom_per_second:.1f}/s ('OOM command not allowed')",
                    Verdict.CRITICAL,
                    f"{now.oom_rejections} since start",
                )
            )
        elif now.oom_rejections:
            evidence.append(
                Evidence(
                    "refused writes",
                    f"{now.oom_rejections} since start, none in the last sample",
                    Verdict.WARNING,
                )
            )
        return Detection.from_evidence(
            evidence,
            f"{format_bytes(now.used)} used"
            + (f" of {format_bytes(now.maxmemory)} maxmemory" if now.maxmemory else "")
            + ", no evictions",
        )

    def tables(self, facts: MemoryFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        now = facts.now
        memory = Table(
            "Memory",
            "Used is what the data takes; RSS is what the process holds from the system "
            "(fragmentation well above 1.5 means memory is wasted between allocations).",
            ("What", "Value"),
            (
                ("used", format_bytes(now.used)),
                ("peak", format_bytes(now.peak)),
                ("RSS", format_bytes(now.rss)),
                ("maxmemory", format_bytes(now.maxmemory) if now.maxmemory else "no limit"),
                ("maxmemory-policy", now.policy),
                ("used of maxmemory", f"{now.used / now.maxmemory:.0%}" if now.maxmemory else "-"),
                ("fragmentation ratio", f"{now.fragmentation:.2f}"),
                (
                    "memory limit",
                    f"{format_bytes(facts.limit)} ({facts.limit_source})" if facts.limit else "-",
                ),
            ),
        )
        evictions = Table(
            "Evictions and refused writes",
            "Evictions mean keys were deleted to make room; refused writes mean the agents "
            "got 'OOM command not allowed'.",
            ("What", "Since start", "Per second now"),
            (
                ("evicted keys", now.evicted_keys, _per_second(facts.evicted_per_second)),
                ("refused writes (OOM)", now.oom_rejections, _per_second(facts.oom_per_second)),
                ("expired keys", now.expired_keys, "-"),
            ),
        )
        keys = Table(
            "Keys per database",
            "Keys without a TTL can only be evicted by an allkeys-* policy; with volatile-* "
            "they stay, and a full Redis refuses writes.",
            ("DB", "Purpose", "Keys", "With TTL", "Without TTL"),
            tuple(
                (db, facts.databases.get(db, ""), count, expires, count - expires)
                for db, (count, expires) in sorted(now.keyspace.items())
            ),
            empty="no keys",
        )
        total = sum(p.estimated_memory for p in facts.prefixes) or 1
        prefixes = Table(
            "Biggest prefixes",
            "Which kind of data takes the memory (estimated from a sample of keys).",
            ("DB", "Prefix", "Keys sampled", "Sampled", "Estimated", "Share"),
            tuple(
                (
                    p.db,
                    p.prefix,
                    p.sampled_keys,
                    format_bytes(p.sampled_memory),
                    format_bytes(p.estimated_memory),
                    f"{p.estimated_memory / total:.0%}",
                )
                for p in facts.prefixes[:15]
            ),
            empty="no keys sampled",
        )
        return (memory, evictions, keys, prefixes)

    def remedies(self, facts: MemoryFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        now = facts.now
        service = ctx.profile.redis
        remedies: list[Remedy] = []
        suggested = _suggested_maxmemory(now, facts.limit)
        if service is not None and suggested and suggested != now.maxmemory:
            size = _size(suggested)
            command = redis_command_with(service, {"maxmemory": size})
            limit_note = (
                f"It stays below the {format_bytes(facts.limit)} limit with room for the "
                "copy-on-write memory a background save or AOF rewrite needs."
                if facts.limit
                else "Make sure the container's memory limit is at least a third above it."
            )
            remedies.append(
                Remedy(
                    id="raise-maxmemory",
                    title=f"Set maxmemory to {format_bytes(suggested)}",
                    what_it_does=(
                        f"Redis may hold up to {format_bytes(suggested)} (now "
                        f"{format_bytes(now.maxmemory) if now.maxmemory else 'no limit'}). "
                        + limit_note
                    ),
                    cost="More memory used on the host; applies at once, no restart.",
                    steps=(f"CONFIG SET maxmemory {suggested}",),
                    command=f"alfred-tui doctor redis-memory --maxmemory {size} --yes",
                    profile_yaml=command_yaml("redis", command),
                    action="redis-memory",
                    parameters={"maxmemory": suggested},
                )
            )
        drift = profile_drift(ctx, now)
        if drift:
            parameters: dict[str, Setting] = {}
            steps = []
            if "maxmemory" in drift:
                parameters["maxmemory"] = drift["maxmemory"][1]
                steps.append(f"CONFIG SET maxmemory {drift['maxmemory'][1]}")
            if "maxmemory-policy" in drift:
                parameters["policy"] = drift["maxmemory-policy"][1]
                steps.append(f"CONFIG SET maxmemory-policy {drift['maxmemory-policy'][1]}")
            remedies.insert(
                0,
                Remedy(
                    id="apply-profile-settings",
                    title="Give Redis the memory settings its profile asks for",
                    what_it_does=(
                        "The server does not run what the profile says: "
                        + "; ".join(
                            f"{name} is {_shown(name, live)}, the profile says "
                            f"{_shown(name, wanted)}"
                            for name, (live, wanted) in drift.items()
                        )
                        + ". It was changed at runtime or not deployed from this profile."
                    ),
                    cost="Applies at once, no restart.",
                    steps=tuple(steps),
                    command="alfred-tui doctor redis-memory"
                    + (
                        f" --maxmemory {_size(int(parameters['maxmemory']))}"
                        if "maxmemory" in parameters
                        else ""
                    )
                    + (f" --policy {parameters['policy']}" if "policy" in parameters else "")
                    + " --yes",
                    action="redis-memory",
                    parameters=parameters,
                ),
            )
        policy = _suggested_policy(now, facts.databases)
        if service is not None and policy and policy != now.policy:
            command = redis_command_with(service, {"maxmemory-policy": policy})
            remedies.append(
                Remedy(
                    id="change-policy",
                    title=f"Change maxmemory-policy from {now.policy} to {policy}",
                    what_it_does=_policy_reason(policy, now, facts.databases),
                    cost=(
                        "Evicted keys are gone: the agents must tolerate a missing cache "
                        "entry. Applies at once, no restart."
                    ),
                    steps=(f"CONFIG SET maxmemory-policy {policy}",),
                    command=f"alfred-tui doctor redis-memory --policy {policy} --yes",
                    profile_yaml=command_yaml("redis", command),
                    action="redis-memory",
                    parameters={"policy": policy},
                )
            )
        if facts.prefixes:
            top = facts.prefixes[0]
            remedies.append(
                Remedy(
                    id="free-biggest-prefix",
                    title=f"Look at {top.prefix} in db {top.db} (about "
                    f"{format_bytes(top.estimated_memory)})",
                    what_it_does=(
                        "The biggest share of memory. If these keys should expire, give them "
                        "a TTL in the application; if they are stale, delete them in batches "
                        "with SCAN + UNLINK (UNLINK frees memory in the background)."
                    ),
                    cost="Deleted keys are gone.",
                    steps=(
                        f"redis-cli -n {top.db} --scan --pattern '{top.prefix}*' | "
                        "xargs -n 100 redis-cli -n " + str(top.db) + " UNLINK",
                    ),
                )
            )
        if service is not None:
            current = service.resources.limits.memory if service.resources.limits else None
            target = max(int((current or now.used) * 1.5), now.used * 2)
            target = -(-target // (256 * 1024 * 1024)) * 256 * 1024 * 1024
            remedies.append(
                Remedy(
                    id="raise-memory-limit",
                    title=f"Give Redis more memory ({format_docker_size(target)} limit)",
                    what_it_does=(
                        "Raises the container's memory limit so maxmemory can grow with it "
                        "(set maxmemory to about three quarters of the limit)."
                    ),
                    cost="Host memory; the container is recreated, so Redis restarts.",
                    profile_yaml=service_yaml(
                        "redis", {"resources": {"limits": {"memory": format_docker_size(target)}}}
                    ),
                    needs_restart=True,
                )
            )
        return tuple(remedies)

    def notes(self, facts: MemoryFacts) -> tuple[str, ...]:
        return facts.notes


def _per_second(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _suggested_maxmemory(now: MemorySample, limit: int | None) -> int | None:
    """Three quarters of the limit when known; else half again what is used (256 MiB steps)."""
    step = 256 * 1024 * 1024
    if limit:
        return int(limit * MAXMEMORY_SHARE) // (1024 * 1024) * 1024 * 1024
    if now.maxmemory and now.used >= now.maxmemory * WARN_USAGE:
        return -(-int(max(now.used, now.maxmemory) * 1.5) // step) * step
    return None


def _suggested_policy(now: MemorySample, databases: dict[int, str]) -> str | None:
    """A policy for a full or filling Redis: evict cache keys, never stop accepting writes."""
    if now.policy != "noeviction":
        return None
    if not now.maxmemory and not now.keyspace:
        return None
    keys = sum(count for count, _ in now.keyspace.values())
    expiring = sum(expires for _, expires in now.keyspace.values())
    return "volatile-lru" if keys and expiring / keys >= 0.5 else "allkeys-lru"


def _policy_reason(policy: str, now: MemorySample, databases: dict[int, str]) -> str:
    keys = sum(count for count, _ in now.keyspace.values())
    expiring = sum(expires for _, expires in now.keyspace.values())
    base = "With noeviction a full Redis refuses every write. "
    if policy == "volatile-lru":
        return base + (
            f"volatile-lru evicts only keys with a TTL ({expiring} of {keys} here), least "
            "recently used first; keys without a TTL (sessions, queue items) are kept."
        )
    others = [
        f"{purpose.lower()} (db {db})"
        for db, purpose in sorted(databases.items())
        if "cache" not in purpose.lower() and "pub/sub" not in purpose.lower()
    ]
    caution = (
        f" Careful: this Redis also holds {', '.join(others)}, which allkeys-lru may evict "
        "too; give cache keys a TTL and prefer volatile-lru."
        if others
        else ""
    )
    return base + (
        f"Only {expiring} of {keys} keys have a TTL, so volatile-* would still refuse writes; "
        "allkeys-lru (the spec's production policy) evicts the least recently used keys." + caution
    )


def _size(value: int) -> str:
    """A size as Redis and ``--maxmemory`` take it: ``2gb``, ``512mb``."""
    text = format_docker_size(value).lower()
    return text if text[-1].isdigit() else text + "b"


def _shown(name: str, value: Setting) -> str:
    if name == "maxmemory":
        return format_bytes(int(value)) if value else "no limit"
    return str(value)


def profile_drift(
    ctx: TroubleshootContext, now: MemorySample
) -> dict[str, tuple[Setting, Setting]]:
    """Settings where the server differs from the profile's command: name -> (live, profile)."""
    from alfred_tui.units import parse_bytes

    service = ctx.profile.redis
    if service is None:
        return {}
    drift: dict[str, tuple[Setting, Setting]] = {}
    wanted_max = service.command_option("maxmemory")
    if wanted_max is not None:
        try:
            wanted = parse_bytes(wanted_max)
        except ValueError:
            wanted = None
        if wanted is not None and wanted != now.maxmemory:
            drift["maxmemory"] = (now.maxmemory, wanted)
    wanted_policy = service.command_option("maxmemory-policy")
    if wanted_policy is not None and wanted_policy != now.policy:
        drift["maxmemory-policy"] = (now.policy, wanted_policy)
    return drift
