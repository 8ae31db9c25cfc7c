"""Port-forward without ``kubectl port-forward``: a loopback listener per database.

:class:`Tunnel` listens on 127.0.0.1 (an ephemeral port) and, for each
connection it accepts, opens one WebSocket port-forward stream to a pod of
the service through the API server (the official client's
``portforward``), then relays bytes both ways. The pod is looked up again
when a stream cannot be opened, so a tunnel outlives a pod's restart or
replacement; the probes, ``check`` and every pane use it as a plain
``host:port``. Only this machine can connect: the listener binds loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from alfred_tui.backends.base import Endpoint
from alfred_tui.backends.kubernetes.access import KubeApi, in_thread
from alfred_tui.errors import AlfredError

PodPicker = Callable[[bool], Awaitable[str]]
"""Returns a pod name to forward to; ``True`` asks for a fresh look-up."""


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


class Tunnel:
    """A local listener forwarding every connection to ``port`` of a pod."""

    def __init__(self, api: KubeApi, service: str, port: int, pick_pod: PodPicker) -> None:
        self.api = api
        self.service = service
        self.port = port
        self.pick_pod = pick_pod
        self.endpoint: Endpoint | None = None
        self.last_error = ""
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._listener: socket.socket | None = None
        """The event loop the listener runs in (it serves only while that loop runs)."""
        self._streams: set[Any] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Endpoint:
        """Listen on 127.0.0.1 and return the address to connect to."""
        self.loop = asyncio.get_running_loop()
        listener = socket.create_server(("127.0.0.1", 0))
        self._listener = listener
        self._server = await asyncio.start_server(self._accept, sock=listener)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.endpoint = Endpoint(host=host, port=port)
        return self.endpoint

    async def _open(self, pod: str) -> Any:
        from kubernetes.stream import portforward

        op = self.api.op("create", "pods/portforward", pod)

        def connect() -> Any:
            return portforward(
                self.api.stream_core().connect_get_namespaced_pod_portforward,
                pod,
                self.api.namespace,
                ports=str(self.port),
            )

        try:
            return await in_thread(connect, self.api.request_timeout, op.describe())
        except Exception as exc:
            from alfred_tui.backends.kubernetes.errors import translate

            raise translate(exc, op, self.api.target, self.api.request_timeout) from None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        forward: Any = None
        try:
            forward = await self._forward_stream()
            if forward is None:
                return
            remote = forward.socket(self.port)._socket
            remote.setblocking(False)
            remote_reader, remote_writer = await asyncio.open_connection(sock=remote)
            self.connections += 1
            await asyncio.gather(_pump(reader, remote_writer), _pump(remote_reader, writer))
            error = forward.error(self.port)
            if error:
                self.last_error = error.strip()
            remote_writer.close()
        except asyncio.CancelledError:
            pass  # close() cut this connection; ending quietly keeps asyncio from logging it
        finally:
            writer.close()
            if forward is not None:
                self._streams.discard(forward)
                with contextlib.suppress(Exception):
                    forward.close()
            if task is not None:
                self._tasks.discard(task)

    async def _forward_stream(self) -> Any:
        for fresh in (False, True):
            try:
                pod = await self.pick_pod(fresh)
                forward = await self._open(pod)
            except AlfredError as exc:
                self.last_error = exc.one_line()
                continue
            self._streams.add(forward)
            return forward
        return None

    def abandon(self) -> None:
        """Close the listening socket of a tunnel whose event loop has ended."""
        if self._listener is not None:
            self._listener.close()
        for forward in list(self._streams):
            with contextlib.suppress(Exception):
                forward.close()
        self._streams.clear()
        self._listener = None
        self._server = None

    async def close(self) -> None:
        """Stop listening and cut every relayed connection."""
        if self._server is not None:
            self._server.close()
        for forward in list(self._streams):
            with contextlib.suppress(Exception):
                forward.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self._server = None
