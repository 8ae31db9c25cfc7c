"""Runbook: replica lagging or broken (PostgreSQL standbys, Redis replicas).

Symptom: reads on a replica return stale data, or a replica stopped
following its primary; the primary keeps WAL for a standby that went away
until its disk fills. Causes: a replica that is frozen, cut off or
overloaded (its replay cannot keep up, or its queries hold replay back), a
WAL position the primary no longer has (the replica must be re-cloned), an
abandoned replication slot, a primary that is down (fail over), a paused
replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alfred_tui.backends.base import InstanceStatus
from alfred_tui.backends.capabilities import InstanceAddressing, PrimaryFailover, capable
from alfred_tui.checks.instances import InstanceReplication, compose, read_views
from alfred_tui.config.models import ServiceKind
from alfred_tui.databases.failures import DatabaseUnavailable
from alfred_tui.metrics import Verdict, judge
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import Detection, Evidence, Remedy, RunbookInfo, Table
from alfred_tui.troubleshoot.runbook import SERVICE_NAMES, Runbook, metric_evidence
from alfred_tui.units import format_bytes, format_duration

#: A slot no standby uses that keeps more WAL than this is flagged (and offered to drop):
#: the profile's postgres_replication_lag_bytes alert, else one default max_wal_size.
SLOT_RETAINED_DEFAULT = 1024**3


@dataclass(frozen=True)
class ReplicaFacts:
    """What the runbook read."""

    endpoint_view: Any | None
    """Replication as the profile's endpoint sees it (the primary, normally)."""
    endpoint_error: str = ""
    """Why the endpoint did not answer (the primary is down)."""
    rows: dict[str, InstanceReplication] = field(default_factory=dict)
    instances: tuple[InstanceStatus, ...] = ()
    fenced: tuple[str, ...] = ()
    reclone_plans: dict[str, list[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def replicas(self) -> dict[str, InstanceReplication]:
        """Rows of the instances that are not primaries."""
        return {n: r for n, r in self.rows.items() if r.state != "primary"}

    def stopped_replicas(self) -> list[InstanceStatus]:
        """Replica instances the engine lists that do not run."""
        return [i for i in self.instances if i.role == "replica" and i.state != "running"]


def _lag_text(row: InstanceReplication) -> str:
    parts = []
    if row.lag_seconds is not None:
        parts.append(format_duration(row.lag_seconds))
    if row.lag_bytes is not None:
        parts.append(format_bytes(row.lag_bytes))
    return ", ".join(parts) or "unknown"


class ReplicaHealth(Runbook):
    """Replicas that lag or do not follow, slots that hold WAL, and the way back."""

    def __init__(self, service: ServiceKind) -> None:
        name = SERVICE_NAMES[service]
        self.kind = service
        what = "standby" if service == "postgres" else "replica"
        self.info = RunbookInfo(
            name=f"{service}-replicas",
            service=service,
            title=f"{name} replica lagging or broken",
            symptoms=(
                f"Reads on a {what} return old data; a {what} shows 'not streaming' or 'not "
                "answering' on the Overview; the primary's disk fills with WAL."
            ),
            why=(
                f"A {what} that falls behind serves stale reads, and one that stopped "
                "following is no failover target. "
                + (
                    "A standby further behind than the WAL the primary still keeps can never "
                    "catch up (re-clone it); a slot nobody uses keeps WAL forever."
                    if service == "postgres"
                    else "A replica further behind than the master's backlog needs a full "
                    "resynchronisation, and a master disconnects a replica whose output "
                    "buffer grows past its limit."
                )
            ),
            detects=(
                "Each instance read on its own (does it stream, from where, how far behind: "
                "from the primary's side, which keeps counting while a replica is frozen), "
                f"the profile's {service}_replication_lag thresholds"
                + (
                    ", inactive replication slots and the WAL they keep"
                    if service == "postgres"
                    else ", the master's links to its replicas"
                )
                + ", replica instances the engine reports stopped, fenced old primaries."
            ),
        )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> ReplicaFacts:
        kind = self.kind
        endpoint_view: Any = None
        endpoint_error = ""
        read_at: tuple[str, int] | None = None
        try:
            client = await (ctx.postgres() if kind == "postgres" else ctx.redis())
            endpoint_view = await client.replication()
            read_at = (client.target.host, client.target.port)
        except DatabaseUnavailable as exc:
            endpoint_error = exc.reason
        backend = ctx.backend
        rows: dict[str, InstanceReplication] = {}
        notes: list[str] = []
        addressing = capable(backend, kind, InstanceAddressing)
        if addressing is not None:
            endpoints = await addressing.instance_endpoints(kind)
            # An instance served at the service's own address (one process, as on the
            # local backend) was read just above: not again, on a connection of its own.
            others = {n: e for n, e in endpoints.items() if (e.host, e.port) != read_at}
            read = await read_views(kind, ctx.profile, others, min(ctx.timeout, 3.0))
            views = {name: read.get(name, endpoint_view) for name in endpoints}
            rows = compose(kind, views)
        else:
            notes.append(
                f"the {backend.name} backend cannot reach each instance: replicas are judged "
                "from the primary's side only"
            )
        status, why_not = await ctx.status(kind)
        if status is None:
            notes.append(why_not)
        engine = capable(backend, kind, PrimaryFailover)
        fenced: list[str] = []
        plans: dict[str, list[str]] = {}
        if engine is not None:
            fenced = await engine.fenced_instances(kind)
            if full:
                broken = [n for n, r in rows.items() if r.state != "primary" and not r.healthy]
                for name in [*broken, *fenced]:
                    plans[name] = await engine.reclone_plan(kind, name)
        return ReplicaFacts(
            endpoint_view,
            endpoint_error,
            rows,
            status.instances if status is not None else (),
            tuple(fenced),
            plans,
            tuple(notes),
        )

    def notes(self, facts: ReplicaFacts) -> tuple[str, ...]:
        return facts.notes

    def _slot_limit(self, ctx: TroubleshootContext) -> float:
        threshold = ctx.threshold("postgres_replication_lag_bytes")
        if threshold is not None and threshold.alert.above is not None:
            return threshold.alert.above
        return SLOT_RETAINED_DEFAULT

    def _abandoned_slots(self, facts: ReplicaFacts, ctx: TroubleshootContext) -> list[Any]:
        view = facts.endpoint_view
        if self.kind != "postgres" or view is None:
            return []
        limit = self._slot_limit(ctx)
        return [s for s in view.slots if not s.active and (s.retained_bytes or 0) > limit]

    def judge(self, facts: ReplicaFacts, ctx: TroubleshootContext) -> Detection:
        kind = self.kind
        if facts.endpoint_error and not facts.replicas():
            # Nothing to fail over to and nothing else to read: as every runbook says of a
            # service that does not answer.
            return self.unavailable(facts.endpoint_error)
        evidence: list[Evidence] = []
        if facts.endpoint_error:
            evidence.append(
                Evidence(
                    "primary",
                    "does not answer",
                    Verdict.CRITICAL,
                    f"{facts.endpoint_error}; replicas cannot follow it: fail over",
                )
            )
        view = facts.endpoint_view
        if view is not None and getattr(view, "in_recovery", None) is True:
            evidence.append(
                Evidence("endpoint", "reaches a standby", Verdict.WARNING, "writes will fail")
            )
        for name, row in sorted(facts.replicas().items()):
            if not row.healthy:
                evidence.append(
                    Evidence(
                        f"{name}",
                        row.state,
                        Verdict.CRITICAL,
                        row.reason + (f"; {_lag_text(row)} behind" if row.lag_bytes else ""),
                    )
                )
                continue
            metric = f"{kind}_replication_lag_bytes"
            if row.lag_bytes is not None:
                evidence.append(
                    metric_evidence(
                        ctx, metric, f"{name} behind", row.lag_bytes, format_bytes(row.lag_bytes)
                    )
                )
            if kind == "postgres" and row.lag_seconds is not None:
                evidence.append(
                    metric_evidence(
                        ctx,
                        "postgres_replication_lag_seconds",
                        f"{name} lag",
                        row.lag_seconds,
                        format_duration(row.lag_seconds),
                    )
                )
        if not facts.rows and view is not None:
            evidence += self._from_endpoint(view, ctx)
        for instance in facts.stopped_replicas():
            if instance.name not in facts.rows:
                evidence.append(
                    Evidence(
                        instance.name,
                        instance.state,
                        Verdict.WARNING,
                        instance.detail or "the engine reports it is not running",
                    )
                )
        for slot in self._abandoned_slots(facts, ctx):
            evidence.append(
                Evidence(
                    f"slot {slot.name}",
                    f"inactive, keeps {format_bytes(slot.retained_bytes or 0)} of WAL",
                    Verdict.WARNING,
                    f"more than {format_bytes(self._slot_limit(ctx))}; the disk fills until "
                    "it is dropped or its standby returns",
                )
            )
        for name in facts.fenced:
            evidence.append(
                Evidence(
                    name,
                    "fenced old primary",
                    Verdict.WARNING,
                    "stopped for good since a failover; re-clone it to have a replica again",
                )
            )
        count = len(facts.replicas())
        healthy = (
            f"{count} replica(s) streaming within the profile's thresholds"
            if count
            else "no replicas: nothing to watch"
        )
        return Detection.from_evidence(evidence, healthy)

    def _from_endpoint(self, view: Any, ctx: TroubleshootContext) -> list[Evidence]:
        """Judgement from the primary's side alone (an engine that cannot reach each one)."""
        found = []
        if self.kind == "postgres":
            for standby in view.standbys:
                seconds = standby.lag_seconds or 0.0
                verdict = judge(seconds, ctx.threshold("postgres_replication_lag_seconds"))
                found.append(
                    Evidence(
                        standby.name or standby.client,
                        standby.state,
                        verdict,
                        f"{format_duration(seconds)} behind",
                    )
                )
        else:
            for link in view.replicas:
                verdict = judge(float(link.lag_bytes or 0), ctx.threshold(
                    "redis_replication_lag_bytes"))  # fmt: skip
                found.append(Evidence(link.address, link.state, verdict,
                                      f"{format_bytes(link.lag_bytes or 0)} behind"))  # fmt: skip
        return found

    def tables(self, facts: ReplicaFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        rows = tuple(
            (
                name,
                row.role or "-",
                row.state,
                "-" if row.state == "primary" else _lag_text(row),
                row.upstream or "-",
                row.reason or "",
            )
            for name, row in sorted(facts.rows.items())
        )
        tables = [
            Table(
                "Instances",
                "Each instance read on its own: whether it streams, from where, and how far "
                "behind its primary (seconds and bytes, from the primary's side when it lists "
                "the replica).",
                ("Instance", "Role", "State", "Behind", "Streams from", "Why"),
                rows,
                empty="the engine cannot reach each instance",
            )
        ]
        view = facts.endpoint_view
        if self.kind == "postgres" and view is not None:
            tables.append(
                Table(
                    "Standbys, as the primary sees them",
                    "pg_stat_replication: the primary's side of each connection. 'Last reply' "
                    "growing while the standby is behind means it stopped answering.",
                    (
                        "Name",
                        "Client",
                        "State",
                        "Sync",
                        "Replay LSN",
                        "Lag",
                        "Behind",
                        "Last reply",
                    ),
                    tuple(
                        (
                            s.name,
                            s.client,
                            s.state,
                            s.sync_state,
                            s.replay_lsn or "-",
                            format_duration(s.lag_seconds),
                            format_bytes(s.lag_bytes or 0),
                            format_duration(s.reply_age),
                        )
                        for s in view.standbys
                    ),
                    empty="no standby streams from this server",
                )
            )
            tables.append(
                Table(
                    "Replication slots",
                    "A slot keeps every WAL segment its consumer has not confirmed. An "
                    "inactive one keeps them forever.",
                    ("Slot", "Type", "Active", "Keeps WAL", "WAL status"),
                    tuple(
                        (
                            s.name,
                            s.type,
                            "yes" if s.active else "no",
                            format_bytes(s.retained_bytes or 0),
                            s.wal_status or "-",
                        )
                        for s in view.slots
                    ),
                    empty="no replication slots",
                )
            )
        elif view is not None:
            tables.append(
                Table(
                    "Replicas, as the master sees them",
                    "INFO replication on the master: each link's state, its acknowledged "
                    "offset and when it last acknowledged (a replica acknowledges every second).",
                    ("Address", "State", "Behind", "Last ack"),
                    tuple(
                        (
                            link.address,
                            link.state,
                            format_bytes(link.lag_bytes or 0),
                            f"{link.ack_age} s ago",
                        )
                        for link in view.replicas
                    ),
                    empty="no replica follows this master",
                )
            )
        return tuple(tables)

    def remedies(self, facts: ReplicaFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        kind = self.kind
        remedies: list[Remedy] = []
        if facts.endpoint_error:
            remedies.append(
                Remedy(
                    id="failover",
                    title=f"Fail over: promote the most advanced replica of {kind}",
                    what_it_does=(
                        "Checks that the primary is really down, promotes the replica that "
                        "received the most, points the profile's endpoint and the service's "
                        "name at it, and fences the old primary (kept stopped, data kept)."
                    ),
                    cost=(
                        "Writes the old primary took that no replica received are lost with it "
                        "(they stay in its fenced data). Clients reconnect to the new primary."
                    ),
                    command=f"alfred-tui failover {kind}",
                    destructive=True,
                )
            )
        for name, row in sorted(facts.replicas().items()):
            if row.healthy or name not in facts.reclone_plans:
                continue
            remedies.append(self._reclone(name, facts.reclone_plans[name], row.reason))
        for name in facts.fenced:
            if name in facts.reclone_plans:
                remedies.append(
                    self._reclone(name, facts.reclone_plans[name], "fenced old primary")
                )
        for slot in self._abandoned_slots(facts, ctx):
            literal = "'" + slot.name.replace("'", "''") + "'"
            remedies.append(
                Remedy(
                    id=f"drop-slot-{slot.name}",
                    title=f"Drop the abandoned slot {slot.name}",
                    what_it_does=(
                        f"No standby uses slot {slot.name}, which keeps "
                        f"{format_bytes(slot.retained_bytes or 0)} of WAL on the primary's "
                        "disk. Dropped, the server recycles that WAL at its next checkpoint."
                    ),
                    cost=(
                        "The standby or consumer that once used it can no longer resume from "
                        "it: re-clone that standby if it returns."
                    ),
                    steps=(f"SELECT pg_drop_replication_slot({literal})",),
                    command=f"alfred-tui doctor drop-slot {slot.name}",
                    destructive=True,
                    action="drop-slot",
                    parameters={"slot": slot.name},
                )
            )
        for name, row in sorted(facts.replicas().items()):
            if row.view and row.view.get("replay_paused"):
                remedies.append(
                    Remedy(
                        id=f"resume-replay-{name}",
                        title=f"Resume WAL replay on {name}",
                        what_it_does=(
                            f"Replay is paused on {name}: it receives WAL but does not apply "
                            "it, so its data stands still. Resumed, it catches up."
                        ),
                        steps=("SELECT pg_wal_replay_resume()",),
                        command=f"alfred-tui doctor resume-replay {name}",
                        action="resume-replay",
                        parameters={"instance": name},
                    )
                )
        lagging = [n for n, r in facts.replicas().items() if r.healthy and (r.lag_bytes or 0)]
        if lagging:
            remedies.append(
                Remedy(
                    id="replica-capacity",
                    title="Give lagging replicas room to keep up",
                    what_it_does=(
                        "A streaming replica that falls behind is usually short of CPU or "
                        "disk I/O, or its long queries hold replay back"
                        + (
                            " (max_standby_streaming_delay)"
                            if kind == "postgres"
                            else " (its output buffer toward it grows on the master)"
                        )
                        + ". See its CPU and memory on the Overview and in 'instance near its "
                        "limits'; resize it, or move heavy reads elsewhere."
                    ),
                    command=f"alfred-tui status  then  alfred-tui resize {kind} --cpus N",
                )
            )
        return tuple(remedies)

    def _reclone(self, name: str, plan: list[str], why: str) -> Remedy:
        kind = self.kind
        return Remedy(
            id=f"reclone-{name}",
            title=f"Re-clone {name} from the primary",
            what_it_does=(
                f"{name}: {why or 'broken'}. Its data is replaced by a fresh copy of the "
                "primary's, after which it streams again."
            ),
            cost=(
                "Its current data is kept as a safety copy first, then replaced; copying the "
                "primary takes time and I/O on both sides (PostgreSQL: a base backup; Redis: "
                "a full synchronisation)."
            ),
            steps=tuple(plan),
            command=f"alfred-tui reclone {kind} {name}",
            destructive=True,
        )
