"""Live state changes: watches on pods and Events that survive dropped connections.

Two threads each list once (to learn the current ``resourceVersion``), then
watch from there. When a watch ends (the server's timeout, a dropped
connection, a restarted API server) it resumes from the last version seen;
when that version is too old (410 Gone) it lists again and reports what
changed since the last known state (:meth:`EventWatcher._reconcile`); when
the API does not answer it waits with exponential backoff (1 s doubling to
30 s) and reports the outage once as a ``watch_error`` event, then
``watch_resumed`` when it is back, so a UI can show "reconnecting" instead
of freezing or going silent.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import BackendEvent
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.errors import translate
from alfred_tui.backends.kubernetes.status import parse_time

if TYPE_CHECKING:
    from alfred_tui.backends.kubernetes.access import KubeApi
    from alfred_tui.config.models import Profile


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Gone(Exception):
    """The watched resourceVersion was compacted away: list again."""


class EventWatcher:
    """Feeds :class:`BackendEvent` values from watch threads into :attr:`queue`."""

    def __init__(
        self,
        api: KubeApi,
        profile: Profile,
        server_timeout: int = 240,
        max_backoff: float = 30.0,
    ) -> None:
        self.api = api
        self.profile = profile
        self.queue: queue.SimpleQueue[BackendEvent | BaseException] = queue.SimpleQueue()
        self.server_timeout = server_timeout
        self.max_backoff = max_backoff
        self._stop = threading.Event()
        self._pods: dict[str, tuple[bool, int]] = {}
        self.reconnects = 0

    def start(self) -> None:
        """Start both watch threads."""
        for name, function in (
            ("pods", self._pod_events),
            ("events", self._cluster_events),
        ):
            threading.Thread(
                target=self._loop, args=(name, function), daemon=True, name=f"watch {name}"
            ).start()

    def stop(self) -> None:
        """Ask the threads to stop (each ends at its next event or timeout)."""
        self._stop.set()

    # --- the loop -----------------------------------------------------------------------

    def _list_function(self, resource: str) -> Callable[..., Any]:
        return (
            self.api.core.list_namespaced_pod
            if resource == "pods"
            else self.api.core.list_namespaced_event
        )

    def _loop(self, resource: str, handle: Callable[[str, dict[str, Any]], None]) -> None:
        from kubernetes import watch

        list_function = self._list_function(resource)
        kwargs: dict[str, Any] = {}
        if resource == "pods":
            kwargs["label_selector"] = names.managed_selector()
        version: str | None = None
        failures = 0
        listed = False
        while not self._stop.is_set():
            operation = self.api.op("watch", resource)
            try:
                if version is None:
                    response = list_function(
                        self.api.namespace,
                        _request_timeout=(5, 30),
                        _preload_content=False,
                        **kwargs,
                    )
                    listing = json.loads(response.data)
                    version = (listing.get("metadata") or {}).get("resourceVersion")
                    if failures:
                        self._put(None, "", "watch_resumed", f"{resource} watch is back")
                        failures = 0
                    if resource == "pods":
                        self._reconcile(listing.get("items") or [], initial=not listed)
                    listed = True
                stream = watch.Watch()
                for event in stream.stream(
                    list_function,
                    self.api.namespace,
                    resource_version=version,
                    timeout_seconds=self.server_timeout,
                    _request_timeout=(5, self.server_timeout + 30),
                    allow_watch_bookmarks=True,
                    **kwargs,
                ):
                    if self._stop.is_set():
                        stream.stop()
                        break
                    if event["type"] == "ERROR":
                        raw = event.get("raw_object") or {}
                        if raw.get("code") == 410:
                            raise _Gone
                        continue
                    raw = event.get("raw_object") or {}
                    version = (raw.get("metadata") or {}).get("resourceVersion") or version
                    if event["type"] == "BOOKMARK":
                        continue
                    if failures:
                        self._put(None, "", "watch_resumed", f"{resource} watch is back")
                        failures = 0
                    handle(event["type"], raw)
            except _Gone:
                version = None
                continue
            except Exception as exc:
                if self._stop.is_set():
                    return
                status = getattr(exc, "status", None)
                if status == 410:
                    version = None
                    continue
                failures += 1
                self.reconnects += 1
                if failures == 1:
                    error = translate(exc, operation, self.api.target)
                    self._put(None, "", "watch_error", f"{error.one_line()}; reconnecting")
                delay = min(self.max_backoff, 2 ** (failures - 1)) * random.uniform(0.8, 1.2)
                self._stop.wait(delay)

    def _put(
        self, service: Any, instance: str, kind: str, message: str, at: dt.datetime | None = None
    ) -> None:
        self.queue.put(BackendEvent(at or _now(), service, instance, kind, message))

    # --- pods -------------------------------------------------------------------------------

    def _remember(self, pod: dict[str, Any]) -> tuple[bool, int]:
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        restarts = sum(int(c.get("restartCount", 0)) for c in status.get("containerStatuses") or [])
        self._pods[pod["metadata"]["name"]] = (ready, restarts)
        return ready, restarts

    def _reconcile(self, pods: list[dict[str, Any]], initial: bool) -> None:
        """A fresh list of the pods: the first one is the starting state, not news.

        A later one (after a 410 or an outage) is compared with what was known,
        so that pods created, deleted, restarted or turned (not) ready while the
        watch was down are still reported, as if their events had come.
        """
        if initial:
            for pod in pods:
                self._remember(pod)
            return
        listed = set()
        for pod in pods:
            listed.add((pod.get("metadata") or {}).get("name", ""))
            self._pod_events("MODIFIED", pod)
        for name in [name for name in self._pods if name not in listed]:
            self._pod_events("DELETED", {"metadata": {"name": name}})

    def _pod_events(self, event_type: str, pod: dict[str, Any]) -> None:
        name = (pod.get("metadata") or {}).get("name", "")
        service = names.service_of_object(name)
        before = self._pods.get(name)
        if event_type == "DELETED":
            self._pods.pop(name, None)
            self._put(service, name, "deleted", f"pod {name} deleted")
            return
        ready, restarts = self._remember(pod)
        if before is None:
            self._put(service, name, "created", f"pod {name} created")
            if ready:
                self._put(service, name, "ready", f"pod {name} is ready")
            return
        was_ready, was_restarts = before
        if restarts > was_restarts:
            last = ""
            for container in (pod.get("status") or {}).get("containerStatuses") or []:
                terminated = (container.get("lastState") or {}).get("terminated") or {}
                if terminated:
                    last = f" (last exit: {terminated.get('reason', 'Error')})"
            kind = "oom" if "OOMKilled" in last else "restart"
            self._put(service, name, kind, f"pod {name} restarted{last}")
        if ready != was_ready:
            self._put(
                service,
                name,
                "ready" if ready else "not_ready",
                f"pod {name} is {'ready' if ready else 'not ready'}",
            )

    # --- cluster Events -----------------------------------------------------------------------

    def _cluster_events(self, event_type: str, event: dict[str, Any]) -> None:
        if event_type == "DELETED":
            return
        involved = event.get("involvedObject") or {}
        name = involved.get("name", "")
        service = names.service_of_object(name)
        if service is None:
            return
        moment = (
            parse_time(event.get("lastTimestamp")) or parse_time(event.get("eventTime")) or _now()
        )
        self._put(service, name, event.get("reason", "Event"), event.get("message", ""), moment)
