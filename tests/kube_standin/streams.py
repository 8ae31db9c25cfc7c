"""The stand-in's streaming subresources: pod logs, exec and port-forward.

- ``pods/log`` answers ``text/plain`` with ``tailLines``, ``sinceSeconds``,
  ``sinceTime``, ``timestamps``, ``limitBytes`` and ``follow`` (lines stream
  as they are written until the pod goes away), and the kubelet's 400s for a
  wrong container or one that is not running.
- ``pods/exec`` speaks the WebSocket channel protocol (``v5.channel.k8s.io``,
  which can close stdin, or ``v4.channel.k8s.io``): channel 0 stdin, 1 stdout,
  2 stderr, 3 the final ``Status``. The command runs **on the test host**,
  with the pod's environment (secretKeyRef and fieldRef resolved) and
  "localhost inside the pod" mapped to the real server the test connected:
  ``PGHOST``/``PGPORT`` for PostgreSQL, ``-h``/``-p`` inserted for
  ``redis-cli``.
- ``pods/portforward`` speaks ``v4.channel.k8s.io`` (two channels per port:
  data and error, each opened by a frame carrying the port number) and relays
  each connection to the real server the test connected for that port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
from typing import TYPE_CHECKING, Any

import aiohttp
import aiohttp.web

from kube_standin.resources import find_type
from kube_standin.server import ApiError, rfc3339_nano

if TYPE_CHECKING:
    from kmock._internal import rendering

    from kube_standin.server import StandInApiServer

_PODS = find_type("", "v1", "pods")
_SECRETS = find_type("", "v1", "secrets")
assert _PODS and _SECRETS


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


def _require_running(pod: dict[str, Any], container: str, name: str) -> None:
    for status in pod.get("status", {}).get("containerStatuses", []):
        if status["name"] == container:
            state = status.get("state", {})
            if "running" in state:
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


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- logs ------------------------------------------------------------------------------


async def serve_logs(
    server: StandInApiServer, request: rendering.Request, namespace: str, name: str
) -> aiohttp.web.StreamResponse:
    """GET pods/log."""
    raw = request._raw_request
    assert raw is not None and server._changed is not None
    query = raw.query
    pod = server.get(_PODS, namespace, name)
    container = _container(pod, query.get("container"), name)
    _require_running(pod, container["name"], name)
    if query.get("previous") in ("true", "1"):
        statuses = pod.get("status", {}).get("containerStatuses", [])
        if not any("lastState" in s for s in statuses if s["name"] == container["name"]):
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{container["name"]}" in pod "{name}" not found',
            )
        return aiohttp.web.Response(text="", content_type="text/plain")
    lines = server.pod_log(namespace, name)
    if query.get("sinceSeconds"):
        horizon = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(query["sinceSeconds"]))
        lines = [(t, line) for t, line in lines if t >= horizon]
    if query.get("sinceTime"):
        horizon = _parse_time(query["sinceTime"])
        lines = [(t, line) for t, line in lines if t >= horizon]
    if query.get("tailLines"):
        tail = int(query["tailLines"])
        lines = lines[-tail:] if tail > 0 else []
    stamps = query.get("timestamps") in ("true", "1")
    limit = int(query["limitBytes"]) if query.get("limitBytes") else None

    def render(entries: list[tuple[dt.datetime, str]]) -> bytes:
        text = "".join(
            (f"{rfc3339_nano(t)} " if stamps else "") + line + "\n" for t, line in entries
        )
        return text.encode()

    if query.get("follow") not in ("true", "1"):
        body = render(lines)
        return aiohttp.web.Response(
            body=body[:limit] if limit is not None else body, content_type="text/plain"
        )

    response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(raw)
    uid = pod["metadata"]["uid"]
    seen = len(server.pod_log(namespace, name))
    sent = 0
    try:
        chunk = render(lines)
        await response.write(chunk)
        sent += len(chunk)
        while limit is None or sent < limit:
            live = server.find(_PODS, namespace, name)
            if live is None or live["metadata"]["uid"] != uid:
                break
            if raw.transport is None or raw.transport.is_closing():
                break
            current = server.pod_log(namespace, name)
            if len(current) > seen:
                chunk = render(current[seen:])
                seen = len(current)
                await response.write(chunk)
                sent += len(chunk)
                continue
            async with server._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(server._changed.wait(), 0.5)
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


# --- exec --------------------------------------------------------------------------------


def _pod_environment(
    server: StandInApiServer, pod: dict[str, Any], container: dict[str, Any]
) -> dict[str, str]:
    """The container's environment as the kubelet would set it."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {"HOSTNAME": pod["metadata"]["name"]}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        source = entry.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = server.find(_SECRETS, namespace, ref["name"]) or {}
            encoded = (secret.get("data") or {}).get(ref["key"])
            if encoded is not None:
                env[entry["name"]] = base64.b64decode(encoded).decode()
        elif "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            env[entry["name"]] = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": namespace,
            }.get(path, "")
    return env


