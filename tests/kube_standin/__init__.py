"""A Kubernetes **stand-in** cluster for the tests (there is no cluster here).

:class:`StandInCluster` runs :class:`~kube_standin.server.StandInApiServer`
(a project-owned subclass of kmock 0.8's emulator, with the controllers of
:mod:`.controllers`) on 127.0.0.1 in its own thread and event loop, so the
code under test can use the official, blocking ``kubernetes`` client and
``kubectl`` against it while a test's own loop keeps running. Its node's
kubelet is :class:`~kube_standin.kubelet.DockerKubelet` with ``docker=True``
(every pod runs as real containers on the Docker engine), else
:class:`~kube_standin.fake_kubelet.FakeKubelet` (pods turn Ready, nothing
runs: for tests of API behaviour only). Tests change the stand-in's state
and inject faults with :meth:`StandInCluster.call`, which runs a function in
the server's loop. ``python -m tests.kube_standin`` runs it by hand.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import kmock
import yaml

from . import rbac
from .resources import TYPES, ResourceType, find_type
from .server import STAND_IN_TOKEN, ApiError, StandInApiServer

T = TypeVar("T")

__all__ = ["TYPES", "ApiError", "ResourceType", "StandInApiServer", "StandInCluster", "find_type"]


class StandInCluster:
    """The stand-in API server, running in a background thread on loopback."""

    def __init__(
        self,
        *,
        minor: int = 31,
        start_delay: float = 0.05,
        namespace_grace: float = 5.0,
        docker: bool = False,
        instance: str | None = None,
        port: int | None = None,
    ) -> None:
        self._options = {"minor": minor, "namespace_grace": namespace_grace}
        self._port = port
        self._start_delay = start_delay
        self.docker = docker
        self.instance = instance or uuid.uuid4().hex[:8]
        """Label value of everything the Docker kubelet makes (``org.alfred-tui.kube-standin``)."""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.server: StandInApiServer
        self.url = ""
        self._thread = threading.Thread(target=self._run, name="k8s-stand-in", daemon=True)

    # lifecycle

    def start(self) -> StandInCluster:
        """Start serving; returns once the port is open."""
        self._thread.start()
        if not self._ready.wait(15):
            raise TimeoutError("the Kubernetes stand-in did not start in 15 s")
        if self._failure is not None:
            raise self._failure
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._failure = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = StandInApiServer(**self._options)
        if self.docker:
            from .kubelet import DockerKubelet

            server.kubelet = DockerKubelet(server, self.instance)
        else:
            from .fake_kubelet import FakeKubelet

            server.kubelet = FakeKubelet(server, self._start_delay)
        async with server, kmock.Server(server, port=self._port) as http:
            self.server = server
            self.url = str(http.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        """Stop serving and join the thread (the Docker kubelet removes what it made first)."""
        if self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(600 if self.docker else 15)

    def __enter__(self) -> StandInCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def kubelet(self) -> Any:
        """The node's kubelet (call its test controls through :meth:`call`)."""
        return self.server.kubelet

    # driving it from a test

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args)`` (sync or async) in the server's loop and return its result."""

        async def run() -> Any:
            result = function(*args, **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(30)

    def objects(self, plural: str, namespace: str | None = None, group: str = "") -> list[dict]:
        """Live objects of a type (``"statefulsets", group="apps"``)."""
        rt = find_type(group, "v1", plural)
        assert rt is not None, plural
        return self.call(self.server.items, rt, namespace)

    def find(self, plural: str, namespace: str | None, name: str, group: str = "") -> dict | None:
        """One live object, or None."""
        rt = find_type(group, "v1", plural)
        assert rt is not None, plural
        return self.call(self.server.find, rt, namespace, name)

    def requests(self) -> list[Any]:
        """Every request served so far (kmock's records)."""
        return self.call(lambda: list(self.server._requests))

    def inject(self, setup: Callable[[StandInApiServer], Any]) -> Any:
        """Add kmock DSL reactions (faults) in the server's loop: ``setup(server)``."""
        return self.call(setup, self.server)

    def kubeconfig(
        self,
        path: Path,
        *,
        context: str = "stand-in",
        namespace: str | None = None,
        user: rbac.User | None = None,
    ) -> Path:
        """Write a kubeconfig pointing at the stand-in (plain HTTP, a bearer token).

        The token is the administrator's, or one made for ``user`` (its RBAC
        rules then decide, e.g. :func:`~kube_standin.rbac.viewer`).
        """
        auth: dict[str, Any] = {"token": STAND_IN_TOKEN}
        if user is not None:
            token = f"token-{uuid.uuid4().hex}"
            self.call(self.server.users.__setitem__, token, user)
            auth = {"token": token, "as": user.name}  # kubectl sends no token over HTTP
        ctx: dict[str, Any] = {"cluster": "stand-in", "user": "stand-in"}
        if namespace:
            ctx["namespace"] = namespace
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "users": [{"name": "stand-in", "user": auth}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(document))
        return path
