"""Fixed data for the troubleshooting panes' snapshots: the same picture every run.

Like ``ui_fixed.py``, nothing here talks to a server and nothing here stands
in for an engine in a behaviour test: :class:`FixedTroubleshoot` hands the
real panes frozen sessions, frozen runbook facts and the profile-only audit.
The runbooks shown in full (PostgreSQL connections, Redis memory, PostgreSQL
replicas, Redis limits) are
built by the real runbooks' own ``judge``/``tables``/``remedies`` from
frozen facts, so the snapshots show exactly the words a live run shows.
Behaviour is tested against real servers in test_ui_doctor.py,
test_ui_activity.py and test_ui_audit.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from alfred_tui.audit.model import AuditReport
from alfred_tui.audit.runner import run_audit
from alfred_tui.backends.base import Backend
from alfred_tui.config.loader import LoadedProfile
from alfred_tui.control.troubleshoot_view import ServiceFlag
from alfred_tui.database_actions import ActionOutcome
from alfred_tui.databases.activity import _EFFECT, Activity, Session
from alfred_tui.databases.pg_replication import PostgresReplication, Slot, Standby
from alfred_tui.databases.redis_inspect import MemorySample, PrefixUsage
from alfred_tui.databases.statements import Explanation
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.limits import InstanceLimits, LimitFacts, Peak
from alfred_tui.troubleshoot.model import Detection, Evidence, RunbookInfo, RunbookReport
from alfred_tui.troubleshoot.pg_connections import ConnectionFacts, PostgresConnections
from alfred_tui.troubleshoot.redis_memory import MemoryFacts, RedisMemory
from alfred_tui.troubleshoot.registry import RUNBOOKS
from alfred_tui.troubleshoot.replicas import ReplicaFacts, ReplicaHealth

MIB = 1024 * 1024


def _session(
    pid: int,
    application: str,
    state: str,
    query: str,
    seconds: float,
    *,
    wait: tuple[str, str] = ("", ""),
    blocked_by: tuple[int, ...] = (),
    user: str = "agent",
    client: str = "172.18.0.7:51200",
) -> Session:
    transaction = seconds if state != "idle" else None
    return Session(
        pid=pid,
        user=user,
        database="alfred",
        application=application,
        client=client,
        backend_type="client backend",
        state=state,
        wait_event_type=wait[0],
        wait_event=wait[1],
        query=query,
        backend_seconds=seconds + 3600,
        transaction_seconds=transaction,
        query_seconds=seconds,
        state_seconds=seconds,
        blocked_by=blocked_by,
    )


SESSIONS = (
    _session(
        4120,
        "agent-financial",
        "idle in transaction",
        "UPDATE ledger SET balance = balance - $1 WHERE account_id = $2",
        252.0,
        wait=("Client", "ClientRead"),
    ),
    _session(
        4133,
        "agent-legal",
        "active",
        "UPDATE ledger SET balance = balance + $1 WHERE account_id = $2",
        241.5,
        wait=("Lock", "transactionid"),
        blocked_by=(4120,),
    ),
    _session(
        4140,
        "report-worker",
        "active",
        "SELECT account_id, sum(amount) FROM ledger GROUP BY account_id",
        118.2,
        wait=("Lock", "tuple"),
        blocked_by=(4133, 4120),
    ),
    _session(
        4151,
        "agent-core",
        "active",
        "SELECT d.id, d.title, d.embedding_ref FROM documents d WHERE d.owner = $1",
        3.4,
        wait=("IO", "DataFileRead"),
    ),
    _session(4160, "agent-core", "idle", "COMMIT", 12.0, wait=("Client", "ClientRead")),
    _session(4161, "agent-social", "idle", "SELECT 1", 45.0, wait=("Client", "ClientRead")),
    _session(
        4175,
        "psql",
        "idle in transaction (aborted)",
        "ALTER ROLE agent PASSWORD '********'",
        30.0,
        user="postgres",
        client="local",
    ),
)

ACTIVITY = Activity(
    taken_at=1_747_137_600.0,
    max_connections=100,
    reserved_connections=3,
    server_version_num=150001,
    own_pid=4200,
    sessions=SESSIONS,
)

FLAGS = {
    "postgres": ServiceFlag(
        "postgres",
        "WARNING",
        "postgres-connections",
        "PostgreSQL high connections",
        "idle in transaction: 2 sessions longer than 2.0s (oldest 4m12s, pid 4120)",
    ),
    "redis": ServiceFlag(
        "redis",
        "CRITICAL",
        "redis-memory",
        "Redis memory pressure",
        "used of maxmemory: 2.0 GiB of 2.0 GiB (100%, policy noeviction); refused writes: "
        "12.5/s ('OOM command not allowed')",
    ),
    "qdrant": ServiceFlag(
        "qdrant",
        "OK",
        "qdrant-slow-searches",
        "Qdrant slow searches",
        "4 collection(s) ready, searches take 4.2ms",
    ),
}

_OK_SUMMARIES = {
    "postgres-slow-queries": "no slow queries running or recorded",
    "redis-latency": "no slow commands in the last 15 min; round trip 0.2ms",
    "qdrant-slow-searches": "4 collection(s) ready, searches take 4.2ms",
    "qdrant-memory": "1.1 GiB of the 4.0 GiB limit (28%), no OOM kills",
    "redis-replicas": "1 replica(s) streaming within the profile's thresholds",
    "postgres-limits": "2 instance(s) inside their limits",
    "qdrant-limits": "no limits set: nothing to be near (production profiles require limits)",
}


def _replica_facts() -> ReplicaFacts:
    """A standby frozen for 47 s behind a primary that keeps an abandoned slot."""
    from ui_fixed import FROZEN_REPLICATION, STATUSES

    slot = Slot("old_reporting", "physical", False, "extended", 2 * 1024 * MIB)
    standby = Standby(
        "alfred-db-postgres-2", "172.18.0.4", "streaming", "async", "0/5A3F1C8", "0/5A3F1C8",
        "0/5A3F1C8", "0/4D1E000", 0.001, 0.002, 0.4, int(12.5 * MIB), 47.0,
    )  # fmt: skip
    primary = PostgresReplication(
        False, "0/5A3F1C8", None, None, None, None, None, (standby,), (slot,)
    )
    plan = [
        "keep a safety copy of alfred-db-postgres-2's volume(s) alfred_db-postgres-data-2 "
        "(tar files in the safety folder)",
        "remove the container alfred-db-postgres-2 (the volume(s) stay)",
        "pg_basebackup from alfred-db-postgres-1 into alfred_db-postgres-data-2, then start it "
        "as a hot standby",
        "wait until it is healthy",
    ]
    return ReplicaFacts(
        primary,
        rows=FROZEN_REPLICATION["postgres"],
        instances=STATUSES["postgres"].instances,
        reclone_plans={"alfred-db-postgres-2": plan},
    )


def _limit_facts() -> LimitFacts:
    """Redis's primary at 93% of its memory limit, with a peak a little higher."""
    from ui_fixed import STATUSES, USAGE

    usage = tuple(u for u in USAGE.values() if u.service == "redis")
    peaks = {u.instance: Peak(u.cpu_percent, u.memory) for u in usage}
    peaks["alfred-redis-1"] = Peak(88.0, int(2.9 * 1024 * MIB))
    return LimitFacts(usage, peaks, STATUSES["redis"].instances, resizable=True)


