"""Qdrant: per-collection snapshots over REST, or a copy of an embedded store's folder.

**Server.** One snapshot per collection (``POST /collections/{c}/snapshots``),
downloaded with progress, checked against the SHA-256 the server reports,
then deleted on the server so backups do not fill its disk. Per-collection
snapshots, not a full-storage one, because only they can be recovered
through the API while the server runs (a full-storage snapshot is only read
at server start). Restore uploads each with ``priority=snapshot`` and the
checksum, so the server itself refuses a file that changed. Points are
counted before and after each snapshot; if a collection was written to in
between, the manifest records the range and the restore is checked against it.

**Embedded** (qdrant-client's local mode). The store allows one client at a
time through a lock file; the backup takes that lock itself, so nobody
writes while the folder is archived, and a store held by someone else (the
UI, the platform) is refused with a clear message rather than copied
inconsistent. The archive is then opened with qdrant-client to count the
points, which also proves it readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.backup.engine import (
    BackupError,
    Capture,
    Engine,
    EngineContext,
    FileReport,
    RestoreError,
    Unreachable,
)
from alfred_tui.backup.files import sha256_file, tar_folder, untar
from alfred_tui.backup.manifest import Count, Manifest
from alfred_tui.config.models import QdrantService
from alfred_tui.databases.failures import describe_failure
from alfred_tui.redact import redact

if TYPE_CHECKING:
    import httpx

    from alfred_tui.backup.catalog import CatalogEntry

STORAGE_FILE = "storage.tar"
SNAPSHOT_FOLDER = "snapshots"
LOCK_FILE = ".lock"
TIMEOUT = 30.0
TRANSFER_TIMEOUT = 3600.0
CHUNK = 1024 * 1024


class StoreBusy(BackupError):
    """The embedded store is held by another process."""

    title = "Store in use"


@contextlib.contextmanager
def store_lock(path: Path) -> Iterator[None]:
    """Hold the embedded store's lock (the one qdrant-client takes), or raise StoreBusy."""
    import portalocker

    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / LOCK_FILE
    if not lock_path.exists():
        lock_path.write_text("tmp lock file")
    handle = lock_path.open("r+")
    try:
        flags = portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
        portalocker.lock(handle, flags)
    except portalocker.exceptions.LockException:
        handle.close()
        raise StoreBusy(
            f"the embedded Qdrant store {path} is open in another process (the UI, or the "
            "platform using qdrant-client); close it and try again"
        ) from None
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            portalocker.unlock(handle)
        handle.close()


def count_embedded(path: Path) -> tuple[str, list[Count]]:
    """Open a store with qdrant-client (blocking) and count each collection's points exactly."""
    from importlib.metadata import version

    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(path))
    try:
        names = sorted(c.name for c in client.get_collections().collections)
        counts = [
            Count(kind="points", name=name, count=client.count(name, exact=True).count)
            for name in names
        ]
    finally:
        client.close()
    return f"embedded (qdrant-client {version('qdrant-client')})", counts


def _minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


