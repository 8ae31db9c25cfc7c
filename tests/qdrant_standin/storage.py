"""The stand-in's collections: one ``qdrant_edge`` shard per collection on disk.

Layout under ``--storage``::

    collections/<name>/standin-collection.json   the collection's REST config
    collections/<name>/shard/                    the qdrant-edge shard (segments, WAL)
    .optimizer/                                  shards being optimized

Qdrant optimizes in the background and reports the collection ``yellow``
meanwhile. ``EdgeShard.optimize()`` holds the GIL for its whole run (seconds
for a few thousand 1536-d vectors), which would freeze every request, so the
stand-in optimizes a flushed copy of the shard in a child process
(``optimize_shard.py``) while the live shard keeps serving reads and writes;
writes made meanwhile are replayed onto the optimized copy before it
replaces the live one. Segment counts, indexed vectors and payload index
sizes are therefore the engine's own figures.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from . import convert
from .errors import ApiError, format_error, not_found, unsupported
from .files import sparse_copytree

log = logging.getLogger("storage::content_manager::toc")

META_FILE = "standin-collection.json"
SHARD_DIR = "shard"
OPTIMIZER_SCRIPT = Path(__file__).with_name("optimize_shard.py")

#: Qdrant 1.7.4's defaults for a new collection (config/config.yaml of that release).
DEFAULT_HNSW = {
    "m": 16,
    "ef_construct": 100,
    "full_scan_threshold": 10000,
    "max_indexing_threads": 0,
    "on_disk": False,
    "payload_m": None,
}
DEFAULT_OPTIMIZERS = {
    "deleted_threshold": 0.2,
    "vacuum_min_vector_number": 1000,
    "default_segment_number": 0,
    "max_segment_size": None,
    "memmap_threshold": None,
    "indexing_threshold": 20000,
    "flush_interval_sec": 5,
    "max_optimization_threads": 1,
}
DEFAULT_WAL = {"wal_capacity_mb": 32, "wal_segments_ahead": 0}

_BAD_NAME = re.compile(r'[<>:"/\\|?*\x00]')


def validate_name(name: str) -> None:
    """Refuse names Qdrant refuses (and anything that would escape the storage folder)."""
    if not name or len(name) > 255 or _BAD_NAME.search(name) or name.startswith("."):
        raise ApiError(
            422,
            f"Validation error in path parameters: [name: collection name {name!r} "
            "must be 1-255 characters without <>:\"/\\|?* and not start with '.']",
        )


def _vector_params(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or "size" not in value or "distance" not in value:
        raise format_error(f'{where}: expected {{"size": N, "distance": ...}}')
    size = value["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ApiError(
            422,
            f"Validation error in JSON body: [{where}.size: value {size} invalid, "
            "must be 1 or larger]",
        )
    if value["distance"] not in convert.DISTANCES:
        raise format_error(
            f"{where}.distance: unknown variant `{value['distance']}`, expected one of "
            "`Cosine`, `Euclid`, `Dot`, `Manhattan`"
        )
    if value.get("quantization_config") or value.get("multivector_config"):
        raise unsupported(f"{where}: quantization and multivectors")
    params = {"size": size, "distance": value["distance"]}
    for key in ("hnsw_config", "on_disk"):
        if value.get(key) is not None:
            params[key] = value[key]
    return params


def vectors_config(value: Any) -> dict[str, dict[str, Any]]:
    """``vectors`` of a create body by name (``""`` for the unnamed vector)."""
    if isinstance(value, dict) and "size" in value:
        return {"": _vector_params(value, "vectors")}
    if isinstance(value, dict) and value:
        return {name: _vector_params(item, f"vectors.{name}") for name, item in value.items()}
    raise format_error("vectors: expected vector params or named vector params")


def _merge(base: dict[str, Any], diff: Any, where: str) -> dict[str, Any]:
    if diff is None:
        return dict(base)
    if not isinstance(diff, dict):
        raise format_error(f"{where}: expected an object")
    unknown = set(diff) - set(base)
    if unknown:
        raise format_error(f"{where}: unknown field `{sorted(unknown)[0]}`")
    return {**base, **diff}


class Collection:
    """One collection: its REST config, its shard, and its optimizer state."""

    def __init__(self, name: str, directory: Path, meta: dict[str, Any], shard: Any) -> None:
        self.name = name
        self.directory = directory
        self.meta = meta
        self.shard = shard
        self.lock = threading.RLock()
        self.optimizing = False
        self.optimizer_error: str | None = None
        self.replay: list[Any] | None = None
        self.generation = 0
        self.deleted = False
        self.operation_id = 0
        self.loaded_in_ms = 0
        self.last_noop: tuple[int, int] | None = None

    # -- configuration ---------------------------------------------------------

    @property
    def shard_dir(self) -> Path:
        """The folder of the qdrant-edge shard."""
        return self.directory / SHARD_DIR

    @property
    def vectors(self) -> dict[str, dict[str, Any]]:
        """Vector params by name (``""`` for the unnamed vector)."""
        return self.meta["vectors"]

    def vector_sizes(self) -> dict[str, int]:
        """Vector sizes by name, to check points against."""
        return {name: params["size"] for name, params in self.vectors.items()}

    def edge_config(self) -> qe.EdgeConfig:
        """The shard configuration this collection's REST config means."""
        return edge_config(self.meta)

    def params_json(self) -> dict[str, Any]:
        """``config.params`` as Qdrant reports it."""
        vectors = {
            name: {"size": p["size"], "distance": p["distance"], **_extras(p)}
            for name, p in self.vectors.items()
        }
        params = dict(self.meta["params"])
        params["vectors"] = vectors[""] if set(vectors) == {""} else vectors
        return params

    # -- reading -----------------------------------------------------------------

    def info(self) -> Any:
        """The shard's own figures (segments, points, indexed vectors, payload indexes)."""
        with self.lock:
            if self.shard is None:
                raise not_found(self.name)
            return self.shard.info()

    def status(self) -> str:
        """``green``, ``yellow`` while optimizing, ``red`` after a failed optimization."""
        if self.optimizer_error:
            return "red"
        return "yellow" if self.optimizing else "green"

    def info_json(self) -> dict[str, Any]:
        """Qdrant's ``CollectionInfo``."""
        info = self.info()
        payload_schema = {
            key: {"data_type": convert.payload_type_name(item.data_type), "points": item.points}
            for key, item in sorted(info.payload_schema.items())
        }
        return {
            "status": self.status(),
            "optimizer_status": ({"error": self.optimizer_error} if self.optimizer_error else "ok"),
            "vectors_count": info.points_count * len(self.vectors),
            "indexed_vectors_count": info.indexed_vectors_count,
            "points_count": info.points_count,
            "segments_count": info.segments_count,
            "config": {
                "params": self.params_json(),
                "hnsw_config": self.meta["hnsw_config"],
                "optimizer_config": self.meta["optimizer_config"],
                "wal_config": self.meta["wal_config"],
                "quantization_config": None,
            },
            "payload_schema": payload_schema,
        }

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run a read method of the live shard under the collection's lock."""
        with self.lock:
            if self.deleted or self.shard is None:
                raise not_found(self.name)
            return getattr(self.shard, method)(*args, **kwargs)

    # -- writing -----------------------------------------------------------------

    def apply(self, operation: Any) -> int:
        """Apply an update; remembered for replay when an optimization is under way."""
        with self.lock:
            if self.deleted or self.shard is None:
                raise not_found(self.name)
            try:
                self.shard.update(operation)
            except ValueError as exc:
                raise format_error(str(exc)) from None
            except Exception as exc:  # qdrant-edge raises plain Exception for bad input
                raise ApiError(400, f"Wrong input: {exc}") from None
            if self.replay is not None:
                self.replay.append(operation)
            self.operation_id += 1
            return self.operation_id

    def needs_optimization(self) -> bool:
        """Qdrant's indexing rule: unindexed vectors above ``indexing_threshold`` kB."""
        threshold = self.meta["optimizer_config"].get("indexing_threshold")
        if not threshold:
            return False
        info = self.info()
        state = (info.points_count, info.indexed_vectors_count)
        if state == self.last_noop:
            return False
        vectors = len(self.vectors)
        unindexed = max(0, info.points_count * vectors - info.indexed_vectors_count)
        size_kb = unindexed * (sum(self.vector_sizes().values()) / vectors) * 4 / 1024
        return size_kb >= threshold

    def close(self) -> None:
        """Flush and release the shard (its WAL lock included)."""
        with self.lock:
            if self.shard is not None:
                self.shard.flush()
                self.shard.close()
                self.shard = None


