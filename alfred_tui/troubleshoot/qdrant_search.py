"""Runbook: Qdrant slow searches.

Symptom (spec): high search latency. A search is fast when every segment it
touches has an HNSW index; vectors not yet indexed (the optimizer is behind,
or indexing is switched off) are compared one by one. The collection's
status says whether the optimizer is still working (yellow) or failed (red);
the server's /metrics say how long searches actually take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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
from alfred_tui.troubleshoot.runbook import Runbook, metric_evidence
from alfred_tui.units import format_duration

#: Share of vectors that must be indexed in a collection big enough to need an index.
MIN_INDEXED = 0.9
DEFAULT_INDEXING_THRESHOLD_KB = 20000


@dataclass(frozen=True)
class SearchFacts:
    """What the runbook read."""

    embedded: bool
    collections: tuple[CollectionFacts, ...]
    metrics: ServerMetrics | None


def patch(collection: str, body: dict[str, object]) -> str:
    """The exact REST request, as a person would send it with curl."""
    return (
        f"curl -X PATCH http://QDRANT:6333/collections/{collection} "
        f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'"
    )


class QdrantSlowSearches(Runbook):
    """Collection status, index coverage, HNSW and optimizer settings, search times."""

    info = RunbookInfo(
        name="qdrant-slow-searches",
        service="qdrant",
        title="Qdrant slow searches",
        symptoms="High search latency in the RAG service.",
        why=(
            "Searches are fast only where an HNSW index exists. Vectors the optimizer has "
            "not indexed yet, or that it will never index because indexing is switched off, "
            "are compared one by one, and each search gets slower as the collection grows."
        ),
        detects=(
            "Search request times from /metrics against the profile's "
            "qdrant_request_duration_seconds, each collection's status and optimizer, and "
            "the share of vectors outside an index in collections big enough to need one."
        ),
    )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> SearchFacts:
        client = await ctx.qdrant()
        found = tuple(await collections(client))
        metrics = await server_metrics(client)
        return SearchFacts(client.target.embedded, found, metrics)

    def judge(self, facts: SearchFacts, ctx: TroubleshootContext) -> Detection:
        evidence: list[Evidence] = []
        if facts.embedded:
            evidence.append(
                Evidence(
                    "mode",
                    "embedded",
                    Verdict.OK,
                    "embedded Qdrant searches by brute force and exposes no request times",
                )
            )
        elif facts.metrics is None or facts.metrics.search_mean_seconds is None:
            evidence.append(
                Evidence(
                    "search time", "not measured", Verdict.OK, "no search requests in /metrics"
                )
            )
        else:
            mean = facts.metrics.search_mean_seconds
            evidence.append(
                metric_evidence(
                    ctx,
                    "qdrant_request_duration_seconds",
                    "search time (mean)",
                    mean,
                    f"{format_duration(mean)} over {facts.metrics.search_requests} searches",
                )
            )
        for collection in facts.collections:
            evidence.extend(_collection_evidence(collection, facts.embedded))
        return Detection.from_evidence(
            evidence,
            f"{len(facts.collections)} collection(s) ready"
            + (
                f", searches take {format_duration(facts.metrics.search_mean_seconds)}"
                if facts.metrics and facts.metrics.search_mean_seconds is not None
                else ""
            ),
        )

    def tables(self, facts: SearchFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        rows = tuple(
            (
                c.name,
                c.status,
                c.optimizer,
                c.points,
                f"{c.indexed_vectors} of {c.vectors}",
                c.segments,
                c.dimensions,
                "-" if c.hnsw_m is None else f"m={c.hnsw_m} ef={c.hnsw_ef_construct}",
                "-" if c.indexing_threshold is None else f"{c.indexing_threshold} KB",
                c.quantization or "-",
            )
            for c in facts.collections
        )
        tables = [
            Table(
                "Collections",
                "green: ready; yellow: the optimizer is building indexes (searches are slower "
                "meanwhile); grey: optimizations pending; red: the optimizer failed.",
                (
                    "Collection",
                    "Status",
                    "Optimizer",
                    "Points",
                    "Indexed vectors",
                    "Segments",
                    "Dimensions",
                    "HNSW",
                    "Indexing threshold",
                    "Quantization",
                ),
                rows,
                empty="no collections",
            )
        ]
        metrics = facts.metrics
        if metrics is not None:
            slowest = metrics.slowest_endpoint
            tables.append(
                Table(
                    "Request times",
                    "From the server's /metrics: means since the server started.",
                    ("What", "Value"),
                    (
                        ("searches served", metrics.search_requests),
                        ("search time, mean", format_duration(metrics.search_mean_seconds)),
                        ("search time, max", format_duration(metrics.search_max_seconds)),
                        (
                            "slowest endpoint (mean)",
                            f"{slowest[0]} {format_duration(slowest[1])}" if slowest else "-",
                        ),
                    ),
                )
            )
        return tuple(tables)

    def remedies(self, facts: SearchFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        remedies: list[Remedy] = []
        for c in facts.collections:
            if c.status == "yellow":
                remedies.append(
                    Remedy(
                        id=f"wait-{c.name}",
                        title=f"Let the optimizer finish on {c.name}",
                        what_it_does=(
                            f"{c.name} is being optimized ({c.indexed_vectors} of {c.vectors} "
                            "vectors indexed). Searches speed up as segments are indexed; "
                            "watch the status turn green. Avoid big uploads meanwhile."
                        ),
                        steps=(f"curl http://QDRANT:6333/collections/{c.name}",),
                    )
                )
            if c.status == "red" or c.optimizer != "ok":
                remedies.append(
                    Remedy(
                        id=f"optimizer-error-{c.name}",
                        title=f"Read the optimizer error of {c.name}",
                        what_it_does=(
                            f"The optimizer of {c.name} reports: {c.optimizer}. Often a full "
                            "disk or too little memory; fix that and restart Qdrant."
                        ),
                        steps=("alfred-tui logs qdrant",),
                    )
                )
            if not facts.embedded and c.indexing_threshold == 0 and c.needs_index:
                body: dict[str, object] = {
                    "optimizers_config": {"indexing_threshold": DEFAULT_INDEXING_THRESHOLD_KB}
                }
                remedies.append(
                    Remedy(
                        id=f"enable-indexing-{c.name}",
                        title=f"Switch indexing back on for {c.name}",
                        what_it_does=(
                            "indexing_threshold is 0, which disables HNSW indexing (usual "
                            "during a bulk upload, forgotten afterwards). Qdrant's default "
                            f"{DEFAULT_INDEXING_THRESHOLD_KB} KB lets the optimizer index "
                            "every segment above that size."
                        ),
                        cost="The optimizer uses CPU while it builds the index.",
                        steps=(patch(c.name, body),),
                    )
                )
        big = [c for c in facts.collections if c.needs_index and not c.quantization]
        if big and not facts.embedded:
            c = max(big, key=lambda item: item.vector_bytes)
            body = {"quantization_config": {"scalar": {"type": "int8", "always_ram": True}}}
            remedies.append(
                Remedy(
                    id=f"quantize-{c.name}",
                    title=f"Quantize {c.name} (int8)",
                    what_it_does=(
                        "Keeps a 4x smaller int8 copy of each vector in RAM for the search "
                        "and rescoring with the originals: faster searches, less memory."
                    ),
                    cost="A little recall; the optimizer rebuilds segments in the background.",
                    steps=(patch(c.name, body),),
                )
            )
        remedies.append(
            Remedy(
                id="search-parameters",
                title="Ask for less precision per search",
                what_it_does=(
                    "A smaller hnsw_ef in the search request (e.g. 64, default is ef_construct) "
                    "and a smaller limit make each search cheaper; 'exact: true' in a request "
                    "forces brute force and should not be used in production."
                ),
                cost="A change in the RAG service's search requests; slightly lower recall.",
            )
        )
        service = ctx.profile.qdrant
        if service is not None and not facts.embedded:
            limits = service.resources.limits
            cpus = (limits.cpus if limits and limits.cpus else 1.0) * 2
            remedies.append(
                Remedy(
                    id="more-cpu",
                    title=f"Give Qdrant more CPU ({cpus:g} CPUs)",
                    what_it_does=(
                        "Searches and index building share the CPUs; throttled CPU shows up "
                        "directly as search latency."
                    ),
                    cost="Host CPU; the container is recreated, so Qdrant restarts.",
                    profile_yaml=service_yaml("qdrant", {"resources": {"limits": {"cpus": cpus}}}),
                    needs_restart=True,
                )
            )
        return tuple(remedies)

    def notes(self, facts: SearchFacts) -> tuple[str, ...]:
        if facts.embedded:
            return (
                "embedded mode (qdrant-client local): no HNSW index and no request metrics; "
                "search times here say nothing about a server",
            )
        return ()


def _collection_evidence(c: CollectionFacts, embedded: bool) -> list[Evidence]:
    evidence: list[Evidence] = []
    if c.status == "red" or c.optimizer != "ok":
        evidence.append(
            Evidence(f"{c.name} status", f"{c.status}, optimizer: {c.optimizer}", Verdict.CRITICAL)
        )
    elif c.status in ("yellow", "grey"):
        evidence.append(
            Evidence(
                f"{c.name} status",
                f"{c.status} (optimizing)" if c.status == "yellow" else "grey (optimizer paused)",
                Verdict.WARNING,
            )
        )
    if embedded or not c.needs_index:
        return evidence
    if c.indexing_threshold == 0:
        evidence.append(
            Evidence(
                f"{c.name} index",
                f"indexing disabled (indexing_threshold 0), {c.unindexed} vectors unindexed",
                Verdict.WARNING,
            )
        )
    elif c.vectors and c.indexed_vectors / c.vectors < MIN_INDEXED:
        evidence.append(
            Evidence(
                f"{c.name} index",
                f"{c.indexed_vectors} of {c.vectors} vectors indexed",
                Verdict.WARNING,
                f"searches compare the other {c.unindexed} one by one",
            )
        )
    return evidence