def _host_command(
    server: StandInApiServer, pod: dict[str, Any], argv: list[str]
) -> tuple[list[str], dict[str, str]]:
    """The command and extra environment that make "localhost in the pod" the real server."""
    app = (pod["metadata"].get("labels") or {}).get("app", "")
    ports = server.backends.get(app, {})
    extra: dict[str, str] = {}
    if 5432 in ports:
        host, port = ports[5432]
        extra.update(PGHOST=host, PGPORT=str(port))
    if argv and os.path.basename(argv[0]) == "redis-cli" and 6379 in ports:
        host, port = ports[6379]
        argv = [argv[0], "-h", host, "-p", str(port), *argv[1:]]
    return argv, extra


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
    """GET/POST pods/exec over a WebSocket."""
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
    ws = aiohttp.web.WebSocketResponse(
        protocols=("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
    )
    await ws.prepare(raw)
    v5 = ws.ws_protocol == "v5.channel.k8s.io"
    env = {**_pod_environment(server, pod, container)}
    argv, extra = _host_command(server, pod, argv)
    env.update(extra)
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    wants_stdin = query.get("stdin") in ("true", "1")
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if wants_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError:
        message = (
            "OCI runtime exec failed: exec failed: unable to start container process: "
            f'exec: "{argv[0]}": executable file not found in $PATH: unknown'
        )
        await ws.send_bytes(b"\x03" + _status(None, message))
        await ws.close()
        return ws

    async def pump(stream: asyncio.StreamReader | None, channel: int) -> None:
        assert stream is not None
        while chunk := await stream.read(65536):
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
            if data[0] == 0 and process.stdin is not None:
                process.stdin.write(data[1:])
                with contextlib.suppress(ConnectionError):
                    await process.stdin.drain()
            elif v5 and data[:2] == b"\xff\x00" and process.stdin is not None:
                process.stdin.close()

    feeder = asyncio.create_task(feed())
    try:
        await asyncio.gather(pump(process.stdout, 1), pump(process.stderr, 2))
        code = await process.wait()
        await ws.send_bytes(b"\x03" + _status(code))
    finally:
        feeder.cancel()
        if process.returncode is None:
            process.kill()
            await process.wait()
        await ws.close()
    return ws


# --- port-forward --------------------------------------------------------------------------


async def serve_portforward(
    server: StandInApiServer, request: rendering.Request, namespace: str, name: str
) -> aiohttp.web.StreamResponse:
    """GET/POST pods/portforward over a WebSocket, relayed to the connected real server."""
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
    app = (pod["metadata"].get("labels") or {}).get("app", "")
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[None]] = []
    for index, port in enumerate(ports):
        header = bytes([port & 0xFF, port >> 8])
        await ws.send_bytes(bytes([2 * index]) + header)
        await ws.send_bytes(bytes([2 * index + 1]) + header)
    for index, port in enumerate(ports):
        target = server.backends.get(app, {}).get(port)
        try:
            if target is None:
                raise ConnectionRefusedError("nothing listens")
            reader, writer = await asyncio.open_connection(*target)
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
