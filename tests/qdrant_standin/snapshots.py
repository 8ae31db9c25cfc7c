"""Collection and full-storage snapshots, named and checksummed the way Qdrant does.

Files live under the snapshots folder as Qdrant lays them out::

    <snapshots>/<collection>/<collection>-<peer id>-<YYYY-MM-DD-HH-MM-SS>.snapshot
    <snapshots>/<collection>/<...>.snapshot.checksum      sha256 of the file, hex
    <snapshots>/full-snapshot-<YYYY-MM-DD-HH-MM-SS>.snapshot

A snapshot is a tar, as Qdrant's are (gzip-compressed here, because the
shard's preallocated files are mostly zeros), but of the stand-in's own
layout (its collection config plus the qdrant-edge shard folder) with a
``standin-snapshot.json`` marker: real Qdrant cannot load it and the stand-in
refuses real Qdrant snapshots, each with a message saying so. Checksums are
the real sha256 of the bytes served for download, so a client can verify
them as it would against Qdrant.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import time
import urllib.parse
import urllib.request
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import ApiError, not_found, wrong_input
from .files import extract_member
from .storage import META_FILE, SHARD_DIR, Collection, Storage

log = logging.getLogger("collection::collection::snapshots")

MARKER = "standin-snapshot.json"
MARKER_FORMAT = "alfred-tui qdrant stand-in snapshot"
FULL_CONFIG = "config.json"
SUFFIX = ".snapshot"
CHECKSUM_SUFFIX = ".checksum"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d-%H-%M-%S")


def _unique(folder: Path, stem: str) -> Path:
    candidate = folder / f"{stem}{SUFFIX}"
    counter = 1
    while candidate.exists():
        candidate = folder / f"{stem}-{counter}{SUFFIX}"
        counter += 1
    return candidate


def describe(path: Path) -> dict[str, Any]:
    """Qdrant's ``SnapshotDescription`` of a snapshot file."""
    stat = path.stat()
    checksum_file = path.with_name(path.name + CHECKSUM_SUFFIX)
    checksum = checksum_file.read_text().strip() if checksum_file.is_file() else None
    created = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return {"name": path.name, "creation_time": created, "size": stat.st_size, "checksum": checksum}


def _finish(temporary: Path, target: Path) -> dict[str, Any]:
    checksum = sha256_file(temporary)
    temporary.replace(target)
    target.with_name(target.name + CHECKSUM_SUFFIX).write_text(checksum)
    return describe(target)


def _add_json(tar: tarfile.TarFile, name: str, data: Any) -> None:
    encoded = json.dumps(data, indent=2).encode()
    info = tarfile.TarInfo(name)
    info.size = len(encoded)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(encoded))


def safe_extract(archive: Path, target: Path) -> None:
    """Unpack a tar into ``target``: regular files and folders only, none outside it.

    Files are written sparsely (see :mod:`.files`), so a recovered shard takes
    no more disk than the one the snapshot was made from.
    """
    root = target.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                destination = (target / member.name).resolve()
                if os.path.isabs(member.name) or not destination.is_relative_to(root):
                    raise wrong_input(f"snapshot member {member.name!r} points outside the archive")
                if member.isdir():
                    destination.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    extract_member(tar, member, destination)
                else:
                    raise wrong_input(f"snapshot member {member.name!r} is not a file or folder")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise wrong_input(f"snapshot {archive.name} cannot be unpacked: {exc}") from None


