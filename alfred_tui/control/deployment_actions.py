"""The overview's actions: deploy, teardown, scale, resize, restart.

Each action is a plain :class:`ActionRequest`. :func:`plan` turns it into
the words a confirmation dialog shows (exactly what will happen, what is
kept), :func:`execute` runs it on the session's backend. Read-only sessions
are refused here as well as in the UI, so no path (palette, keymap, a
future pane) can get around it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from alfred_tui.backends.base import ProgressCallback, ServiceStatus, no_progress
from alfred_tui.backends.capabilities import (
    Capability,
    Resizable,
    Restartable,
    Scalable,
    require,
    require_capability,
)
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.session import Session
from alfred_tui.errors import AlfredError
from alfred_tui.units import format_bytes, parse_bytes, parse_cpus

#: Replicas a profile may ask for (``ServiceSpec.replicas``).
MAX_REPLICAS = 64
#: Docker refuses a memory limit below 6 MiB; nothing runs a database in less.
MIN_MEMORY = 6 * 1024**2
MAX_MEMORY = 1024**4
MAX_CPUS = 512.0


class ActionKind(enum.StrEnum):
    """What an operator can do to a deployment from the overview."""

    DEPLOY = "deploy"
    TEARDOWN = "teardown"
    SCALE = "scale"
    RESIZE = "resize"
    RESTART = "restart"
    FAILOVER = "failover"

    @property
    def capability(self) -> Capability:
        """The backend capability this action needs."""
        return Capability(self.value)

    @property
    def per_service(self) -> bool:
        """Whether the action names one service (teardown is always the whole profile)."""
        return self is not ActionKind.TEARDOWN


#: Longest an action may take before it is reported as timed out.
TIMEOUTS = {
    ActionKind.DEPLOY: 1800.0,
    ActionKind.TEARDOWN: 900.0,
    ActionKind.SCALE: 900.0,
    ActionKind.RESIZE: 300.0,
    ActionKind.RESTART: 600.0,
    ActionKind.FAILOVER: 900.0,
}


class ReadOnlyRefused(AlfredError):
    """A mutating action was asked for in a read-only session."""

    title = "Read-only"


class InvalidInput(AlfredError):
    """A value typed into a dialog is not acceptable."""

    title = "Invalid input"


@dataclass(frozen=True)
class ActionRequest:
    """One action with its parameters, as confirmed by the operator."""

    kind: ActionKind
    service: ServiceKind | None = None
    """The service; ``None`` means every enabled service (deploy, teardown)."""
    replicas: int | None = None
    cpus: float | None = None
    memory: int | None = None
    remove_volumes: bool = False


@dataclass(frozen=True)
class ActionPlan:
    """What a confirmation dialog says."""

    title: str
    lines: tuple[str, ...]
    """Exactly what will happen, in order, then what is kept."""
    confirm: str
    """The confirm button's label."""
    destructive: bool = False


def _names(services: list[ServiceKind]) -> str:
    if len(services) <= 1:
        return "".join(services)
    return ", ".join(services[:-1]) + " and " + services[-1]


def _where(session: Session) -> str:
    return f"on the {session.backend_name} backend (profile {session.profile_name})"


def _limits_text(cpus: float | None, memory: int | None) -> str:
    cpu_text = "no limit" if cpus is None else f"{cpus:g}"
    memory_text = "no limit" if memory is None else format_bytes(memory)
    return f"cpus {cpu_text}, memory {memory_text}"


def safety_line(session: Session) -> str:
    """Where a destructive action keeps what it removes (the contract's safety folder)."""
    from alfred_tui.safety import safety_root

    return f"a safety copy is kept in {safety_root(session.profile)}/<time>/ first"


async def describe_teardown(session: Session, remove_volumes: bool) -> list[str]:
    """The backend's own account of a teardown (instances, pids, folders, sizes)."""
    return await session.backend.describe_teardown(remove_volumes)


def _changes(request: ActionRequest) -> str:
    """``cpus 2, memory 4.0 GiB`` with whatever is left unchanged said so."""
    parts = []
    parts.append("cpus unchanged" if request.cpus is None else f"cpus {request.cpus:g}")
    parts.append(
        "memory unchanged" if request.memory is None else f"memory {format_bytes(request.memory)}"
    )
    return ", ".join(parts)


