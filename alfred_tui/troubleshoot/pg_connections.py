"""Runbook: PostgreSQL high connections.

Symptom (spec): slow queries, connection errors. Every connection is a server
process holding memory; when the usable slots run out the server answers new
clients with "sorry, too many clients already" and the platform's agents fail.
Usual causes: an application leaking connections, no pooler in front of many
workers, or sessions left idle inside a transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from alfred_tui.databases.activity import (
    SQL_MARKER,
    Activity,
    Session,
    fetch_activity,
    scrub_query,
)
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import Detection, Evidence, Remedy, RunbookInfo, Table
from alfred_tui.troubleshoot.profile_yaml import command_yaml, postgres_command_with
from alfred_tui.troubleshoot.runbook import Runbook, metric_evidence, ratio_verdict
from alfred_tui.units import format_bytes, format_duration

#: Share of the usable slots (max_connections minus the superuser reserve) in use
#: at which the runbook warns, and at which new clients are about to be refused.
WARN_USAGE = 0.80
CRITICAL_USAGE = 0.95
#: A pooler's usual pool size per database/user pair (PgBouncer's default_pool_size).
POOL_SIZE = 20
#: Private memory of an idle backend process, a conservative rule of thumb.
BACKEND_MEMORY = 3 * 1024 * 1024
#: What to suggest for idle_in_transaction_session_timeout.
SUGGESTED_IDLE_TIMEOUT = "60s"

SETTINGS_SQL = (
    SQL_MARKER
    + """
SELECT pg_size_bytes(current_setting('work_mem')) AS work_mem,
       current_setting('idle_in_transaction_session_timeout') AS idle_timeout
"""
)


@dataclass(frozen=True)
class ConnectionFacts:
    """What the runbook read."""

    activity: Activity
    work_mem: int | None = None
    idle_timeout: str = ""
    profile_max_connections: str | None = None
    """``max_connections`` as the profile's command sets it, if it does."""

    @property
    def used(self) -> int:
        """Client connections, alfred-tui's own included (it takes a slot too)."""
        return len(self.activity.clients) + 1

    @property
    def usable(self) -> int:
        """Slots a non-superuser can take."""
        return max(1, self.activity.max_connections - self.activity.reserved_connections)

    @property
    def ratio(self) -> float:
        """Share of usable slots in use."""
        return self.used / self.usable

    def idle_in_transaction(self) -> list[Session]:
        """Client sessions idle inside an open transaction, oldest first."""
        sessions = [s for s in self.activity.clients if s.idle_in_transaction]
        return sorted(sessions, key=lambda s: -(s.transaction_seconds or 0))


