"""The REST endpoints of the stand-in: Qdrant's paths, bodies and reply shapes.

Each handler takes the :class:`Context` (storage, snapshots, recorder,
settings), the parsed :class:`Request` and the path parameters, and returns
the ``result`` to wrap in Qdrant's ``{"result", "status", "time"}`` envelope,
or a :class:`Raw` reply for the few endpoints Qdrant answers without one
(``/``, health, ``/metrics``, snapshot downloads).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from . import STANDIN_TITLE, convert
from .errors import ApiError, format_error, unsupported
from .snapshots import Snapshots
from .stats import RequestRecorder, prometheus_text
from .storage import Storage

MAX_JSON_BYTES = 32 * 1024 * 1024
"""Qdrant's default ``service.max_request_size_mb``."""


@dataclass
class Settings:
    """How the stand-in was started."""

    host: str = "127.0.0.1"
    port: int = 6333
    storage: Path = Path("storage")
    snapshots: Path | None = None
    api_key: str | None = None
    read_only_api_key: str | None = None
    metrics: bool = True
    version: str = "1.7.4"
    optimizer_delay: float = 0.2
    optimizer_pause: float = 0.0
    storage_snapshot: Path | None = None
    force_snapshot: bool = False
    log_level: str = "INFO"


@dataclass
class Context:
    """Everything a handler may use."""

    settings: Settings
    storage: Storage
    snapshots: Snapshots
    recorder: RequestRecorder
    instance_id: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Request:
    """A parsed request; ``body`` is the raw JSON body, or the path of an uploaded file."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    upload: Path | None = None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (empty body = ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise format_error(str(exc)) from None
        if not isinstance(value, dict):
            raise format_error("expected a JSON object")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (``?wait=true``)."""
        value = self.query.get(name)
        return default if value is None else value.lower() in ("true", "1", "yes")


@dataclass
class Raw:
    """A reply sent as is: text, bytes or a file."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    file: Path | None = None


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    """One endpoint: method, Qdrant's path pattern, handler, and whether it writes."""

    method: str
    pattern: str
    handler: Handler
    writes: bool = False
    upload: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        """The pattern as a regex with one named group per ``{param}``."""
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern) + "$")


def _update_result(request: Request, operation_id: int) -> dict[str, Any]:
    return {
        "operation_id": operation_id,
        "status": "completed" if request.flag("wait") else "acknowledged",
    }


# --- service -------------------------------------------------------------------


def root(ctx: Context, request: Request) -> Raw:
    """``GET /``: title and version (the title says this is the stand-in)."""
    body = {"title": STANDIN_TITLE, "version": ctx.settings.version, "commit": None}
    return Raw(body=json.dumps(body).encode(), content_type="application/json")


def cluster(ctx: Context, request: Request) -> dict[str, Any]:
    """``GET /cluster``: one node with cluster mode off, as Qdrant answers then."""
    return {"status": "disabled"}


def healthz(ctx: Context, request: Request) -> Raw:
    """``/healthz`` and ``/livez``: the process answers."""
    return Raw(body=b"healthz check passed")


def readyz(ctx: Context, request: Request) -> Raw:
    """``/readyz``: every collection is loaded."""
    if not ctx.storage.ready.is_set():
        return Raw(status=503, body=b"some shards are not ready")
    return Raw(body=b"all shards are ready")


def metrics(ctx: Context, request: Request) -> Raw:
    """``/metrics``: Prometheus text with Qdrant's metric names (404 when disabled)."""
    if not ctx.settings.metrics:
        raise ApiError(404, "Not found: /metrics is disabled on this stand-in (--disable-metrics)")
    text = prometheus_text(
        ctx.recorder,
        version=ctx.settings.version,
        collections=len(ctx.storage.all()),
        vectors=ctx.storage.total_vectors(),
    )
    return Raw(body=text.encode(), content_type="text/plain; version=0.0.4")


def telemetry(ctx: Context, request: Request) -> dict[str, Any]:
    """``/telemetry``: app, collections and request statistics."""
    collections = ctx.storage.all()
    return {
        "id": ctx.instance_id,
        "app": {
            "name": "qdrant",
            "version": ctx.settings.version,
            "features": {
                "debug": False,
                "service_debug_feature": False,
                "recovery_mode": False,
                "gpu": False,
                "rocksdb": False,
                "staging": False,
            },
            "system": _system(ctx.settings.storage),
            "jwt_rbac": False,
            "startup": ctx.started_at.isoformat().replace("+00:00", "Z"),
        },
        "collections": {
            "number_of_collections": len(collections),
            "collections": [{"id": c.name, "init_time_ms": c.loaded_in_ms} for c in collections],
        },
        "cluster": {"enabled": False},
        "requests": ctx.recorder.telemetry(),
    }


