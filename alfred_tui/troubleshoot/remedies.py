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

from alfred_tui.actions import ActionOutcome, ActionRefused
from alfred_tui.troubleshoot.context import DoctorContext
from alfred_tui.troubleshoot.profile_yaml import command_yaml, redis_command_with
from alfred_tui.units import format_docker_size


def redis_profile_yaml(ctx: DoctorContext, settings: dict[str, str]) -> str:
    """The profile's Redis command with ``settings`` (``--name value``), as YAML."""
    service = ctx.profile.redis
    if service is None or not settings:
        return ""
    return command_yaml("redis", redis_command_with(service, settings))


def _size(value: int) -> str:
    text = format_docker_size(value).lower()
    return text + "b" if not text[-1].isdigit() else text


async def _terminate(
    ctx: DoctorContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.activity import signal_sessions

    return await signal_sessions(
        await ctx.postgres(),
        [int(pid) for pid in parameters.get("pids", [])],
        "terminate",
        confirm=confirm,
        readonly=ctx.readonly,
    )


async def _cancel(ctx: DoctorContext, confirm: bool, parameters: dict[str, Any]) -> ActionOutcome:
    from alfred_tui.databases.activity import signal_sessions

    return await signal_sessions(
        await ctx.postgres(),
        [int(pid) for pid in parameters.get("pids", [])],
        "cancel",
        confirm=confirm,
        readonly=ctx.readonly,
    )


async def _redis_memory(
    ctx: DoctorContext, confirm: bool, parameters: dict[str, Any]
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
    ctx: DoctorContext, confirm: bool, parameters: dict[str, Any]
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
    ctx: DoctorContext, confirm: bool, parameters: dict[str, Any]
) -> ActionOutcome:
    from alfred_tui.databases.statements import enable_statements

    return await enable_statements(await ctx.postgres(), confirm=confirm, readonly=ctx.readonly)


Action = Callable[[DoctorContext, bool, dict[str, Any]], Awaitable[ActionOutcome]]

ACTIONS: dict[str, Action] = {
    "terminate": _terminate,
    "cancel": _cancel,
    "redis-memory": _redis_memory,
    "latency-monitor": _latency_monitor,
    "enable-pg-stat-statements": _enable_statements,
}


async def perform(
    ctx: DoctorContext, action: str, parameters: dict[str, Any] | None = None, *, confirm: bool
) -> ActionOutcome:
    """Plan (``confirm=False``) or apply (``confirm=True``) the action named ``action``."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise ActionRefused(
            f"'{action}' is not something alfred-tui can apply (known: {', '.join(ACTIONS)})"
        )
    return await handler(ctx, confirm, dict(parameters or {}))
