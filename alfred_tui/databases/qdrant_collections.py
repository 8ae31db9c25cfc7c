"""Qdrant collections against the profile: state, drift, missing and extra ones.

The collections pane and ``alfred-tui collections`` read every collection of
a Qdrant target (a server over REST, or an embedded qdrant-client store) and
compare it with the profile's ``qdrant_collections``: each is ``ok``, shows
``drift`` (vector size or distance not what the profile says), is
``missing`` (expected, absent) or ``extra`` (present, not in the profile).

Missing collections can be created the way the spec's deployment step 3
does (``PUT /collections/{name}`` with ``{"vectors": {"size": 1536,
"distance": "Cosine"}}``); :func:`ensure_collections` is that step for
``alfred-tui up``. Creating is additive, so it needs no confirmation. An
existing collection is never changed: fixing drift means recreating it and
re-indexing its data, which is the operator's decision.

Embedded stores (qdrant-client local mode) keep no segments, HNSW indexes,
optimizer or payload indexes; those figures are reported as not available,
never as zero.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from alfred_tui.databases.failures import DatabaseUnavailable
from alfred_tui.databases.qdrant import QdrantClient, QdrantTarget, embedded_store_exists
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.backends.base import Endpoint
    from alfred_tui.config.models import Profile, QdrantCollection

CollectionState = Literal["ok", "drift", "missing", "extra"]
T = TypeVar("T")

JSON_SCHEMA_ID = "alfred-tui/collections"
JSON_SCHEMA_VERSION = 1
"""``assets/schemas/collections.v1.schema.json`` describes the document; fields are
only ever added within a version."""

#: Collection infos read at once from a server (one request each).
_CONCURRENT_READS = 8

EMBEDDED_NOTE = "not tracked by embedded mode (qdrant-client local mode)"


class QdrantUnavailable(AlfredError):
    """Qdrant could not be reached, refused us, or failed a request."""

    title = "Qdrant unavailable"


class QdrantNotConfigured(AlfredError):
    """The profile has no enabled Qdrant service."""

    title = "No Qdrant"


@dataclass(frozen=True)
class VectorSpec:
    """One dense vector of a collection; ``name`` is empty for the unnamed vector."""

    name: str
    size: int
    distance: str

    def describe(self) -> str:
        """``1536 Cosine`` (``text: 1536 Cosine`` when named)."""
        text = f"{self.size} {self.distance}"
        return f"{self.name}: {text}" if self.name else text


@dataclass(frozen=True)
class PayloadIndex:
    """A payload index and how many points it covers."""

    field: str
    data_type: str
    points: int | None


@dataclass(frozen=True)
class CollectionReport:
    """One collection as found, compared with what the profile expects."""

    name: str
    state: CollectionState
    expected: VectorSpec | None = None
    """The profile's vector (unnamed) for this collection; None for an extra one."""
    purpose: str = ""
    created: bool = False
    """Created by this run (``--create-missing`` or :func:`ensure_collections`)."""
    status: str | None = None
    """``green``, ``yellow`` (optimizing), ``grey`` (optimizations pending) or ``red``."""
    optimizer: str | None = None
    """``ok`` or the optimizer's error; None where not tracked."""
    points: int | None = None
    indexed_vectors: int | None = None
    segments: int | None = None
    vectors: tuple[VectorSpec, ...] = ()
    payload_indexes: tuple[PayloadIndex, ...] | None = None
    """None where not tracked (embedded); empty when there are none."""
    drift: tuple[str, ...] = ()
    """What differs from the profile, one phrase each."""
    notes: tuple[str, ...] = ()

    @property
    def in_profile(self) -> bool:
        """Whether the profile expects this collection."""
        return self.expected is not None


