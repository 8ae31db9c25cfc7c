"""Qdrant diagnostics: collection state, index coverage, memory, request times.

A server is read over REST (``GET /collections/{name}``, ``/metrics``); an
embedded store through qdrant-client's local mode, whose ``CollectionInfo``
has the same shape. Fields that differ across Qdrant versions are read
defensively: ``vectors_count`` was dropped in 1.13 (points times vectors per
point stands in), ``optimizer_status`` is ``"ok"`` or ``{"error": ...}``,
and vectors may be one unnamed config or a map of named ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alfred_tui.databases.failures import DatabaseUnavailable, describe_failure
from alfred_tui.databases.qdrant import QdrantBusy, parse_prometheus

if TYPE_CHECKING:
    from alfred_tui.databases.qdrant import QdrantClient

#: Qdrant's own rule of thumb: vectors take points x dimensions x 4 bytes, x1.5 with overhead.
RAM_OVERHEAD = 1.5
FLOAT_BYTES = 4
#: Endpoints counted as searches when reading request durations from /metrics.
SEARCH_MARKERS = ("search", "query", "recommend", "discover")


@dataclass(frozen=True)
class VectorConfig:
    """One (possibly named) vector of a collection."""

    name: str
    size: int
    distance: str
    on_disk: bool
    quantized: bool


@dataclass(frozen=True)
class CollectionFacts:
    """What a collection's info says about its health and its memory."""

    name: str
    status: str
    """``green`` (ready), ``yellow`` (optimizing), ``grey`` (optimizer paused), ``red`` (error)."""
    optimizer: str
    """``ok`` or the optimizer's error."""
    points: int
    vectors: int
    indexed_vectors: int
    segments: int
    vector_configs: tuple[VectorConfig, ...]
    hnsw_m: int | None
    hnsw_ef_construct: int | None
    full_scan_threshold: int | None
    hnsw_on_disk: bool
    indexing_threshold: int | None
    """KB of vectors in a segment above which it gets an HNSW index; 0 disables indexing."""
    memmap_threshold: int | None
    on_disk_payload: bool
    quantization: str | None

    @property
    def dimensions(self) -> int:
        """Dimensions of every vector of a point, summed."""
        return sum(v.size for v in self.vector_configs)

    @property
    def vector_bytes(self) -> int:
        """Raw size of all vectors (float32)."""
        return self.points * self.dimensions * FLOAT_BYTES

    @property
    def unindexed(self) -> int:
        """Vectors outside any HNSW index (searched by brute force)."""
        return max(0, self.vectors - self.indexed_vectors)

    @property
    def needs_index(self) -> bool:
        """Whether the data is big enough that Qdrant would index it.

        Segments below ``indexing_threshold`` KB are searched by brute force on
        purpose (it is faster for small data), so an unindexed small
        collection is not a problem.
        """
        threshold_kb = self.indexing_threshold if self.indexing_threshold is not None else 20000
        return self.vector_bytes / 1024 > max(threshold_kb, 1)

    def estimated_ram(self) -> int:
        """Memory the collection wants in RAM, by Qdrant's sizing rule.

        Vectors kept in RAM count points x dimensions x 4 bytes x 1.5; vectors
        on disk (memmap) count only their quantized copy when there is one
        (1 byte a dimension for int8) and otherwise nothing but the page cache.
        """
        total = 0.0
        for vector in self.vector_configs:
            raw = self.points * vector.size * FLOAT_BYTES
            if not vector.on_disk:
                total += raw * RAM_OVERHEAD
            elif vector.quantized or self.quantization:
                total += self.points * vector.size * RAM_OVERHEAD
        return int(total)


def _vector_configs(params: dict[str, Any], collection_quantized: bool) -> tuple[VectorConfig, ...]:
    vectors = params.get("vectors") or {}
    named: dict[str, Any]
    if isinstance(vectors, dict) and "size" in vectors:
        named = {"": vectors}
    elif isinstance(vectors, dict):
        named = vectors
    else:
        named = {}
    return tuple(
        VectorConfig(
            name=name,
            size=int(config.get("size") or 0),
            distance=str(config.get("distance") or ""),
            on_disk=bool(config.get("on_disk")),
            quantized=bool(config.get("quantization_config")) or collection_quantized,
        )
        for name, config in named.items()
        if isinstance(config, dict)
    )


def _optimizer(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("error") or value)
    return str(value or "ok")


def _quantization(value: Any) -> str | None:
    if not value:
        return None
    if isinstance(value, dict):
        return ", ".join(key for key, item in value.items() if item) or None
    return str(value)


