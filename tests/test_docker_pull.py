"""Image pulls: progress in layers and bytes, and no pull for an image already there.

Docker Hub is out of reach, so the registry is a real one on loopback
(Debian's docker-registry, the CNCF distribution server): the test pushes an
image with a layer the engine does not have, removes it locally, and deploys
a profile that names it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_support import TEST_PROFILE, docker_cli, docker_stack, ensure_test_images
from servers import free_port, wait_for_port

from alfred_tui.backends.base import Progress

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def registry(docker_engine: None, tmp_path: Path) -> Iterator[str]:
    """A Docker registry on a free loopback port (the engine trusts 127.0.0.0/8 over HTTP)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'registry-data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "log:\n  level: error\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, 30)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _push_image_with_a_new_layer(registry: str, tmp_path: Path) -> str:
    """The Redis test image plus a 3 MiB layer of its own, pushed, then removed here."""
    ensure_test_images(["redis"])
    context = tmp_path / "context"
    context.mkdir()
    (context / "blob").write_bytes(os.urandom(3 * 1024 * 1024))
    (context / "Dockerfile").write_text("FROM alfred-tui-test/redis:7\nCOPY blob /blob\n")
    image = f"{registry}/alfred-test/redis-pull:{tmp_path.name[-12:].lower()}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    subprocess.run(
        ["docker", "build", "-q", "-t", image, str(context)],
        check=True, capture_output=True, env=env, timeout=300,
    )  # fmt: skip
    docker_cli("push", image, check=True, timeout=300)
    docker_cli("image", "rm", image, check=True)
    assert docker_cli("image", "inspect", image).returncode != 0
    return image


def test_pull_reports_layers_and_bytes_then_never_pulls_again(
    registry: str, tmp_path: Path
) -> None:
    image = _push_image_with_a_new_layer(registry, tmp_path)
    profile = tmp_path / "pull.yaml"
    profile.write_text(
        f"extends: {TEST_PROFILE}\n"
        "services:\n"
        f"  redis:\n    image: {image}\n"
        "  postgres:\n    enabled: false\n"
        "  qdrant:\n    enabled: false\n"
    )
    with docker_stack(tmp_path, services=["redis"], deploy=False) as stack:
        stack.profile_path = profile

        async def deploy() -> list[Progress]:
            reports: list[Progress] = []
            async with stack.backend() as backend:
                await backend.deploy(progress=reports.append)
            return reports

        first = asyncio.run(deploy())
        pulls = [p for p in first if p.step.startswith(f"pull {image}")]
        in_bytes = [p for p in pulls if p.unit == "bytes" and p.total]
        assert in_bytes, [p.step for p in first]
        assert all(p.service == "redis" for p in pulls)
        assert max(p.total or 0 for p in in_bytes) >= 3 * 1024 * 1024
        assert in_bytes[-1].current == in_bytes[-1].total  # every byte arrived
        assert "layers" in in_bytes[-1].step
        assert docker_cli("image", "inspect", image).returncode == 0
        second = asyncio.run(deploy())
        assert not [p for p in second if p.step.startswith("pull ")]
    docker_cli("image", "rm", image)
