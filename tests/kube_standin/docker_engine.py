"""A small asyncio client of the Docker Engine API, for the stand-in's kubelet.

The kubelet runs in the API server's event loop, so every engine call here
is asynchronous: JSON requests and log streams through aiohttp (on the unix
socket, or ``tcp://`` from ``DOCKER_HOST``), and ``exec`` through a hijacked
connection written by hand (the Engine upgrades ``POST /exec/{id}/start`` to
a raw stream, which aiohttp's client cannot hand over): stdout and stderr
arrive multiplexed (8-byte frame headers), stdin is written as is and closed
with a half-close, as the docker CLI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import os
import struct
import tarfile
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote, urlencode, urlparse

import aiohttp

DEFAULT_HOST = "unix:///var/run/docker.sock"


class EngineError(Exception):
    """The engine answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def parse_docker_time(text: str) -> dt.datetime | None:
    """Docker's RFC 3339 nanosecond timestamps (``0001-01-01T00:00:00Z``: never)."""
    if not text or text.startswith("0001-"):
        return None
    base, _, rest = text.partition(".")
    if not rest:
        return dt.datetime.fromisoformat(base.rstrip("Z") + "+00:00")
    digits = "".join(ch for ch in rest if ch.isdigit())
    return dt.datetime.fromisoformat(f"{base}.{digits[:6].ljust(6, '0')}+00:00")


def unix_time(moment: dt.datetime) -> str:
    """A time as Docker's ``since``/``until`` take it: seconds.nanoseconds."""
    stamp = moment.timestamp()
    seconds = int(stamp)
    return f"{seconds}.{round((stamp - seconds) * 1e6):06d}000"