class Snapshots:
    """Creates, lists, serves, deletes and recovers snapshots."""

    def __init__(self, storage: Storage, root: Path, peer_id: int) -> None:
        self.storage = storage
        self.root = root
        self.peer_id = peer_id
        self.root.mkdir(parents=True, exist_ok=True)

    # -- per collection ---------------------------------------------------------

    def folder(self, collection: str) -> Path:
        """The collection's snapshot folder."""
        return self.root / collection

    def list_collection(self, name: str) -> list[dict[str, Any]]:
        """Every snapshot of collection ``name`` (404 if the collection does not exist)."""
        self.storage.get(name)
        folder = self.folder(name)
        if not folder.is_dir():
            return []
        return [describe(path) for path in sorted(folder.glob(f"*{SUFFIX}"))]

    def create_collection(self, name: str) -> dict[str, Any]:
        """Snapshot collection ``name`` now."""
        collection = self.storage.get(name)
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        target = _unique(folder, f"{name}-{self.peer_id}-{_timestamp()}")
        temporary = folder / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            self._pack(collection, temporary)
            description = _finish(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        log.info("Created snapshot %s of collection %s", target.name, name)
        return description

    def _pack(self, collection: Collection, target: Path) -> None:
        with collection.lock:
            if collection.deleted or collection.shard is None:
                raise not_found(collection.name)
            collection.shard.flush()
            # gzip (fast level): the shard's preallocated files are mostly zeros.
            with tarfile.open(target, "w:gz", compresslevel=1) as tar:
                _add_json(
                    tar,
                    MARKER,
                    {
                        "format": MARKER_FORMAT,
                        "version": 1,
                        "collection": collection.name,
                        "created_at": datetime.now(UTC).isoformat(),
                    },
                )
                tar.add(collection.directory / META_FILE, arcname=META_FILE)
                tar.add(collection.shard_dir, arcname=SHARD_DIR)

    def collection_file(self, name: str, snapshot: str) -> Path:
        """The file of snapshot ``snapshot`` of ``name``, or Qdrant's 404."""
        self.storage.get(name)
        return self._existing(self.folder(name), snapshot)

    def delete_collection(self, name: str, snapshot: str) -> None:
        """Delete one snapshot of ``name`` and its checksum file."""
        path = self.collection_file(name, snapshot)
        path.unlink()
        path.with_name(path.name + CHECKSUM_SUFFIX).unlink(missing_ok=True)

    @staticmethod
    def _existing(folder: Path, snapshot: str) -> Path:
        if "/" in snapshot or "\\" in snapshot or snapshot.startswith("."):
            raise ApiError(404, f"Not found: Snapshot file `{snapshot}` does not exist")
        path = folder / snapshot
        if not path.is_file():
            raise ApiError(404, f"Not found: Snapshot file `{snapshot}` does not exist")
        return path

    # -- recovery ----------------------------------------------------------------

    def recover(self, name: str, archive: Path, checksum: str | None = None) -> Collection:
        """Replace (or create) collection ``name`` from a stand-in snapshot file."""
        if checksum:
            actual = sha256_file(archive)
            if actual.lower() != checksum.lower():
                raise wrong_input(f"Snapshot checksum mismatch: expected {checksum}, got {actual}")
        staging = self.storage.work_dir / f"recover-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            safe_extract(archive, staging)
            marker = staging / MARKER
            if not marker.is_file() or not (staging / META_FILE).is_file():
                raise wrong_input(
                    f"{archive.name} is not a snapshot made by the alfred-tui Qdrant stand-in "
                    "(the stand-in cannot load real Qdrant snapshots)"
                )
            marker.unlink()
            collection = self.storage.install(name, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("Recovered collection %s from snapshot %s", name, archive.name)
        return collection

    def location_file(self, location: str, api_key: str | None = None) -> tuple[Path, bool]:
        """The local file a recover ``location`` names: (path, whether to delete it after).

        ``file://`` URLs must point inside the snapshots folder (as in recent
        Qdrant); ``http(s)://`` URLs are downloaded first.
        """
        parsed = urllib.parse.urlparse(location)
        if parsed.scheme == "file":
            path = Path(urllib.parse.unquote(parsed.path)).resolve()
            if not path.is_relative_to(self.root.resolve()):
                raise wrong_input(
                    f"Snapshot file {path} must be inside the snapshots folder {self.root}"
                )
            if not path.is_file():
                raise ApiError(404, f"Not found: Snapshot file `{path}` does not exist")
            return path, False
        if parsed.scheme in ("http", "https"):
            target = self.storage.work_dir / f"download-{uuid.uuid4().hex[:8]}{SUFFIX}"
            request = urllib.request.Request(location)
            if api_key:
                request.add_header("api-key", api_key)
            try:
                with (
                    urllib.request.urlopen(request, timeout=60) as response,
                    target.open("wb") as handle,
                ):
                    shutil.copyfileobj(response, handle, 1 << 20)
            except OSError as exc:
                target.unlink(missing_ok=True)
                raise wrong_input(f"Failed to download snapshot from {location}: {exc}") from None
            return target, True
        raise wrong_input(
            f"snapshot location must be a file:// or http(s):// URL, not {location!r}"
        )

    # -- full storage --------------------------------------------------------------

    def list_full(self) -> list[dict[str, Any]]:
        """Every full-storage snapshot."""
        return [describe(path) for path in sorted(self.root.glob(f"*{SUFFIX}"))]

    def create_full(self) -> dict[str, Any]:
        """Snapshot every collection into one archive."""
        target = _unique(self.root, f"full-snapshot-{_timestamp()}")
        staging = self.storage.work_dir / f"full-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        temporary = self.root / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            mapping = {}
            for collection in self.storage.all():
                part = f"{collection.name}{SUFFIX}"
                self._pack(collection, staging / part)
                mapping[collection.name] = part
            with tarfile.open(temporary, "w") as tar:
                _add_json(
                    tar,
                    FULL_CONFIG,
                    {"format": MARKER_FORMAT, "version": 1, "collections": mapping, "aliases": {}},
                )
                for part in mapping.values():
                    tar.add(staging / part, arcname=part)
            description = _finish(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
        log.info("Created full snapshot %s", target.name)
        return description

    def full_file(self, snapshot: str) -> Path:
        """The file of full snapshot ``snapshot``, or Qdrant's 404."""
        return self._existing(self.root, snapshot)

    def delete_full(self, snapshot: str) -> None:
        """Delete a full snapshot and its checksum file."""
        path = self.full_file(snapshot)
        path.unlink()
        path.with_name(path.name + CHECKSUM_SUFFIX).unlink(missing_ok=True)

    def restore_full(self, archive: Path, force: bool = False) -> list[str]:
        """Recover every collection of a full snapshot (``--storage-snapshot`` at start-up).

        Existing collections are kept unless ``force`` (Qdrant's ``--force-snapshot``).
        """
        staging = self.storage.work_dir / f"restore-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        restored = []
        try:
            safe_extract(archive, staging)
            config_file = staging / FULL_CONFIG
            if not config_file.is_file():
                raise wrong_input(f"{archive} is not a full snapshot of the Qdrant stand-in")
            config = json.loads(config_file.read_text())
            for name, part in sorted(config.get("collections", {}).items()):
                if self.storage.exists(name) and not force:
                    log.warning("Collection %s exists; not restored (use --force-snapshot)", name)
                    continue
                self.recover(name, staging / part)
                restored.append(name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return restored