@dataclass(frozen=True)
class CollectionsReport:
    """Every collection of one Qdrant target against one profile."""

    profile: str
    address: str
    embedded: bool
    collections: tuple[CollectionReport, ...]
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def by_state(self, state: CollectionState) -> list[CollectionReport]:
        """The collections in ``state``."""
        return [c for c in self.collections if c.state == state]

    @property
    def created(self) -> list[str]:
        """Names created by this run."""
        return [c.name for c in self.collections if c.created]


# --- reading what is there ---------------------------------------------------------


def _vectors(params: dict[str, Any]) -> tuple[VectorSpec, ...]:
    vectors = params.get("vectors")
    if isinstance(vectors, dict) and "size" in vectors:
        return (VectorSpec("", int(vectors["size"]), str(vectors["distance"])),)
    if isinstance(vectors, dict):
        return tuple(
            VectorSpec(name, int(item["size"]), str(item["distance"]))
            for name, item in sorted(vectors.items())
            if isinstance(item, dict) and "size" in item
        )
    return ()


def _optimizer(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict) and "error" in value:
        return f"error: {redact(str(value['error']))}"
    return str(value)


def _payload_indexes(schema: Any) -> tuple[PayloadIndex, ...]:
    if not isinstance(schema, dict):
        return ()
    return tuple(
        PayloadIndex(key, str(item.get("data_type", "?")), item.get("points"))
        for key, item in sorted(schema.items())
        if isinstance(item, dict)
    )


def drift_of(expected: VectorSpec, vectors: Sequence[VectorSpec]) -> tuple[str, ...]:
    """How ``vectors`` differ from the profile's unnamed ``expected`` vector."""
    unnamed = [v for v in vectors if v.name == ""]
    wanted = f"one unnamed {expected.describe()} vector"
    if not unnamed:
        if vectors:
            names = ", ".join(v.name for v in vectors)
            return (f"has named vectors ({names}); the profile expects {wanted}",)
        return (f"has no dense vector; the profile expects {wanted}",)
    found = unnamed[0]
    problems = []
    if found.size != expected.size:
        problems.append(f"size {found.size}, profile expects {expected.size}")
    if found.distance != expected.distance:
        problems.append(f"distance {found.distance}, profile expects {expected.distance}")
    return tuple(problems)


def collection_report(
    name: str,
    info: dict[str, Any],
    expected: QdrantCollection | None,
    *,
    embedded: bool,
    created: bool = False,
) -> CollectionReport:
    """A :class:`CollectionReport` from Qdrant's ``CollectionInfo`` JSON."""
    config = info.get("config") or {}
    vectors = _vectors(config.get("params") or {})
    spec = VectorSpec("", expected.size, expected.distance) if expected else None
    drift = drift_of(spec, vectors) if spec else ()
    state: CollectionState = "extra" if spec is None else ("drift" if drift else "ok")
    notes: tuple[str, ...] = ()
    if embedded:
        notes = (f"segments, indexed vectors, optimizer and payload indexes: {EMBEDDED_NOTE}",)
    return CollectionReport(
        name=name,
        state=state,
        expected=spec,
        purpose=expected.purpose if expected else "",
        created=created,
        status=info.get("status"),
        optimizer=None if embedded else _optimizer(info.get("optimizer_status")),
        points=info.get("points_count"),
        indexed_vectors=None if embedded else info.get("indexed_vectors_count"),
        segments=None if embedded else info.get("segments_count"),
        vectors=vectors,
        payload_indexes=None if embedded else _payload_indexes(info.get("payload_schema")),
        drift=drift,
        notes=notes,
    )


def missing_report(expected: QdrantCollection) -> CollectionReport:
    """A collection the profile expects and the target does not have."""
    spec = VectorSpec("", expected.size, expected.distance)
    return CollectionReport(
        name=expected.name,
        state="missing",
        expected=spec,
        purpose=expected.purpose,
        notes=("create it with: alfred-tui collections --create-missing",),
    )


# --- the two kinds of target -----------------------------------------------------------