def _extras(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params[key] for key in ("hnsw_config", "on_disk") if key in params}


def edge_config(meta: dict[str, Any]) -> qe.EdgeConfig:
    """A ``qdrant_edge.EdgeConfig`` from a collection's stored REST config."""
    hnsw = meta["hnsw_config"]
    optimizers = meta["optimizer_config"]
    vectors = {
        name: qe.EdgeVectorParams(
            size=p["size"],
            distance=convert.DISTANCES[p["distance"]],
            on_disk=p.get("on_disk"),
        )
        for name, p in meta["vectors"].items()
    }
    return qe.EdgeConfig(
        vectors=vectors[""] if set(vectors) == {""} else vectors,
        on_disk_payload=meta["params"].get("on_disk_payload"),
        hnsw_config=qe.HnswIndexConfig(
            m=hnsw["m"],
            ef_construct=hnsw["ef_construct"],
            full_scan_threshold=hnsw["full_scan_threshold"],
            max_indexing_threads=hnsw.get("max_indexing_threads") or 0,
            on_disk=hnsw.get("on_disk"),
            payload_m=hnsw.get("payload_m"),
        ),
        optimizers=qe.EdgeOptimizersConfig(
            deleted_threshold=optimizers.get("deleted_threshold"),
            vacuum_min_vector_number=optimizers.get("vacuum_min_vector_number"),
            default_segment_number=optimizers.get("default_segment_number"),
            max_segment_size=optimizers.get("max_segment_size"),
            indexing_threshold=optimizers.get("indexing_threshold"),
        ),
    )


