"""The stand-in's streaming subresources: pod logs, exec and port-forward.

The API server proxies these to the node's kubelet, as a real one does; the
kubelet (:mod:`.kubelet`, real containers on Docker; or :mod:`.fake_kubelet`)
supplies the lines, the process and the connection.

- ``pods/log`` answers ``text/plain`` with ``tailLines``, ``sinceSeconds``,
  ``sinceTime``, ``timestamps``, ``limitBytes``, ``previous`` and ``follow``
  (lines stream as they are written until the container stops), and the
  kubelet's 400s for a wrong container or one that never started.
- ``pods/exec`` speaks the WebSocket channel protocol (``v5.channel.k8s.io``,
  which can close stdin, or ``v4.channel.k8s.io``): channel 0 stdin, 1 stdout,
  2 stderr, 3 the final ``Status``.
- ``pods/portforward`` speaks ``v4.channel.k8s.io`` (two channels per port:
  data and error, each opened by a frame carrying the port number) and relays
  each connection to the port inside the pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import aiohttp
import aiohttp.web

from .resources import find_type
from .server import ApiError, rfc3339_nano

if TYPE_CHECKING:
    from kmock._internal import rendering

    from .server import StandInApiServer

_PODS = find_type("", "v1", "pods")
assert _PODS


def _container(pod: dict[str, Any], wanted: str | None, name: str) -> dict[str, Any]:
    containers = pod["spec"].get("containers", [])
    names = [c["name"] for c in containers]
    if not wanted:
        if len(containers) != 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(names)}]",
            )
        return containers[0]
    for container in containers + pod["spec"].get("initContainers", []):
        if container["name"] == wanted:
            return container
    raise ApiError(400, "BadRequest", f"container {wanted} is not valid for pod {name}")


def _require_started(pod: dict[str, Any], container: str, name: str) -> None:
    """The kubelet's 400 for a container that never started (no log, no exec)."""
    statuses = pod.get("status", {}).get("containerStatuses", []) + pod.get("status", {}).get(
        "initContainerStatuses", []
    )
    for status in statuses:
        if status["name"] != container:
            continue
        state = status.get("state", {})
        if status.get("containerID") and ("running" in state or "terminated" in state):
            return
        if (status.get("lastState") or {}).get("terminated"):
            return
        reason = state.get("waiting", {}).get("reason", "ContainerCreating")
        raise ApiError(
            400,
            "BadRequest",
            f'container "{container}" in pod "{name}" is waiting to start: {reason}',
        )
    raise ApiError(
        400,
        "BadRequest",
        f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
    )


def _require_running(pod: dict[str, Any], container: str, name: str) -> None:
    """Exec needs the container running now."""
    for status in pod.get("status", {}).get("containerStatuses", []) + pod.get("status", {}).get(
        "initContainerStatuses", []
    ):
        if status["name"] == container and "running" in status.get("state", {}):
            return
    _require_started(pod, container, name)
    raise ApiError(
        400,
        "BadRequest",
        f'unable to upgrade connection: container not found ("{container}")',
    )


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- logs ------------------------------------------------------------------------------


async def serve_logs(
    server: StandInApiServer, request: rendering.Request, namespace: str, name: str
) -> aiohttp.web.StreamResponse:
    """GET pods/log: the kubelet's lines, filtered and formatted as the kubelet does."""
    raw = request._raw_request
    assert raw is not None
    query = raw.query
    pod = server.get(_PODS, namespace, name)
    container = _container(pod, query.get("container"), name)
    _require_started(pod, container["name"], name)
    previous = query.get("previous") in ("true", "1")
    if previous:
        statuses = pod.get("status", {}).get("containerStatuses", []) + pod.get("status", {}).get(
            "initContainerStatuses", []
        )
        if not any(
            (s.get("lastState") or {}).get("terminated")
            for s in statuses
            if s["name"] == container["name"]
        ):
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{container["name"]}" in pod "{name}" not found',
            )
    since: dt.datetime | None = None
    if query.get("sinceSeconds"):
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(query["sinceSeconds"]))
    if query.get("sinceTime"):
        since = _parse_time(query["sinceTime"])
    tail = int(query["tailLines"]) if query.get("tailLines") else None
    stamps = query.get("timestamps") in ("true", "1")
    limit = int(query["limitBytes"]) if query.get("limitBytes") else None
    follow = query.get("follow") in ("true", "1") and not previous
    lines = server.kubelet.log_lines(
        pod, container["name"], previous=previous, follow=follow, since=since, tail=tail
    )

    def render(moment: dt.datetime, line: bytes) -> bytes:
        return (f"{rfc3339_nano(moment)} ".encode() if stamps else b"") + line + b"\n"

    if not follow:
        body = b"".join([render(moment, line) async for moment, line in lines])
        return aiohttp.web.Response(
            body=body[:limit] if limit is not None else body, content_type="text/plain"
        )

    response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(raw)
    sent = 0
    try:
        async for moment, line in lines:
            if raw.transport is None or raw.transport.is_closing():
                break
            chunk = render(moment, line)
            if limit is not None:
                chunk = chunk[: limit - sent]
            await response.write(chunk)
            sent += len(chunk)
            if limit is not None and sent >= limit:
                break
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await lines.aclose()  # type: ignore[attr-defined]
    return response