def tar_of(files: Iterable[tuple[str, bytes, int, int, int]]) -> bytes:
    """A tar of ``(path, content, mode, uid, gid)`` entries (parent folders 0755)."""
    buffer = io.BytesIO()
    folders: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content, mode, uid, gid in files:
            parts = path.strip("/").split("/")
            if path.endswith("/"):  # a folder of its own
                parts.append("")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    folders.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    archive.addfile(info)
            if path.endswith("/"):
                continue
            info = tarfile.TarInfo(path.strip("/"))
            info.size, info.mode, info.uid, info.gid = len(content), mode, uid, gid
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class ExecSession:
    """A process started by ``exec`` in a container: stdin, multiplexed output, exit code."""

    def __init__(
        self,
        engine: DockerEngine,
        exec_id: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.engine = engine
        self.exec_id = exec_id
        self._reader = reader
        self._writer = writer

    async def write(self, data: bytes) -> None:
        """Feed the process's stdin."""
        self._writer.write(data)
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    async def close_stdin(self) -> None:
        """End of the process's stdin (a half-close of the connection)."""
        with contextlib.suppress(OSError):
            if self._writer.can_write_eof():
                self._writer.write_eof()

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """``(1, stdout bytes)`` and ``(2, stderr bytes)`` until the process ends."""
        while True:
            try:
                header = await self._reader.readexactly(8)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            stream, size = header[0], struct.unpack(">I", header[4:])[0]
            try:
                payload = await self._reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            yield (2 if stream == 2 else 1), payload

    async def exit_code(self) -> int | None:
        """The process's exit code once it has ended."""
        for _ in range(50):
            info = await self.engine.request("GET", f"/exec/{self.exec_id}/json")
            if not info.get("Running"):
                return info.get("ExitCode")
            await asyncio.sleep(0.05)
        return None

    async def close(self) -> None:
        """Drop the connection (the process gets EOF and SIGPIPE, as with a closed client)."""
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


class DockerEngine:
    """The Docker Engine API at ``host`` (``DOCKER_HOST``, else the local socket)."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        parsed = urlparse(self.host)
        self._unix = parsed.path if parsed.scheme == "unix" else None
        self._tcp = None if self._unix else (parsed.hostname or "localhost", parsed.port or 2375)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector: aiohttp.BaseConnector = (
                aiohttp.UnixConnector(path=self._unix) if self._unix else aiohttp.TCPConnector()
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
            )
        return self._session

    def _url(self, path: str, params: dict[str, Any] | None = None) -> str:
        base = "http://docker" if self._unix else f"http://{self._tcp[0]}:{self._tcp[1]}"  # type: ignore[index]
        query = f"?{urlencode(params)}" if params else ""
        return f"{base}{path}{query}"

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        data: bytes | None = None,
        timeout: float = 120.0,
    ) -> Any:
        """One API call; its JSON answer (or None). Raises :class:`EngineError`."""
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/x-tar"
        async with self._client().request(
            method,
            self._url(path, params),
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            text = await response.read()
            if response.status >= 400:
                try:
                    message = json.loads(text).get("message", "")
                except ValueError:
                    message = text.decode(errors="replace")
                raise EngineError(response.status, message.strip())
            if not text:
                return None
            try:
                return json.loads(text)
            except ValueError:
                return text

    # --- containers -------------------------------------------------------------------

    async def create_container(self, name: str, config: dict[str, Any]) -> str:
        """``POST /containers/create``: the new container's id."""
        answer = await self.request(
            "POST", "/containers/create", {"name": name}, config, timeout=600
        )
        return str(answer["Id"])

    async def start(self, container: str) -> None:
        """Start (or start again) a container."""
        with contextlib.suppress(EngineError):  # 304: already running
            await self.request("POST", f"/containers/{container}/start")

    async def stop(self, container: str, grace: float) -> None:
        """The image's stop signal, then SIGKILL after ``grace`` seconds."""
        await self.request(
            "POST",
            f"/containers/{container}/stop",
            {"t": max(0, int(grace))},
            timeout=grace + 60,
        )

    async def kill(self, container: str, signal: str = "KILL") -> None:
        """Send ``signal`` to the container's main process."""
        await self.request("POST", f"/containers/{container}/kill", {"signal": signal})

    async def remove(self, container: str) -> None:
        """Remove a container (force: running or not); gone already is fine."""
        try:
            await self.request(
                "DELETE", f"/containers/{container}", {"force": "1", "v": "1"}, timeout=300
            )
        except EngineError as exc:
            if exc.status != 404:
                raise

    async def inspect(self, container: str) -> dict[str, Any] | None:
        """``docker inspect``, or None when there is no such container."""
        try:
            return await self.request("GET", f"/containers/{container}/json")
        except EngineError as exc:
            if exc.status == 404:
                return None
            raise

    async def wait(self, container: str) -> int:
        """Block until the container stops; its exit code."""
        answer = await self.request(
            "POST",
            f"/containers/{container}/wait",
            {"condition": "not-running"},
            timeout=None,  # type: ignore[arg-type]
        )
        return int((answer or {}).get("StatusCode", -1))

    async def put_archive(self, container: str, path: str, tar: bytes) -> None:
        """Unpack a tar into a (created or running) container at ``path``."""
        await self.request(
            "PUT", f"/containers/{container}/archive", {"path": path}, data=tar, timeout=300
        )

    async def containers(self, label: str, volume: str | None = None) -> list[dict[str, Any]]:
        """Every container (running or not) carrying ``label`` (``key=value``), and using
        ``volume`` when given."""
        wanted = {"label": [label], **({"volume": [volume]} if volume else {})}
        filters = json.dumps(wanted)
        return list(
            await self.request("GET", "/containers/json", {"all": "1", "filters": filters}) or []
        )

    async def logs(
        self,
        container: str,
        *,
        follow: bool = False,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[tuple[dt.datetime, bytes]]:
        """``(timestamp, line)`` of both streams, in order; with ``follow`` until it stops."""
        params: dict[str, Any] = {"stdout": "1", "stderr": "1", "timestamps": "1"}
        if follow:
            params["follow"] = "1"
        if since is not None:
            params["since"] = unix_time(since)
        if until is not None:
            params["until"] = unix_time(until)
        if tail is not None:
            params["tail"] = str(tail)
        async with self._client().get(
            self._url(f"/containers/{container}/logs", params),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        ) as response:
            if response.status >= 400:
                raise EngineError(response.status, (await response.text()).strip())
            pending = {1: b"", 2: b""}
            while True:
                try:
                    header = await response.content.readexactly(8)
                    payload = await response.content.readexactly(struct.unpack(">I", header[4:])[0])
                except (asyncio.IncompleteReadError, aiohttp.ClientPayloadError):
                    break
                stream = 2 if header[0] == 2 else 1
                pending[stream] += payload
                *lines, pending[stream] = pending[stream].split(b"\n")
                for line in lines:
                    stamp, _, text = line.partition(b" ")
                    moment = parse_docker_time(stamp.decode(errors="replace"))
                    yield moment or dt.datetime.now(dt.UTC), text

    # --- exec -------------------------------------------------------------------------

    async def exec(
        self,
        container: str,
        argv: list[str],
        *,
        stdin: bool = False,
        user: str | None = None,
        env: list[str] | None = None,
    ) -> ExecSession:
        """Start ``argv`` in a running container; talk to it through the returned session."""
        config: dict[str, Any] = {
            "Cmd": argv,
            "AttachStdin": stdin,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": False,
        }
        if user:
            config["User"] = user
        if env:
            config["Env"] = env
        created = await self.request("POST", f"/containers/{container}/exec", body=config)
        exec_id = created["Id"]
        if self._unix:
            reader, writer = await asyncio.open_unix_connection(self._unix)
        else:
            reader, writer = await asyncio.open_connection(*self._tcp)  # type: ignore[misc]
        body = json.dumps({"Detach": False, "Tty": False}).encode()
        writer.write(
            (
                f"POST /exec/{quote(exec_id)}/start HTTP/1.1\r\n"
                "Host: docker\r\nContent-Type: application/json\r\n"
                "Connection: Upgrade\r\nUpgrade: tcp\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status_line and " 200 " not in status_line:
            writer.close()
            raise EngineError(int(status_line.split()[1]), head.decode(errors="replace"))
        return ExecSession(self, exec_id, reader, writer)

    # --- images, networks, volumes ---------------------------------------------------

    async def image(self, name: str) -> dict[str, Any] | None:
        """The image, or None when the engine does not have it."""
        try:
            return await self.request("GET", f"/images/{quote(name, safe='')}/json")
        except EngineError as exc:
            if exc.status == 404:
                return None
            raise

    async def import_image(self, tar: bytes, repository: str, tag: str, changes: list[str]) -> None:
        """``docker import`` of a root file system tar."""
        params: list[tuple[str, str]] = [("fromSrc", "-"), ("repo", repository), ("tag", tag)]
        params += [("changes", change) for change in changes]
        async with self._client().post(
            self._url("/images/create") + "?" + urlencode(params),
            data=tar,
            headers={"Content-Type": "application/x-tar"},
        ) as response:
            text = await response.text()
            if response.status >= 400 or '"error"' in text:
                raise EngineError(response.status, text.strip()[-300:])

    async def create_network(self, name: str, labels: dict[str, str]) -> dict[str, Any]:
        """A user-defined bridge network (its own DNS for container aliases)."""
        await self.request(
            "POST",
            "/networks/create",
            body={"Name": name, "Driver": "bridge", "Labels": labels, "CheckDuplicate": True},
        )
        return await self.request("GET", f"/networks/{name}")

    async def remove_network(self, name: str) -> None:
        """Remove a network; gone already is fine."""
        with contextlib.suppress(EngineError):
            await self.request("DELETE", f"/networks/{name}")

    async def networks(self, label: str) -> list[dict[str, Any]]:
        """Networks carrying ``label``."""
        filters = json.dumps({"label": [label]})
        return list(await self.request("GET", "/networks", {"filters": filters}) or [])

    async def create_volume(self, name: str, labels: dict[str, str]) -> dict[str, Any]:
        """A named local volume (creating an existing one returns it)."""
        return await self.request(
            "POST", "/volumes/create", body={"Name": name, "Labels": labels, "Driver": "local"}
        )

    async def remove_volume(self, name: str) -> None:
        """Remove a volume; gone already is fine."""
        try:
            await self.request("DELETE", f"/volumes/{name}", timeout=300)
        except EngineError as exc:
            if exc.status != 404:
                raise

    async def volumes(self, label: str) -> list[dict[str, Any]]:
        """Volumes carrying ``label``."""
        filters = json.dumps({"label": [label]})
        answer = await self.request("GET", "/volumes", {"filters": filters}) or {}
        return list(answer.get("Volumes") or [])
