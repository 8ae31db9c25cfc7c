"""Guided failover: promote the most advanced replica when the primary is gone.

One procedure for ``alfred-tui failover`` and the Overview's action, on any
engine that implements :class:`~alfred_tui.backends.capabilities.PrimaryFailover`
and can reach each instance:

1. **Is the primary really down?** Its instance is not running, or its
   database does not answer. A primary that answers is refused unless the
   operator asks for a planned switchover (``force``): then it is stopped
   first, cleanly, so that its last writes reach the replicas.
2. **Which replica?** The one that received the most (PostgreSQL: the
   furthest received WAL position, which it replays before it opens for
   writes; Redis: the furthest replication offset), or the one asked for.
3. **The plan**, in words, to confirm. Then: fence the old primary (the
   engine keeps it stopped for good, data kept), promote the replica
   (``pg_promote()``, ``REPLICAOF NO ONE`` and ``SAVE``), have the engine
   point the service's endpoint and name at it, and check that every other
   replica follows it (a replica that cannot is named, with the re-clone
   that fixes it).
4. **The record**: what was done, step by step with times, appended to
   ``failovers.jsonl`` in the state dir.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alfred_tui import paths
from alfred_tui.backends.base import Backend, ProgressCallback, no_progress
from alfred_tui.backends.base import Progress as EngineProgress
from alfred_tui.backends.capabilities import (
    InstanceAddressing,
    PrimaryFailover,
    require,
)
from alfred_tui.checks.instances import REPLICATED, InstanceProbe, read_view, read_views
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError, UsageError

#: Seconds the other replicas get to stream from the new primary before they are reported.
FOLLOW_TIMEOUT = 90.0
#: Seconds to read one instance while planning.
READ_TIMEOUT = 3.0


class FailoverRefused(AlfredError):
    """The failover cannot or must not go ahead (the primary answers, no replica...)."""

    title = "Failover refused"


@dataclass(frozen=True)
class Candidate:
    """A replica that could become the primary."""

    instance: str
    position: int
    """Received WAL position (PostgreSQL) or replication offset (Redis)."""
    shown: str
    """The position as the database writes it (``0/5A3F1C8``, an offset)."""


@dataclass(frozen=True)
class FailoverPlan:
    """What a failover will do, decided from live readings."""

    service: ServiceKind
    old_primary: str | None
    why: str
    """Why the old primary counts as down (or that it answers and will be stopped)."""
    new_primary: Candidate
    others: tuple[str, ...]
    """The other replicas, which must follow the new primary."""
    unreadable: tuple[str, ...]
    """Replicas that did not answer: they cannot be repointed and will need a re-clone."""
    force: bool
    lines: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The confirmation's title."""
        return f"Fail {self.service} over to {self.new_primary.instance}"

    def to_json(self) -> dict[str, Any]:
        """Plain data for the record and ``--output json``."""
        return {
            "service": self.service,
            "old_primary": self.old_primary,
            "why": self.why,
            "new_primary": self.new_primary.instance,
            "position": self.new_primary.shown,
            "others": list(self.others),
            "unreadable": list(self.unreadable),
            "force": self.force,
            "plan": list(self.lines),
            "warnings": list(self.warnings),
        }


