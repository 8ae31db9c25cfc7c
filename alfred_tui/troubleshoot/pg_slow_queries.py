"""Runbook: PostgreSQL slow queries.

Symptom (spec): long query times, high CPU. Two sources: the queries running
right now (pg_stat_activity, always there) and the history of every
statement (pg_stat_statements, when enabled). Running queries past the
profile's transaction-duration alert are CRITICAL; history can only WARN,
because its means are cumulative since the last reset and one slow call an
hour ago must not keep the service red. Tables read again and again by
sequential scans are listed as index candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alfred_tui.databases.activity import Session, fetch_activity, scrub_query
from alfred_tui.databases.statements import (
    SeqScanTable,
    Statement,
    StatementsStatus,
    seq_scan_tables,
    statements_status,
    top_statements,
)
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import Detection, Evidence, Remedy, RunbookInfo, Table
from alfred_tui.troubleshoot.profile_yaml import command_yaml, postgres_command_with
from alfred_tui.troubleshoot.runbook import Runbook
from alfred_tui.units import format_bytes, format_duration

#: Tables smaller than this are cheap to scan; they are not index candidates.
MIN_CANDIDATE_ROWS = 1000
#: A table is a candidate when sequential scans read at least this many rows on average.
CANDIDATE_ROWS_PER_SCAN = 1000
TOP = 10


@dataclass(frozen=True)
class SlowQueryFacts:
    """What the runbook read."""

    running: tuple[Session, ...]
    status: StatementsStatus
    by_total: tuple[Statement, ...] = ()
    by_mean: tuple[Statement, ...] = ()
    tables: tuple[SeqScanTable, ...] = field(default_factory=tuple)


def _limits(ctx: TroubleshootContext) -> tuple[float, float]:
    """(warn above, alert above) in seconds, from the profile's transaction duration."""
    threshold = ctx.threshold("postgres_transaction_duration_seconds")
    warn = threshold.normal.max if threshold and threshold.normal.max is not None else 0.5
    alert = threshold.alert.above if threshold and threshold.alert.above is not None else 2.0
    return warn, alert


