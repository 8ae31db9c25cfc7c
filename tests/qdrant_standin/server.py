"""HTTP plumbing of the stand-in: routing, API keys, bodies, uploads, logs and timing.

A ``ThreadingHTTPServer`` from the standard library (no web framework, so the
Docker test image needs only ``qdrant-edge-py``). Every response is timed and
recorded per route pattern for ``/metrics`` and ``/telemetry``, and logged in
Qdrant's access-log format so log parsers see familiar lines.
"""

from __future__ import annotations

import json
import logging
import mmap
import shutil
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .api import HEALTH_PATHS, MAX_JSON_BYTES, ROUTES, Context, Raw, Request, Route
from .errors import ApiError

access_log = logging.getLogger("actix_web::middleware::logger")
log = logging.getLogger("qdrant_standin")

_COMPILED = [(route, route.regex) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for ``method path``, its path parameters, and whether the path exists at all."""
    path_known = False
    for route, regex in _COMPILED:
        found = regex.match(path)
        if found:
            path_known = True
            if route.method == method:
                params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
                return route, params, True
    return None, {}, path_known


class StandinServer(ThreadingHTTPServer):
    """The listening socket; holds the stand-in's :class:`Context`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: Context) -> None:
        self.context = context
        super().__init__(address, StandinHandler)


class StandinHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive as httpx and qdrant-client expect."""

    protocol_version = "HTTP/1.1"
    server: StandinServer
    server_version = "qdrant-standin"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log; access lines go through :func:`_access`."""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- the request ----------------------------------------------------------------

    def _handle(self) -> None:
        started = time.perf_counter()
        context = self.server.context
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/") or "/"
        route, params, path_known = match(self.command, path)
        pattern = route.pattern if route else path
        status, sent = 500, 0
        upload: Path | None = None
        try:
            if route is None:
                self._discard_body()
                raise ApiError(
                    405 if path_known else 404,
                    f"{'Method Not Allowed' if path_known else 'Not Found'}: {self.command} {path}",
                )
            denied = self._authorize(route, path)
            if denied is not None:
                self.close_connection = True
                status, sent = self._send_text(*denied)
                return
            body = b""
            if route.upload:
                upload = self._receive_upload(context)
            else:
                body = self._read_body()
            request = Request(
                method=self.command,
                path=path,
                query=dict(urllib.parse.parse_qsl(parsed.query)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                upload=upload,
            )
            result = route.handler(context, request, **params)
            if isinstance(result, Raw):
                status, sent = self._send_raw(result)
            else:
                status, sent = self._send_json(200, {"result": result, "status": "ok"}, started)
        except ApiError as exc:
            status, sent = self._send_json(exc.status, {"status": {"error": exc.message}}, started)
        except Exception as exc:  # a stand-in bug must still answer, and say so
            log.exception("Unhandled error on %s %s", self.command, path)
            status, sent = self._send_json(
                500, {"status": {"error": f"Service internal error: {exc}"}}, started
            )
        finally:
            if upload is not None:
                upload.unlink(missing_ok=True)
            elapsed = time.perf_counter() - started
            context.recorder.record(self.command, pattern, status, elapsed)
            self._access(status, sent, elapsed)

    def _authorize(self, route: Route, path: str) -> tuple[int, str] | None:
        settings = self.server.context.settings
        if not (settings.api_key or settings.read_only_api_key) or path in HEALTH_PATHS:
            return None
        key = self.headers.get("api-key")
        authorization = self.headers.get("authorization", "")
        if key is None and authorization.startswith("Bearer "):
            key = authorization.removeprefix("Bearer ")
        if key is None:
            return 401, "Must provide an API key or an Authorization bearer token"
        if settings.api_key and key == settings.api_key:
            return None
        if settings.read_only_api_key and key == settings.read_only_api_key:
            if route.writes:
                return 403, "Forbidden: the read-only API key cannot change data"
            return None
        return 401, "Invalid API key or JWT"

    def _content_length(self) -> int:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self.close_connection = True
            raise ApiError(411, "Length Required: chunked bodies are not supported by the stand-in")
        try:
            return int(self.headers.get("content-length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "Bad Request: invalid Content-Length") from None

    def _read_body(self) -> bytes:
        length = self._content_length()
        if length > MAX_JSON_BYTES:
            self.close_connection = True
            raise ApiError(413, f"Payload too large: {length} bytes > {MAX_JSON_BYTES}")
        return self.rfile.read(length) if length else b""

    def _discard_body(self) -> None:
        try:
            length = self._content_length()
        except ApiError:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def _receive_upload(self, context: Context) -> Path:
        """Stream a multipart body to disk and cut out its ``snapshot`` file part."""
        content_type = self.headers.get("content-type", "")
        boundary = _boundary(content_type)
        length = self._content_length()
        work = context.storage.work_dir
        raw = work / f"upload-{uuid.uuid4().hex[:8]}.multipart"
        target = work / f"upload-{uuid.uuid4().hex[:8]}.snapshot"
        try:
            with raw.open("wb") as handle:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise ApiError(400, "Bad Request: body shorter than Content-Length")
                    handle.write(chunk)
                    remaining -= len(chunk)
            if boundary is None:
                raise ApiError(400, "Format error: expected multipart/form-data with a boundary")
            _extract_part(raw, boundary, "snapshot", target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        finally:
            raw.unlink(missing_ok=True)
        return target

    # -- the reply --------------------------------------------------------------------

    def _send_json(self, status: int, document: dict[str, Any], started: float) -> tuple[int, int]:
        document["time"] = time.perf_counter() - started
        body = json.dumps(document).encode()
        return self._send(status, body, "application/json")

    def _send_text(self, status: int, text: str) -> tuple[int, int]:
        return self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _send_raw(self, raw: Raw) -> tuple[int, int]:
        if raw.file is None:
            return self._send(raw.status, raw.body, raw.content_type)
        size = raw.file.stat().st_size
        self.send_response(raw.status)
        self.send_header("Content-Type", raw.content_type)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Disposition", f'attachment; filename="{raw.file.name}"')
        self.end_headers()
        with raw.file.open("rb") as handle:
            shutil.copyfileobj(handle, self.wfile, 1 << 20)
        return raw.status, size

    def _send(self, status: int, body: bytes, content_type: str) -> tuple[int, int]:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        return status, len(body)

    def _access(self, status: int, size: int, elapsed: float) -> None:
        agent = self.headers.get("user-agent", "-")
        access_log.info(
            '%s "%s %s %s" %d %d "-" "%s" %.6f',
            self.client_address[0],
            self.command,
            self.path,
            self.request_version,
            status,
            size,
            agent,
            elapsed,
        )


def _boundary(content_type: str) -> bytes | None:
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for part in rest.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode()
    return None


def _extract_part(raw: Path, boundary: bytes, field: str, target: Path) -> None:
    """Copy the body of multipart field ``field`` from ``raw`` to ``target`` (no full read)."""
    delimiter = b"--" + boundary
    with raw.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        position = data.find(delimiter)
        while position != -1:
            headers_start = position + len(delimiter) + 2
            headers_end = data.find(b"\r\n\r\n", headers_start)
            if headers_end == -1:
                break
            headers = data[headers_start:headers_end].decode("latin-1").lower()
            content_start = headers_end + 4
            next_delimiter = data.find(b"\r\n" + delimiter, content_start)
            if next_delimiter == -1:
                break
            if f'name="{field}"' in headers:
                with target.open("wb") as out:
                    view = memoryview(data)[content_start:next_delimiter]
                    try:
                        for offset in range(0, len(view), 1 << 20):
                            out.write(view[offset : offset + (1 << 20)])
                    finally:
                        view.release()
                return
            position = next_delimiter + 2
    raise ApiError(400, f"Format error: multipart body has no `{field}` file")
