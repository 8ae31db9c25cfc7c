"""Runbook: Qdrant out of memory.

Symptom (spec): OOM errors, crashes. Qdrant keeps vectors and HNSW graphs in
RAM unless told to keep them on disk; past the container's or pod's memory
limit the kernel kills it and the engine restarts it (Docker's OOMKilled,
Kubernetes' OOMKilled reason). The backend reports the limit and the kills;
the collections say how much memory their data wants.
"""

from __future__ import annotations

from dataclasses import dataclass

from alfred_tui.backends.base import ServiceStatus
from alfred_tui.databases.qdrant_inspect import (
    CollectionFacts,
    ServerMetrics,
    collections,
    server_metrics,
)
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import Detection, Evidence, Remedy, RunbookInfo, Table
from alfred_tui.troubleshoot.profile_yaml import service_yaml
from alfred_tui.troubleshoot.qdrant_search import patch
from alfred_tui.troubleshoot.runbook import Runbook, ratio_verdict
from alfred_tui.units import format_bytes, format_docker_size

WARN_USAGE = 0.75
CRITICAL_USAGE = 0.90
GIB = 1024**3


@dataclass(frozen=True)
class MemoryFacts:
    """What the runbook read."""

    embedded: bool
    collections: tuple[CollectionFacts, ...]
    metrics: ServerMetrics | None
    status: ServiceStatus | None
    status_note: str
    limit: int | None
    limit_source: str

    @property
    def estimated(self) -> int:
        """RAM the collections want, by Qdrant's sizing rule."""
        return sum(c.estimated_ram() for c in self.collections)

    def oom_killed(self) -> list[str]:
        """Instances whose last exit the engine reports as an out-of-memory kill."""
        if self.status is None:
            return []
        return [i.name for i in self.status.instances if "oom" in i.detail.lower()]