def _system(storage: Path) -> dict[str, Any]:
    release = {}
    os_release = Path("/etc/os-release")
    if os_release.is_file():
        for line in os_release.read_text().splitlines():
            key, _, value = line.partition("=")
            release[key] = value.strip('"')
    in_docker = Path("/.dockerenv").exists()
    try:
        ram_kib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
    except (ValueError, OSError):
        ram_kib = None
    return {
        "distribution": release.get("ID", platform.system().lower()),
        "distribution_version": release.get("VERSION_ID", platform.release()),
        "is_docker": in_docker,
        "container_runtime": "docker" if in_docker else "none",
        "cores": os.cpu_count(),
        "ram_size": ram_kib,
        "disk_size": shutil.disk_usage(storage).total // 1024,
        "cpu_flags": "",
    }


# --- collections -----------------------------------------------------------------


def list_collections(ctx: Context, request: Request) -> dict[str, Any]:
    """``GET /collections``."""
    return {"collections": [{"name": c.name} for c in ctx.storage.all()]}


def get_collection(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``GET /collections/{name}``: Qdrant's ``CollectionInfo``."""
    return ctx.storage.get(name).info_json()


def create_collection(ctx: Context, request: Request, name: str) -> bool:
    """``PUT /collections/{name}``."""
    ctx.storage.create(name, request.json())
    return True


def update_collection(ctx: Context, request: Request, name: str) -> bool:
    """``PATCH /collections/{name}``: optimizer, HNSW and collection params."""
    ctx.storage.update(name, request.json())
    return True


def delete_collection(ctx: Context, request: Request, name: str) -> bool:
    """``DELETE /collections/{name}``: False when it did not exist (as Qdrant answers)."""
    return ctx.storage.delete(name)


def collection_exists(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``GET /collections/{name}/exists``."""
    return {"exists": ctx.storage.exists(name)}


# --- points -----------------------------------------------------------------------


def upsert_points(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``PUT /collections/{name}/points``."""
    collection = ctx.storage.get(name)
    points = convert.points(request.json(), collection.vector_sizes())
    operation_id = collection.apply(qe.UpdateOperation.upsert_points(points))
    ctx.storage.optimizer.schedule(collection)
    return _update_result(request, operation_id)


def delete_points(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``POST /collections/{name}/points/delete``: by ids or by filter."""
    collection = ctx.storage.get(name)
    body = request.json()
    if "points" in body:
        ids = [convert.point_id(item) for item in body["points"]]
        operation = qe.UpdateOperation.delete_points(ids)
    elif "filter" in body:
        operation = qe.UpdateOperation.delete_points_by_filter(convert.filter_(body["filter"]))
    else:
        raise format_error("expected `points` or `filter`")
    operation_id = collection.apply(operation)
    ctx.storage.optimizer.schedule(collection)
    return _update_result(request, operation_id)


def retrieve_points(ctx: Context, request: Request, name: str) -> list[dict[str, Any]]:
    """``POST /collections/{name}/points``: points by id."""
    collection = ctx.storage.get(name)
    body = request.json()
    ids = [convert.point_id(item) for item in body.get("ids") or []]
    records = collection.call(
        "retrieve",
        ids,
        with_payload=convert.with_payload(body.get("with_payload"), True),
        with_vector=convert.with_vector(body.get("with_vector"), False),
    )
    return [convert.record_json(record) for record in records]


def get_point(ctx: Context, request: Request, name: str, id: str) -> dict[str, Any]:
    """``GET /collections/{name}/points/{id}``."""
    collection = ctx.storage.get(name)
    key: Any = int(id) if id.isdigit() else id
    records = collection.call(
        "retrieve", [convert.point_id(key)], with_payload=True, with_vector=True
    )
    if not records:
        raise ApiError(404, f"Not found: No point with id {id} found")
    return convert.record_json(records[0])


def count_points(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``POST /collections/{name}/points/count``."""
    collection = ctx.storage.get(name)
    body = request.json()
    count = collection.call(
        "count",
        qe.CountRequest(
            exact=bool(body.get("exact", True)), filter=convert.filter_(body.get("filter"))
        ),
    )
    return {"count": count}


def scroll_points(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``POST /collections/{name}/points/scroll``."""
    collection = ctx.storage.get(name)
    body = request.json()
    order_by = body.get("order_by")
    converted_order = None
    if isinstance(order_by, str):
        converted_order = qe.OrderBy(order_by)
    elif isinstance(order_by, dict):
        direction = qe.Direction.Desc if order_by.get("direction") == "desc" else qe.Direction.Asc
        converted_order = qe.OrderBy(
            order_by["key"], direction=direction, start_from=order_by.get("start_from")
        )
    offset = body.get("offset")
    records, next_offset = collection.call(
        "scroll",
        qe.ScrollRequest(
            offset=None if offset is None else convert.point_id(offset),
            limit=int(body.get("limit") or 10),
            filter=convert.filter_(body.get("filter")),
            with_payload=convert.with_payload(body.get("with_payload"), True),
            with_vector=convert.with_vector(body.get("with_vector"), False),
            order_by=converted_order,
        ),
    )
    return {
        "points": [convert.record_json(record) for record in records],
        "next_page_offset": None if next_offset is None else convert.id_json(next_offset),
    }


def _nearest(collection: Any, value: Any, using: str | None) -> Any:
    sizes = collection.vector_sizes()
    name = using or ""
    if name not in sizes:
        raise format_error(f"Not existing vector name error: {name or '(unnamed)'}")
    return qe.Query.Nearest(convert.vector({name: value}, sizes)[name], using=using or None)


def search_points(ctx: Context, request: Request, name: str) -> list[dict[str, Any]]:
    """``POST /collections/{name}/points/search`` (the pre-1.10 search API)."""
    collection = ctx.storage.get(name)
    body = request.json()
    vector = body.get("vector")
    using = None
    if isinstance(vector, dict):
        using, vector = vector.get("name"), vector.get("vector")
    points = collection.call(
        "search",
        qe.SearchRequest(
            query=_nearest(collection, vector, using),
            limit=int(body.get("limit") or 10),
            offset=body.get("offset"),
            filter=convert.filter_(body.get("filter")),
            with_payload=convert.with_payload(body.get("with_payload"), False),
            with_vector=convert.with_vector(body.get("with_vector"), False),
            score_threshold=body.get("score_threshold"),
        ),
    )
    return [convert.scored_json(point) for point in points]


def query_points(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``POST /collections/{name}/points/query``: nearest-vector queries, or none (by id)."""
    collection = ctx.storage.get(name)
    body = request.json()
    query = body.get("query")
    if isinstance(query, dict) and "nearest" in query:
        query = query["nearest"]
    if body.get("prefetch"):
        raise unsupported("prefetch")
    if query is not None and not isinstance(query, list):
        raise unsupported("queries other than a nearest vector")
    points = collection.call(
        "query",
        qe.QueryRequest(
            limit=int(body.get("limit") or 10),
            offset=body.get("offset"),
            query=None if query is None else _nearest(collection, query, body.get("using")),
            filter=convert.filter_(body.get("filter")),
            with_payload=convert.with_payload(body.get("with_payload"), False),
            with_vector=convert.with_vector(body.get("with_vector"), False),
            score_threshold=body.get("score_threshold"),
        ),
    )
    return {"points": [convert.scored_json(point) for point in points]}


# --- payload indexes -----------------------------------------------------------------


def create_index(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``PUT /collections/{name}/index``: ``{"field_name": ..., "field_schema": ...}``."""
    collection = ctx.storage.get(name)
    body = request.json()
    if not body.get("field_name"):
        raise format_error("missing field `field_name`")
    operation = qe.UpdateOperation.create_field_index(
        body["field_name"], convert.payload_schema_type(body.get("field_schema"))
    )
    return _update_result(request, collection.apply(operation))


def delete_index(ctx: Context, request: Request, name: str, field_name: str) -> dict[str, Any]:
    """``DELETE /collections/{name}/index/{field_name}``."""
    collection = ctx.storage.get(name)
    return _update_result(
        request, collection.apply(qe.UpdateOperation.delete_field_index(field_name))
    )


# --- snapshots ----------------------------------------------------------------------


def list_snapshots(ctx: Context, request: Request, name: str) -> list[dict[str, Any]]:
    """``GET /collections/{name}/snapshots``."""
    return ctx.snapshots.list_collection(name)


def create_snapshot(ctx: Context, request: Request, name: str) -> dict[str, Any]:
    """``POST /collections/{name}/snapshots``."""
    return ctx.snapshots.create_collection(name)


def download_snapshot(ctx: Context, request: Request, name: str, snapshot_name: str) -> Raw:
    """``GET /collections/{name}/snapshots/{snapshot_name}``: the file."""
    path = ctx.snapshots.collection_file(name, snapshot_name)
    return Raw(file=path, content_type="application/octet-stream")


def delete_snapshot(ctx: Context, request: Request, name: str, snapshot_name: str) -> bool:
    """``DELETE /collections/{name}/snapshots/{snapshot_name}``."""
    ctx.snapshots.delete_collection(name, snapshot_name)
    return True


def recover_snapshot(ctx: Context, request: Request, name: str) -> bool:
    """``PUT /collections/{name}/snapshots/recover``: ``{"location", "checksum"?, "api_key"?}``."""
    body = request.json()
    location = body.get("location")
    if not isinstance(location, str):
        raise format_error("missing field `location`")
    path, temporary = ctx.snapshots.location_file(location, body.get("api_key"))
    try:
        ctx.snapshots.recover(name, path, body.get("checksum"))
    finally:
        if temporary:
            path.unlink(missing_ok=True)
    return True


def upload_snapshot(ctx: Context, request: Request, name: str) -> bool:
    """``POST /collections/{name}/snapshots/upload``: multipart field ``snapshot``."""
    if request.upload is None:
        raise format_error("expected multipart/form-data with a `snapshot` file")
    try:
        ctx.snapshots.recover(name, request.upload, request.query.get("checksum"))
    finally:
        request.upload.unlink(missing_ok=True)
    return True


def list_full_snapshots(ctx: Context, request: Request) -> list[dict[str, Any]]:
    """``GET /snapshots``."""
    return ctx.snapshots.list_full()


def create_full_snapshot(ctx: Context, request: Request) -> dict[str, Any]:
    """``POST /snapshots``."""
    return ctx.snapshots.create_full()


def download_full_snapshot(ctx: Context, request: Request, snapshot_name: str) -> Raw:
    """``GET /snapshots/{snapshot_name}``."""
    return Raw(file=ctx.snapshots.full_file(snapshot_name), content_type="application/octet-stream")


def delete_full_snapshot(ctx: Context, request: Request, snapshot_name: str) -> bool:
    """``DELETE /snapshots/{snapshot_name}``."""
    ctx.snapshots.delete_full(snapshot_name)
    return True


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", root),
    Route("GET", "/healthz", healthz),
    Route("GET", "/livez", healthz),
    Route("GET", "/readyz", readyz),
    Route("GET", "/metrics", metrics),
    Route("GET", "/telemetry", telemetry),
    Route("GET", "/cluster", cluster),
    Route("GET", "/collections", list_collections),
    Route("GET", "/collections/{name}", get_collection),
    Route("PUT", "/collections/{name}", create_collection, writes=True),
    Route("PATCH", "/collections/{name}", update_collection, writes=True),
    Route("DELETE", "/collections/{name}", delete_collection, writes=True),
    Route("GET", "/collections/{name}/exists", collection_exists),
    Route("PUT", "/collections/{name}/points", upsert_points, writes=True),
    Route("POST", "/collections/{name}/points", retrieve_points),
    Route("POST", "/collections/{name}/points/delete", delete_points, writes=True),
    Route("POST", "/collections/{name}/points/count", count_points),
    Route("POST", "/collections/{name}/points/scroll", scroll_points),
    Route("POST", "/collections/{name}/points/search", search_points),
    Route("POST", "/collections/{name}/points/query", query_points),
    Route("GET", "/collections/{name}/points/{id}", get_point),
    Route("PUT", "/collections/{name}/index", create_index, writes=True),
    Route("DELETE", "/collections/{name}/index/{field_name}", delete_index, writes=True),
    Route("GET", "/collections/{name}/snapshots", list_snapshots),
    Route("POST", "/collections/{name}/snapshots", create_snapshot, writes=True),
    Route(
        "POST", "/collections/{name}/snapshots/upload", upload_snapshot, writes=True, upload=True
    ),
    Route("PUT", "/collections/{name}/snapshots/recover", recover_snapshot, writes=True),
    Route("GET", "/collections/{name}/snapshots/{snapshot_name}", download_snapshot),
    Route("DELETE", "/collections/{name}/snapshots/{snapshot_name}", delete_snapshot, writes=True),
    Route("GET", "/snapshots", list_full_snapshots),
    Route("POST", "/snapshots", create_full_snapshot, writes=True),
    Route("GET", "/snapshots/{snapshot_name}", download_full_snapshot),
    Route("DELETE", "/snapshots/{snapshot_name}", delete_full_snapshot, writes=True),
)

HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
"""Always open, API key or not (as in Qdrant)."""


def new_instance_id() -> str:
    """A random telemetry id."""
    return str(uuid.uuid4())
