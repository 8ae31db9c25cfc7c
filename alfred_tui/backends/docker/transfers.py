"""Blocking engine operations that move bytes: exec, archives, image pulls.

Each function here blocks and is meant to run in a worker thread
(``asyncio.to_thread``); the backend wraps it with a timeout. They take the
SDK's low-level ``APIClient`` (``client.api``) because the high-level API
hides what we need: which stream a byte came from, stdin for exec, and the
per-layer progress of a pull.
"""

from __future__ import annotations

import contextlib
import io
import socket
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import ExecResult, OperationFailed, Progress
from alfred_tui.config.models import ServiceKind
from alfred_tui.redact import redact

#: Bytes per chunk when streaming archives to disk.
CHUNK = 1 << 20


def _raw_socket(sock: Any) -> socket.socket:
    """The OS socket under the SDK's wrapper (SocketIO for unix sockets)."""
    raw: socket.socket = getattr(sock, "_sock", sock)
    return raw


def _send_and_close(sock: Any, data: bytes) -> None:
    raw = _raw_socket(sock)
    try:
        raw.sendall(data)
    finally:
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)


def _read_frames(sock: Any) -> tuple[bytes, bytes]:
    """stdout and stderr of a multiplexed (non-TTY) attach/exec stream."""
    from docker.utils.socket import STDERR, frames_iter

    out, err = bytearray(), bytearray()
    for stream, data in frames_iter(sock, tty=False):
        (err if stream == STDERR else out).extend(data)
    return bytes(out), bytes(err)


def exec_in(
    api: Any,
    container_id: str,
    argv: list[str],
    stdin: bytes | None = None,
    user: str = "",
    environment: dict[str, str] | None = None,
) -> ExecResult:
    """Run ``argv`` in a running container; stdout and stderr kept apart.

    With ``stdin`` the bytes are written by a second thread while this one
    reads, so a command that answers while it reads (pg_restore, psql) cannot
    deadlock on full pipes.
    """
    exec_id = api.exec_create(
        container_id,
        argv,
        stdin=stdin is not None,
        stdout=True,
        stderr=True,
        user=user,
        environment=environment,
    )["Id"]
    if stdin is None:
        out, err = api.exec_start(exec_id, demux=True)
        stdout, stderr = out or b"", err or b""
    else:
        sock = api.exec_start(exec_id, socket=True)
        writer = threading.Thread(target=_send_and_close, args=(sock, stdin), daemon=True)
        writer.start()
        try:
            stdout, stderr = _read_frames(sock)
        finally:
            writer.join(timeout=5)
            with contextlib.suppress(Exception):
                sock.close()
    code = None
    for _ in range(50):  # the exit code lands a moment after the stream ends
        code = api.exec_inspect(exec_id).get("ExitCode")
        if code is not None:
            break
        time.sleep(0.05)
    return ExecResult(exit_code=-1 if code is None else int(code), stdout=stdout, stderr=stderr)


def run_with_stdin(api: Any, container_id: str, data: bytes) -> None:
    """Start a created container (made with ``stdin_open=True``) and feed it ``data``.

    This is how a secret reaches a throwaway container without showing up in
    ``docker inspect`` (its Cmd and Env): the command reads it from stdin.
    """
    sock = api.attach_socket(container_id, params={"stdin": 1, "stream": 1})
    try:
        api.start(container_id)
        _send_and_close(sock, data)
    finally:
        with contextlib.suppress(Exception):
            sock.close()


def pull_image(
    api: Any,
    image: str,
    report: Callable[[Progress], None],
    service: ServiceKind | None = None,
) -> None:
    """Pull ``image``, reporting bytes summed over layers as they download."""
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(image)
    if tag is None and "@" not in image:
        tag = "latest"
    layers: dict[str, tuple[int, int]] = {}
    step = f"pull {image}"
    report(Progress(step, service=service))
    for event in api.pull(repository, tag=tag, stream=True, decode=True):
        if "error" in event:
            raise OperationFailed(
                f"could not pull {image}: {redact(str(event['error']))}; load or build it "
                "locally (docker load / docker build), or check the registry and your login"
            )
        layer = event.get("id")
        status = event.get("status", "")
        detail = event.get("progressDetail") or {}
        if not layer or layer == tag:
            continue
        if status == "Downloading" and detail.get("total"):
            layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
        elif status in ("Download complete", "Pull complete", "Already exists"):
            done = layers.get(layer, (0, 0))[1]
            layers[layer] = (done, done)
        elif layer not in layers:
            layers[layer] = (0, 0)
        current = sum(c for c, _ in layers.values())
        total = sum(t for _, t in layers.values())
        report(
            Progress(
                f"{step}: {len(layers)} layers, {status.lower()}",
                current=current,
                total=total or None,
                unit="bytes",
                service=service,
            )
        )


def archive_to_file(api: Any, container_id: str, path: str, destination: Path) -> int:
    """Save ``path`` in the container (a folder or a file) as a tar at ``destination``."""
    stream, _stat = api.get_archive(container_id, path, chunk_size=CHUNK)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    written = 0
    with open(partial, "wb") as handle:
        for chunk in stream:
            handle.write(chunk)
            written += len(chunk)
    partial.replace(destination)
    return written


def copy_file_out(api: Any, container_id: str, source: str, destination: Path) -> int:
    """Copy one file out of a container to ``destination`` on this machine."""
    stream, stat = api.get_archive(container_id, source, chunk_size=CHUNK)
    buffer = io.BytesIO()
    for chunk in stream:
        buffer.write(chunk)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as archive:
        member = next((m for m in archive.getmembers() if m.isfile()), None)
        if member is None:
            raise OperationFailed(f"{source} in the container is not a file ({stat.get('mode')})")
        extracted = archive.extractfile(member)
        assert extracted is not None
        destination.parent.mkdir(parents=True, exist_ok=True)
        data = extracted.read()
    destination.write_bytes(data)
    return len(data)


def copy_file_in(
    api: Any,
    container_id: str,
    source: Path,
    destination: str,
    mode: int | None = None,
    uid: int = 0,
    gid: int = 0,
) -> int:
    """Copy one file from this machine to ``destination`` (a full path) in a container.

    The tar entry carries ``uid``/``gid``; the engine keeps them for a
    container without a ``USER``, so the file belongs to whom the caller says.
    """
    data = source.read_bytes()
    folder, _, name = destination.rstrip("/").rpartition("/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode if mode is not None else (source.stat().st_mode & 0o777)
        info.mtime = int(time.time())
        info.uid, info.gid = uid, gid
        archive.addfile(info, io.BytesIO(data))
    if not api.put_archive(container_id, folder or "/", buffer.getvalue()):
        raise OperationFailed(f"the engine refused to write {destination} into the container")
    return len(data)