def _memory_facts() -> MemoryFacts:
    now = MemorySample(
        taken_at=0.0,
        used=2048 * MIB,
        rss=2210 * MIB,
        peak=2050 * MIB,
        maxmemory=2048 * MIB,
        policy="noeviction",
        fragmentation=1.08,
        evicted_keys=0,
        expired_keys=18_204,
        oom_rejections=3_412,
        keyspace={0: (182_000, 150_100), 1: (4_200, 0), 2: (310, 12)},
    )
    prefixes = (
        PrefixUsage(0, "alfred:cache:", 1_500, 15 * MIB, 1_420 * MIB),
        PrefixUsage(0, "alfred:embeddings:", 380, 4 * MIB, 390 * MIB),
        PrefixUsage(1, "alfred:session:", 1_200, 2 * MIB, 7 * MIB),
        PrefixUsage(2, "alfred:queue:", 310, 1 * MIB, 1 * MIB),
    )
    return MemoryFacts(
        now,
        evicted_per_second=0.0,
        oom_per_second=12.5,
        limit=3 * 1024 * MIB,
        limit_source="the backend's limit",
        prefixes=prefixes,
        databases={0: "General cache", 1: "Session storage", 2: "Task queues"},
        notes=("biggest prefixes come from a sample of up to 2000 keys per database (SCAN)",),
    )


def _full(runbook: Any, facts: Any, ctx: TroubleshootContext) -> RunbookReport:
    return RunbookReport(
        info=runbook.info,
        detection=runbook.judge(facts, ctx),
        diagnostics=runbook.tables(facts, ctx),
        remedies=runbook.remedies(facts, ctx),
        notes=runbook.notes(facts),
        duration_ms=184.0,
    )


def fixed_reports(backend: Backend) -> dict[str, RunbookReport]:
    """Every runbook's report: two in full from frozen facts, the others OK."""
    ctx = TroubleshootContext(backend)
    reports = {
        "postgres-connections": _full(
            PostgresConnections(),
            ConnectionFacts(ACTIVITY, work_mem=4 * MIB, idle_timeout="0"),
            ctx,
        ),
        "redis-memory": _full(RedisMemory(), _memory_facts(), ctx),
        "postgres-replicas": _full(ReplicaHealth("postgres"), _replica_facts(), ctx),
        "redis-limits": _full(InstanceLimits("redis"), _limit_facts(), ctx),
    }
    for runbook in RUNBOOKS:
        if runbook.name not in reports:
            summary = _OK_SUMMARIES[runbook.name]
            reports[runbook.name] = RunbookReport(
                runbook.info,
                Detection(Verdict.OK, summary, (Evidence("checked", summary),)),
                duration_ms=40.0,
            )
    return reports


