"""Apply a runbook's remedy by name: one entry point for the Troubleshoot pane and the CLI.

A :class:`~alfred_tui.troubleshoot.model.Remedy` names its ``action`` and
carries its ``parameters``; :func:`perform` calls the matching confirm-first
function with the context's connection and read-only flag. The pane calls it
with ``confirm=False`` to get the exact plan for its dialog, then with
``confirm=True`` once the operator said yes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from alfred_tui.database_actions import ActionOutcome, ActionRefused
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.profile_yaml import command_yaml, redis_command_with
from alfred_tui.units import format_docker_size


def redis_profile_yaml(ctx: TroubleshootContext, settings: dict[str, str]) -> str:
    """The profile's Redis command with ``settings`` (``--name value``), as YAML."""
    service = ctx.profile.redis
    if service is None or not settings:
        return ""
    return command_yaml("redis", redis_command_with(service, settings))


def _size(value: int) -> str:
    text = format_docker_size(value).lower()
    return text + "b" if not text[-1].isdigit() else text


async def _terminate(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.activity import signal_sessions

    return await signal_sessions(
        await ctx.postgres(),
        [int(pid) for pid in parameters.get("pids", [])],
        "terminate",
        confirm=confirm,
        readonly=ctx.readonly,
    )


async def _cancel(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.activity import signal_sessions

    return await signal_sessions(
        await ctx.postgres(),
        [int(pid) for pid in parameters.get("pids", [])],
        "cancel",
        confirm=confirm,
        readonly=ctx.readonly,
    )


async def _redis_memory(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.redis_inspect import set_memory

    maxmemory = parameters.get("maxmemory")
    policy = parameters.get("policy")
    settings = {}
    if maxmemory is not None:
        settings["maxmemory"] = _size(int(maxmemory))
    if policy is not None:
        settings["maxmemory-policy"] = str(policy)
    return await set_memory(
        await ctx.redis(),
        maxmemory=None if maxmemory is None else int(maxmemory),
        policy=None if policy is None else str(policy),
        confirm=confirm,
        readonly=ctx.readonly,
        profile_yaml=redis_profile_yaml(ctx, settings),
    )


async def _latency_monitor(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.redis_inspect import enable_latency_monitor

    threshold = int(parameters.get("threshold_ms", 100))
    return await enable_latency_monitor(
        await ctx.redis(),
        threshold_ms=threshold,
        confirm=confirm,
        readonly=ctx.readonly,
        profile_yaml=redis_profile_yaml(ctx, {"latency-monitor-threshold": str(threshold)}),
    )


async def _enable_statements(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.statements import enable_statements

    return await enable_statements(await ctx.postgres(), confirm=confirm, readonly=ctx.readonly)


async def _drop_slot(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.replication_actions import drop_slot

    slot = str(parameters.get("slot") or "")
    if not slot:
        raise ActionRefused("name the replication slot to drop")
    return await drop_slot(await ctx.postgres(), slot, confirm=confirm, readonly=ctx.readonly)


async def _resume_replay(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.backends.capabilities import InstanceAddressing, require
    from alfred_tui.databases.postgres import PostgresClient, PostgresTarget
    from alfred_tui.databases.replication_actions import resume_replay

    instance = str(parameters.get("instance") or "")
    endpoints = await require(ctx.backend, "postgres", InstanceAddressing).instance_endpoints(
        "postgres"
    )
    if instance not in endpoints:
        known = ", ".join(endpoints) or "none"
        raise ActionRefused(f"no running PostgreSQL instance '{instance}' (instances: {known})")
    assert ctx.profile.postgres is not None
    target = PostgresTarget.from_profile(ctx.profile.postgres, endpoints[instance])
    async with PostgresClient(target, connect_timeout=ctx.timeout) as client:
        return await resume_replay(client, instance, confirm=confirm, readonly=ctx.readonly)


async def _resize(
    ctx: TroubleshootContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    """Resize a service to the limits a runbook suggested (the engine's own resize)."""
    from dataclasses import replace

    from alfred_tui.backends.capabilities import Resizable, require
    from alfred_tui.database_actions import ReadOnlyRefused
    from alfred_tui.units import format_bytes

    service = parameters.get("service")
    if service not in ("postgres", "redis", "qdrant"):
        raise ActionRefused("name the service to resize")
    if ctx.readonly:
        raise ReadOnlyRefused(f"resize {service}")
    cpus = parameters.get("cpus")
    memory = parameters.get("memory")
    resizer = require(ctx.backend, service, Resizable)
    status, _ = await ctx.status(service)
    old = status.limits if status is not None else None
    parts = []
    if cpus is not None:
        before = f"{old.cpus:g}" if old is not None and old.cpus else "no limit"
        parts.append(f"CPU limit from {before} to {float(cpus):g}")
    if memory is not None:
        before = format_bytes(old.memory) if old is not None and old.memory else "no limit"
        parts.append(f"memory limit from {before} to {format_bytes(int(memory))}")
    outcome = ActionOutcome(
        action="resize",
        service=service,
        applied=False,
        summary=f"Resize every instance of {service}: " + ", ".join(parts) + ".",
        steps=(
            f"resize {service}"
            + (f" --cpus {float(cpus):g}" if cpus is not None else "")
            + (f" --memory {int(memory)}" if memory is not None else ""),
        ),
        previous={
            "cpus": old.cpus if old is not None else None,
            "memory": old.memory if old is not None else None,
        },
        undo="resize back to the previous limits (above)",
    )
    if not confirm:
        return outcome
    from alfred_tui.database_actions import record

    journal = record(outcome, service)
    await resizer.resize(
        service,
        None if cpus is None else float(cpus),
        None if memory is None else int(memory),
    )
    return replace(outcome, applied=True, results=(f"{service} resized",), journal=journal)


Action = Callable[[TroubleshootContext, bool, dict[str, Any]], Awaitable[ActionOutcome]]

ACTIONS: dict[str, Action] = {
    "terminate": _terminate,
    "cancel": _cancel,
    "redis-memory": _redis_memory,
    "latency-monitor": _latency_monitor,
    "enable-pg-stat-statements": _enable_statements,
    "drop-slot": _drop_slot,
    "resume-replay": _resume_replay,
    "resize": _resize,
}


async def perform(
    ctx: TroubleshootContext,
    action: str,
    parameters: dict[str, Any] | None = None,
    *,
    confirm: bool,
) -> ActionOutcome:
    """Plan (``confirm=False``) or apply (``confirm=True``) the action named ``action``."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise ActionRefused(
            f"'{action}' is not something alfred-tui can apply (known: {', '.join(ACTIONS)})"
        )
    if not confirm:
        return await handler(ctx, confirm, dict(parameters or {}))
    from alfred_tui.operator_journal import journaled

    # The plan the operator confirmed is what the applied outcome says it did
    # (summary and exact statements): no second planning round trip for the journal.
    service = _service(action, parameters or {})
    with journaled(
        action, profile=ctx.profile.name, backend=ctx.backend.name, service=service
    ) as journal:
        outcome = await handler(ctx, confirm, dict(parameters or {}))
        journal.planned((outcome.summary, *outcome.steps))
        journal.succeeded("; ".join(outcome.results) or outcome.summary)
    return outcome


def _service(action: str, parameters: dict[str, Any]) -> str:
    """The service a remedy acts on (for the operator journal); a resize names its own."""
    if action == "resize":
        return str(parameters.get("service") or "")
    return "redis" if action in ("redis-memory", "latency-monitor") else "postgres"