def plan(
    session: Session, request: ActionRequest, status: ServiceStatus | None = None
) -> ActionPlan:
    """The confirmation text for ``request``; ``status`` adds the current state."""
    kind = request.kind
    service = request.service
    targets = [service] if service else session.services
    spec = session.profile.service(service) if service else None
    if kind is ActionKind.DEPLOY:
        image = f" ({spec.image})" if spec else ""
        return ActionPlan(
            f"Deploy {_names(targets)}",
            (
                f"Create or update {_names(targets)}{image} {_where(session)}.",
                "Services already running with these settings are left as they are.",
                "Nothing is deleted.",
            ),
            "Deploy",
        )
    if kind is ActionKind.TEARDOWN:
        lines = [f"Stop and remove {_names(session.services)} {_where(session)}."]
        if request.remove_volumes:
            lines.append("Then their data is DELETED; " + safety_line(session) + ".")
        else:
            lines.append("Data volumes are kept: a later deploy finds the data again.")
        return ActionPlan(
            "Tear down " + session.profile_name, tuple(lines), "Tear down", destructive=True
        )
    assert service is not None
    current = status.desired if status is not None else None
    if kind is ActionKind.SCALE:
        assert request.replicas is not None
        now = f" (now {current})" if current is not None else ""
        down = current is None or request.replicas < current
        kept = (
            "What scaling down removes (replica volumes) is deleted; " + safety_line(session) + "."
            if down
            else "Nothing is deleted."
        )
        if request.replicas == 0:
            lines = [
                f"Scale {service}{now} to 0 instances {_where(session)}.",
                "Every instance stops; clients cannot reach it until it is scaled up again.",
                kept,
            ]
            return ActionPlan(
                f"Scale {service} to zero", tuple(lines), "Scale to 0", destructive=True
            )
        noun = "instance" if request.replicas == 1 else "instances"
        return ActionPlan(
            f"Scale {service}",
            (f"Run {request.replicas} {noun} of {service}{now} {_where(session)}.", kept),
            "Scale",
        )
    if kind is ActionKind.RESIZE:
        lines = [f"Set the limits of {service} {_where(session)}: {_changes(request)}."]
        if status is not None:
            lines.append(f"Now: {_limits_text(status.limits.cpus, status.limits.memory)}.")
        lines.append("Reservations follow proportionally where the profile sets none.")
        return ActionPlan(f"Resize {service}", tuple(lines), "Resize")
    running = f" ({status.ready} ready)" if status is not None else ""
    return ActionPlan(
        f"Restart {service}",
        (
            f"Restart every instance of {service}{running} {_where(session)}.",
            "Open connections are dropped; clients must reconnect.",
            "Data is kept.",
        ),
        "Restart",
    )


# --- input validation ---------------------------------------------------------


def parse_replicas(text: str) -> int:
    """An instance count typed by a person: a whole number from 0 to 64."""
    value = text.strip()
    if not value:
        raise InvalidInput("replicas: enter a whole number of instances")
    try:
        replicas = int(value)
    except ValueError:
        raise InvalidInput(f"replicas: '{value}' is not a whole number") from None
    if not 0 <= replicas <= MAX_REPLICAS:
        raise InvalidInput(f"replicas: {replicas} is out of range (0 to {MAX_REPLICAS})")
    return replicas


def parse_cpus_input(text: str) -> float | None:
    """CPUs typed by a person (``0.5``, ``2``, ``500m``); empty means unchanged."""
    value = text.strip()
    if not value:
        return None
    try:
        cpus = parse_cpus(value)
    except ValueError as exc:
        raise InvalidInput(f"cpus: {exc}") from None
    if cpus > MAX_CPUS:
        raise InvalidInput(f"cpus: {cpus:g} is more than {MAX_CPUS:g}")
    return cpus


