"""PostgreSQL's data directory and WAL archive in its pod, reached through the API and exec.

The Kubernetes engine's side of point-in-time recovery
(:class:`~alfred_tui.backends.pgdata.PostgresDataDirectory`), as on Docker
but with what a cluster offers:

- the WAL archive must be on the primary's data claim (by default
  ``<data volume>/wal-archive``, beside ``PGDATA``), or it would vanish with
  the pod; it is created and read with ``exec``;
- the base backup is taken by the pod's own ``pg_basebackup`` and copied out
  as a tar through ``exec``;
- for recovery the primary's StatefulSet is scaled to 0 (its claim stays), a
  maintenance pod mounts the claim (``postgres-pitr``: the same image,
  ``sleep``), and through ``exec`` in it the data directory is saved to this
  machine as a tar (the safety copy), emptied and refilled with the base
  backup, the current configuration files and the recovery settings; then
  the maintenance pod goes and the StatefulSet is scaled back to 1. Put back
  from the tar if any of that fails.

What moves through ``exec`` is held in memory on its way (base backup,
safety copy): for a large database take a base backup with ``pg_basebackup``
to object storage instead.

The order of the steps, the journal and the settings are
:mod:`alfred_tui.backup.pitr`'s; this module only does them in the cluster.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import (
    BackendError,
    ExecResult,
    Progress,
    ProgressCallback,
    no_progress,
)
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.pgdata import (
    LIST_ARCHIVE,
    MAKE_ARCHIVE,
    archive_listing,
    basebackup_argv,
    build_install_tar,
    saved_tar,
)

if TYPE_CHECKING:
    from alfred_tui.backends.kubernetes.exec import KubernetesExec

MAINTENANCE_POD = "postgres-pitr"
"""The pod that holds the primary's claim while PostgreSQL is stopped."""
_WAIT = 300.0
_LONG = 3600.0
"""Seconds for a command moving a whole data directory."""


class PodPitrError(BackendError):
    """Point-in-time recovery cannot use the PostgreSQL pods as they are."""

    title = "Point-in-time recovery"


def default_archive(data_path: str) -> str:
    """The WAL archive on the primary's data claim, beside ``PGDATA``."""
    return posixpath.join(data_path, "wal-archive")