@dataclass
class FailoverOutcome:
    """What a failover did, step by step."""

    plan: FailoverPlan
    steps: list[dict[str, Any]] = field(default_factory=list)
    following: list[str] = field(default_factory=list)
    not_following: dict[str, str] = field(default_factory=dict)
    """Replicas that do not follow the new primary, and why."""
    record: str = ""
    """Where the record was written."""

    def done(self, step: str, detail: str) -> None:
        """Note a finished step."""
        self.steps.append({"at": _now(), "step": step, "detail": detail})

    def summary(self) -> str:
        """One paragraph for the operator."""
        plan = self.plan
        text = f"{plan.service} failed over to {plan.new_primary.instance}"
        if self.following:
            text += f"; {', '.join(self.following)} follow it"
        if self.not_following:
            names = ", ".join(self.not_following)
            text += (
                f"; {names} do(es) not follow it: re-clone with "
                f"`alfred-tui reclone {plan.service} <instance>`"
            )
        if plan.old_primary:
            text += (
                f"; the old primary {plan.old_primary} is fenced (kept stopped, data kept): "
                f"re-clone it as a replica with `alfred-tui reclone {plan.service} "
                f"{plan.old_primary}`"
            )
        return text

    def to_json(self) -> dict[str, Any]:
        """Plain data for the record."""
        return {
            **self.plan.to_json(),
            "steps": self.steps,
            "following": self.following,
            "not_following": self.not_following,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _read(kind: ServiceKind, backend: Backend, endpoint: Any) -> Any:
    """One instance's replication view, or the one-line reason it could not be read."""
    return await read_view(kind, backend.profile, endpoint, READ_TIMEOUT)


def _position(kind: ServiceKind, view: Any) -> tuple[int, str]:
    if kind == "postgres":
        received = view.received or 0
        return received, view.receive_lsn or view.replay_lsn or "?"
    return view.offset, str(view.offset)


async def plan_failover(
    backend: Backend, service: ServiceKind, to: str | None = None, force: bool = False
) -> FailoverPlan:
    """Read the deployment and decide (see the module); raises :class:`FailoverRefused`."""
    if service not in REPLICATED:
        raise UsageError(f"failover applies to postgres and redis, not {service}")
    engine = require(backend, service, PrimaryFailover)
    addressing = require(backend, service, InstanceAddressing)
    statuses = {s.service: s for s in await backend.status()}
    status = statuses.get(service)
    if status is None or not status.instances:
        raise FailoverRefused(f"{service} is not deployed; nothing to fail over")
    endpoints = await addressing.instance_endpoints(service)
    views = await read_views(service, backend.profile, endpoints, READ_TIMEOUT)
    labelled = next((i for i in status.instances if i.role == "primary"), None)
    speaking = [n for n, v in views.items() if not isinstance(v, str) and v_is_primary(service, v)]
    old = labelled.name if labelled is not None else (speaking[0] if speaking else None)
    why, answers = _primary_state(old, status, views)
    if answers and not force:
        raise FailoverRefused(
            f"the primary {old} answers ({why}): failing over now would leave two primaries. "
            "For a planned switchover, add --force: the primary is stopped first"
        )
    replicas = {
        name: view
        for name, view in views.items()
        if name != old and not isinstance(view, str) and not v_is_primary(service, view)
    }
    unreadable = tuple(sorted(n for n, v in views.items() if n != old and isinstance(v, str)))
    if not replicas:
        raise FailoverRefused(
            f"no replica of {service} answers"
            + (f" ({'; '.join(f'{n}: {views[n]}' for n in unreadable)})" if unreadable else "")
            + ": there is nothing to promote"
        )
    candidates = sorted(
        (Candidate(name, *_position(service, view)) for name, view in replicas.items()),
        key=lambda c: (-c.position, c.instance),
    )
    warnings: list[str] = []
    if to is not None:
        chosen = next((c for c in candidates if c.instance == to), None)
        if chosen is None:
            names = ", ".join(c.instance for c in candidates)
            raise UsageError(f"--to {to}: not a replica that answers (candidates: {names})")
        ahead = [c.instance for c in candidates if c.position > chosen.position]
        if ahead:
            warnings.append(
                f"{', '.join(ahead)} received more than {to}: they cannot follow it and will "
                f"need a re-clone (`alfred-tui reclone {service} ...`)"
            )
    else:
        chosen = candidates[0]
    if len(speaking) > 1:
        warnings.append(f"more than one instance says it is a primary: {', '.join(speaking)}")
    others = tuple(c.instance for c in candidates if c.instance != chosen.instance)
    lines = _lines(service, old, why, answers, chosen, candidates, others, unreadable)
    lines[2:2] = await engine.failover_plan(service, old or "", chosen.instance)
    return FailoverPlan(
        service, old, why, chosen, others, unreadable, force, tuple(lines), tuple(warnings)
    )


def v_is_primary(kind: ServiceKind, view: Any) -> bool:
    """Whether a server's replication view says it is the primary."""
    return not view.in_recovery if kind == "postgres" else not view.is_replica


def _primary_state(old: str | None, status: Any, views: dict[str, Any]) -> tuple[str, bool]:
    """Why the old primary is down, and whether it answers after all."""
    if old is None:
        return "no instance is labelled or answers as the primary", False
    instance = next((i for i in status.instances if i.name == old), None)
    if instance is None or instance.state != "running":
        state = "gone" if instance is None else instance.state
        detail = f" ({instance.detail})" if instance is not None and instance.detail else ""
        return f"{old} is {state}{detail}", False
    view = views.get(old)
    if view is None or isinstance(view, str):
        return f"{old} runs but its database does not answer: {view or 'unreachable'}", False
    return f"{old} runs and its database answers", True


def _lines(
    service: ServiceKind,
    old: str | None,
    why: str,
    answers: bool,
    chosen: Candidate,
    candidates: list[Candidate],
    others: tuple[str, ...],
    unreadable: tuple[str, ...],
) -> list[str]:
    unit = "received WAL up to" if service == "postgres" else "replication offset"
    ranking = ", ".join(f"{c.instance} {c.shown}" for c in candidates)
    lines = [
        f"primary: {why}" + (" - it will be stopped first (planned switchover)" if answers else ""),
        f"promote {chosen.instance} ({unit} {chosen.shown}; replicas: {ranking})"
        + (
            ": SELECT pg_promote(true, 60)"
            if service == "postgres"
            else ": REPLICAOF NO ONE, then SAVE (its data survives a restart)"
        ),
    ]
    if others:
        lines.append(
            f"check that {', '.join(others)} follow the new primary within {FOLLOW_TIMEOUT:g} s"
        )
    if unreadable:
        lines.append(f"{', '.join(unreadable)} do not answer: re-clone them afterwards")
    lines.append(f"record every step in {record_path()}")
    if old:
        lines.append(
            f"afterwards, re-clone the old primary as a replica: alfred-tui reclone {service} {old}"
        )
    return lines


def record_path() -> Any:
    """The operator's record of failovers (JSON lines, newest last)."""
    return paths.state_dir() / "failovers.jsonl"


def write_record(outcome: FailoverOutcome) -> str:
    """Append ``outcome`` to the record (owner-only file); where it went."""
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a") as record:
        record.write(json.dumps({"recorded_at": _now(), **outcome.to_json()}) + "\n")
    return str(path)


Step = Callable[[str], None]


async def execute_failover(
    backend: Backend,
    plan: FailoverPlan,
    progress: ProgressCallback = no_progress,
    follow_timeout: float = FOLLOW_TIMEOUT,
) -> FailoverOutcome:
    """Carry ``plan`` out (see the module); the outcome is recorded even when a step fails.

    The other replicas get ``follow_timeout`` seconds to stream from the new
    primary; those that do not are named in the outcome (re-clone them).
    """
    service = plan.service
    engine = require(backend, service, PrimaryFailover)
    addressing = require(backend, service, InstanceAddressing)
    outcome = FailoverOutcome(plan)

    def report(step: str) -> None:
        progress(EngineProgress(step, service=service))

    try:
        if plan.old_primary:
            report(f"fence {plan.old_primary}")
            outcome.done("fence", await engine.fence(service, plan.old_primary, progress))
        new = plan.new_primary.instance
        endpoints = await addressing.instance_endpoints(service)
        report(f"promote {new}")
        await _promote(backend, service, endpoints[new])
        outcome.done("promote", f"{new} promoted at {plan.new_primary.shown}")
        report(f"point {service}'s endpoint at {new}")
        outcome.done("make_primary", await engine.make_primary(service, new, progress))
        await _wait_writable(backend, service, report)
        outcome.done("writable", f"{service}'s endpoint accepts writes")
        if plan.others:
            report(f"wait for {', '.join(plan.others)} to follow {new}")
            following, failing = await _wait_following(
                backend, service, new, plan.others, follow_timeout
            )
            outcome.following, outcome.not_following = following, failing
            outcome.done(
                "follow",
                f"following: {', '.join(following) or 'none'}; not following: "
                + (", ".join(f"{n} ({why})" for n, why in failing.items()) or "none"),
            )
    except Exception as exc:
        outcome.done("failed", str(exc) if isinstance(exc, AlfredError) else repr(exc))
        outcome.record = write_record(outcome)
        raise
    outcome.record = write_record(outcome)
    return outcome


async def _promote(backend: Backend, service: ServiceKind, endpoint: Any) -> None:
    probe = InstanceProbe(service, backend.profile, endpoint, 10.0)
    try:
        if service == "postgres":
            from alfred_tui.databases.pg_replication import promote

            await promote(probe.client)
        else:
            from alfred_tui.databases.redis_replication import promote as promote_redis

            await promote_redis(probe.client)
    finally:
        await probe.close()


async def _wait_writable(backend: Backend, service: ServiceKind, report: Step) -> None:
    """Until the profile's endpoint reaches a primary (the engine just moved it)."""
    deadline = time.monotonic() + 120
    last = ""
    while time.monotonic() < deadline:
        endpoint = await backend.endpoint(service)
        view = await _read(service, backend, endpoint)
        if not isinstance(view, str) and v_is_primary(service, view):
            return
        last = view if isinstance(view, str) else "it still reaches a replica"
        report(f"wait for {endpoint.address()} to accept writes ({last})")
        await asyncio.sleep(1.0)
    raise FailoverRefused(f"the endpoint of {service} does not reach a primary after 120 s: {last}")


async def _wait_following(
    backend: Backend,
    service: ServiceKind,
    new: str,
    others: tuple[str, ...],
    timeout: float,
) -> tuple[list[str], dict[str, str]]:
    """Which of ``others`` stream from ``new`` within ``timeout`` seconds, and why not."""
    from alfred_tui.checks.instances import compose

    addressing = require(backend, service, InstanceAddressing)
    deadline = time.monotonic() + timeout
    pending = set(others)
    reasons: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        endpoints = await addressing.instance_endpoints(service)
        views = {
            name: await _read(service, backend, endpoints[name])
            for name in [new, *sorted(pending)]
            if name in endpoints
        }
        rows = compose(service, views)
        streaming = [n for n in pending if rows.get(n) and rows[n].state == "streaming"]
        listed = _listed(service, views.get(new))
        for name in list(pending):
            row = rows.get(name)
            if row is None:
                reasons[name] = "not running"
            elif name in streaming and (service == "redis" or listed >= len(streaming)):
                pending.discard(name)
                reasons.pop(name, None)
            else:
                reasons[name] = row.reason or row.state
        if pending:
            await asyncio.sleep(2.0)
    return sorted(set(others) - pending), {name: reasons.get(name, "?") for name in pending}


def _listed(service: ServiceKind, primary_view: Any) -> int:
    """How many replicas the new primary lists as connected to it."""
    if primary_view is None or isinstance(primary_view, str):
        return 0
    return len(primary_view.standbys) if service == "postgres" else len(primary_view.replicas)
