"""Pod logs: one stream per pod, merged into one sequence ordered by time.

The API is asked for ``timestamps=true``, so every line starts with the
kubelet's RFC 3339 time; that is the merge key. A finished read (no
``--follow``) is an exact k-way merge of already sorted streams. A followed
read cannot know what a slower stream has not sent yet, so records wait in a
short reorder window (a fraction of a second) and leave it in time order:
lines from different pods written within the window come out sorted, and
nothing is held longer than the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import itertools
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from alfred_tui.backends.base import LogRecord, NotDeployed
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.core import KubernetesCore, queue_get, thread_result
from alfred_tui.backends.kubernetes.errors import translate
from alfred_tui.backends.kubernetes.status import parse_time
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError


def split_timestamp(line: str) -> tuple[dt.datetime | None, str]:
    """``"2024-05-13T10:00:00.123456789Z text"`` -> (time, ``"text"``)."""
    stamp, _, text = line.partition(" ")
    moment = parse_time(stamp)
    if moment is None:
        return None, line
    return moment, text


def records(
    service: ServiceKind, pod: str, lines: Iterable[str], fallback: dt.datetime | None = None
) -> Iterator[LogRecord]:
    """Log lines of one pod as records (a line without a timestamp takes the previous one's)."""
    last = fallback or dt.datetime.now(dt.UTC)
    for raw in lines:
        line = raw.rstrip("\r\n")
        moment, text = split_timestamp(line)
        if moment is None:
            moment = last
        last = moment
        yield LogRecord(service=service, instance=pod, timestamp=moment, stream="stdout", line=text)


def merge_sorted(streams: Iterable[Iterable[LogRecord]]) -> Iterator[LogRecord]:
    """K-way merge of per-pod streams that are each in time order."""
    return heapq.merge(*streams, key=lambda record: record.timestamp)


@dataclass
class ReorderWindow:
    """Holds followed records for ``window`` seconds and releases them in time order."""

    window: float = 0.25
    _heap: list[tuple[dt.datetime, int, float, LogRecord]] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, record: LogRecord, arrived: float | None = None) -> None:
        """Take a record that arrived now (monotonic seconds)."""
        when = time.monotonic() if arrived is None else arrived
        heapq.heappush(self._heap, (record.timestamp, next(self._counter), when, record))

    def ready(self, now: float | None = None) -> list[LogRecord]:
        """Records whose window has passed, oldest timestamp first.

        A record is released once it has waited ``window``; everything with an
        earlier timestamp goes out with it, so the output never goes back in time
        for lines that arrived within the window.
        """
        current = time.monotonic() if now is None else now
        if not self._heap:
            return []
        newest_due = max(
            (item[0] for item in self._heap if current - item[2] >= self.window), default=None
        )
        if newest_due is None:
            return []
        out: list[LogRecord] = []
        while self._heap and self._heap[0][0] <= newest_due:
            out.append(heapq.heappop(self._heap)[3])
        return out

    def drain(self) -> list[LogRecord]:
        """Everything still held, in time order."""
        out = [item[3] for item in sorted(self._heap)]
        self._heap.clear()
        return out

    def __len__(self) -> int:
        return len(self._heap)


