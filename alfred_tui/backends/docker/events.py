"""The Docker engine's events of the project's containers, as :class:`BackendEvent`.

The engine's event stream blocks, so a thread reads it and hands each event
to the event loop; the stream is closed when the caller stops iterating.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from alfred_tui.backends.base import BackendEvent
from alfred_tui.backends.docker import spec as spec_mod
from alfred_tui.backends.docker.core import DockerCore
from alfred_tui.backends.docker.status import exit_reason
from alfred_tui.config.models import ServiceKind


class DockerEvents(DockerCore):
    """``events`` (Watchable)."""

    def events(self) -> AsyncIterator[BackendEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[BackendEvent]:
        client = await self.client()
        kinds = {spec.name: kind for kind, spec in self.profile.services.enabled()}
        stream = await self.call(
            functools.partial(
                client.api.events,
                decode=True,
                filters={"label": [f"{spec_mod.PROJECT}={self.project}"], "type": "container"},
            )
        )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        def read() -> None:
            try:
                for event in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except Exception:
                pass
            finally:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(queue.put_nowait, done)

        threading.Thread(target=read, name="docker-events", daemon=True).start()
        try:
            while True:
                event = await queue.get()
                if event is done:
                    return
                yield _event(event, kinds)
        finally:
            with contextlib.suppress(Exception):
                stream.close()


def _event(event: dict[str, Any], kinds: dict[str, ServiceKind]) -> BackendEvent:
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    action = str(event.get("Action") or event.get("status") or "")
    kind, _, message = action.partition(": ")
    if kind == "die" and "exitCode" in attributes:
        message = exit_reason(int(attributes["exitCode"]))
    nanos = event.get("timeNano")
    stamp = (
        datetime.fromtimestamp(nanos / 1e9, UTC)
        if nanos
        else datetime.fromtimestamp(event.get("time", 0), UTC)
    )
    return BackendEvent(
        timestamp=stamp,
        service=kinds.get(attributes.get(spec_mod.SERVICE, "")),
        instance=attributes.get("name", ""),
        kind=kind,
        message=message,
    )