def parse_memory_input(text: str) -> int | None:
    """Memory typed by a person with its unit (``512M``, ``4G``, ``1Gi``); empty: unchanged."""
    value = text.strip()
    if not value:
        return None
    if value.isdigit() and int(value) < MIN_MEMORY:
        raise InvalidInput(f"memory: add a unit (e.g. {value}M or {value}G)")
    try:
        memory = parse_bytes(value)
    except ValueError as exc:
        raise InvalidInput(f"memory: {exc}") from None
    if memory < MIN_MEMORY:
        raise InvalidInput(f"memory: {format_bytes(memory)} is less than the minimum 6 MiB")
    if memory > MAX_MEMORY:
        raise InvalidInput(f"memory: {format_bytes(memory)} is more than 1 TiB")
    return memory


def resize_request(service: ServiceKind, cpus_text: str, memory_text: str) -> ActionRequest:
    """A resize from two typed fields; at least one must say something."""
    cpus = parse_cpus_input(cpus_text)
    memory = parse_memory_input(memory_text)
    if cpus is None and memory is None:
        raise InvalidInput("enter cpus, memory or both")
    return ActionRequest(ActionKind.RESIZE, service, cpus=cpus, memory=memory)


# --- running ------------------------------------------------------------------


def check_allowed(session: Session, request: ActionRequest) -> None:
    """Refuse read-only sessions and actions the backend cannot do (raises)."""
    if session.readonly:
        raise ReadOnlyRefused(
            f"{request.kind.value} refused: this session was opened with --readonly"
        )
    services = [request.service] if request.service else session.services
    for service in services:
        require_capability(session.backend, service, request.kind.capability)


async def _keeping_safety_copy(session: Session, run: Callable[[Path], Awaitable[None]]) -> str:
    """Run a destructive step with a fresh safety folder; say where the copy is."""
    from alfred_tui.safety import new_safety_dir

    folder = await asyncio.to_thread(new_safety_dir, session.profile)
    await run(folder)

    def settle() -> str:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            return "nothing needed keeping"
        return f"safety copy in {folder}"

    return await asyncio.to_thread(settle)


async def execute(
    session: Session,
    request: ActionRequest,
    progress: ProgressCallback = no_progress,
    current: int | None = None,
    shown: ActionPlan | None = None,
) -> str:
    """Run ``request`` on the session's backend; returns a one-line success message.

    ``current`` is the service's desired instance count before a scale, when
    known: scaling down passes the backend a safety folder for what it removes.
    ``shown`` is the plan the operator confirmed; it goes to the operator
    journal with the outcome (the plan is worked out again when not given).
    """
    check_allowed(session, request)
    lines = (shown or plan(session, request)).lines
    with session.journaled(request.kind.value, plan=lines, service=request.service) as journal:
        text = await _execute(session, request, progress, current)
        journal.succeeded(text)
    return text


async def _execute(
    session: Session, request: ActionRequest, progress: ProgressCallback, current: int | None
) -> str:
    backend = session.backend
    async with asyncio.timeout(TIMEOUTS[request.kind]):
        if request.kind is ActionKind.DEPLOY:
            services = [request.service] if request.service else None
            await backend.deploy(session.profile, services, progress)
            return f"Deployed {_names([request.service] if request.service else session.services)}"
        if request.kind is ActionKind.TEARDOWN:
            if not request.remove_volumes:
                await backend.teardown(False, progress)
                return f"Tore down {session.profile_name}; data volumes kept"
            kept = await _keeping_safety_copy(
                session, lambda folder: backend.teardown(True, progress, folder)
            )
            return f"Tore down {session.profile_name} and removed its data; {kept}"
        assert request.service is not None
        service = request.service
        if request.kind is ActionKind.SCALE:
            replicas = request.replicas
            assert replicas is not None
            if current is None or replicas < current:
                scaler = require(backend, service, Scalable)
                kept = await _keeping_safety_copy(
                    session, lambda folder: scaler.scale(service, replicas, progress, folder)
                )
                return f"Scaled {service} to {replicas}; {kept}"
            await require(backend, service, Scalable).scale(service, replicas, progress)
            return f"Scaled {service} to {replicas}"
        if request.kind is ActionKind.RESIZE:
            resizer = require(backend, service, Resizable)
            await resizer.resize(service, request.cpus, request.memory, progress)
            return f"Resized {service}: {_changes(request)}"
        await require(backend, service, Restartable).restart(service, progress)
        return f"Restarted {service}"