def _quoted(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _server_error(response: Any, what: str, address: str) -> QdrantUnavailable:
    try:
        message = response.json()["status"]["error"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    return QdrantUnavailable(
        f"{what} failed with HTTP {response.status_code} ({address}): {redact(str(message))}"
    )


async def _server_infos(client: QdrantClient) -> dict[str, dict[str, Any]]:
    listing = await client.get_json("/collections")
    try:
        names = sorted(str(c["name"]) for c in listing["result"]["collections"])
    except (KeyError, TypeError) as exc:
        raise QdrantUnavailable(
            f"not a Qdrant server: unexpected reply to /collections ({client.target.address})"
        ) from exc
    limit = asyncio.Semaphore(_CONCURRENT_READS)

    async def one(name: str) -> tuple[str, dict[str, Any] | None]:
        async with limit:
            response = await client.request("GET", f"/collections/{_quoted(name)}")
        if response.status_code == 404:  # dropped between the listing and now
            return name, None
        if response.status_code >= 400:
            raise _server_error(response, f"reading collection {name}", client.target.address)
        try:
            return name, response.json()["result"]
        except (ValueError, KeyError, TypeError):
            raise QdrantUnavailable(
                f"not a Qdrant server: unexpected reply for collection {name} "
                f"({client.target.address})"
            ) from None

    results = await asyncio.gather(*(one(name) for name in names))
    return {name: info for name, info in results if info is not None}


async def _server_create(client: QdrantClient, spec: QdrantCollection) -> bool:
    """PUT the collection; False when it already exists (someone else just made it)."""
    body = {"vectors": {"size": spec.size, "distance": spec.distance}}
    response = await client.request("PUT", f"/collections/{_quoted(spec.name)}", json=body)
    if response.status_code == 200:
        return True
    if response.status_code in (400, 409) and "already exists" in response.text:
        return False
    raise _server_error(response, f"creating collection {spec.name}", client.target.address)


async def _embedded_call(client: QdrantClient, function: Callable[..., T], *args: Any) -> T:
    """Run a blocking qdrant-client call in a thread, under the client's timeout."""

    def call() -> T:
        return function(client.embedded_client(), *args)

    try:
        return await asyncio.wait_for(asyncio.to_thread(call), client.timeout)
    except AlfredError:
        raise
    except Exception as exc:
        raise client.failure(exc) from None


def _embedded_infos(local: Any) -> dict[str, dict[str, Any]]:
    names = sorted(c.name for c in local.get_collections().collections)
    return {name: local.get_collection(name).model_dump(mode="json") for name in names}


def _embedded_create(local: Any, spec: QdrantCollection) -> bool:
    from qdrant_client.http import models

    if local.collection_exists(spec.name):
        return False
    local.create_collection(
        spec.name,
        vectors_config=models.VectorParams(size=spec.size, distance=models.Distance(spec.distance)),
    )
    return True


# --- what callers use ---------------------------------------------------------------------


def _target(profile: Profile, endpoint: Endpoint) -> QdrantTarget:
    service = profile.qdrant
    if service is None:
        raise QdrantNotConfigured(
            f"profile '{profile.name}' has no enabled qdrant service (services.qdrant)"
        )
    return QdrantTarget.from_profile(service, endpoint)


async def _read(client: QdrantClient) -> dict[str, dict[str, Any]]:
    if client.target.embedded:
        return await _embedded_call(client, _embedded_infos)
    return await _server_infos(client)


async def _create(client: QdrantClient, spec: QdrantCollection) -> bool:
    if client.target.embedded:
        return await _embedded_call(client, _embedded_create, spec)
    return await _server_create(client, spec)


def _require_store(client: QdrantClient, creating: bool) -> None:
    path = client.target.path
    if client.target.embedded and not creating and not embedded_store_exists(path or ""):
        raise QdrantUnavailable(
            f"embedded store {path} does not exist (deploy first: alfred-tui up, "
            "or create the profile's collections with --create-missing)"
        )


async def inspect_collections(
    profile: Profile,
    endpoint: Endpoint,
    *,
    create_missing: bool = False,
    timeout: float = 10.0,
) -> CollectionsReport:
    """Every collection at ``endpoint`` against ``profile``; optionally create missing ones.

    Raises :class:`QdrantUnavailable` (one line: where, and why) when the
    target cannot be read.
    """
    target = _target(profile, endpoint)
    expected = {c.name: c for c in profile.qdrant_collections}
    async with QdrantClient(target, timeout=timeout) as client:
        try:
            _require_store(client, create_missing)
            infos = await _read(client)
            created: set[str] = set()
            if create_missing:
                for name, spec in expected.items():
                    if name not in infos and await _create(client, spec):
                        created.add(name)
                if created:
                    infos = await _read(client)
        except DatabaseUnavailable as exc:
            raise QdrantUnavailable(exc.reason) from None
    reports = []
    for name, spec in expected.items():
        if name in infos:
            reports.append(
                collection_report(
                    name, infos[name], spec, embedded=target.embedded, created=name in created
                )
            )
        else:
            reports.append(missing_report(spec))
    for name in sorted(set(infos) - set(expected)):
        reports.append(collection_report(name, infos[name], None, embedded=target.embedded))
    return CollectionsReport(profile.name, target.address, target.embedded, tuple(reports))


async def ensure_collections(
    profile: Profile, endpoint: Endpoint, *, timeout: float = 10.0
) -> list[str]:
    """Create the profile's collections that are missing at ``endpoint``; the names created.

    The spec's deployment step 3, for ``alfred-tui up`` to call after deploy.
    Existing collections are left as they are, drift included. A profile with
    no Qdrant or no expected collections creates nothing and connects nowhere.
    """
    if profile.qdrant is None or not profile.qdrant_collections:
        return []
    report = await inspect_collections(profile, endpoint, create_missing=True, timeout=timeout)
    return report.created


# --- JSON ------------------------------------------------------------------------------


def _vector_json(vector: VectorSpec) -> dict[str, Any]:
    return {"name": vector.name, "size": vector.size, "distance": vector.distance}


def collection_json(collection: CollectionReport) -> dict[str, Any]:
    """One collection as plain data (``None`` = not available, never a fake zero)."""
    return {
        "name": collection.name,
        "state": collection.state,
        "in_profile": collection.in_profile,
        "created": collection.created,
        "purpose": collection.purpose or None,
        "expected": (
            {"size": collection.expected.size, "distance": collection.expected.distance}
            if collection.expected
            else None
        ),
        "status": collection.status,
        "optimizer_status": collection.optimizer,
        "points": collection.points,
        "indexed_vectors": collection.indexed_vectors,
        "segments": collection.segments,
        "vectors": [_vector_json(v) for v in collection.vectors],
        "payload_indexes": (
            None
            if collection.payload_indexes is None
            else [
                {"field": i.field, "data_type": i.data_type, "points": i.points}
                for i in collection.payload_indexes
            ]
        ),
        "drift": list(collection.drift),
        "notes": list(collection.notes),
    }


def report_json(report: CollectionsReport, backend: str) -> dict[str, Any]:
    """The versioned JSON document of ``alfred-tui collections --output json``."""
    return {
        "schema": JSON_SCHEMA_ID,
        "version": JSON_SCHEMA_VERSION,
        "profile": report.profile,
        "backend": backend,
        "address": report.address,
        "embedded": report.embedded,
        "checked_at": report.checked_at.isoformat().replace("+00:00", "Z"),
        "summary": {
            "expected": sum(1 for c in report.collections if c.in_profile),
            "present": sum(1 for c in report.collections if c.state != "missing"),
            "ok": len(report.by_state("ok")),
            "drift": len(report.by_state("drift")),
            "missing": len(report.by_state("missing")),
            "extra": len(report.by_state("extra")),
            "created": len(report.created),
        },
        "created": report.created,
        "collections": [collection_json(c) for c in report.collections],
    }
