"""Volumes of the Docker engine: their safety copies before they are deleted.

``down --volumes`` first exports each of the project's volumes as
``<volume>.tar`` through the archive API of a never-started container (any
image the engine already has will do), then removes it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from alfred_tui import paths
from alfred_tui.backends.base import OperationFailed, Progress, ProgressCallback
from alfred_tui.backends.docker import spec as spec_mod
from alfred_tui.backends.docker import transfers
from alfred_tui.backends.docker.containers import has_image
from alfred_tui.backends.docker.core import DockerCore

if TYPE_CHECKING:
    import docker


class DockerVolumes(DockerCore):
    """The project's volumes, kept as tar files before they go."""

    async def remove_volumes(self, progress: ProgressCallback, safety_dir: Path | None) -> None:
        client = await self.client()
        answer = await self.call(
            client.api.volumes, {"label": [f"{spec_mod.PROJECT}={self.project}"]}
        )
        volumes = sorted(v["Name"] for v in (answer or {}).get("Volumes") or [])
        if not volumes:
            return
        folder = safety_dir
        if folder is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            folder = paths.data_dir() / "docker" / self.project / "safety" / stamp
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        image = await self._helper_image()
        for index, volume in enumerate(volumes, 1):
            destination = folder / f"{volume}.tar"
            progress(Progress(f"safety copy of volume {volume}", index, len(volumes)))
            size = await self.call(
                self._save_volume_blocking, client, image, volume, destination, timeout=600
            )
            self.safety_copies.append(destination)
            progress(
                Progress(
                    f"volume {volume} saved to {destination} ({size} bytes)", index, len(volumes)
                )
            )
            await self.call(client.api.remove_volume, volume)
            progress(Progress(f"removed volume {volume}", index, len(volumes)))

    async def _helper_image(self) -> str:
        """An image the engine has, to mount volumes in throwaway containers."""
        client = await self.client()
        for _, spec in self.profile.services.enabled():
            if await self.call(has_image, client, spec.image):
                return spec.image
        raise OperationFailed(
            "none of the profile's images is on the engine, so no throwaway container can "
            "copy the volumes; run `alfred-tui up` first or load an image"
        )

    def _save_volume_blocking(
        self, client: docker.DockerClient, image: str, volume: str, destination: Path
    ) -> int:
        """Tar a volume's content through the archive API of a never-started container."""
        api = client.api
        container = api.create_container(
            image,
            command=["true"],
            labels=spec_mod.oneoff_labels(self.project),
            host_config=api.create_host_config(binds={volume: {"bind": "/volume", "mode": "ro"}}),
            entrypoint=["true"],
        )["Id"]
        try:
            return transfers.archive_to_file(api, container, "/volume/.", destination)
        finally:
            with contextlib.suppress(Exception):
                api.remove_container(container, v=True, force=True)