class PostgresConnections(Runbook):
    """Connections against max_connections, who holds them, and how to free them."""

    info = RunbookInfo(
        name="postgres-connections",
        service="postgres",
        title="PostgreSQL high connections",
        symptoms="Slow queries, 'too many clients already' errors in the agents' logs.",
        why=(
            "Each connection is a server process with its own memory. When the slots run "
            "out, PostgreSQL turns new clients away and every agent that needs a new "
            "connection fails. Sessions left idle in a transaction hold a slot and their "
            "locks, and stop vacuum from cleaning up."
        ),
        detects=(
            "Client connections against max_connections (minus the slots reserved for "
            "superusers), the profile's postgres_connections threshold, and sessions idle "
            "in a transaction for longer than the profile's transaction-duration alert."
        ),
    )

    async def collect(self, ctx: TroubleshootContext, full: bool) -> ConnectionFacts:
        client = await ctx.postgres()
        activity = await fetch_activity(client)
        if not full:
            return ConnectionFacts(activity)
        row = (await client.fetch(SETTINGS_SQL))[0]
        service = ctx.profile.postgres
        wanted = service.command_option("max_connections") if service else None
        return ConnectionFacts(activity, row["work_mem"], row["idle_timeout"], wanted)

    def notes(self, facts: ConnectionFacts) -> tuple[str, ...]:
        wanted, live = facts.profile_max_connections, facts.activity.max_connections
        if wanted is not None and wanted.isdigit() and int(wanted) != live:
            return (
                f"the profile asks for max_connections {wanted} but the server runs with {live}: "
                "changed outside the profile, or not restarted since",
            )
        return ()

    def unavailable(self, reason: str) -> Detection:
        if "too many connections" in reason:
            return Detection(
                Verdict.CRITICAL,
                "PostgreSQL refuses new connections: every slot is taken, even the ones "
                "reserved for superusers",
                (Evidence("new connection", "refused", Verdict.CRITICAL, reason),),
            )
        return super().unavailable(reason)

    def _idle_alert(self, ctx: TroubleshootContext) -> float:
        threshold = ctx.threshold("postgres_transaction_duration_seconds")
        if threshold is not None and threshold.alert.above is not None:
            return threshold.alert.above
        return 2.0

    def judge(self, facts: ConnectionFacts, ctx: TroubleshootContext) -> Detection:
        activity = facts.activity
        evidence = [
            Evidence(
                "connections in use",
                f"{facts.used} of {facts.usable} usable ({facts.ratio:.0%}; max_connections "
                f"{activity.max_connections}, {activity.reserved_connections} reserved for "
                "superusers)",
                ratio_verdict(facts.ratio, WARN_USAGE, CRITICAL_USAGE),
                f"warning from {WARN_USAGE:.0%}, critical from {CRITICAL_USAGE:.0%} of usable",
            ),
            metric_evidence(
                ctx,
                "postgres_connections",
                "connections (profile threshold)",
                facts.used,
                str(facts.used),
            ),
        ]
        alert = self._idle_alert(ctx)
        stuck = [s for s in facts.idle_in_transaction() if (s.transaction_seconds or 0) > alert]
        if stuck:
            oldest = format_duration(stuck[0].transaction_seconds)
            evidence.append(
                Evidence(
                    "idle in transaction",
                    f"{len(stuck)} session{'s' if len(stuck) != 1 else ''} longer than "
                    f"{format_duration(alert)} (oldest {oldest}, pid {stuck[0].pid})",
                    Verdict.WARNING,
                    "they hold a slot and their locks while doing nothing",
                )
            )
        else:
            evidence.append(Evidence("idle in transaction", "none stuck", Verdict.OK))
        return Detection.from_evidence(
            evidence, f"{facts.used} of {facts.usable} usable connections in use"
        )

    def tables(self, facts: ConnectionFacts, ctx: TroubleshootContext) -> tuple[Table, ...]:
        clients = facts.activity.clients
        activity = facts.activity
        summary = Table(
            "Connections",
            "How full the server is. Superusers keep a few reserved slots, so an "
            "application is refused once the usable ones are gone.",
            ("What", "Value"),
            (
                ("client connections (alfred-tui's included)", facts.used),
                ("max_connections", activity.max_connections),
                ("reserved for superusers", activity.reserved_connections),
                ("usable by applications", facts.usable),
                ("free for applications", max(0, facts.usable - facts.used)),
                ("in use", f"{facts.ratio:.0%}"),
            ),
        )

        def grouped(
            title: str, column: str, key: Callable[[Session], str | None], explanation: str
        ) -> Table:
            counts = Counter(key(s) for s in clients)
            rows = tuple((name or "(none)", count) for name, count in counts.most_common(15))
            return Table(title, explanation, (column, "Connections"), rows, empty="no clients")

        idle = facts.idle_in_transaction()
        idle_rows = tuple(
            (
                s.pid,
                s.user,
                s.application or "(none)",
                s.client,
                s.database,
                format_duration(s.transaction_seconds),
                format_duration(s.state_seconds),
                scrub_query(s.query, 80),
            )
            for s in idle
        )
        return (
            summary,
            grouped(
                "By state",
                "State",
                lambda s: s.state or "(unknown)",
                "Many 'idle' means connections are opened and kept but not used: a pooler "
                "would share them. 'idle in transaction' means an application began a "
                "transaction and did not finish it.",
            ),
            grouped(
                "By application",
                "Application",
                lambda s: s.application,
                "Which program holds the connections (its application_name). The top entry "
                "is usually the one leaking or missing a pool.",
            ),
            grouped(
                "By client",
                "Client host",
                lambda s: s.client.rsplit(":", 1)[0] if s.client != "local" else "local",
                "Which machines or containers the connections come from.",
            ),
            grouped(
                "By database",
                "Database",
                lambda s: s.database,
                "Which database they use.",
            ),
            Table(
                "Idle in transaction",
                "Sessions that began a transaction and stopped talking. Each holds a "
                "slot and its locks until it commits, rolls back or is terminated.",
                (
                    "PID",
                    "User",
                    "Application",
                    "Client",
                    "Database",
                    "Transaction age",
                    "Idle for",
                    "Last query",
                ),
                idle_rows,
                empty="none",
            ),
        )

    def remedies(self, facts: ConnectionFacts, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        remedies: list[Remedy] = []
        service = ctx.profile.postgres
        alert = self._idle_alert(ctx)
        stuck = [s for s in facts.idle_in_transaction() if (s.transaction_seconds or 0) > alert]
        if stuck:
            pids = [s.pid for s in stuck]
            listed = " ".join(str(p) for p in pids)
            remedies.append(
                Remedy(
                    id="terminate-idle-in-transaction",
                    title=f"Terminate the {len(pids)} session(s) idle in a transaction",
                    what_it_does=(
                        "Disconnects each session: its open transaction is rolled back, its "
                        "locks and its slot are freed. Sessions: "
                        + ", ".join(s.describe() for s in stuck)
                        + "."
                    ),
                    cost=(
                        "The work done in those transactions is lost (never committed) and the "
                        "applications get a connection error; well-written ones reconnect."
                    ),
                    steps=tuple(f"SELECT pg_terminate_backend({p})" for p in pids),
                    command=f"alfred-tui activity terminate {listed} --yes",
                    destructive=True,
                    action="terminate",
                    parameters={"pids": pids},
                )
            )
        remedies.append(
            Remedy(
                id="terminate-chosen",
                title="Terminate chosen sessions",
                what_it_does=(
                    "Look at the sessions (longest first) and terminate the ones that should "
                    "not be there; each one frees a slot at once."
                ),
                cost="Each terminated session's open transaction is rolled back.",
                command="alfred-tui activity --sort duration  then  "
                "alfred-tui activity terminate PID --yes",
                destructive=True,
                action="terminate",
            )
        )
        if service is not None and facts.idle_timeout in ("0", "0ms", ""):
            command = postgres_command_with(
                service, {"idle_in_transaction_session_timeout": SUGGESTED_IDLE_TIMEOUT}
            )
            remedies.append(
                Remedy(
                    id="idle-in-transaction-timeout",
                    title="Let PostgreSQL end abandoned transactions by itself",
                    what_it_does=(
                        "idle_in_transaction_session_timeout is off on this server. Set to "
                        f"{SUGGESTED_IDLE_TIMEOUT}, PostgreSQL terminates any session idle in "
                        "a transaction for longer than that."
                    ),
                    cost=(
                        "An application that legitimately pauses inside a transaction for "
                        "longer gets its session terminated. Takes effect on reload; the "
                        "profile keeps it across deploys."
                    ),
                    steps=(
                        "ALTER SYSTEM SET idle_in_transaction_session_timeout = "
                        f"'{SUGGESTED_IDLE_TIMEOUT}'",
                        "SELECT pg_reload_conf()",
                    ),
                    profile_yaml=command_yaml("postgres", command),
                )
            )
        pairs = {(s.database, s.user) for s in facts.activity.clients} or {("", "")}
        pooled = min(facts.used, POOL_SIZE * len(pairs))
        idle = sum(1 for s in facts.activity.clients if s.state == "idle")
        remedies.append(
            Remedy(
                id="connection-pooler",
                title="Put a connection pooler (PgBouncer) in front",
                what_it_does=(
                    f"Now {facts.used} client connections each hold a server process, {idle} "
                    "of them idle. A pooler in transaction mode lends server connections only "
                    f"for the length of a transaction: with a pool of {POOL_SIZE} per "
                    f"database/user pair ({len(pairs)} pair{'s' if len(pairs) != 1 else ''} "
                    f"here) the server would hold at most {pooled} connections, whatever "
                    "the number of agents."
                ),
                cost=(
                    "One more service to run. In transaction mode, session state does not "
                    "survive between transactions: SET, LISTEN/NOTIFY, session advisory "
                    "locks and (before PgBouncer 1.21) prepared statements need session mode."
                ),
            )
        )
        current = facts.activity.max_connections
        target = max(current * 2, facts.used * 2)
        added = target - current
        work_mem = facts.work_mem or 4 * 1024 * 1024
        cost_each = BACKEND_MEMORY + work_mem
        if service is not None:
            command = postgres_command_with(service, {"max_connections": str(target)})
            remedies.append(
                Remedy(
                    id="raise-max-connections",
                    title=f"Raise max_connections from {current} to {target}",
                    what_it_does=(
                        f"Allows {added} more connections. Worth it only if the connections "
                        "are busy; if most are idle, a pooler is the fix."
                    ),
                    cost=(
                        f"Each connection is a process: about {format_bytes(BACKEND_MEMORY)} "
                        f"at rest plus work_mem ({format_bytes(work_mem)} here) for each sort "
                        f"or hash it runs, so up to {format_bytes(added * cost_each)} more "
                        "memory when all are busy, and more shared memory for the lock table. "
                        "Needs a restart of PostgreSQL (connections drop)."
                    ),
                    steps=(
                        f"ALTER SYSTEM SET max_connections = {target}  (ignored if the "
                        "command line sets it: change the profile instead)",
                        "restart PostgreSQL",
                    ),
                    profile_yaml=command_yaml("postgres", command),
                    needs_restart=True,
                )
            )
        return tuple(remedies)
