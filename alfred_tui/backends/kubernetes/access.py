"""Reaching a cluster: kubeconfig or in-cluster config, and calls that never block the loop.

The official ``kubernetes`` client is blocking. Every call here runs in its
own daemon thread with a socket timeout *and* an outer deadline, so neither
the UI's event loop nor ``alfred-tui`` at exit can be held by a cluster that
stopped answering (a default-executor thread would be joined at exit).
Transient failures (429, 5xx, timeouts, dropped connections) are retried
with exponential backoff and jitter; everything else fails at once, as a
one-line error that names the operation (see :mod:`.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alfred_tui.backends.kubernetes.errors import (
    KubeconfigInvalid,
    KubeconfigMissing,
    Operation,
    Target,
    retryable,
    translate,
)
from alfred_tui.paths import kubeconfig_files
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.config.models import KubernetesSettings

T = TypeVar("T")

IN_CLUSTER = "in-cluster"
_SERVICE_HOST = "KUBERNETES_SERVICE_HOST"


async def in_thread(function: Callable[[], T], timeout: float | None, name: str) -> T:
    """Run ``function`` in a daemon thread; give up waiting after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def run() -> None:
        try:
            result = function()
        except BaseException as exc:  # delivered to the awaiting task
            outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, exc)
        else:
            outcome = (future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=run, name=f"kubernetes: {name}", daemon=True).start()
    if timeout is None:
        return await future
    return await asyncio.wait_for(future, timeout)


def kubeconfig_paths(settings: KubernetesSettings) -> tuple[list[Path], str]:
    """The kubeconfig files to read and where that list came from (for messages)."""
    return kubeconfig_files(settings.kubeconfig)


@dataclass
class Connection:
    """A configured API client and where it points."""

    api_client: Any
    target: Target
    source: str
    """The kubeconfig file(s) read, or ``in-cluster``."""


def connect(
    settings: KubernetesSettings, context: str | None = None, namespace: str | None = None
) -> Connection:
    """Load the kubeconfig (or the pod's service account) and build a client.

    Raises :class:`KubeconfigMissing` naming every place looked at, or
    :class:`KubeconfigInvalid` naming the file and the problem.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    namespace = namespace or settings.namespace
    context = context or settings.context
    paths, origin = kubeconfig_paths(settings)
    existing = [p for p in paths if p.is_file()]
    configuration = client.Configuration()
    _no_pool_retries(configuration)
    if not existing:
        if settings.kubeconfig:
            raise KubeconfigMissing(
                f"kubeconfig {paths[0]} (set by {origin}) does not exist; fix the path"
            )
        if os.environ.get(_SERVICE_HOST):
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise KubeconfigInvalid(f"in-cluster configuration failed: {exc}") from None
            target = Target(configuration.host, IN_CLUSTER, namespace)
            return Connection(client.ApiClient(configuration), target, IN_CLUSTER)
        looked = ", ".join(str(p) for p in paths)
        raise KubeconfigMissing(
            f"no kubeconfig found (looked in {looked}, from {origin}) and not running in a "
            "pod; set KUBECONFIG or kubernetes.kubeconfig in the profile"
        )
    joined = os.pathsep.join(str(p) for p in existing)
    try:
        contexts, active = config.list_kube_config_contexts(config_file=joined)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise KubeconfigInvalid(f"{joined}: {redact(str(exc))}") from None
    names = [c.get("name") for c in contexts or []]
    chosen = context or (active or {}).get("name")
    if not chosen:
        raise KubeconfigInvalid(
            f"{joined} has no current-context; pass --context (contexts: "
            f"{', '.join(names) or 'none'})"
        )
    if chosen not in names:
        raise KubeconfigInvalid(
            f"context '{chosen}' is not in {joined} (contexts: {', '.join(names) or 'none'})"
        )
    try:
        config.load_kube_config(
            config_file=joined,
            context=chosen,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise KubeconfigInvalid(f"{joined}, context '{chosen}': {redact(str(exc))}") from None
    _no_pool_retries(configuration)
    target = Target(configuration.host, chosen, namespace)
    return Connection(client.ApiClient(configuration), target, joined)


def _no_pool_retries(configuration: Any) -> None:
    """Leave retrying to :meth:`KubeApi.call`, which backs off and keeps the deadline.

    urllib3 would otherwise retry every failed request three times on its own,
    multiplying a timeout by four before the backend even sees it.
    """
    configuration.retries = 0


@dataclass
class RetryPolicy:
    """How transient failures are retried."""

    attempts: int = 4
    first_delay: float = 0.25
    max_delay: float = 4.0
    sleeps: list[float] = field(default_factory=list)
    """Delays actually slept (for tests and diagnostics)."""

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter for retry number ``attempt`` (0-based)."""
        base = min(self.max_delay, self.first_delay * 2.0**attempt)
        return base + random.uniform(0, base / 2)


class KubeApi:
    """Typed API groups of one connection, and :meth:`call` to use them safely."""

    def __init__(
        self,
        connection: Connection,
        request_timeout: float = 20.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        from kubernetes import client

        self.connection = connection
        self.target = connection.target
        self.namespace = connection.target.namespace
        self.request_timeout = request_timeout
        self.retry = retry or RetryPolicy()
        api_client = connection.api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.version = client.VersionApi(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        """Aggregated APIs: metrics.k8s.io when a metrics server serves it."""

    def stream_core(self) -> Any:
        """A CoreV1Api on its own ApiClient, for one exec or port-forward stream.

        The client's ``stream``/``portforward`` helpers swap ``call_api`` on the
        ApiClient for the duration of the call, so sharing one ApiClient with
        calls in other threads would send those through the WebSocket path.
        """
        from kubernetes import client

        return client.CoreV1Api(client.ApiClient(self.connection.api_client.configuration))

    def op(
        self, verb: str, resource: str, name: str | None = None, namespaced: bool = True
    ) -> Operation:
        """An :class:`Operation` in this connection's namespace."""
        return Operation(verb, resource, self.namespace if namespaced else None, name)

    async def call(
        self,
        operation: Operation,
        function: Callable[..., Any],
        *args: Any,
        retry: bool = True,
        timeout: float | None = None,
        raw: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Call ``function`` in a thread under a timeout, retrying transient failures.

        With ``raw`` (the default) the JSON answer is returned as plain data,
        so the backend never depends on the client's generated model classes.
        """
        limit = timeout or self.request_timeout
        if raw:
            kwargs["_preload_content"] = False
        kwargs.setdefault("_request_timeout", (min(5.0, limit), limit))

        def invoke() -> Any:
            response = function(*args, **kwargs)
            if not raw:
                return response
            data = response.data
            response.release_conn()
            return json.loads(data) if data else {}

        attempts = self.retry.attempts if retry else 1
        for attempt in range(attempts):
            try:
                return await in_thread(invoke, limit + 5.0, operation.describe())
            except Exception as exc:
                if attempt + 1 >= attempts or not retryable(exc):
                    raise translate(exc, operation, self.target, limit) from None
                pause = self.retry.delay(attempt)
                self.retry.sleeps.append(pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Release the client's connection pool."""
        with contextlib.suppress(Exception):  # closing is best effort
            self.connection.api_client.close()