def terminate_plan(pids: list[int]) -> ActionOutcome:
    """What signal_sessions plans for these sessions (its own words)."""
    targets = [s for s in SESSIONS if s.pid in pids]
    count = f"{len(targets)} session{'s' if len(targets) != 1 else ''}"
    return ActionOutcome(
        action="terminate",
        service="postgres",
        applied=False,
        summary=f"Terminate {count}: {', '.join(s.describe() for s in targets)}. "
        f"{_EFFECT['terminate']}",
        steps=tuple(f"SELECT pg_terminate_backend({s.pid})" for s in targets),
        previous={"sessions": [s.to_json() for s in targets]},
        undo="none: a cancelled query or terminated session cannot be brought back; "
        "the journal keeps what each one was doing",
        destructive=True,
    )


def memory_plan(parameters: dict[str, Any], profile_yaml: str) -> ActionOutcome:
    """What set_memory plans (its own words) for the frozen Redis."""
    parts, steps = [], []
    if "maxmemory" in parameters:
        steps.append(f"CONFIG SET maxmemory {parameters['maxmemory']}")
        parts.append(f"maxmemory from 2.0 GiB to {parameters['maxmemory'] // MIB} MiB")
    if "policy" in parameters:
        steps.append(f"CONFIG SET maxmemory-policy {parameters['policy']}")
        parts.append(f"maxmemory-policy from noeviction to {parameters['policy']}")
    return ActionOutcome(
        action="redis-memory",
        service="redis",
        applied=False,
        summary="Change " + ", ".join(parts) + ". It applies at once and is lost at the next "
        "restart unless the profile says the same.",
        steps=tuple(steps),
        previous={"maxmemory": 2048 * MIB, "maxmemory-policy": "noeviction"},
        undo=f"CONFIG SET maxmemory {2048 * MIB}; CONFIG SET maxmemory-policy noeviction",
        profile_yaml=profile_yaml,
    )


class FixedTroubleshoot:
    """Frozen runbooks, sessions and audit for the snapshots (see the module docstring)."""

    def __init__(
        self, loaded: LoadedProfile, backend: Backend, readonly: bool, flags: bool = True
    ) -> None:
        self.loaded = loaded
        self.backend = backend
        self.readonly = readonly
        self.flags = flags
        self.reports = fixed_reports(backend)

    async def runbooks(self) -> list[RunbookInfo]:
        return [r.info for r in RUNBOOKS]

    async def markers(self) -> dict[str, ServiceFlag]:
        return dict(FLAGS) if self.flags else {}

    async def detect(self, names: list[str]) -> dict[str, Detection]:
        return {name: self.reports[name].detection for name in names}

    async def run(self, name: str) -> RunbookReport:
        return self.reports[name]

    async def perform(
        self, action: str, parameters: dict[str, Any], *, confirm: bool
    ) -> ActionOutcome:
        if confirm:
            raise AssertionError("fixed data: snapshot tests apply nothing")
        if action == "terminate":
            return terminate_plan(list(parameters.get("pids", [])))
        remedy = next(
            r
            for r in self.reports["redis-memory"].remedies
            if r.action == action and r.parameters.keys() == parameters.keys()
        )
        return memory_plan(parameters, remedy.profile_yaml)

    async def explain(
        self, statement: str, query_id: int | None, *, analyze: bool, consent: bool
    ) -> Explanation:
        return Explanation(
            statement="SELECT account_id, sum(amount) FROM ledger GROUP BY account_id",
            plan=(
                "HashAggregate  (cost=2041.00..2043.00 rows=200 width=40)",
                "  Group Key: account_id",
                "  ->  Seq Scan on ledger  (cost=0.00..1541.00 rows=100000 width=14)",
            ),
            analyzed=False,
            generic=False,
        )

    async def activity(self) -> Activity:
        return ACTIVITY

    async def signal(self, pids: list[int], signal: str, *, confirm: bool) -> ActionOutcome:
        if confirm:
            raise AssertionError("fixed data: snapshot tests apply nothing")
        plan = terminate_plan(pids)
        if signal == "cancel":
            return replace(
                plan, action="cancel", summary=plan.summary.replace("Terminate", "Cancel")
            )
        return plan

    async def audit(self) -> AuditReport:
        # The profile's own checks only: deterministic, and the live ones would
        # need servers. The checked_at time is not shown.
        return await run_audit(self.loaded, None)

    async def close(self) -> None:
        return None


def fixed_troubleshoot(flags: bool = True) -> Any:
    """A session's troubleshoot factory for the fixed app."""

    def factory(loaded: LoadedProfile, backend: Backend, readonly: bool) -> FixedTroubleshoot:
        return FixedTroubleshoot(loaded, backend, readonly, flags)

    return factory
