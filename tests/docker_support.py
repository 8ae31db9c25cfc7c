"""A real Docker engine for the tests: is one there, are the test images built, a stack.

``scripts/run-tests.sh`` starts dockerd when none answers and builds the test
images; these helpers find out whether that worked (a clear skip reason when
no engine could be started), build missing images (the build is cached), and
deploy the test profile under a Compose project name unique to the run, with
free loopback ports, removing everything it made afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from servers import free_port

ROOT = Path(__file__).resolve().parent.parent
TEST_PROFILE = ROOT / "tests" / "profiles" / "docker-test.yaml"
BUILD_SCRIPT = ROOT / "scripts" / "build-test-images.sh"
STANDIN_MAIN = ROOT / "tests" / "qdrant_standin" / "__main__.py"

#: Test image per service, and the name build-test-images.sh knows it by.
TEST_IMAGES = {
    "postgres": ("alfred-tui-test/postgres:15", "postgres"),
    "redis": ("alfred-tui-test/redis:7", "redis"),
    "qdrant": ("alfred-tui-test/qdrant-standin:1", "qdrant-standin"),
}


def docker_cli(
    *args: str, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI (what an operator would type)."""
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        result = docker_cli("info", "--format", "{{.ServerVersion}}", timeout=30)
    except FileNotFoundError:
        return "the docker CLI is not installed (apt-get install docker.io; make test does it)"
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 30 s"
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine answers ({reason}); scripts/run-tests.sh starts one"
    return None


def image_present(image: str) -> bool:
    """Whether the engine has ``image``."""
    return docker_cli("image", "inspect", image, timeout=30).returncode == 0


def ensure_test_images(services: list[str]) -> None:
    """Build the test images the services need, if missing (cached: fast when unchanged)."""
    missing = [TEST_IMAGES[s][1] for s in services if not image_present(TEST_IMAGES[s][0])]
    if not missing:
        return
    result = subprocess.run(
        [str(BUILD_SCRIPT), *missing], capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        raise RuntimeError(f"building test images {missing} failed: {result.stderr.strip()[-800:]}")


def available_services() -> list[str]:
    """The services a stack can run here: Qdrant only when the stand-in's code is present."""
    services = ["postgres", "redis"]
    if STANDIN_MAIN.is_file():
        services.append("qdrant")
    return services


@dataclass
class DockerStack:
    """The test profile deployed under its own Compose project."""

    project: str
    profile_path: Path
    services: list[str]
    ports: dict[str, int]

    def backend(self):  # type: ignore[no-untyped-def]
        """A fresh DockerBackend for the stack's profile (one per event loop)."""
        from alfred_tui.backends.docker.backend import DockerBackend
        from alfred_tui.config.loader import load_profile

        return DockerBackend(load_profile(str(self.profile_path)))

    def container(self, service_name: str, number: int = 1) -> str:
        """Compose's container name for instance ``number`` of a service."""
        return f"{self.project}-{service_name}-{number}"

    def inspect(self, container: str, template: str) -> str:
        """``docker inspect -f TEMPLATE CONTAINER``."""
        return docker_cli("inspect", "-f", template, container, check=True).stdout.strip()

    def remove_everything(self) -> None:
        """Remove every container, network and volume labelled with the project."""
        label = f"label=com.docker.compose.project={self.project}"
        ids = docker_cli("ps", "-aq", "--filter", label).stdout.split()
        if ids:
            docker_cli("rm", "-f", "-v", *ids, timeout=180)
        for kind in ("network", "volume"):
            names = docker_cli(kind, "ls", "-q", "--filter", label).stdout.split()
            if names:
                docker_cli(kind, "rm", *names, timeout=180)


def _write_profile(folder: Path, services: list[str], postgres_extra: str = "") -> Path:
    """The test profile as is, or extended: services that cannot run here disabled,
    ``postgres_extra`` (YAML lines indented under ``services.postgres``) added."""
    disabled = [s for s in ("postgres", "redis", "qdrant") if s not in services]
    if not disabled and not postgres_extra:
        return TEST_PROFILE
    path = folder / "docker-test-subset.yaml"
    lines = [f"extends: {TEST_PROFILE}", "services:"]
    lines += [f"  {service}:\n    enabled: false" for service in disabled]
    if postgres_extra:
        lines += ["  postgres:", postgres_extra.rstrip("\n")]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def docker_stack(
    folder: Path, services: list[str] | None = None, deploy: bool = True, postgres_extra: str = ""
) -> Iterator[DockerStack]:
    """Deploy the test profile under a unique project; remove all of it afterwards."""
    services = services or available_services()
    ensure_test_images(services)
    project = f"alfredtest{uuid.uuid4().hex[:8]}"
    ports = {
        "postgres": free_port(),
        "redis": free_port(),
        "qdrant": free_port(),
        "qdrant_grpc": free_port(),
    }
    env = {
        "ALFRED_TEST_PROJECT": project,
        "ALFRED_TEST_POSTGRES_PORT": str(ports["postgres"]),
        "ALFRED_TEST_REDIS_PORT": str(ports["redis"]),
        "ALFRED_TEST_QDRANT_PORT": str(ports["qdrant"]),
        "ALFRED_TEST_QDRANT_GRPC_PORT": str(ports["qdrant_grpc"]),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    profile = _write_profile(folder, services, postgres_extra)
    stack = DockerStack(project, profile, services, ports)
    try:
        if deploy:
            asyncio.run(_deploy(stack))
        yield stack
    finally:
        stack.remove_everything()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _deploy(stack: DockerStack) -> None:
    async with stack.backend() as backend:
        await backend.deploy()