class QdrantMemory(Runbook):
    """Memory against the limit, OOM kills, and how the collections store their vectors."""

    info = RunbookInfo(
        name="qdrant-memory",
        service="qdrant",
        title="Qdrant out of memory",
        symptoms="OOM errors, Qdrant crashing and restarting, searches failing meanwhile.",
        why=(
            "Qdrant keeps vectors and their HNSW graphs in RAM unless a collection keeps "
            "them on disk. When it passes the container's memory limit the kernel kills it; "
            "it restarts, reloads, and is killed again as soon as the data is back in memory."
        ),
        detects=(
            "Out-of-memory kills and restarts the backend reports, memory in use (from "
            "/metrics) against the container or pod limit, and the memory the collections "
            "need by Qdrant's sizing rule (points x dimensions x 4 bytes x 1.5)."
        ),
    )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> MemoryFacts:
        client = await ctx.qdrant()
        found = tuple(await collections(client))
        metrics = await server_metrics(client)
        status, note = await ctx.status("qdrant")
        limit, source = None, ""
        if status is not None and status.limits.memory:
            limit, source = status.limits.memory, "the backend's limit"
        else:
            service = ctx.profile.qdrant
            limits = service.resources.limits if service else None
            if limits is not None and limits.memory:
                limit, source = limits.memory, "the profile's resources.limits.memory"
        return MemoryFacts(client.target.embedded, found, metrics, status, note, limit, source)

    def judge(self, facts: MemoryFacts, ctx: TroubleshootContext) -> Detection:
        evidence: list[Evidence] = []
        killed = facts.oom_killed()
        if killed:
            evidence.append(
                Evidence(
                    "killed for memory",
                    ", ".join(killed),
                    Verdict.CRITICAL,
                    "the engine reports an out-of-memory kill",
                )
            )
        if facts.status is not None and facts.status.restarts:
            evidence.append(
                Evidence(
                    "restarts",
                    str(facts.status.restarts),
                    Verdict.WARNING,
                    "a restart after a crash; out of memory is the usual cause for Qdrant",
                )
            )
        used = facts.metrics.memory_bytes if facts.metrics else None
        if used is not None and facts.limit:
            ratio = used / facts.limit
            evidence.append(
                Evidence(
                    "memory in use",
                    f"{format_bytes(used)} of {format_bytes(facts.limit)} ({ratio:.0%})",
                    ratio_verdict(ratio, WARN_USAGE, CRITICAL_USAGE),
                    f"{facts.limit_source}; warning from {WARN_USAGE:.0%}, critical from "
                    f"{CRITICAL_USAGE:.0%}",
                )
            )
        if facts.limit:
            need = facts.estimated / facts.limit
            evidence.append(
                Evidence(
                    "memory the data needs",
                    f"about {format_bytes(facts.estimated)} of {format_bytes(facts.limit)} "
                    f"({need:.0%})",
                    Verdict.WARNING if need >= WARN_USAGE else Verdict.OK,
                    "estimate: vectors in RAM x 1.5",
                )
            )
        elif not facts.embedded:
            evidence.append(
                Evidence(
                    "memory limit",
                    "none known",
                    Verdict.OK,
                    facts.status_note or "no limit: Qdrant may take all the host's memory",
                )
            )
        healthy = f"collections need about {format_bytes(facts.estimated)}" + (
            f" of a {format_bytes(facts.limit)} limit" if facts.limit else ""
        )
        return Detection.from_evidence(evidence, healthy)

    def tables(self, facts: MemoryFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        used = facts.metrics.memory_bytes if facts.metrics else None
        memory = Table(
            "Memory",
            "What Qdrant uses now, what the engine allows, and what the data wants.",
            ("What", "Value"),
            (
                (
                    "in use",
                    f"{format_bytes(used)} ({facts.metrics.memory_source})"
                    if used is not None and facts.metrics
                    else "not exposed",
                ),
                (
                    "limit",
                    f"{format_bytes(facts.limit)} ({facts.limit_source})"
                    if facts.limit
                    else "none",
                ),
                ("needed by the collections (estimate)", format_bytes(facts.estimated)),
            ),
        )
        instances = Table(
            "Instances",
            "Restarts and the engine's reason for the last exit (OOMKilled means the kernel "
            "killed Qdrant at its memory limit).",
            ("Instance", "State", "Restarts", "Detail"),
            tuple(
                (i.name, i.state, i.restarts, i.detail or "-")
                for i in (facts.status.instances if facts.status else ())
            ),
            empty=facts.status_note or "no instances reported",
        )
        storage = Table(
            "Collections",
            "Vectors 'in RAM' cost memory for every point; 'on disk' vectors are read "
            "through the page cache, with an optional quantized copy in RAM.",
            (
                "Collection",
                "Points",
                "Dimensions",
                "Vectors",
                "HNSW",
                "Payload",
                "Quantization",
                "Needs (estimate)",
            ),
            tuple(
                (
                    c.name,
                    c.points,
                    c.dimensions,
                    "on disk"
                    if c.vector_configs and all(v.on_disk for v in c.vector_configs)
                    else "in RAM",
                    "on disk" if c.hnsw_on_disk else "in RAM",
                    "on disk" if c.on_disk_payload else "in RAM",
                    c.quantization or "-",
                    format_bytes(c.estimated_ram()),
                )
                for c in sorted(facts.collections, key=lambda c: -c.estimated_ram())
            ),
            empty="no collections",
        )
        return (memory, instances, storage)

    def remedies(self, facts: MemoryFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        remedies: list[Remedy] = []
        in_ram = [
            c
            for c in facts.collections
            if any(not v.on_disk for v in c.vector_configs) and c.points
        ]
        if in_ram and not facts.embedded:
            c = max(in_ram, key=lambda item: item.estimated_ram())
            vectors = {v.name: {"on_disk": True} for v in c.vector_configs if not v.on_disk}
            remedies.append(
                Remedy(
                    id=f"vectors-on-disk-{c.name}",
                    title=f"Keep the vectors of {c.name} on disk",
                    what_it_does=(
                        f"{c.name} holds about {format_bytes(c.estimated_ram())} of vectors in "
                        "RAM. On disk, they are memory-mapped: the kernel keeps the hot ones "
                        "in its page cache and drops the rest instead of Qdrant being killed. "
                        "An empty name means the collection's single unnamed vector."
                    ),
                    cost=(
                        "Searches read from disk when the page cache is cold (use fast disks); "
                        "add int8 quantization to keep searches in RAM. The optimizer "
                        "rewrites segments in the background."
                    ),
                    steps=(patch(c.name, {"vectors": vectors}),),
                )
            )
            remedies.append(
                Remedy(
                    id=f"quantize-{c.name}",
                    title=f"Quantize {c.name} (int8, 4x smaller in RAM)",
                    what_it_does=(
                        "Keeps a 1-byte-per-dimension copy of each vector in RAM for "
                        "searching; with the originals on disk, RAM need drops about 4x."
                    ),
                    cost="A little recall; segments are rebuilt in the background.",
                    steps=(
                        patch(
                            c.name,
                            {
                                "quantization_config": {
                                    "scalar": {"type": "int8", "always_ram": True}
                                }
                            },
                        ),
                    ),
                )
            )
        payload = [c for c in facts.collections if not c.on_disk_payload and c.points]
        if payload and not facts.embedded:
            c = payload[0]
            remedies.append(
                Remedy(
                    id=f"payload-on-disk-{c.name}",
                    title=f"Keep the payload of {c.name} on disk",
                    what_it_does=(
                        "Payloads (the documents' text and metadata) stay on disk and are read "
                        "when a result is returned; indexed payload fields stay in RAM."
                    ),
                    cost="Slightly slower result fetching; applies to new segments.",
                    steps=(patch(c.name, {"params": {"on_disk_payload": True}}),),
                )
            )
        service = ctx.profile.qdrant
        if service is not None and not facts.embedded:
            base = max(facts.limit or 0, int(facts.estimated * 1.3), 2 * GIB)
            target = -(-int(base * (1.5 if facts.limit else 1.0)) // GIB) * GIB
            remedies.append(
                Remedy(
                    id="raise-memory-limit",
                    title=f"Give Qdrant a {format_docker_size(target)} memory limit",
                    what_it_does=(
                        f"Room for the {format_bytes(facts.estimated)} the collections need "
                        "plus the page cache and the optimizer's temporary segments."
                    ),
                    cost="Host memory; the container is recreated, so Qdrant restarts.",
                    profile_yaml=service_yaml(
                        "qdrant", {"resources": {"limits": {"memory": format_docker_size(target)}}}
                    ),
                    needs_restart=True,
                )
            )
        return tuple(remedies)

    def notes(self, facts: MemoryFacts) -> tuple[str, ...]:
        notes = []
        if facts.status is None and facts.status_note:
            notes.append(f"no restarts or OOM kills: {facts.status_note}")
        if facts.embedded:
            notes.append("embedded mode: Qdrant runs inside this process and exposes no memory")
        return tuple(notes)
