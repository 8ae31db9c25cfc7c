"""Kubernetes client failures as one-line errors that name what failed.

Every call the backend makes is described by an :class:`Operation` (the verb,
the resource, the namespace and the object), so an error can say exactly
what was refused: ``Forbidden: cannot patch statefulsets.apps in namespace
alfred-platform (context prod-eu) ...``. Server text is redacted before it is
shown: the API may echo a request that carried a secret.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from alfred_tui.backends.base import (
    BackendError,
    EngineUnreachable,
    Forbidden,
    NotDeployed,
    OperationFailed,
    OperationTimeout,
)
from alfred_tui.redact import redact

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class KubeconfigMissing(EngineUnreachable):
    """No kubeconfig where we looked, and not inside a pod."""

    title = "No kubeconfig"


class KubeconfigInvalid(BackendError):
    """The kubeconfig cannot be used (bad context, unreadable file, missing fields)."""

    title = "Kubeconfig error"


class ManifestRejected(OperationFailed):
    """The API server refused an object (validation, admission)."""

    title = "Manifest rejected"


class Unauthorized(Forbidden):
    """The API server did not accept the credentials."""

    title = "Unauthorized"


@dataclass(frozen=True)
class Operation:
    """What the backend asked the API server to do, for messages."""

    verb: str
    """``get``, ``list``, ``watch``, ``patch``, ``create``, ``delete``..."""
    resource: str
    """``statefulsets.apps``, ``pods``, ``pods/exec``..."""
    namespace: str | None = None
    name: str | None = None

    def describe(self) -> str:
        """``patch statefulsets.apps/redis in namespace alfred-platform``."""
        target = f"{self.resource}/{self.name}" if self.name else self.resource
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.verb} {target}{where}"


@dataclass(frozen=True)
class Target:
    """Where the calls go, for messages."""

    server: str
    context: str
    namespace: str


def _status_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return {"message": body.strip()[:300]}
        return parsed if isinstance(parsed, dict) else {}
    return body if isinstance(body, dict) else {}


def _causes(status: dict[str, Any]) -> str:
    causes = (status.get("details") or {}).get("causes") or []
    parts = []
    for cause in causes:
        field, message = cause.get("field"), cause.get("message", "")
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


_HANDSHAKE = re.compile(r"Handshake status (\d{3})")


def status_code(exc: BaseException) -> int | None:
    """The HTTP status of a client error, including a refused WebSocket upgrade."""
    code = getattr(exc, "status", None)
    if isinstance(code, int) and code:
        return code
    code = getattr(exc, "status_code", None)  # websocket-client's bad-status exception
    if isinstance(code, int) and code:
        return code
    match = _HANDSHAKE.search(str(getattr(exc, "reason", "") or exc))
    return int(match.group(1)) if match else None


def _is_timeout(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(
        names
        & {"ReadTimeoutError", "ConnectTimeoutError", "TimeoutError", "WebSocketTimeoutException"}
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it (urllib3's ``reason``, causes, contexts)."""
    seen: list[BaseException] = []
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        stack.extend([getattr(item, "reason", None), item.__cause__, item.__context__])
    return seen


def _is_connection_failure(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(
        names
        & {
            "MaxRetryError",
            "NewConnectionError",
            "ConnectionRefusedError",
            "ConnectionResetError",
            "ProtocolError",
            "NameResolutionError",
            "SSLError",
            "ConnectionError",
            "WebSocketConnectionClosedException",
            "RemoteDisconnected",
        }
    )


def retryable(exc: BaseException) -> bool:
    """Whether trying again later may succeed (overload, restart, a dropped connection)."""
    code = status_code(exc)
    if code is not None:
        return code in RETRYABLE_STATUS
    return _is_timeout(exc) or _is_connection_failure(exc)


def _reason(exc: BaseException) -> str:
    for item in reversed(_chain(exc)):
        text = str(item).strip()
        if text:
            return text.split("\n")[0][:200]
    return type(exc).__name__


def translate(
    exc: BaseException, operation: Operation, target: Target, timeout: float | None = None
) -> BackendError:
    """``exc`` from the client as a :class:`BackendError` naming the operation and the target."""
    if isinstance(exc, BackendError):
        return exc
    what = operation.describe()
    code = status_code(exc)
    if code is not None:
        status = _status_body(getattr(exc, "body", None))
        server_message = redact(str(status.get("message") or getattr(exc, "reason", "") or ""))
        if code == 401:
            return Unauthorized(
                f"the API server at {target.server} rejected the credentials of context "
                f"'{target.context}' ({server_message or 'Unauthorized'}); refresh them "
                "(a token may have expired) and try again"
            )
        if code == 403:
            verb = operation.verb
            return Forbidden(
                f"cannot {verb} {operation.resource}"
                + (f" in namespace {operation.namespace}" if operation.namespace else "")
                + f" (context '{target.context}'): {server_message or 'forbidden'}; "
                f"ask for that RBAC permission (check: kubectl auth can-i {verb} "
                f"{operation.resource}"
                + (f" -n {operation.namespace}" if operation.namespace else "")
                + ")"
            )
        if code == 404:
            return NotDeployed(
                f"{operation.resource} {operation.name or ''} not found".replace("  ", " ")
                + (f" in namespace {operation.namespace}" if operation.namespace else "")
                + f" ({server_message or 'Not Found'}); deploy with alfred-tui up"
            )
        if code in (400, 422) and operation.verb in ("apply", "create", "patch", "replace"):
            detail = redact(_causes(status)) or server_message
            return ManifestRejected(
                f"the API server rejected {operation.resource} {operation.name or ''}: {detail}"
            )
        if code == 409:
            return OperationFailed(f"conflict on {what}: {server_message}", title="Conflict")
        if code in RETRYABLE_STATUS:
            return OperationFailed(
                f"the API server at {target.server} answered {code} to {what}: "
                f"{server_message or 'no reason given'}; it may be overloaded or restarting",
                title="API server error",
            )
        return OperationFailed(f"{what} failed with {code}: {server_message or 'no reason given'}")
    if _is_timeout(exc):
        limit = f" within {timeout:g} s" if timeout else ""
        return OperationTimeout(
            f"the Kubernetes API at {target.server} did not answer {what}{limit}; "
            "check the cluster and your network"
        )
    if _is_connection_failure(exc):
        return EngineUnreachable(
            f"the Kubernetes API at {target.server} does not answer "
            f"({redact(_reason(exc))}); check that the cluster is up, the context "
            f"'{target.context}' and your network or VPN"
        )
    return OperationFailed(f"{what} failed: {redact(_reason(exc))}")