def new_meta(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The stored config of a collection created with ``body`` (Qdrant's defaults filled in)."""
    if body.get("sparse_vectors"):
        raise unsupported("sparse vectors")
    if body.get("quantization_config"):
        raise unsupported("quantization")
    if body.get("init_from"):
        raise unsupported("init_from")
    if "vectors" not in body:
        raise format_error("missing field `vectors`")
    return {
        "name": name,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "vectors": vectors_config(body["vectors"]),
        "params": {
            "shard_number": int(body.get("shard_number") or 1),
            "replication_factor": int(body.get("replication_factor") or 1),
            "write_consistency_factor": int(body.get("write_consistency_factor") or 1),
            "on_disk_payload": bool(body.get("on_disk_payload", True)),
        },
        "hnsw_config": _merge(DEFAULT_HNSW, body.get("hnsw_config"), "hnsw_config"),
        "optimizer_config": _merge(
            DEFAULT_OPTIMIZERS, body.get("optimizers_config"), "optimizers_config"
        ),
        "wal_config": _merge(DEFAULT_WAL, body.get("wal_config"), "wal_config"),
    }


class Storage:
    """Every collection of the stand-in, loaded from and kept in ``root``."""

    def __init__(self, root: Path, *, optimizer_delay: float = 0.2) -> None:
        self.root = root
        self.collections_dir = root / "collections"
        self.work_dir = root / ".optimizer"
        self.collections_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self.ready = threading.Event()
        self.optimizer = Optimizer(self, optimizer_delay)

    # -- lifecycle ---------------------------------------------------------------

    def load_all(self) -> None:
        """Open every collection found on disk, then mark the storage ready (``/readyz``)."""
        for directory in sorted(self.collections_dir.iterdir()):
            if not (directory / META_FILE).is_file():
                continue
            try:
                self._open(directory)
            except Exception as exc:
                log.error("Failed to load collection %s: %s", directory.name, exc)
        self.ready.set()
        self.optimizer.start()
        for collection in self.all():
            self.optimizer.schedule(collection)

    def _open(self, directory: Path) -> Collection:
        started = time.perf_counter()
        meta = json.loads((directory / META_FILE).read_text())
        shard = qe.EdgeShard.load(str(directory / SHARD_DIR))
        collection = Collection(meta["name"], directory, meta, shard)
        collection.loaded_in_ms = int((time.perf_counter() - started) * 1000)
        with self._lock:
            self._collections[collection.name] = collection
        log.info("Loading collection: %s", collection.name)
        return collection

    def close(self) -> None:
        """Stop the optimizer and flush every shard."""
        self.optimizer.stop()
        for collection in self.all():
            collection.close()

    # -- lookup ------------------------------------------------------------------

    def all(self) -> list[Collection]:
        """Every collection, by name."""
        with self._lock:
            return [self._collections[name] for name in sorted(self._collections)]

    def get(self, name: str) -> Collection:
        """The collection ``name`` or Qdrant's 404."""
        with self._lock:
            collection = self._collections.get(name)
        if collection is None:
            raise not_found(name)
        return collection

    def exists(self, name: str) -> bool:
        """Whether ``name`` exists."""
        with self._lock:
            return name in self._collections

    # -- changes -----------------------------------------------------------------

    def create(self, name: str, body: dict[str, Any]) -> Collection:
        """Create ``name``; Qdrant answers 409 when it already exists."""
        validate_name(name)
        meta = new_meta(name, body)
        with self._lock:
            if name in self._collections:
                raise ApiError(409, f"Wrong input: Collection `{name}` already exists!")
            directory = self.collections_dir / name
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            try:
                shard = qe.EdgeShard.create(str(directory / SHARD_DIR), edge_config(meta))
            except Exception as exc:
                shutil.rmtree(directory, ignore_errors=True)
                raise ApiError(400, f"Wrong input: {exc}") from None
            _write_json(directory / META_FILE, meta)
            collection = Collection(name, directory, meta, shard)
            self._collections[name] = collection
        log.info("Creating collection %s", name)
        return collection

    def delete(self, name: str) -> bool:
        """Drop ``name`` with its data; False when there was nothing to drop."""
        with self._lock:
            collection = self._collections.pop(name, None)
            if collection is None:
                return False
            with collection.lock:
                collection.deleted = True
                collection.close()
            shutil.rmtree(collection.directory, ignore_errors=True)
        log.info("Deleting collection %s", name)
        return True

    def update(self, name: str, body: dict[str, Any]) -> None:
        """PATCH: optimizer, HNSW and collection params; the shard reopens with them."""
        collection = self.get(name)
        if body.get("quantization_config") or body.get("sparse_vectors"):
            raise unsupported("changing quantization or sparse vectors")
        with collection.lock:
            meta = copy.deepcopy(collection.meta)
            meta["optimizer_config"] = _merge(
                meta["optimizer_config"], body.get("optimizers_config"), "optimizers_config"
            )
            meta["hnsw_config"] = _merge(
                meta["hnsw_config"], body.get("hnsw_config"), "hnsw_config"
            )
            params = body.get("params") or {}
            for key in ("replication_factor", "write_consistency_factor", "on_disk_payload"):
                if params.get(key) is not None:
                    meta["params"][key] = params[key]
            for vector_name, diff in (body.get("vectors") or {}).items():
                if vector_name not in meta["vectors"]:
                    raise format_error(f"vectors: Not existing vector name error: {vector_name}")
                for key in ("hnsw_config", "on_disk"):
                    if isinstance(diff, dict) and diff.get(key) is not None:
                        meta["vectors"][vector_name][key] = diff[key]
            collection.shard.flush()
            collection.shard.close()
            try:
                collection.shard = qe.EdgeShard.load(str(collection.shard_dir), edge_config(meta))
            except Exception as exc:
                collection.shard = qe.EdgeShard.load(str(collection.shard_dir))
                raise ApiError(400, f"Wrong input: {exc}") from None
            collection.meta = meta
            collection.generation += 1
            collection.last_noop = None
            _write_json(collection.directory / META_FILE, meta)
        self.optimizer.schedule(collection)

    def install(self, name: str, source: Path) -> Collection:
        """Replace (or create) ``name`` with the collection folder ``source`` (a recovery)."""
        validate_name(name)
        meta = json.loads((source / META_FILE).read_text())
        meta["name"] = name
        _write_json(source / META_FILE, meta)
        with self._lock:
            old = self._collections.pop(name, None)
            if old is not None:
                with old.lock:
                    old.deleted = True
                    old.close()
            target = self.collections_dir / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(str(source), str(target))
            collection = self._open(target)
        self.optimizer.schedule(collection)
        return collection

    def total_vectors(self) -> int:
        """Vectors in every collection (``collections_vector_total``)."""
        total = 0
        for collection in self.all():
            try:
                total += collection.info().points_count * len(collection.vectors)
            except Exception:
                continue
        return total


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2))
    temporary.replace(path)