class KubernetesLogs(KubernetesCore):
    """``logs`` (Loggable): every pod's log at once, merged by time; followed pods are
    rescanned so a scale or a restart adds its new pods to the stream."""

    async def _log_pods(self, services: Sequence[ServiceKind]) -> list[tuple[ServiceKind, str]]:
        pods = await self.pods()
        found = []
        for pod in pods:
            name = pod["metadata"]["name"]
            workload = names.workload_of_pod(name)
            if workload is None or workload.kind not in services:
                continue
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            started = any("waiting" not in (c.get("state") or {}) for c in statuses)
            if started:
                found.append((workload.kind, name))
        return sorted(found, key=lambda item: item[1])

    def _log_request(
        self,
        pod: str,
        service: ServiceKind,
        follow: bool,
        since: dt.datetime | None,
        tail: int | None,
    ) -> Any:
        api = self.api  # connected: called from a thread of logs()
        kwargs: dict[str, Any] = {
            "container": names.container_name(service),
            "timestamps": True,
            "follow": follow,
            "_preload_content": False,
        }
        if not follow:  # a followed log may be quiet for hours: no read timeout
            kwargs["_request_timeout"] = (5.0, self.request_timeout)
        if tail is not None:
            kwargs["tail_lines"] = tail
        if since is not None:
            age = (dt.datetime.now(dt.UTC) - since).total_seconds()
            kwargs["since_seconds"] = max(1, int(age) + 1)
        return api.core.read_namespaced_pod_log(pod, api.namespace, **kwargs)

    async def logs(
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: dt.datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        from alfred_tui.backends.kubernetes.logs import ReorderWindow, merge_sorted, records

        wanted = list(services or [k for k, _ in self.profile.services.enabled()])
        for kind in wanted:
            self.service_spec(kind)
        api = await self.connected()
        pods = await self._log_pods(wanted)
        if not follow:

            async def read(service: ServiceKind, pod: str) -> list[LogRecord]:
                op = api.op("get", "pods/log", pod)

                def fetch() -> list[LogRecord]:
                    response = self._log_request(pod, service, False, since, tail)
                    try:
                        text = response.data.decode("utf-8", "replace")
                    finally:
                        response.release_conn()
                    return list(records(service, pod, text.splitlines()))

                try:
                    return await thread_result(fetch, op.describe(), self.request_timeout + 5)
                except NotDeployed:
                    return []
                except Exception as exc:
                    raise translate(exc, op, api.target, self.request_timeout) from None

            streams = await asyncio.gather(*(read(kind, pod) for kind, pod in pods))
            for record in merge_sorted(streams):
                yield record
            return

        out: queue.SimpleQueue[LogRecord | BaseException] = queue.SimpleQueue()
        stop = threading.Event()
        responses: dict[str, Any] = {}
        followed: set[str] = set()

        def follow_pod(service: ServiceKind, pod: str, backlog: int | None) -> None:
            op = api.op("get", "pods/log", pod)
            try:
                response = self._log_request(pod, service, True, since, backlog)
                responses[pod] = response
                pending = b""
                for chunk in response.stream(4096, decode_content=True):
                    if stop.is_set():
                        break
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for record in records(
                        service, pod, (ln.decode("utf-8", "replace") for ln in lines)
                    ):
                        out.put(record)
            except Exception as exc:
                if not stop.is_set():
                    error = translate(exc, op, api.target)
                    if not isinstance(error, NotDeployed):
                        out.put(error)
            finally:
                followed.discard(pod)
                response = responses.pop(pod, None)
                if response is not None:
                    with contextlib.suppress(Exception):
                        response.release_conn()

        def start(service: ServiceKind, pod: str, backlog: int | None) -> None:
            followed.add(pod)
            threading.Thread(
                target=follow_pod, args=(service, pod, backlog), daemon=True, name=f"logs {pod}"
            ).start()

        for kind, pod in pods:
            start(kind, pod, tail)
        window = ReorderWindow()
        next_scan = time.monotonic() + self.log_rescan_seconds
        try:
            while True:
                for record in window.ready():
                    yield record
                try:
                    item = await queue_get(out, 0.05)
                except TimeoutError:
                    item = None
                if isinstance(item, BaseException):
                    raise item
                if item is not None:
                    window.add(item)
                if time.monotonic() >= next_scan:  # new pods after a scale or a restart
                    next_scan = time.monotonic() + self.log_rescan_seconds
                    with contextlib.suppress(AlfredError):
                        for kind, pod in await self._log_pods(wanted):
                            if pod not in followed:  # new since we started: all of it
                                start(kind, pod, None)
        finally:
            stop.set()
            for response in list(responses.values()):
                _interrupt(response)


def _interrupt(response: Any) -> None:
    """Wake the thread blocked reading ``response`` (a close from here would wait for it)."""
    connection = getattr(response, "connection", None) or getattr(response, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