class PodData:
    """The primary's data directory and WAL archive, through the Kubernetes API."""

    server = "the PostgreSQL primary"
    moves_aside = False
    save_step = "save the data directory"

    def __init__(self, backend: KubernetesExec) -> None:
        self.kube = backend
        self.primary, self.replicas = names.workloads("postgres")[:2]
        self.claim = f"data-{self.primary.pod_name(0)}"
        self._maintenance = False
        """Whether commands go to the maintenance pod (PostgreSQL is stopped)."""

    @property
    def data_path(self) -> str:
        """Where the primary's data claim is mounted."""
        return names.data_path("postgres", self.kube.service_spec("postgres"))

    @property
    def default_archive(self) -> str:
        """On the primary's data claim, beside ``PGDATA``: it lives as long as the data."""
        return default_archive(self.data_path)

    # --- commands in the pod ---------------------------------------------------------

    async def _run(
        self, argv: list[str], stdin: bytes | None = None, timeout: float = _LONG
    ) -> ExecResult:
        instance = MAINTENANCE_POD if self._maintenance else self.primary.pod_name(0)
        return await self.kube.exec(
            "postgres", argv, stdin=stdin, instance=instance, timeout=timeout
        )

    def _on_claim(self, path: str) -> bool:
        return path.rstrip("/") == self.data_path or path.startswith(self.data_path + "/")

    @staticmethod
    def _tail(result: ExecResult) -> str:
        return result.stderr.decode(errors="replace").strip()[-200:]

    # --- the archive -----------------------------------------------------------------

    async def make_archive(self, archive: str, data_dir: str = "") -> None:
        """Create the archive folder on the data claim, owned by the server's user."""
        if not self._on_claim(archive):
            raise PodPitrError(
                f"the WAL archive {archive} is not on the claim {self.claim} (mounted at "
                f"{self.data_path}), so it would be lost with the pod; set backups.wal_archive "
                f"to a folder under {self.data_path} (default {self.default_archive})"
            )
        result = await self._run(["sh", "-c", MAKE_ARCHIVE, "sh", archive])
        if not result.ok:
            raise PodPitrError(f"cannot prepare {archive} in the pod: {self._tail(result)}")

    async def read_archive(self, archive: str) -> tuple[int, str | None, datetime | None]:
        """WAL files in the archive: how many, the newest one's name and time."""
        result = await self._run(["sh", "-c", LIST_ARCHIVE, "sh", archive], timeout=60)
        return archive_listing(result.stdout.decode(errors="replace") if result.ok else "")

    # --- base backup -------------------------------------------------------------------

    async def base_backup(self, tar_path: Path, label: str, progress: ProgressCallback) -> str:
        """``pg_basebackup`` in the pod, copied out through exec as the tar ``tar_path``.

        Returns the folder inside the tar that holds the backup (see
        :class:`~alfred_tui.backends.pgdata.InstanceBaseBackup`).
        """
        folder = f"alfred-basebackup-{uuid.uuid4().hex[:12]}"
        scratch = f"/tmp/{folder}"
        progress(Progress("pg_basebackup in the pod", 1, 3, "steps", "postgres"))
        result = await self._run(basebackup_argv(scratch, label))
        try:
            if not result.ok:
                text = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
                raise PodPitrError("pg_basebackup failed: " + " / ".join(text))
            progress(Progress("copy the base backup out", 2, 3, "steps", "postgres"))
            copied = await self._run(["tar", "-C", "/tmp", "-cf", "-", folder])
            if not copied.ok:
                raise PodPitrError(f"cannot read the base backup: {self._tail(copied)}")
            tar_path.write_bytes(copied.stdout)
            return folder
        finally:
            await self._run(["rm", "-rf", scratch], timeout=120)

    # --- recovery ----------------------------------------------------------------------

    async def check(self, data_dir: str) -> None:
        """Refuse early: read replicas running, or a data directory not on the claim."""
        statefulsets = await self.kube.statefulsets()
        replicas = statefulsets.get(self.replicas.statefulset) or {}
        if int((replicas.get("spec") or {}).get("replicas", 0) or 0) > 0:
            raise PodPitrError(
                "postgres has read replicas; recovery rewinds the primary and the replicas "
                "could not follow: scale postgres to 1 first"
            )
        if not self._on_claim(data_dir):
            raise PodPitrError(
                f"{data_dir} is not on the claim {self.claim} (mounted at {self.data_path}): "
                "recovery replaces the data directory while PostgreSQL is stopped"
            )

    def describe_save(self, data_dir: str) -> str:
        return (
            f"scale {self.primary.statefulset} to 0 (its claim {self.claim} stays); in a "
            f"maintenance pod ({MAINTENANCE_POD}) on that claim, save the data directory "
            f"{data_dir} to this machine as the safety copy (a tar)"
        )

    async def owner(self, data_dir: str) -> tuple[int, int]:
        """uid and gid owning the data directory (read while the server runs)."""
        result = await self._run(["stat", "-c", "%u %g", data_dir], timeout=60)
        if not result.ok:
            raise PodPitrError(f"cannot read the owner of {data_dir}: {self._tail(result)}")
        uid, gid = (int(part) for part in result.stdout.split())
        return uid, gid

    async def _scale_primary(self, replicas: int) -> None:
        api = await self.kube.connected()
        await api.call(
            api.op("patch", "statefulsets.apps/scale", self.primary.statefulset),
            api.apps.patch_namespaced_stateful_set_scale,
            self.primary.statefulset,
            api.namespace,
            {"spec": {"replicas": replicas}},
            field_manager=names.FIELD_MANAGER,
        )

    async def _pod_names(self) -> set[str]:
        return {p["metadata"]["name"] for p in await self.kube.pods()}

    async def _until(self, check: Any, what: str) -> None:
        deadline = time.monotonic() + _WAIT
        while not await check():
            if time.monotonic() > deadline:
                raise PodPitrError(f"{what} did not happen within {_WAIT:g} s")
            await asyncio.sleep(self.kube.poll_interval)

    async def stop(self, progress: ProgressCallback = no_progress) -> None:
        """Scale the primary to 0 and start the maintenance pod on its claim."""
        pod = self.primary.pod_name(0)
        progress(Progress(f"scale {self.primary.statefulset} to 0", service="postgres"))
        await self._scale_primary(0)

        async def gone() -> bool:
            return pod not in await self._pod_names()

        await self._until(gone, f"{pod} stopping")
        await self._start_maintenance(progress)

    async def _start_maintenance(self, progress: ProgressCallback) -> None:
        sts = (await self.kube.statefulsets())[self.primary.statefulset]
        image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
        progress(Progress(f"start {MAINTENANCE_POD} on {self.claim}", service="postgres"))
        await self.kube.start_claim_pod(
            MAINTENANCE_POD, "postgres", self.claim, image, self.data_path
        )
        self._maintenance = True

    async def start(self, progress: ProgressCallback = no_progress) -> None:
        """Remove the maintenance pod (if any) and scale the primary back to 1."""
        if MAINTENANCE_POD in await self._pod_names():
            await self.kube.delete_pod(MAINTENANCE_POD)
        self._maintenance = False
        await self._scale_primary(1)

    async def has_data(self, data_dir: str) -> bool:
        """Always: the directory is on the primary's claim, which outlives its pod."""
        return True

    async def save(self, data_dir: str, folder: Path) -> Path:
        """The stopped server's data directory as a tar in ``folder`` (whole, or nothing)."""
        if not self._maintenance:
            await self._start_maintenance(no_progress)
        destination = saved_tar(folder, data_dir)
        partial = destination.with_name(destination.name + ".partial")
        result = await self._run(["tar", "-C", data_dir, "-cf", "-", "."])
        if not result.ok:
            raise PodPitrError(f"cannot save {data_dir}: {self._tail(result)}")
        partial.write_bytes(result.stdout)
        partial.chmod(0o600)
        os.replace(partial, destination)
        return destination

    def saved_copy(self, folder: Path, data_dir: str) -> Path:
        return saved_tar(folder, data_dir)

    async def _refill(self, data_dir: str, tar: bytes) -> None:
        """Empty the data directory and unpack ``tar`` into it, in the maintenance pod."""
        if not self._maintenance:
            await self._start_maintenance(no_progress)
        script = 'find "$1" -mindepth 1 -delete && tar -C "$1" -xf - && chmod 700 "$1"'
        result = await self._run(["sh", "-c", script, "sh", data_dir], stdin=tar)
        if not result.ok:
            raise PodPitrError(f"could not refill {data_dir}: {self._tail(result)}")

    async def install(
        self,
        base: Path,
        data_dir: str,
        saved: Path,
        recovery_settings: str,
        owner: tuple[int, int],
    ) -> None:
        """Replace the data directory with ``base``, today's configuration and the settings."""
        with tempfile.TemporaryDirectory(dir=saved.parent) as scratch:
            tar_path = Path(scratch) / "install.tar"
            await asyncio.to_thread(
                build_install_tar, base, saved, recovery_settings, owner, tar_path
            )
            await self._refill(data_dir, tar_path.read_bytes())

    async def put_back(self, saved: Path, data_dir: str) -> None:
        """The data directory as it was before, from the safety tar."""
        await self._refill(data_dir, saved.read_bytes())
