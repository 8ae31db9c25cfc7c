"""Runbook: instance near its limits (CPU and memory against what the engine allows).

Symptom: a database slows down for no reason in its own figures (CPU
throttled at its limit), or restarts with "OOMKilled" (the kernel killed it
at its memory limit: PostgreSQL drops every connection and replays WAL,
Redis loses what it had not persisted). The evidence is each instance's
usage against its limit, and the peak seen while this diagnosis (or the UI)
has been watching; the remedy is new limits from those peaks, with room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alfred_tui.backends.base import InstanceStatus, InstanceUsage
from alfred_tui.backends.capabilities import Resizable, UsageReporting, capable, settled_usage
from alfred_tui.config.models import ServiceKind
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import Detection, Evidence, Remedy, RunbookInfo, Table
from alfred_tui.troubleshoot.profile_yaml import service_yaml
from alfred_tui.troubleshoot.runbook import SERVICE_NAMES, Runbook, ratio_verdict
from alfred_tui.units import format_bytes, format_docker_size

#: Memory share of the limit at which an instance is flagged (the Overview's ⚑), and at
#: which the kernel is about to kill it: page cache is already left out of the figure.
MEMORY_WARNING = 0.90
MEMORY_CRITICAL = 0.97
#: CPU share of the limit at which the instance is throttled often enough to slow it.
CPU_WARNING = 0.90
#: Headroom above the observed peak for a suggested limit: the peak seen is a sample, the
#: next spike (a checkpoint, a BGSAVE's copy-on-write, a big sort) goes higher.
HEADROOM = 1.30
MEMORY_STEP = 256 * 1024**2
CPU_STEP = 0.5
#: Seconds between the two readings a one-off diagnosis needs for a CPU rate.
SETTLE_SECONDS = 1.2


@dataclass(frozen=True)
class Peak:
    """The highest usage seen of one instance."""

    cpu_percent: float | None = None
    memory: int | None = None


@dataclass(frozen=True)
class LimitFacts:
    """What the runbook read."""

    usage: tuple[InstanceUsage, ...] = ()
    peaks: dict[str, Peak] = field(default_factory=dict)
    instances: tuple[InstanceStatus, ...] = ()
    notes: tuple[str, ...] = ()
    resizable: bool = False


def _merge(peak: Peak | None, usage: InstanceUsage) -> Peak:
    def highest(a: float | None, b: float | None) -> float | None:
        return b if a is None else a if b is None else max(a, b)

    if peak is None:
        return Peak(usage.cpu_percent, usage.memory)
    memory = highest(peak.memory, usage.memory)
    return Peak(
        highest(peak.cpu_percent, usage.cpu_percent), None if memory is None else int(memory)
    )


def suggested_memory(limit: int, peak: int) -> int:
    """A memory limit from the peak: 30% headroom over it, and at least a quarter more than
    the limit it is near, rounded up to a size people write (16 MiB steps under 256 MiB,
    64 MiB under 1 GiB, 256 MiB above)."""
    wanted = max(peak * HEADROOM, limit * 1.25)
    step = (
        MEMORY_STEP
        if wanted >= 1024**3
        else 64 * 1024**2
        if wanted >= MEMORY_STEP
        else 16 * 1024**2
    )
    return int(math.ceil(wanted / step) * step)


def suggested_cpus(limit: float, peak_cores: float) -> float:
    """A CPU limit from the peak (in cores), the same way, rounded up to half a core."""
    wanted = max(peak_cores * HEADROOM, limit * 1.25)
    return math.ceil(wanted / CPU_STEP) * CPU_STEP


class InstanceLimits(Runbook):
    """CPU and memory against the limits, each instance's peak, and the resize they call for."""

    def __init__(self, service: ServiceKind) -> None:
        name = SERVICE_NAMES[service]
        self.kind = service
        self.info = RunbookInfo(
            name=f"{service}-limits",
            service=service,
            title=f"{name} instance near its limits",
            symptoms=(
                "Slow for no reason the database's own figures show; restarts marked "
                "OOMKilled; a ⚑ beside an instance's memory on the Overview."
            ),
            why=(
                "At its CPU limit an instance is throttled: every query waits for its share. "
                "At its memory limit the kernel kills it: connections drop, unsaved data is "
                "lost, and it restarts cold."
            ),
            detects=(
                f"Each instance's memory against its limit (warning above {MEMORY_WARNING:.0%}, "
                f"critical above {MEMORY_CRITICAL:.0%}), CPU against its limit (warning above "
                f"{CPU_WARNING:.0%}), restarts the engine says were OOM kills, and the peaks "
                "seen while watching."
            ),
        )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> LimitFacts:
        kind = self.kind
        reporting = capable(ctx.backend, kind, UsageReporting)
        status, why_not = await ctx.status(kind)
        instances = status.instances if status is not None else ()
        notes = [] if status is not None else [why_not]
        if reporting is None:
            notes.append(f"the {ctx.backend.name} backend cannot report resource usage")
            return LimitFacts(instances=instances, notes=tuple(notes))
        usage = await settled_usage(reporting, [kind], SETTLE_SECONDS)
        key = f"limits-peaks/{kind}"
        remembered = ctx.previous.get(key)
        peaks: dict[str, Peak] = dict(remembered[1]) if remembered else {}
        for entry in usage:
            peaks[entry.instance] = _merge(peaks.get(entry.instance), entry)
        ctx.remember(key, peaks)
        notes += sorted({u.note for u in usage if u.note and u.memory is None})
        return LimitFacts(
            tuple(usage),
            peaks,
            instances,
            tuple(notes),
            capable(ctx.backend, kind, Resizable) is not None,
        )

    def notes(self, facts: LimitFacts) -> tuple[str, ...]:
        return facts.notes

    def judge(self, facts: LimitFacts, ctx: TroubleshootContext) -> Detection:
        evidence: list[Evidence] = []
        for usage in facts.usage:
            memory_ratio = usage.memory_of_limit
            if memory_ratio is not None:
                evidence.append(
                    Evidence(
                        f"{usage.instance} memory",
                        f"{format_bytes(usage.memory or 0)} of {format_bytes(usage.memory_limit)} "
                        f"({memory_ratio:.0%})",
                        ratio_verdict(memory_ratio, MEMORY_WARNING, MEMORY_CRITICAL),
                        f"warning above {MEMORY_WARNING:.0%}, critical above "
                        f"{MEMORY_CRITICAL:.0%} of the limit",
                    )
                )
            cpu_ratio = usage.cpu_of_limit
            if cpu_ratio is not None:
                evidence.append(
                    Evidence(
                        f"{usage.instance} CPU",
                        f"{usage.cpu_percent:.0f}% of a core, {cpu_ratio:.0%} of its "
                        f"{usage.cpu_limit:g} CPU limit",
                        Verdict.WARNING if cpu_ratio >= CPU_WARNING else Verdict.OK,
                        f"warning above {CPU_WARNING:.0%} of the limit (throttled)",
                    )
                )
        for instance in facts.instances:
            if "OOMKilled" in instance.detail:
                evidence.append(
                    Evidence(
                        f"{instance.name} restarts",
                        f"{instance.restarts}, {instance.detail}",
                        Verdict.CRITICAL,
                        "the kernel killed it at its memory limit",
                    )
                )
        limited = [u for u in facts.usage if u.memory_limit or u.cpu_limit]
        if limited:
            healthy = f"{len(limited)} instance(s) inside their limits"
        elif facts.usage:
            healthy = "no limits set: nothing to be near (production profiles require limits)"
        else:
            healthy = "no running instance to measure"
        return Detection.from_evidence(evidence, healthy)

    def tables(self, facts: LimitFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        rows = []
        for usage in facts.usage:
            peak = facts.peaks.get(usage.instance, Peak())
            rows.append(
                (
                    usage.instance,
                    "-" if usage.cpu_percent is None else f"{usage.cpu_percent:.0f}%",
                    "-" if peak.cpu_percent is None else f"{peak.cpu_percent:.0f}%",
                    "-" if usage.cpu_limit is None else f"{usage.cpu_limit:g}",
                    "-" if usage.memory is None else format_bytes(usage.memory),
                    "-" if peak.memory is None else format_bytes(peak.memory),
                    "-" if usage.memory_limit is None else format_bytes(usage.memory_limit),
                    "-" if usage.memory_request is None else format_bytes(usage.memory_request),
                    str(usage.restarts),
                )
            )
        return (
            Table(
                "Usage against limits",
                "CPU in percent of one core (the limit in cores), memory without the page "
                "cache (what the limit is enforced against). Peaks are the highest seen while "
                "watching: the Overview keeps its diagnosis open, so they grow with time.",
                (
                    "Instance",
                    "CPU",
                    "CPU peak",
                    "CPU limit",
                    "Memory",
                    "Memory peak",
                    "Memory limit",
                    "Reserved",
                    "Restarts",
                ),
                tuple(rows),
                empty="no usage reading",
            ),
        )

    def remedies(self, facts: LimitFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        kind = self.kind
        cpus: float | None = None
        memory: int | None = None
        reasons = []
        for usage in facts.usage:
            peak = facts.peaks.get(usage.instance, Peak())
            ratio = usage.memory_of_limit
            if ratio is not None and ratio >= MEMORY_WARNING and usage.memory_limit:
                wanted = suggested_memory(usage.memory_limit, peak.memory or usage.memory or 0)
                memory = max(memory or 0, wanted)
                reasons.append(
                    f"{usage.instance} peaked at {format_bytes(peak.memory or 0)} of "
                    f"{format_bytes(usage.memory_limit)}"
                )
            cpu_ratio = usage.cpu_of_limit
            if cpu_ratio is not None and cpu_ratio >= CPU_WARNING and usage.cpu_limit:
                cores = (peak.cpu_percent or usage.cpu_percent or 0) / 100
                cpus = max(cpus or 0, suggested_cpus(usage.cpu_limit, cores))
                reasons.append(f"{usage.instance} peaked at {cores:.2f} of {usage.cpu_limit:g} CPU")
        killed = {i.name for i in facts.instances if "OOMKilled" in i.detail}
        for usage in facts.usage:
            if usage.instance in killed and usage.memory_limit:
                # Killed at its limit: the peak reached the limit, whatever it uses now.
                memory = max(memory or 0, suggested_memory(usage.memory_limit, usage.memory_limit))
                reasons.append(
                    f"{usage.instance} was killed at its {format_bytes(usage.memory_limit)} limit"
                )
        if cpus is None and memory is None:
            return ()
        options = []
        parameters: dict[str, float | int] = {}
        limits: dict[str, str] = {}
        if cpus is not None:
            options.append(f"--cpus {cpus:g}")
            parameters["cpus"] = cpus
            limits["cpus"] = f"{cpus:g}"
        if memory is not None:
            size = format_docker_size(memory)
            options.append(f"--memory {size}")
            parameters["memory"] = memory
            limits["memory"] = size
        profile_yaml = service_yaml(kind, {"resources": {"limits": limits}})
        target = ", ".join(f"{key} {value}" for key, value in limits.items())
        return (
            Remedy(
                id="resize-from-peaks",
                title=f"Resize {kind} to {target}",
                what_it_does=(
                    "New limits from the peaks seen, with "
                    f"{HEADROOM - 1:.0%} headroom: " + "; ".join(reasons) + "."
                ),
                cost=(
                    "More of the host for this service. Docker applies it live (no restart); "
                    "Kubernetes rolls the pods one by one. The profile's limits should say the "
                    "same, or the next deploy puts the old ones back."
                ),
                steps=(f"resize {kind}: {target} (every instance)",),
                command=f"alfred-tui resize {kind} {' '.join(options)}",
                profile_yaml=profile_yaml,
                action="resize" if facts.resizable else "",
                parameters={"service": kind, **parameters},
            ),
        )
