"""PostgreSQL's data directory and WAL archive in its container, reached through the engine.

The Docker engine's side of point-in-time recovery
(:class:`~alfred_tui.backends.pgdata.PostgresDataDirectory`). On the local
engine the data directory and the WAL archive are folders on this machine;
here they are in the container, so each step goes through the engine:

- the archive (``/archive`` by default, as in the spec) must be a volume, or
  it would vanish with the container; it is created and read with ``exec``;
- the base backup is taken by the container's own ``pg_basebackup`` (over
  its loopback, which ``initdb`` lets replicate) and copied out with the
  archive API;
- for recovery the container is stopped, its data directory saved to this
  machine as a tar (the safety copy), emptied by a throwaway container
  sharing its volumes, and refilled through the archive API (which works on
  a stopped container) with the base backup, the current configuration files
  and the recovery settings. Put back from the tar if any of that fails.

The order of the steps, the journal and the settings are
:mod:`alfred_tui.backup.pitr`'s; this module only does them in the container.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import BackendError, Progress, ProgressCallback, no_progress
from alfred_tui.backends.docker import spec as docker_spec
from alfred_tui.backends.docker import transfers
from alfred_tui.backends.pgdata import (
    LIST_ARCHIVE,
    MAKE_ARCHIVE,
    archive_listing,
    basebackup_argv,
    build_install_tar,
    saved_tar,
)

if TYPE_CHECKING:
    from alfred_tui.backends.docker.exec import DockerExec

#: Seconds for the throwaway container that empties the data directory.
WIPE_TIMEOUT = 600
#: Seconds PostgreSQL gets to stop cleanly before the engine kills it.
STOP_TIMEOUT = 120


class ContainerPitrError(BackendError):
    """Point-in-time recovery cannot use the PostgreSQL container as it is."""

    title = "Point-in-time recovery"


class ContainerData:
    """The PostgreSQL container's data directory and WAL archive, through the engine."""

    server = "the PostgreSQL container"
    default_archive = "/archive"
    """The spec's folder; it must be a volume of the container (see :meth:`make_archive`)."""
    moves_aside = False
    save_step = "save the data directory"

    def __init__(self, backend: DockerExec) -> None:
        self.backend = backend

    # --- the container -------------------------------------------------------------

    async def _attrs(self, alone: bool = False) -> dict[str, Any]:
        """The primary's container; with ``alone``, refused while read replicas run."""
        instances = await self.backend.instances("postgres")
        if not instances:
            raise ContainerPitrError("postgres is not deployed; run `alfred-tui up`")
        if alone and len(instances) > 1:
            raise ContainerPitrError(
                f"postgres has {len(instances)} containers (read replicas); recovery rewinds "
                "the primary and the replicas could not follow: scale postgres to 1 first"
            )
        return instances[0]

    async def _api(self) -> Any:
        return (await self.backend.client()).api

    async def _exec(self, argv: list[str], user: str = "") -> tuple[int, str, str]:
        attrs = await self._attrs()
        api = await self._api()
        result = await self.backend.call(transfers.exec_in, api, attrs["Id"], argv, None, user)
        return (
            result.exit_code,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )

    def _mount_at(self, attrs: dict[str, Any], path: str) -> dict[str, Any] | None:
        wanted = path.rstrip("/")
        mounts: list[dict[str, Any]] = attrs.get("Mounts") or []
        for mount in mounts:
            if str(mount.get("Destination", "")).rstrip("/") == wanted:
                return mount
        return None

    # --- the archive ---------------------------------------------------------------

    async def make_archive(self, archive: str, data_dir: str = "") -> None:
        """Create the archive folder, owned by the server's user; it must be a volume."""
        attrs = await self._attrs()
        if self._mount_at(attrs, archive) is None:
            raise ContainerPitrError(
                f"the WAL archive {archive} is not a volume of {attrs['Name'].lstrip('/')}, so "
                "it would be lost with the container; add it to the profile and redeploy: "
                f"services.postgres.volumes: - db-postgres-wal:{archive} (then alfred-tui up)"
            )
        code, _out, err = await self._exec(
            ["sh", "-c", MAKE_ARCHIVE, "sh", archive],
            user="root",
        )
        if code != 0:
            raise ContainerPitrError(f"cannot prepare {archive} in the container: {err.strip()}")

    async def read_archive(self, archive: str) -> tuple[int, str | None, datetime | None]:
        """WAL files in the archive: how many, the newest one's name and time."""
        code, out, _err = await self._exec(["sh", "-c", LIST_ARCHIVE, "sh", archive])
        return archive_listing(out if code == 0 else "")

    # --- base backup ---------------------------------------------------------------

    async def base_backup(self, tar_path: Path, label: str, progress: ProgressCallback) -> str:
        """``pg_basebackup`` in the container, copied out as the tar ``tar_path``.

        Returns the folder inside the tar that holds the backup (see
        :class:`~alfred_tui.backends.pgdata.InstanceBaseBackup`).
        """
        scratch = f"/tmp/alfred-basebackup-{uuid.uuid4().hex[:12]}"
        progress(Progress("pg_basebackup in the container", 1, 3, "steps", "postgres"))
        result = await self.backend.exec(
            "postgres",
            basebackup_argv(scratch, label),
            timeout=3600,
        )
        try:
            if not result.ok:
                text = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
                raise ContainerPitrError("pg_basebackup failed: " + " / ".join(text))
            progress(Progress("copy the base backup out", 2, 3, "steps", "postgres"))
            attrs = await self._attrs()
            api = await self._api()
            await self.backend.call(
                transfers.archive_to_file, api, attrs["Id"], scratch, tar_path, timeout=3600
            )
            return posixpath.basename(scratch)
        finally:
            with contextlib.suppress(Exception):
                await self.backend.exec("postgres", ["rm", "-rf", scratch])

    # --- recovery ------------------------------------------------------------------

    async def check(self, data_dir: str) -> None:
        """Refuse early: read replicas running, or a data directory not on a volume."""
        attrs = await self._attrs(alone=True)
        if self._mount_at(attrs, data_dir) is None:
            raise ContainerPitrError(
                f"{data_dir} is not a volume of {attrs['Name'].lstrip('/')}: recovery "
                "replaces the data directory while the container is stopped, which needs "
                "it on a volume (services.postgres.volumes)"
            )

    def describe_save(self, data_dir: str) -> str:
        return (
            f"stop the PostgreSQL container; save its data directory {data_dir} to this "
            "machine as the safety copy (a tar)"
        )

    async def owner(self, data_dir: str) -> tuple[int, int]:
        """uid and gid owning the data directory (read while the container runs)."""
        code, out, err = await self._exec(["stat", "-c", "%u %g", data_dir])
        if code != 0:
            raise ContainerPitrError(f"cannot read the owner of {data_dir}: {err.strip()}")
        uid, gid = (int(part) for part in out.split())
        return uid, gid

    async def stop(self, progress: ProgressCallback = no_progress) -> None:
        attrs = await self._attrs(alone=True)
        api = await self._api()
        progress(Progress(f"stop {attrs['Name'].lstrip('/')}", service="postgres"))
        await self.backend.call(
            functools.partial(api.stop, attrs["Id"], timeout=STOP_TIMEOUT),
            timeout=STOP_TIMEOUT + 60,
        )

    async def start(self, progress: ProgressCallback = no_progress) -> None:
        attrs = await self._attrs()
        api = await self._api()
        await self.backend.call(api.start, attrs["Id"])

    async def has_data(self, data_dir: str) -> bool:
        """Always: the directory is on a volume of the (stopped) container."""
        return True

    async def save(self, data_dir: str, folder: Path) -> Path:
        """The stopped container's data directory as a tar in ``folder``.

        Written under a ``.partial`` name and renamed when complete, so a tar
        found there after a kill is whole (see :func:`saved_tar`).
        """
        attrs = await self._attrs()
        api = await self._api()
        destination = saved_tar(folder, data_dir)
        partial = destination.with_name(destination.name + ".partial")
        try:
            await self.backend.call(
                transfers.archive_to_file, api, attrs["Id"], data_dir, partial, timeout=3600
            )
        except BaseException:
            partial.unlink(missing_ok=True)  # incomplete: not a safety copy
            raise
        os.replace(partial, destination)
        return destination

    async def _wipe(self, data_dir: str) -> None:
        """Empty the data directory with a throwaway container sharing the volumes."""
        attrs = await self._attrs()
        api = await self._api()
        image = attrs.get("Config", {}).get("Image") or attrs["Image"]
        helper = await self.backend.call(
            functools.partial(
                api.create_container,
                image,
                entrypoint=["sh", "-c", 'find "$1" -mindepth 1 -delete', "sh", data_dir],
                user="root",
                labels=docker_spec.oneoff_labels(self.backend.project),
                host_config=api.create_host_config(volumes_from=[attrs["Id"]]),
            )
        )
        helper_id = helper["Id"]
        try:
            await self.backend.call(api.start, helper_id)
            answer = await self.backend.call(
                functools.partial(api.wait, helper_id, timeout=WIPE_TIMEOUT),
                timeout=WIPE_TIMEOUT + 30,
            )
            if int(answer.get("StatusCode", 1)) != 0:
                raise ContainerPitrError(f"could not empty {data_dir} (exit {answer})")
        finally:
            with contextlib.suppress(Exception):
                await self.backend.call(
                    functools.partial(api.remove_container, helper_id, v=False, force=True)
                )

    async def _put(self, path: str, tar_path: Path) -> None:
        attrs = await self._attrs()
        api = await self._api()

        def put() -> None:
            with open(tar_path, "rb") as handle:
                if not api.put_archive(attrs["Id"], path, handle):
                    raise ContainerPitrError(f"the engine refused to write into {path}")

        await self.backend.call(put, timeout=3600)

    def saved_copy(self, folder: Path, data_dir: str) -> Path:
        return saved_tar(folder, data_dir)

    async def install(
        self,
        base: Path,
        data_dir: str,
        saved: Path,
        recovery_settings: str,
        owner: tuple[int, int],
    ) -> None:
        """Replace the data directory with ``base``, today's configuration and the settings."""
        await self._wipe(data_dir)
        with tempfile.TemporaryDirectory(dir=saved.parent) as scratch:
            tar_path = Path(scratch) / "install.tar"
            await self.backend.call(
                build_install_tar, base, saved, recovery_settings, owner, tar_path, timeout=3600
            )
            await self._put(data_dir, tar_path)

    async def put_back(self, saved: Path, data_dir: str) -> None:
        """The data directory as it was before, from the safety tar."""
        await self._wipe(data_dir)
        await self._put(posixpath.dirname(data_dir.rstrip("/")) or "/", saved)