# --- exec --------------------------------------------------------------------------------


def _status(exit_code: int | None, message: str = "") -> bytes:
    if exit_code == 0:
        status: dict[str, Any] = {"metadata": {}, "status": "Success"}
    elif exit_code is None:
        status = {
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "InternalError",
            "details": {"causes": [{"message": message}]},
            "code": 500,
        }
    else:
        status = {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: exit status {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
        }
    return json.dumps(status).encode()


async def serve_exec(
    server: StandInApiServer, request: rendering.Request, namespace: str, name: str
) -> aiohttp.web.StreamResponse:
    """GET/POST pods/exec over a WebSocket, to a process in the container (the kubelet's)."""
    raw = request._raw_request
    assert raw is not None
    query = raw.query
    pod = server.get(_PODS, namespace, name)
    container = _container(pod, query.get("container"), name)
    _require_running(pod, container["name"], name)
    argv = query.getall("command", [])
    if not argv:
        raise ApiError(400, "BadRequest", "you must specify at least 1 command")
    if raw.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(400, "BadRequest", "Upgrade request required")
    wants_stdin = query.get("stdin") in ("true", "1")
    process = await server.kubelet.exec(pod, container["name"], argv, wants_stdin)
    ws = aiohttp.web.WebSocketResponse(
        protocols=("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
    )
    await ws.prepare(raw)
    v5 = ws.ws_protocol == "v5.channel.k8s.io"

    async def pump() -> None:
        async for channel, chunk in process.output():
            await ws.send_bytes(bytes([channel]) + chunk)

    async def feed() -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                data = message.data
            elif message.type == aiohttp.WSMsgType.TEXT:
                data = message.data.encode()
            else:
                break
            if not data:
                continue
            if data[0] == 0 and wants_stdin:
                await process.write(data[1:])
            elif v5 and data[:2] == b"\xff\x00" and wants_stdin:
                await process.close_stdin()

    feeder = asyncio.create_task(feed())
    try:
        await pump()
        code, message = await process.wait()
        await ws.send_bytes(b"\x03" + _status(code, message))
    finally:
        feeder.cancel()
        await process.close()
        await ws.close()
    return ws


# --- port-forward --------------------------------------------------------------------------


async def serve_portforward(
    server: StandInApiServer, request: rendering.Request, namespace: str, name: str
) -> aiohttp.web.StreamResponse:
    """GET/POST pods/portforward over a WebSocket, to the port inside the pod (the kubelet's)."""
    raw = request._raw_request
    assert raw is not None
    pod = server.get(_PODS, namespace, name)
    if pod.get("status", {}).get("phase") != "Running":
        raise ApiError(400, "BadRequest", f"pod {name} is not running")
    ports: list[int] = []
    for value in raw.query.getall("ports", []):
        ports.extend(int(p) for p in value.split(",") if p)
    if not ports:
        raise ApiError(400, "BadRequest", "at least one port is required")
    if raw.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(400, "BadRequest", "Upgrade request required")
    ws = aiohttp.web.WebSocketResponse(protocols=("v4.channel.k8s.io", "portforward.k8s.io"))
    await ws.prepare(raw)
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[None]] = []
    for index, port in enumerate(ports):
        header = bytes([port & 0xFF, port >> 8])
        await ws.send_bytes(bytes([2 * index]) + header)
        await ws.send_bytes(bytes([2 * index + 1]) + header)
    for index, port in enumerate(ports):
        try:
            reader, writer = await server.kubelet.port_forward(pod, port)
        except OSError as exc:
            message = (
                f"error forwarding port {port} to pod {pod['metadata']['uid']}, uid : "
                f"failed to connect to localhost:{port} inside namespace: {exc}"
            )
            await ws.send_bytes(bytes([2 * index + 1]) + message.encode())
            continue
        writers[2 * index] = writer

        async def upstream(reader: asyncio.StreamReader = reader, channel: int = 2 * index) -> None:
            with contextlib.suppress(ConnectionError):
                while chunk := await reader.read(65536):
                    await ws.send_bytes(bytes([channel]) + chunk)
            await ws.close()

        pumps.append(asyncio.create_task(upstream()))
    if not writers:
        await ws.close()
        return ws
    try:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            writer = writers.get(message.data[0])
            if writer is not None:
                writer.write(message.data[1:])
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
    finally:
        for writer in writers.values():
            writer.close()
        for task in pumps:
            task.cancel()
    return ws