class PostgresSlowQueries(Runbook):
    """Running and past slow queries, their plans, and tables that lack an index."""

    info = RunbookInfo(
        name="postgres-slow-queries",
        service="postgres",
        title="PostgreSQL slow queries",
        symptoms="Long query times, high CPU on the database.",
        why=(
            "A slow query holds a connection and often locks for its whole run; other "
            "requests queue behind it, and the agents time out. Most slow queries read a "
            "whole table where an index would read a few rows."
        ),
        detects=(
            "Queries running now for longer than the profile's transaction-duration "
            "thresholds (critical past the alert), statements whose mean time is past "
            "them in pg_stat_statements (warning), and large tables read by sequential scans."
        ),
    )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> SlowQueryFacts:
        client = await ctx.postgres()
        warn, _alert = _limits(ctx)
        activity = await fetch_activity(client)
        running = tuple(
            sorted(
                (
                    s
                    for s in activity.clients
                    if s.state == "active" and (s.query_seconds or 0) > warn
                ),
                key=lambda s: -(s.query_seconds or 0),
            )
        )
        status = await statements_status(client)
        by_mean = tuple(await top_statements(client, status, "mean", TOP)) if status.ready else ()
        if not full:
            return SlowQueryFacts(running, status, by_mean=by_mean)
        by_total = tuple(await top_statements(client, status, "total", TOP)) if status.ready else ()
        tables = tuple(await seq_scan_tables(client, MIN_CANDIDATE_ROWS, TOP))
        return SlowQueryFacts(running, status, by_total, by_mean, tables)

    def judge(self, facts: SlowQueryFacts, ctx: TroubleshootContext) -> Detection:
        warn, alert = _limits(ctx)
        evidence: list[Evidence] = []
        if facts.running:
            longest = facts.running[0]
            seconds = longest.query_seconds or 0
            evidence.append(
                Evidence(
                    "running now",
                    f"{len(facts.running)} quer{'ies' if len(facts.running) != 1 else 'y'} "
                    f"past {format_duration(warn)}, longest {format_duration(seconds)} "
                    f"(pid {longest.pid})",
                    Verdict.CRITICAL if seconds > alert else Verdict.WARNING,
                    f"warning above {format_duration(warn)}, critical above "
                    f"{format_duration(alert)} (profile's transaction duration)",
                )
            )
        else:
            evidence.append(
                Evidence("running now", f"nothing past {format_duration(warn)}", Verdict.OK)
            )
        if facts.status.ready:
            slow = [s for s in facts.by_mean if s.is_query and s.mean_seconds > warn]
            if slow:
                evidence.append(
                    Evidence(
                        "history (pg_stat_statements)",
                        f"{len(slow)} statement{'s' if len(slow) != 1 else ''} with a mean "
                        f"past {format_duration(warn)}, slowest "
                        f"{format_duration(slow[0].mean_seconds)} (query id {slow[0].queryid})",
                        Verdict.WARNING,
                        "means since the last statistics reset",
                    )
                )
            else:
                evidence.append(
                    Evidence(
                        "history (pg_stat_statements)",
                        f"no statement with a mean past {format_duration(warn)}",
                        Verdict.OK,
                    )
                )
        else:
            evidence.append(
                Evidence(
                    "history (pg_stat_statements)",
                    "not available",
                    Verdict.OK,
                    facts.status.missing(),
                )
            )
        return Detection.from_evidence(evidence, "no slow queries running or recorded")

    def tables(self, facts: SlowQueryFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        warn, _ = _limits(ctx)
        running = Table(
            "Running now",
            f"Queries running for longer than {format_duration(warn)}. A long one that "
            "waits on a lock (see Wait) is a victim; look at what blocks it with "
            "'alfred-tui activity'.",
            ("PID", "Running for", "Wait", "User", "Application", "Query"),
            tuple(
                (
                    s.pid,
                    format_duration(s.query_seconds),
                    s.wait or "-",
                    s.user,
                    s.application or "(none)",
                    scrub_query(s.query, 100),
                )
                for s in facts.running
            ),
            empty="none",
        )
        tables = [running]
        if facts.status.ready:
            columns = ("Query id", "Calls", "Total", "Mean", "Rows", "Query")

            def rows(statements: tuple[Statement, ...]) -> tuple[tuple[object, ...], ...]:
                return tuple(
                    (
                        s.queryid,
                        s.calls,
                        format_duration(s.total_seconds),
                        format_duration(s.mean_seconds),
                        s.rows,
                        scrub_query(s.query, 100),
                    )
                    for s in statements
                )

            tables.append(
                Table(
                    "Top statements by total time",
                    "Where the server spends its time overall: a fast query called a "
                    "million times can cost more than one slow query.",
                    columns,
                    rows(facts.by_total),
                    empty="no statements recorded yet",
                )
            )
            tables.append(
                Table(
                    "Top statements by mean time",
                    "The slowest statements per call: the first to EXPLAIN.",
                    columns,
                    rows(facts.by_mean),
                    empty="no statements recorded yet",
                )
            )
        candidates = [t for t in facts.tables if t.rows_per_scan >= CANDIDATE_ROWS_PER_SCAN]
        tables.append(
            Table(
                "Index candidates",
                f"Tables of database {facts.status.database} read whole by sequential scans "
                f"(at least {CANDIDATE_ROWS_PER_SCAN} rows a scan on average). If a slow "
                "query's plan shows 'Seq Scan' on one of these with a Filter, an index on "
                "the filtered columns usually fixes it.",
                ("Table", "Seq scans", "Rows read", "Rows a scan", "Index scans", "Rows", "Size"),
                tuple(
                    (
                        t.name,
                        t.seq_scan,
                        t.seq_tup_read,
                        round(t.rows_per_scan),
                        t.idx_scan,
                        t.live_rows,
                        format_bytes(t.size_bytes),
                    )
                    for t in candidates
                ),
                empty="none",
            )
        )
        return tuple(tables)

    def remedies(self, facts: SlowQueryFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        remedies: list[Remedy] = []
        status = facts.status
        if not status.ready and status.available:
            restart = not status.library_loaded
            service = ctx.profile.postgres
            from alfred_tui.databases.statements import preload_with_extension

            yaml_text = ""
            if service is not None and restart:
                yaml_text = command_yaml(
                    "postgres",
                    postgres_command_with(
                        service,
                        {"shared_preload_libraries": preload_with_extension(status.preload)},
                    ),
                )
            remedies.append(
                Remedy(
                    id="enable-pg-stat-statements",
                    title="Enable pg_stat_statements",
                    what_it_does=(
                        "Records every statement's calls and time, so the next slow spell "
                        "can be traced to its queries. "
                        + (
                            "The library must be added to shared_preload_libraries (keeping "
                            f"'{status.preload}') and PostgreSQL restarted; then the extension "
                            "is created."
                            if restart
                            else "The library is loaded; only the extension must be created."
                        )
                    ),
                    cost=(
                        "A little CPU per statement and a few MB of shared memory"
                        + (
                            "; the restart drops every connection for a few seconds."
                            if restart
                            else "."
                        )
                    ),
                    steps=(
                        *(
                            (
                                "ALTER SYSTEM SET shared_preload_libraries = "
                                f"'{preload_with_extension(status.preload)}'",
                                "restart PostgreSQL",
                            )
                            if restart
                            else ()
                        ),
                        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
                    ),
                    command="alfred-tui doctor enable-pg-stat-statements --yes",
                    profile_yaml=yaml_text,
                    needs_restart=restart,
                    action="enable-pg-stat-statements",
                )
            )
        slowest = next((s for s in facts.by_mean if s.is_query), None)
        if slowest is not None:
            remedies.append(
                Remedy(
                    id="explain",
                    title=f"Look at the plan of the slowest statement (query id {slowest.queryid})",
                    what_it_does=(
                        "Shows how PostgreSQL runs the statement without running it. Look for "
                        "'Seq Scan' on a large table with a Filter (a missing index), and "
                        "for estimated rows far from the real ones (run ANALYZE on the table)."
                    ),
                    cost="None: EXPLAIN plans the statement, it does not execute it.",
                    command=f"alfred-tui doctor explain --query-id {slowest.queryid}",
                    action="explain",
                    parameters={"queryid": slowest.queryid},
                )
            )
        remedies.append(
            Remedy(
                id="explain-analyze",
                title="Measure a statement for real (EXPLAIN ANALYZE)",
                what_it_does=(
                    "Runs the statement once, with real values, and shows the time and rows "
                    "of each step of its plan."
                ),
                cost=(
                    "It executes the statement: as long as it takes and with the locks it "
                    "takes. Writes are rolled back, but sequences advance. Only with your "
                    "explicit consent."
                ),
                command="alfred-tui doctor explain 'SELECT ...' --analyze --yes",
                action="explain",
                parameters={"analyze": True},
            )
        )
        for session in facts.running[:3]:
            remedies.append(
                Remedy(
                    id=f"cancel-{session.pid}",
                    title=f"Cancel the query running for "
                    f"{format_duration(session.query_seconds)} (pid {session.pid})",
                    what_it_does=(
                        "Stops that query with an error; the session stays connected and its "
                        "application can retry."
                    ),
                    cost="The query's work is lost; in a transaction block the transaction aborts.",
                    steps=(f"SELECT pg_cancel_backend({session.pid})",),
                    command=f"alfred-tui activity cancel {session.pid} --yes",
                    destructive=True,
                    action="cancel",
                    parameters={"pids": [session.pid]},
                )
            )
        candidates = [t for t in facts.tables if t.rows_per_scan >= CANDIDATE_ROWS_PER_SCAN]
        if candidates:
            table = candidates[0]
            remedies.append(
                Remedy(
                    id="add-index",
                    title=f"Add an index on {table.name}",
                    what_it_does=(
                        f"{table.name} was read whole {table.seq_scan} times "
                        f"({round(table.rows_per_scan)} rows a scan). EXPLAIN the queries "
                        "that use it; index the columns of their WHERE or JOIN clauses. "
                        "CONCURRENTLY builds it without blocking writes."
                    ),
                    cost=(
                        "Disk space, and a little time on every write to the table. A "
                        "concurrent build takes longer and cannot run inside a transaction."
                    ),
                    steps=(f"CREATE INDEX CONCURRENTLY ON {table.name} (column, ...)",),
                )
            )
        return tuple(remedies)

    def notes(self, facts: SlowQueryFacts) -> tuple[str, ...]:
        missing = facts.status.missing()
        if missing:
            return (f"no statement history: {missing}",)
        return ()