class Optimizer:
    """Runs Qdrant's optimizations on shard copies in a child process, one at a time."""

    def __init__(self, storage: Storage, delay: float) -> None:
        self.storage = storage
        self.delay = delay
        self._due: dict[str, tuple[float, Collection]] = {}
        self._condition = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="optimizer", daemon=True)
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the optimizer thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and any optimization in progress."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def schedule(self, collection: Collection) -> None:
        """Look at ``collection`` after ``delay`` (writes in a burst are coalesced)."""
        with self._condition:
            self._due[collection.name] = (time.monotonic() + self.delay, collection)
            self._condition.notify_all()

    def _next(self) -> Collection | None:
        with self._condition:
            while not self._stopping:
                if self._due:
                    name, (due, collection) = min(self._due.items(), key=lambda kv: kv[1][0])
                    wait = due - time.monotonic()
                    if wait <= 0:
                        del self._due[name]
                        return collection
                    self._condition.wait(wait)
                else:
                    self._condition.wait()
            return None

    def _run(self) -> None:
        while (collection := self._next()) is not None:
            try:
                self._optimize(collection)
            except Exception as exc:  # keep the thread alive; the collection shows red
                log.error("Optimization of %s failed: %s", collection.name, exc)
                collection.optimizer_error = str(exc)
                collection.optimizing = False
                collection.replay = None

    def _optimize(self, collection: Collection) -> None:
        with collection.lock:
            if collection.deleted or not collection.needs_optimization():
                return
            collection.shard.flush()
            work = self.storage.work_dir / f"{collection.name}-{uuid.uuid4().hex[:8]}"
            sparse_copytree(collection.shard_dir, work)
            collection.optimizing = True
            collection.replay = []
            generation = collection.generation
        log.info("Optimizing collection %s", collection.name)
        self._process = subprocess.Popen(
            [sys.executable, str(OPTIMIZER_SCRIPT), str(work)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, stderr = self._process.communicate()
        returncode = self._process.returncode
        self._process = None
        with collection.lock:
            replay, collection.replay = collection.replay or [], None
            try:
                if collection.deleted or self._stopping:
                    return
                if generation != collection.generation:
                    self.schedule(collection)
                    return
                if returncode != 0:
                    lines = [line for line in stderr.splitlines() if line.strip()]
                    collection.optimizer_error = lines[-1] if lines else f"exit {returncode}"
                    log.error("Optimization of %s failed: %s", collection.name, stderr[-500:])
                    return
                self._swap(collection, work, replay)
                collection.optimizer_error = None
            finally:
                collection.optimizing = False
                shutil.rmtree(work, ignore_errors=True)

    def _swap(self, collection: Collection, work: Path, replay: list[Any]) -> None:
        collection.shard.close()
        retired = collection.directory / f"{SHARD_DIR}.retired"
        shutil.rmtree(retired, ignore_errors=True)
        collection.shard_dir.rename(retired)
        work.rename(collection.shard_dir)
        try:
            collection.shard = qe.EdgeShard.load(str(collection.shard_dir))
        except Exception:
            # The optimized copy does not open: put the live shard back as it was.
            collection.shard_dir.rename(work)
            retired.rename(collection.shard_dir)
            collection.shard = qe.EdgeShard.load(str(collection.shard_dir))
            for operation in replay:
                collection.shard.update(operation)
            raise
        for operation in replay:
            collection.shard.update(operation)
        shutil.rmtree(retired, ignore_errors=True)
        info = collection.shard.info()
        collection.last_noop = (info.points_count, info.indexed_vectors_count)
        log.info(
            "Optimized collection %s: %d segments, %d indexed vectors",
            collection.name,
            info.segments_count,
            info.indexed_vectors_count,
        )
        if replay:
            collection.last_noop = None
            self.schedule(collection)