def parse_collection(name: str, result: dict[str, Any]) -> CollectionFacts:
    """A :class:`CollectionFacts` from ``GET /collections/{name}``'s result (or local mode's)."""
    config = result.get("config") or {}
    params = config.get("params") or {}
    hnsw = config.get("hnsw_config") or {}
    optimizers = config.get("optimizer_config") or {}
    quantization = _quantization(config.get("quantization_config"))
    vector_configs = _vector_configs(params, quantization is not None)
    points = int(result.get("points_count") or 0)
    vectors = result.get("vectors_count")
    if vectors is None:
        vectors = points * max(1, len(vector_configs))
    return CollectionFacts(
        name=name,
        status=str(result.get("status") or "unknown"),
        optimizer=_optimizer(result.get("optimizer_status")),
        points=points,
        vectors=int(vectors),
        indexed_vectors=int(result.get("indexed_vectors_count") or 0),
        segments=int(result.get("segments_count") or 0),
        vector_configs=vector_configs,
        hnsw_m=hnsw.get("m"),
        hnsw_ef_construct=hnsw.get("ef_construct"),
        full_scan_threshold=hnsw.get("full_scan_threshold"),
        hnsw_on_disk=bool(hnsw.get("on_disk")),
        indexing_threshold=optimizers.get("indexing_threshold"),
        memmap_threshold=optimizers.get("memmap_threshold"),
        on_disk_payload=bool(params.get("on_disk_payload")),
        quantization=quantization,
    )


async def collections(client: QdrantClient) -> list[CollectionFacts]:
    """Every collection's facts, read concurrently from a server or from the embedded store."""
    if client.target.embedded:
        return await _embedded_collections(client)
    listing = await client.get_json("/collections")
    names = sorted(c["name"] for c in (listing.get("result") or {}).get("collections", []))
    infos = await asyncio.gather(*(client.get_json(f"/collections/{name}") for name in names))
    return [
        parse_collection(name, info.get("result") or {})
        for name, info in zip(names, infos, strict=True)
    ]


async def _embedded_collections(client: QdrantClient) -> list[CollectionFacts]:
    from alfred_tui.databases.qdrant import embedded_store_exists

    if not embedded_store_exists(client.target.path or ""):
        # qdrant-client would create an empty store there; a diagnosis must not create data.
        raise DatabaseUnavailable(
            f"embedded store {client.target.path} does not exist (deploy first: alfred-tui up)"
        )

    def read() -> list[CollectionFacts]:
        local = client.embedded_client()
        names = sorted(c.name for c in local.get_collections().collections)
        return [
            parse_collection(name, local.get_collection(name).model_dump(mode="json"))
            for name in names
        ]

    try:
        return await asyncio.wait_for(asyncio.to_thread(read), client.timeout)
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        raise _failure(client, exc) from None


def _failure(client: QdrantClient, exc: BaseException) -> DatabaseUnavailable:
    """One line for a failed read, as the probes word it."""
    if client.target.embedded:
        if "already accessed by another instance" in str(exc):
            return QdrantBusy(f"embedded store {client.target.path} is held by another process")
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DatabaseUnavailable(f"embedded store {client.target.path}: {message[:160]}")
    import httpx

    url = httpx.URL(client.target.url or "")
    return DatabaseUnavailable(
        describe_failure(exc, host=url.host, port=url.port, timeout=client.timeout)
    )


@dataclass(frozen=True)
class ServerMetrics:
    """What a server's ``/metrics`` says about memory and search times."""

    memory_bytes: int | None
    """Resident (or else allocated) memory, when the server exposes it."""
    memory_source: str
    search_mean_seconds: float | None
    search_max_seconds: float | None
    search_requests: int
    slowest_endpoint: tuple[str, float] | None
    """(endpoint, mean seconds) of the slowest non-probe endpoint."""


def parse_server_metrics(text: str) -> ServerMetrics:
    """Memory and search durations from a Prometheus exposition of Qdrant."""
    memory: int | None = None
    source = ""
    counts: dict[str, float] = {}
    means: dict[str, float] = {}
    maxima: dict[str, float] = {}
    for name, labels, value in parse_prometheus(text):
        if name in ("memory_resident_bytes", "memory_allocated_bytes") and (
            memory is None or name == "memory_resident_bytes"
        ):
            memory, source = int(value), name
        for protocol in ("rest", "grpc"):
            endpoint = f"{labels.get('method', '')} {labels.get('endpoint', '')}".strip()
            if name == f"{protocol}_responses_total":
                counts[endpoint] = counts.get(endpoint, 0.0) + value
            elif name == f"{protocol}_responses_avg_duration_seconds":
                means[endpoint] = max(means.get(endpoint, 0.0), value)
            elif name == f"{protocol}_responses_max_duration_seconds":
                maxima[endpoint] = max(maxima.get(endpoint, 0.0), value)
    searches = [e for e in counts if any(marker in e.lower() for marker in SEARCH_MARKERS)]
    total = sum(counts[e] for e in searches)
    weighted = sum(means.get(e, 0.0) * counts[e] for e in searches)
    mean = weighted / total if total else None
    worst_max = max((maxima[e] for e in searches if e in maxima), default=None)
    slowest = max(means.items(), key=lambda item: item[1], default=None)
    return ServerMetrics(memory, source, mean, worst_max, int(total), slowest)


async def server_metrics(client: QdrantClient) -> ServerMetrics | None:
    """The server's metrics, or None (embedded, or /metrics not served)."""
    if client.target.embedded:
        return None
    try:
        response = await client.http().get("/metrics")
    except Exception as exc:
        raise _failure(client, exc) from None
    if response.status_code != 200:
        return None
    return parse_server_metrics(response.text)