class QdrantEngine(Engine):
    """Backup and restore of Qdrant, server or embedded."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        assert isinstance(context.spec, QdrantService)
        self.spec: QdrantService = context.spec
        self.embedded = context.endpoint.embedded
        self._http: httpx.AsyncClient | None = None

    @property
    def path(self) -> Path:
        assert self.context.endpoint.path is not None
        return Path(self.context.endpoint.path)

    @property
    def address(self) -> str:
        return self.context.endpoint.address()

    # --- HTTP -------------------------------------------------------------------------

    def http(self) -> httpx.AsyncClient:
        import httpx

        if self._http is None:
            headers = {"api-key": self.spec.api_key.get_secret_value()} if self.spec.api_key else {}
            self._http = httpx.AsyncClient(
                base_url=self.context.endpoint.url("http"),
                headers=headers,
                timeout=httpx.Timeout(TIMEOUT, read=TRANSFER_TIMEOUT),
            )
        return self._http

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST call; errors become one line with Qdrant's own message."""
        try:
            response = await self.http().request(method, path, **kwargs)
        except Exception as exc:
            raise Unreachable(f"Qdrant: {self._reason(exc)}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("status", {}).get("error") or response.text
            except ValueError:
                detail = response.text
            raise BackupError(
                f"Qdrant at {self.address}: {method} {path} -> HTTP {response.status_code}: "
                f"{redact(str(detail))[:300]}"
            )
        return response.json() if response.content else None

    def _reason(self, exc: BaseException) -> str:
        endpoint = self.context.endpoint
        return describe_failure(exc, host=endpoint.host or "", port=endpoint.port, timeout=TIMEOUT)

    async def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    # --- facts ------------------------------------------------------------------------

    async def server_version(self) -> str:
        if self.embedded:
            version, _ = await asyncio.to_thread(self._count_live_embedded)
            return version
        return str((await self.request("GET", "/")).get("version", ""))

    def _count_live_embedded(self) -> tuple[str, list[Count]]:
        from alfred_tui.databases.qdrant import embedded_store_exists

        if not embedded_store_exists(str(self.path)):
            # qdrant-client would create an empty store here: a look must not deploy one
            # (found by fuzzing: a refused restore had created the store).
            raise BackupError(
                f"the embedded Qdrant store {self.path} does not exist (deploy first: "
                "alfred-tui up)"
            )
        with store_lock(self.path):
            pass  # refuse a store someone holds, with our message rather than qdrant-client's
        try:
            return count_embedded(self.path)
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise StoreBusy(
                    f"the embedded Qdrant store {self.path} is open in another process"
                ) from None
            raise

    async def collections(self) -> list[str]:
        reply = await self.request("GET", "/collections")
        return sorted(c["name"] for c in reply["result"]["collections"])

    async def points(self, collection: str) -> int:
        reply = await self.request(
            "POST", f"/collections/{collection}/points/count", json={"exact": True}
        )
        return int(reply["result"]["count"])

    async def count(self) -> list[Count]:
        if self.embedded:
            _, counts = await asyncio.to_thread(self._count_live_embedded)
            return counts
        return [
            Count(kind="points", name=name, count=await self.points(name))
            for name in await self.collections()
        ]

    # --- capture ----------------------------------------------------------------------

    async def capture(self, staging: Path, progress: ProgressCallback = no_progress) -> Capture:
        if self.embedded:
            return await self._capture_embedded(staging, progress)
        return await self._capture_server(staging, progress)

    async def _capture_embedded(self, staging: Path, progress: ProgressCallback) -> Capture:
        if not (self.path.is_dir() and any(p.name != LOCK_FILE for p in self.path.iterdir())):
            raise BackupError(
                f"the embedded Qdrant store {self.path} is empty or missing; nothing to back up"
            )
        archive = staging / STORAGE_FILE
        with store_lock(self.path):
            await tar_folder(
                self.path,
                archive,
                progress,
                f"archive {self.path}",
                "qdrant",
                exclude=lambda name: name == LOCK_FILE,
            )
        report = await self.check_files(staging, None, {"embedded": True})
        if report.problems:
            problems = "; ".join(report.problems)
            raise BackupError(f"the copy of {self.path} is unreadable: {problems}")
        counts = [Count(**c) for c in report.facts.get("counted", [])]
        return Capture(
            files=[STORAGE_FILE],
            contents=counts,
            server_version=str(report.facts.get("version", "embedded")),
            method="copy of the embedded store, taken under its lock",
            details={
                "embedded": True,
                "path": str(self.path),
                "collections": [c.name for c in counts],
            },
            report=report,
        )

    async def _capture_server(self, staging: Path, progress: ProgressCallback) -> Capture:
        version = await self.server_version()
        names = await self.collections()
        folder = staging / SNAPSHOT_FOLDER
        folder.mkdir()
        files: list[str] = []
        counts: list[Count] = []
        snapshots: dict[str, dict[str, Any]] = {}
        for index, name in enumerate(names, 1):
            progress(Progress(f"snapshot {name}", index, len(names), "steps", "qdrant"))
            before = await self.points(name)
            reply = await self.request(
                "POST", f"/collections/{name}/snapshots", params={"wait": "true"}
            )
            description = reply["result"]
            after = await self.points(name)
            local = folder / f"{name}.snapshot"
            try:
                await self._download(
                    name, description["name"], local, description.get("size"), progress
                )
            finally:
                with contextlib.suppress(BackupError):
                    await self.request(
                        "DELETE",
                        f"/collections/{name}/snapshots/{description['name']}",
                        params={"wait": "true"},
                    )
            files.append(f"{SNAPSHOT_FOLDER}/{local.name}")
            low, high = sorted((before, after))
            minimum = low if low != high else None
            counts.append(Count(kind="points", name=name, count=high, minimum=minimum))
            snapshots[name] = {
                "file": f"{SNAPSHOT_FOLDER}/{local.name}",
                "snapshot": description["name"],
                "checksum": description.get("checksum"),
            }
        details = {"embedded": False, "collections": names, "snapshots": snapshots}
        return Capture(
            files=files,
            contents=counts,
            server_version=version,
            method="per-collection snapshots over REST",
            details=details,
        )

    async def _download(
        self,
        collection: str,
        snapshot: str,
        destination: Path,
        size: int | None,
        progress: ProgressCallback,
    ) -> None:
        step = f"download {collection} snapshot"
        done = 0
        try:
            url = f"/collections/{collection}/snapshots/{snapshot}"
            async with self.http().stream("GET", url) as response:
                if response.status_code >= 400:
                    raise BackupError(
                        f"Qdrant at {self.address}: download of snapshot {snapshot} "
                        f"-> HTTP {response.status_code}"
                    )
                with destination.open("wb") as handle:
                    async for chunk in response.aiter_bytes(CHUNK):
                        await asyncio.to_thread(handle.write, chunk)
                        done += len(chunk)
                        progress(Progress(step, done, size, "bytes", "qdrant"))
        except BackupError:
            raise
        except Exception as exc:
            raise BackupError(
                f"Qdrant at {self.address}: download of {snapshot} failed: {self._reason(exc)}"
            ) from None

    # --- reading back -----------------------------------------------------------------

    async def check_files(
        self, folder: Path, manifest: Manifest | None, details: dict[str, Any]
    ) -> FileReport:
        if details.get("embedded"):
            return await self._check_embedded(folder)
        problems: list[str] = []
        for name, snapshot in sorted((details.get("snapshots") or {}).items()):
            path = folder / snapshot["file"]
            if snapshot.get("checksum"):
                digest = await sha256_file(path)
                if digest != snapshot["checksum"]:
                    problems.append(
                        f"{name}: the snapshot's SHA-256 differs from the one Qdrant reported"
                    )
                    continue
            try:
                await asyncio.to_thread(_list_tar, path)
            except (tarfile.TarError, OSError) as exc:
                problems.append(f"{name}: the snapshot is not a readable archive ({exc})")
        return FileReport("snapshot checksum + archive listing", problems)

    async def _check_embedded(self, folder: Path) -> FileReport:
        scratch = Path(tempfile.mkdtemp(prefix="alfred-qdrant-check-"))
        try:
            await untar(folder / STORAGE_FILE, scratch / "store")
            version, counts = await asyncio.to_thread(count_embedded, scratch / "store")
        except Exception as exc:
            problem = f"qdrant-client cannot open the copy: {redact(str(exc))[:200]}"
            return FileReport("qdrant-client (embedded) open + count", [problem])
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return FileReport(
            "qdrant-client (embedded) open + count",
            [],
            {"version": version, "counted": [c.model_dump() for c in counts]},
        )

    def compatibility(self, manifest: Manifest, facts: dict[str, Any], server: str) -> list[str]:
        if manifest.details.get("embedded") != self.embedded:
            where = "an embedded store" if manifest.details.get("embedded") else "a Qdrant server"
            here = "embedded" if self.embedded else "a server"
            return [
                f"the backup comes from {where} and Qdrant here is {here}; "
                "they use different formats"
            ]
        if self.embedded:
            return []
        source, target = _minor(manifest.server_version), _minor(server)
        too_far = (
            target is not None
            and source is not None
            and (target < source or target[0] != source[0] or target[1] > source[1] + 1)
        )
        if too_far:
            return [
                f"the snapshots come from Qdrant {manifest.server_version} and the server runs "
                f"{server}: Qdrant recovers snapshots of its own minor version or the one before"
            ]
        return []

    # --- restore ----------------------------------------------------------------------

    async def plan(self, manifest: Manifest) -> list[str]:
        backed_up = [c.name for c in manifest.contents if c.kind == "points"]
        if self.embedded:
            _, counted = await asyncio.to_thread(self._count_live_embedded)
            return [
                f"embedded store {self.path}: its whole content is replaced by the backup's "
                f"({manifest.summary()}); now {sum(c.count for c in counted):,} points in "
                f"{len(counted)} collections",
                "the store is locked meanwhile: no client can open it",
            ]
        now = {c.name: c.count for c in await self.count()}
        lines = [f"Qdrant {await self.server_version()} at {self.address}"]
        for name in backed_up:
            present = f"{now[name]:,} points now" if name in now else "absent now, created"
            lines.append(f"collection {name}: replaced by its snapshot ({present})")
        kept = sorted(set(now) - set(backed_up))
        if kept:
            lines.append(f"collections not in the backup are kept as they are: {', '.join(kept)}")
        lines.append("each snapshot is uploaded with its SHA-256; Qdrant refuses one that changed")
        return lines

    async def restore(self, entry: CatalogEntry, progress: ProgressCallback = no_progress) -> None:
        manifest = entry.require()
        if self.embedded:
            await self._restore_embedded(entry, progress)
            return
        snapshots = manifest.details.get("snapshots") or {}
        for index, (name, snapshot) in enumerate(sorted(snapshots.items()), 1):
            progress(Progress(f"recover {name}", index, len(snapshots), "steps", "qdrant"))
            path = entry.path(snapshot["file"])
            checksum = next(f.sha256 for f in manifest.files if f.name == snapshot["file"])
            with path.open("rb") as handle:
                await self.request(
                    "POST",
                    f"/collections/{name}/snapshots/upload",
                    params={"wait": "true", "priority": "snapshot", "checksum": checksum},
                    files={"snapshot": (path.name, handle, "application/octet-stream")},
                )

    async def _restore_embedded(self, entry: CatalogEntry, progress: ProgressCallback) -> None:
        archive = entry.path(STORAGE_FILE)
        parent = self.path.parent
        with store_lock(self.path):
            aside = Path(tempfile.mkdtemp(prefix=f".{self.path.name}-replaced-", dir=parent))
            try:
                for child in list(self.path.iterdir()):
                    if child.name != LOCK_FILE:
                        os.replace(child, aside / child.name)
                await untar(archive, self.path, progress, f"extract into {self.path}", "qdrant")
            except BaseException as exc:
                # put the previous content back rather than leave a half-extracted store
                for child in list(self.path.iterdir()):
                    if child.name == LOCK_FILE:
                        continue
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink()
                for child in list(aside.iterdir()):
                    os.replace(child, self.path / child.name)
                if isinstance(exc, Exception):
                    raise RestoreError(
                        f"extracting into {self.path} failed ({exc}); its previous content is back"
                    ) from None
                raise
            finally:
                shutil.rmtree(aside, ignore_errors=True)


def _list_tar(path: Path) -> int:
    with tarfile.open(path, "r") as archive:
        return len(archive.getmembers())
