"""The Kubernetes backend end to end: the stand-in with its Docker kubelet, and deployments on it.

:func:`kube_cluster` starts the API-server stand-in (tests/kube_standin)
whose kubelet runs every pod as real containers on the Docker engine
``make test`` starts, with the locally built test images standing in for the
official ones. A :class:`KubeDeployment` is the profile
``tests/profiles/kube-e2e.yaml`` in a namespace of its own, reached through
a kubeconfig written for it (the profile names both, so the in-process
backend and the ``alfred-tui`` command need no environment). Everything the
kubelet made is removed when the cluster stops, even after a failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import subprocess
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kube_standin import StandInCluster
from kube_standin.images import build_names, build_test_images

from alfred_tui.backends.kubernetes.backend import KubernetesBackend
from alfred_tui.config.loader import load_profile

ROOT = Path(__file__).resolve().parent.parent
E2E_PROFILE = ROOT / "tests" / "profiles" / "kube-e2e.yaml"
_OFFICIAL = ("supabase/postgres:15.1.0.117", "redis:7-alpine", "qdrant/qdrant:v1.7.4")


def ensure_images() -> None:
    """Build the test images the kubelet maps the profile's images to, or bring them up to
    date (the build is cached by content: about a second when nothing changed)."""
    build_test_images(build_names(list(_OFFICIAL)))


@contextlib.contextmanager
def kube_cluster() -> Iterator[StandInCluster]:
    """The stand-in with its Docker kubelet; stopped (and its containers removed) after."""
    ensure_images()
    with StandInCluster(docker=True) as cluster:
        yield cluster


@dataclass
class KubeDeployment:
    """The e2e profile in one namespace of the stand-in cluster."""

    cluster: StandInCluster
    namespace: str
    profile_path: Path
    kubeconfig: Path

    def backend(self, **options: Any) -> KubernetesBackend:
        """A fresh KubernetesBackend on the deployment (one per event loop)."""
        options.setdefault("wait_timeout", 300)
        options.setdefault("poll_interval", 0.5)
        return KubernetesBackend(load_profile(str(self.profile_path)), **options)

    def run(self, coroutine_function: Any, **options: Any) -> Any:
        """``coroutine_function(backend)`` on a fresh backend, from synchronous code."""

        async def main() -> Any:
            backend = self.backend(**options)
            try:
                return await coroutine_function(backend)
            finally:
                await backend.close()

        return asyncio.run(main())

    def pods(self) -> dict[str, dict[str, Any]]:
        """The namespace's pods by name, as the API has them."""
        return {p["metadata"]["name"]: p for p in self.cluster.objects("pods", self.namespace)}

    def claims(self) -> set[str]:
        """Names of the namespace's PersistentVolumeClaims."""
        return {
            c["metadata"]["name"]
            for c in self.cluster.objects("persistentvolumeclaims", self.namespace)
        }

    def secret(self, key: str) -> str:
        """A value of the ``database-credentials`` Secret, as the cluster stores it."""
        found = self.cluster.find("secrets", self.namespace, "database-credentials")
        assert found is not None, "no database-credentials Secret"
        return base64.b64decode(found["data"][key]).decode()

    def container(self, pod: str, container: str) -> str:
        """The Docker id of a pod's container (what the node runs)."""
        status = self.pods()[pod]["status"]
        for entry in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
            if entry["name"] == container and entry.get("containerID"):
                return str(entry["containerID"]).removeprefix("docker://")
        raise AssertionError(f"pod {pod} has no container {container} yet")


def write_profile(folder: Path, cluster: StandInCluster, namespace: str) -> Path:
    """A profile extending the e2e one, with this cluster's kubeconfig and ``namespace``."""
    kubeconfig = cluster.kubeconfig(folder / f"kubeconfig-{namespace}")
    path = folder / f"kube-{namespace}.yaml"
    path.write_text(
        f"extends: {E2E_PROFILE}\n"
        f"name: kube-{namespace}\n"
        f"kubernetes:\n  kubeconfig: {kubeconfig}\n  namespace: {namespace}\n"
    )
    return path


@contextlib.contextmanager
def kube_deployment(
    cluster: StandInCluster, folder: Path, prefix: str = "e2e", deploy: bool = True
) -> Iterator[KubeDeployment]:
    """The e2e profile in a new namespace (deployed unless told not to); removed afterwards."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
    path = write_profile(folder, cluster, namespace)
    deployment = KubeDeployment(cluster, namespace, path, folder / f"kubeconfig-{namespace}")
    try:
        if deploy:
            deployment.run(lambda backend: backend.deploy())
        yield deployment
    finally:
        with contextlib.suppress(Exception):
            deployment.run(lambda backend: backend.teardown(remove_volumes=True), wait_timeout=120)


@contextlib.contextmanager
def port_forwards(
    deployment: KubeDeployment, services: tuple[str, ...] = ("postgres", "redis", "qdrant")
) -> Iterator[dict[str, int]]:
    """alfred-tui's port-forwards to ``services``, kept open for synchronous code.

    The backend and its tunnels live in an event loop of their own thread, so
    blocking clients (psql, redis-py, qdrant-client) can use the ports; each
    new connection goes to the service's current pod (a restarted one too).
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="port-forwards", daemon=True)
    thread.start()
    backend = deployment.backend()

    def run(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(120)

    try:
        yield {service: run(backend.endpoint(service)).port for service in services}
    finally:
        with contextlib.suppress(Exception):
            run(backend.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# --- what the tests of a deployment do ------------------------------------------------


def alfred(deployment: KubeDeployment, cli: Any, *args: str, timeout: float = 400) -> Any:
    """``alfred-tui ARGS --profile <the deployment's>``, as an operator types it; one that
    does not end in time fails with its last lines and the pods' states (what it waited for)."""
    try:
        result = cli(*args, "--profile", str(deployment.profile_path), timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        said = (exc.stderr or b"").decode(errors="replace").splitlines()[-15:]
        pods = {
            name: (pod["status"].get("phase"), pod["metadata"].get("deletionTimestamp"),
                   [s.get("state") for s in pod["status"].get("containerStatuses", [])])
            for name, pod in deployment.pods().items()
        }  # fmt: skip
        raise AssertionError(f"{args} did not end in {timeout} s: {said}\npods: {pods}") from None
    assert "Traceback" not in result.stderr, result.stderr
    return result


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 60, what: str = "") -> Any:
    """Poll ``check()`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except Exception as exc:  # not yet: the database may still be starting
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what or check} did not happen within {timeout} s: {last!r}")


async def redis_in(backend: Any, pod: str, *args: str) -> str:
    """``redis-cli`` inside a pod (exec); the password comes from the pod's environment."""
    result = await backend.exec("redis", ["redis-cli", *args], instance=pod)
    assert result.ok, result.stderr.decode()
    return result.stdout.decode()
