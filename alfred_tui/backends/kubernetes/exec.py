"""Commands and files in pods: the exec subresource, and files through it.

``exec`` runs ``pg_dump`` or ``redis-cli`` in the pod's container with the
database's credentials taken from the container's own environment (the
Secret), so no secret travels in the request; stdin needs the v5 streaming
protocol (Kubernetes 1.30 or newer). Files cross as ``cat`` through exec.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import ExecResult, OperationFailed, OperationTimeout
from alfred_tui.backends.capabilities import Capability, NotSupported
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.core import KubernetesCore, thread_result
from alfred_tui.backends.kubernetes.errors import translate
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError, UsageError
from alfred_tui.redact import redact

_V5 = "v5.channel.k8s.io"

SPARSE_TAR = (
    'if tar --help 2>&1 | grep -q -- --sparse; then exec tar -C "$1" -cSf - .; fi; '
    'exec tar -C "$1" -cf - .'
)
"""A data folder as a tar on stdout; sparse files stay sparse where tar can (GNU tar):
Qdrant's storage holds sparse files hundreds of MB long that take a few KB on disk."""


class KubernetesExec(KubernetesCore):
    """``exec``, ``copy_from`` and ``copy_to`` (Executable, FileCopying)."""

    exec_runs_here = False

    async def exec(
        self,
        service: ServiceKind,
        argv: Sequence[str],
        stdin: bytes | None = None,
        instance: str | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        if not argv:
            raise UsageError("exec needs a command")
        pod = await self.pick_pod(service, instance)
        api = await self.connected()
        op = api.op("create", "pods/exec", pod)
        container = names.container_name(service)
        limit = timeout or 600.0
        tool = argv[0]
        argv = self._aimed(service, argv)

        def run() -> tuple[int | None, bytes, bytes, str]:
            from kubernetes.stream import stream

            client = stream(
                api.stream_core().connect_get_namespaced_pod_exec,
                pod,
                api.namespace,
                command=list(argv),
                container=container,
                stdin=stdin is not None,
                stdout=True,
                stderr=True,
                tty=False,
                binary=True,
                _preload_content=False,
            )
            out, err, status = bytearray(), bytearray(), bytearray()
            sinks = {1: out, 2: err, 3: status}
            try:
                if stdin is not None:
                    if client.subprotocol != _V5:
                        raise NotSupported(
                            self.name,
                            Capability.EXEC,
                            f"{service} with stdin (the API server lacks {_V5}: "
                            "Kubernetes 1.30 or newer has it)",
                        )
                    for start in range(0, len(stdin), 65536):
                        client.write_stdin(stdin[start : start + 65536])
                        _read_frames(client, 0.0, sinks)
                    client.close_channel(0)
                deadline = time.monotonic() + limit
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise OperationTimeout(
                            f"{tool} in pod {pod} did not finish within {limit:g} s"
                        )
                    if not _read_frames(client, min(1.0, remaining), sinks):
                        break
            finally:
                client.close()
            text = bytes(status).decode("utf-8", "replace")
            code, message = _exit_code(text)
            return code, bytes(out), bytes(err), message

        try:
            code, out, err, message = await asyncio.wait_for(
                thread_result(run, op.describe()), limit + 10
            )
        except AlfredError:
            raise
        except Exception as exc:
            raise translate(exc, op, api.target, limit) from None
        if code is None:
            raise OperationFailed(f"exec {tool} in pod {pod} failed: {redact(message)}")
        return ExecResult(code, out, err)

    def _aimed(self, service: ServiceKind, argv: Sequence[str]) -> list[str]:
        """``argv`` aimed at the instance, with no secret on the command line.

        PostgreSQL tools get ``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``/
        ``PGDATABASE`` from the container's own environment (the Secret), set by
        a shell in the pod, so the values never appear in the request; what the
        environment already sets wins. ``redis-cli`` reaches localhost:6379 and
        reads ``REDISCLI_AUTH`` from the container's environment.
        """
        if service != "postgres":
            return list(argv)
        port = names.container_ports(service, self.service_spec(service))[0][1]
        script = (
            'export PGHOST="${PGHOST:-localhost}" '
            f'PGPORT="${{PGPORT:-{port}}}" '
            'PGUSER="${PGUSER:-$POSTGRES_USER}" '
            'PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}" '
            'PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-$POSTGRES_USER}}"; exec "$@"'
        )
        return ["sh", "-c", script, "alfred-exec", *argv]

    async def copy_from(
        self,
        service: ServiceKind,
        path: str,
        destination: Path,
        instance: str | None = None,
    ) -> Path:
        """Read ``path`` in the pod (``cat`` through exec) into ``destination``."""
        result = await self.exec(service, ["cat", path], instance=instance)
        if not result.ok:
            message = redact(result.stderr.decode("utf-8", "replace")).strip()[:200]
            raise OperationFailed(f"cannot read {path} in {service}: {message}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(result.stdout)
        return destination

    async def copy_to(
        self,
        service: ServiceKind,
        source: Path,
        path: str,
        instance: str | None = None,
    ) -> None:
        """Write ``source`` to ``path`` in the pod, owned like the data folder."""
        data = names.data_path(service, self.service_spec(service))
        script = 'cat > "$1" && chown "$(stat -c %u:%g "$2")" "$1" 2>/dev/null; test -f "$1"'
        result = await self.exec(
            service,
            ["sh", "-c", script, "alfred-copy", path, data],
            stdin=source.read_bytes(),
            instance=instance,
        )
        if not result.ok:
            message = redact(result.stderr.decode("utf-8", "replace")).strip()[:200]
            raise OperationFailed(f"cannot write {path} in {service}: {message}")

    async def copy_claim(
        self, claim: str, service: ServiceKind, target: Path, *, in_use: bool = False
    ) -> None:
        """The data folder on ``claim`` as the tar file ``target`` (mode 0600): a safety copy.

        A pod of its own holds the claim and runs ``tar`` (the service's pod may
        be crashing, and a pod with several claims may not be schedulable:
        their volumes can be on different nodes). ``in_use``: a server still
        writes there (a replica about to be re-cloned), so tar's "file changed
        as we read it" (exit 1) still gives the copy, as of those moments.
        """
        spec = self.service_spec(service)
        path = names.data_path(service, spec)
        pod = f"alfred-copy-{uuid.uuid4().hex[:8]}"
        await self.start_claim_pod(pod, service, claim, spec.image, path)
        try:
            argv = ["sh", "-c", SPARSE_TAR, "alfred-export", path]
            result = await self.exec(service, argv, instance=pod)
        finally:
            await self.delete_pod(pod)
        if not (result.ok or (in_use and result.exit_code == 1 and result.stdout)):
            reason = redact(result.stderr.decode(errors="replace")).strip()[:200]
            raise OperationFailed(
                f"cannot copy {claim} (tar exited {result.exit_code}: {reason}); the claim and "
                "its data are kept"
            )
        target.write_bytes(result.stdout)
        target.chmod(0o600)


def _read_frames(client: Any, wait: float, sinks: dict[int, bytearray]) -> bool:
    """Add the exec frames arriving within ``wait`` seconds to their channel's sink.

    The client's own ``update`` joins each channel's bytes with ``+=``, which
    is quadratic: a 400 MB ``tar`` through it did not end in minutes (40 MB
    took 90 s). Reading the frames here keeps it linear. False once the
    stream closed (the command ended).
    """
    import select
    import ssl

    from websocket import ABNF, WebSocketConnectionClosedException

    sock = client.sock
    deadline = time.monotonic() + wait
    while True:
        raw = sock.sock
        if raw is None:
            return False
        if not (isinstance(raw, ssl.SSLSocket) and raw.pending()):
            left = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([raw], [], [], left)
            if not readable:
                return True
        try:
            opcode, frame = sock.recv_data_frame(True)
        except WebSocketConnectionClosedException:
            return False
        if opcode == ABNF.OPCODE_CLOSE:
            return False
        data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
        if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) and len(data) > 1:
            sink = sinks.get(data[0])
            if sink is not None:
                sink.extend(data[1:])


def _exit_code(status: str) -> tuple[int | None, str]:
    """The exit code in the exec error channel's ``Status`` (None: the command did not run)."""
    if not status.strip():
        return None, "the connection closed before the command's exit status arrived"
    try:
        document = json.loads(status)
    except ValueError:
        return None, status.strip()[:200]
    if document.get("status") == "Success":
        return 0, ""
    for cause in (document.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(cause.get("message")), ""
    return None, str(document.get("message") or document)[:300]
