"""Remedies and session signals as the UI's dialogs show them.

A runbook's :class:`~alfred_tui.troubleshoot.model.Remedy` either names an
action alfred-tui can apply (terminate, CONFIG SET, create an extension,
EXPLAIN) or is advice done by hand (a pooler, an index, more memory). For
the first kind the pane asks the action for its plan
(:func:`~alfred_tui.troubleshoot.remedies.perform` with ``confirm=False``),
shows it with :func:`outcome_plan`, and applies it only after a yes; the
notification afterwards is :func:`outcome_message`. Values a person types
(a maxmemory, a latency threshold) are checked here, with the field named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alfred_tui.control.deployment_actions import ActionPlan, InvalidInput
from alfred_tui.units import format_bytes, parse_bytes

if TYPE_CHECKING:
    from alfred_tui.database_actions import ActionOutcome
    from alfred_tui.troubleshoot.model import Remedy

#: Actions the Troubleshoot pane can apply (the rest of a runbook's remedies are advice).
APPLICABLE = frozenset(
    {
        "terminate",
        "cancel",
        "redis-memory",
        "latency-monitor",
        "enable-pg-stat-statements",
        "explain",
        "drop-slot",
        "resume-replay",
        "resize",
    }
)

#: Steps listed in a confirmation; the rest are counted.
MAX_STEPS = 6

#: Actions whose values the operator may change before the plan is made.
EDITABLE = frozenset({"redis-memory", "latency-monitor"})

REDIS_POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)

_CONFIRM_WORDS = {
    "terminate": "Terminate",
    "cancel": "Cancel query",
    "redis-memory": "Apply",
    "latency-monitor": "Apply",
    "enable-pg-stat-statements": "Enable",
    "drop-slot": "Drop the slot",
    "resume-replay": "Resume replay",
    "resize": "Resize",
}


def applicable(remedy: Remedy) -> bool:
    """Whether alfred-tui can apply ``remedy`` from the pane."""
    return remedy.action in APPLICABLE


def needs_sessions(remedy: Remedy) -> bool:
    """A terminate/cancel remedy that leaves the choice of sessions to the operator."""
    return remedy.action in ("terminate", "cancel") and not remedy.parameters.get("pids")


def outcome_plan(outcome: ActionOutcome, title: str) -> ActionPlan:
    """What the confirmation dialog says about a planned action: all of it, in order."""
    lines = [outcome.summary]
    if outcome.steps:
        lines.append("It runs:")
        lines += [f"  {step}" for step in outcome.steps[:MAX_STEPS]]
        if len(outcome.steps) > MAX_STEPS:
            lines.append(f"  … and {len(outcome.steps) - MAX_STEPS} more of the same")
    lines += [f"Note: {line}" for line in outcome.results]  # sessions refused, and why
    if outcome.restart_needed:
        lines.append("A restart of the service is needed before it takes effect.")
    if outcome.undo:
        lines.append(f"Undo: {outcome.undo}")
    if outcome.previous:
        lines.append("A safety copy of what is there now goes to the journal first.")
    if outcome.profile_yaml:
        lines.append("It is lost at the next restart unless the profile says so:")
        lines += [f"  {line}" for line in outcome.profile_yaml.rstrip().splitlines()]
    return ActionPlan(
        title=title,
        lines=tuple(lines),
        confirm=_CONFIRM_WORDS.get(outcome.action, "Apply"),
        destructive=outcome.destructive,
    )


def outcome_message(outcome: ActionOutcome) -> str:
    """The notification after an action: what happened to each target, where the copy is."""
    lines = list(outcome.results) or [outcome.summary]
    if outcome.restart_needed:
        lines.append("Restart the service for it to take effect.")
    if outcome.profile_yaml:
        lines.append("To keep it across restarts, write in the profile:")
        lines += [f"  {line}" for line in outcome.profile_yaml.rstrip().splitlines()]
    if outcome.journal:
        lines.append(f"Safety copy: {outcome.journal}")
    return "\n".join(lines)


def analyze_plan(statement: str, statement_timeout: float, readonly: bool) -> ActionPlan:
    """The confirmation for EXPLAIN ANALYZE, which runs the statement for real."""
    from alfred_tui.databases.activity import scrub_query

    lines = [
        "Run this statement for real to measure it: it takes as long and takes the locks it "
        "takes; writes are rolled back at the end, sequences are not; it is stopped after "
        f"{statement_timeout:g} s.",
        "It runs:",
        f"  EXPLAIN (ANALYZE, BUFFERS) {scrub_query(statement, 200)}",
    ]
    if readonly:
        lines.append("Read-only session: it runs in a read-only transaction, so writes fail.")
    return ActionPlan("Run EXPLAIN ANALYZE", tuple(lines), "Run it", destructive=True)


def parse_maxmemory(text: str) -> int | None:
    """A maxmemory typed by a person (``2gb``, ``512M``, ``0`` for no limit); empty: unchanged."""
    value = text.strip()
    if not value:
        return None
    try:
        size = parse_bytes(value)
    except ValueError as exc:
        raise InvalidInput(f"maxmemory: {exc}") from None
    if 0 < size < 1024 * 1024:
        raise InvalidInput(
            f"maxmemory: {format_bytes(size)} is too small for Redis to work (1 MiB at least)"
        )
    return size


def parse_threshold_ms(text: str) -> int:
    """A latency-monitor threshold in milliseconds (0 switches the monitor off)."""
    value = text.strip()
    if not value:
        raise InvalidInput("threshold: enter a whole number of milliseconds")
    try:
        threshold = int(value)
    except ValueError:
        raise InvalidInput(f"threshold: '{value}' is not a whole number of milliseconds") from None
    if not 0 <= threshold <= 60_000:
        raise InvalidInput(f"threshold: {threshold} is out of range (0 to 60000 ms)")
    return threshold


def memory_parameters(maxmemory: str, policy: str | None) -> dict[str, Any]:
    """The redis-memory action's parameters from the dialog's fields (one at least)."""
    parameters: dict[str, Any] = {}
    size = parse_maxmemory(maxmemory)
    if size is not None:
        parameters["maxmemory"] = size
    if policy:
        if policy not in REDIS_POLICIES:
            raise InvalidInput(f"policy: '{policy}' is not a Redis maxmemory-policy")
        parameters["policy"] = policy
    if not parameters:
        raise InvalidInput("maxmemory: enter a size, or choose a policy")
    return parameters


def maxmemory_text(value: object) -> str:
    """A byte count as the dialog pre-fills it: ``256mb``."""
    if not isinstance(value, int) or value <= 0:
        return ""
    from alfred_tui.units import format_docker_size

    text = format_docker_size(value).lower()
    return text if text[-1].isdigit() else text + "b"
