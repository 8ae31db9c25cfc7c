"""PostgreSQL activity: sessions, who blocks whom, and cancelling or terminating them.

What pg_activity shows, as plain data a Textual worker or the CLI can use:
every session with its query, state, wait event and duration, in one round
trip; the blocking tree built from ``pg_blocking_pids()`` (asked only for
sessions waiting on a lock, because the function takes lock-manager locks and
the docs warn against calling it freely); and cancel / terminate as
confirm-first actions (:mod:`alfred_tui.database_actions`).

Query text is shown as the server reports it, except that literals after
``PASSWORD`` and every registered secret are masked (``ALTER ROLE ... PASSWORD
'...'`` would otherwise put a password on screen and in the journal).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from alfred_tui.database_actions import ActionOutcome, ActionRefused, ReadOnlyRefused, record
from alfred_tui.redact import MASK, redact
from alfred_tui.units import format_duration

if TYPE_CHECKING:
    from alfred_tui.databases.postgres import PostgresClient

#: Sessions with these backend types are the ones a person may cancel or terminate.
SIGNALLABLE_TYPES = frozenset({"client backend"})

SortKey = Literal["duration", "pid", "state", "user", "database", "application", "client", "wait"]
SORT_KEYS: tuple[str, ...] = (
    "duration",
    "pid",
    "state",
    "user",
    "database",
    "application",
    "client",
    "wait",
)

#: Starts every query alfred-tui sends, so its own statements can be left out of
#: pg_stat_statements listings (looking must not look like load).
SQL_MARKER = "/* alfred-tui */ "

ACTIVITY_SQL = (
    SQL_MARKER
    + """
SELECT a.pid,
       coalesce(a.usename, '') AS usename,
       coalesce(a.datname, '') AS datname,
       coalesce(a.application_name, '') AS application_name,
       host(a.client_addr) AS client_addr,
       a.client_port,
       coalesce(a.backend_type, '') AS backend_type,
       coalesce(a.state, '') AS state,
       coalesce(a.wait_event_type, '') AS wait_event_type,
       coalesce(a.wait_event, '') AS wait_event,
       coalesce(a.query, '') AS query,
       extract(epoch FROM clock_timestamp() - a.backend_start)::float8 AS backend_seconds,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS transaction_seconds,
       extract(epoch FROM clock_timestamp() - a.query_start)::float8 AS query_seconds,
       extract(epoch FROM clock_timestamp() - a.state_change)::float8 AS state_seconds,
       CASE WHEN a.wait_event_type = 'Lock' OR a.wait_event = 'SafeSnapshot'
            THEN pg_blocking_pids(a.pid) ELSE '{}'::int[] END AS blocked_by
  FROM pg_stat_activity a
 WHERE a.pid <> pg_backend_pid()
"""
)

SETTINGS_SQL = (
    SQL_MARKER
    + """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved_connections,
       current_setting('server_version_num')::int AS server_version_num,
       pg_backend_pid() AS own_pid
"""
)

_PASSWORD_LITERAL = re.compile(r"(?i)(\bpassword\s+)('(?:[^']|'')*'|\$[a-z_]*\$.*?\$[a-z_]*\$)")


def scrub_query(text: str, limit: int | None = None) -> str:
    """Query text safe to show and store: password literals and known secrets masked.

    With a ``limit`` the text is also put on one line (whitespace collapsed)
    and cut to that many characters, for table cells.
    """
    cleaned = redact(_PASSWORD_LITERAL.sub(lambda m: f"{m.group(1)}'{MASK}'", text))
    if limit is not None:
        cleaned = " ".join(cleaned.split())
    if limit is not None and len(cleaned) > limit:
        return cleaned[: limit - 1] + "…"
    return cleaned


@dataclass(frozen=True)
class Session:
    """One server process from ``pg_stat_activity``."""

    pid: int
    user: str
    database: str
    application: str
    client: str
    """``host:port``, ``local`` for a Unix socket, empty for a background process."""
    backend_type: str
    state: str
    """``active``, ``idle``, ``idle in transaction``, ``idle in transaction (aborted)``..."""
    wait_event_type: str
    wait_event: str
    query: str
    """The current (active) or last query, password literals masked."""
    backend_seconds: float | None
    transaction_seconds: float | None
    query_seconds: float | None
    state_seconds: float | None
    blocked_by: tuple[int, ...] = ()

    @property
    def wait(self) -> str:
        """``Lock:transactionid`` style, empty when not waiting."""
        if not self.wait_event_type:
            return ""
        return (
            f"{self.wait_event_type}:{self.wait_event}" if self.wait_event else self.wait_event_type
        )

    @property
    def idle_in_transaction(self) -> bool:
        """Holding a transaction open while doing nothing (it keeps its locks and its slot)."""
        return self.state.startswith("idle in transaction")

    @property
    def is_client(self) -> bool:
        """A connection from an application (not autovacuum, a WAL sender, ...)."""
        return self.backend_type in SIGNALLABLE_TYPES

    @property
    def duration_seconds(self) -> float | None:
        """What "how long" means for the state the session is in.

        Active: how long the current query has run. Idle in transaction: how
        long the transaction has been open (the thing that hurts). Idle: how
        long since it last did anything.
        """
        if self.state == "active":
            return self.query_seconds
        if self.idle_in_transaction:
            return self.transaction_seconds
        return self.state_seconds

    def describe(self) -> str:
        """``pid 412 (worker, idle in transaction for 2h3m)`` for summaries."""
        who = self.application or self.user or self.backend_type
        how_long = format_duration(self.duration_seconds) if self.duration_seconds else ""
        state = f"{self.state} for {how_long}" if how_long and self.state else self.state
        return f"pid {self.pid} ({', '.join(part for part in (who, state) if part)})"

    def to_json(self) -> dict[str, object]:
        """Plain data for JSON output."""
        return {
            "pid": self.pid,
            "user": self.user,
            "database": self.database,
            "application": self.application,
            "client": self.client,
            "backend_type": self.backend_type,
            "state": self.state,
            "wait_event_type": self.wait_event_type or None,
            "wait_event": self.wait_event or None,
            "duration_seconds": _round(self.duration_seconds),
            "transaction_seconds": _round(self.transaction_seconds),
            "query_seconds": _round(self.query_seconds),
            "state_seconds": _round(self.state_seconds),
            "blocked_by": list(self.blocked_by),
            "query": self.query,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True)
class Activity:
    """One reading of the server's sessions (our own left out)."""

    taken_at: float
    max_connections: int
    reserved_connections: int
    """``superuser_reserved_connections``: slots only superusers may take."""
    server_version_num: int
    own_pid: int
    sessions: tuple[Session, ...] = field(default_factory=tuple)

    @property
    def clients(self) -> list[Session]:
        """Application connections only."""
        return [s for s in self.sessions if s.is_client]

    def session(self, pid: int) -> Session | None:
        """The session with ``pid``, if it is still there."""
        return next((s for s in self.sessions if s.pid == pid), None)


def _client(address: str | None, port: int | None, backend_type: str) -> str:
    if address:
        host = f"[{address}]" if ":" in address else address
        return f"{host}:{port}" if port and port > 0 else host
    if port == -1 or backend_type in SIGNALLABLE_TYPES:
        return "local"
    return ""


async def fetch_activity(client: PostgresClient) -> Activity:
    """Every session but our own, with settings that give the counts meaning."""
    settings = (await client.fetch(SETTINGS_SQL))[0]
    rows = await client.fetch(ACTIVITY_SQL)
    sessions = tuple(
        Session(
            pid=row["pid"],
            user=row["usename"],
            database=row["datname"],
            application=row["application_name"],
            client=_client(row["client_addr"], row["client_port"], row["backend_type"]),
            backend_type=row["backend_type"],
            state=row["state"],
            wait_event_type=row["wait_event_type"],
            wait_event=row["wait_event"],
            query=scrub_query(row["query"]),
            backend_seconds=row["backend_seconds"],
            transaction_seconds=row["transaction_seconds"],
            query_seconds=row["query_seconds"],
            state_seconds=row["state_seconds"],
            blocked_by=tuple(row["blocked_by"] or ()),
        )
        for row in rows
    )
    return Activity(
        taken_at=time.time(),
        max_connections=settings["max_connections"],
        reserved_connections=settings["reserved_connections"],
        server_version_num=settings["server_version_num"],
        own_pid=settings["own_pid"],
        sessions=sessions,
    )


# --- sorting and filtering ---------------------------------------------------


def sort_sessions(sessions: Iterable[Session], key: str = "duration") -> list[Session]:
    """Sessions ordered for reading: longest first for duration, alphabetical otherwise."""
    if key not in SORT_KEYS:
        raise ValueError(f"sort key must be one of {', '.join(SORT_KEYS)}, not {key!r}")
    items = list(sessions)
    if key == "duration":
        return sorted(items, key=lambda s: (s.duration_seconds is None, -(s.duration_seconds or 0)))
    if key == "pid":
        return sorted(items, key=lambda s: s.pid)
    attribute = {"user": "user", "database": "database", "application": "application"}
    if key in attribute:
        return sorted(items, key=lambda s: (getattr(s, attribute[key]).lower(), s.pid))
    if key == "client":
        return sorted(items, key=lambda s: (s.client, s.pid))
    if key == "wait":
        return sorted(items, key=lambda s: (not s.wait, s.wait, s.pid))
    order = {"active": 0, "idle in transaction": 1, "idle in transaction (aborted)": 2}
    return sorted(items, key=lambda s: (order.get(s.state, 3), s.state, s.pid))


def filter_sessions(sessions: Iterable[Session], text: str | None) -> list[Session]:
    """Sessions where ``text`` (case-insensitive) appears in any shown field."""
    if not text:
        return list(sessions)
    needle = text.lower()
    return [
        s
        for s in sessions
        if needle
        in " ".join(
            (str(s.pid), s.user, s.database, s.application, s.client, s.state, s.wait, s.query)
        ).lower()
    ]


# --- the blocking tree -------------------------------------------------------


@dataclass(frozen=True)
class BlockingNode:
    """A session and the sessions waiting on it (directly) for a lock."""

    session: Session
    waiting: tuple[BlockingNode, ...] = ()

    @property
    def total_waiting(self) -> int:
        """Every session below this one, at any depth."""
        return sum(1 + child.total_waiting for child in self.waiting)

    def walk(self, depth: int = 0) -> Iterable[tuple[int, Session]]:
        """(depth, session) in display order."""
        yield depth, self.session
        for child in self.waiting:
            yield from child.walk(depth + 1)

    def to_json(self) -> dict[str, object]:
        """Nested plain data."""
        return {
            "pid": self.session.pid,
            "state": self.session.state,
            "application": self.session.application,
            "user": self.session.user,
            "wait": self.session.wait or None,
            "duration_seconds": _round(self.session.duration_seconds),
            "query": self.session.query,
            "blocked_by": list(self.session.blocked_by),
            "total_waiting": self.total_waiting,
            "waiting": [child.to_json() for child in self.waiting],
        }


def blocking_tree(sessions: Sequence[Session]) -> list[BlockingNode]:
    """Who blocks whom, as trees rooted at the sessions that block and are not blocked.

    ``pg_blocking_pids`` lists every session a waiter waits for, including
    those queued ahead of it; to draw a chain A <- B <- C rather than C under
    both A and B, each waiter is placed under a blocker that is itself
    waiting when there is one. A wait cycle (a deadlock PostgreSQL has not
    broken yet) is cut at its lowest pid so that it is still shown.
    """
    by_pid = {s.pid: s for s in sessions}
    blockers = {s.pid: [b for b in s.blocked_by if b in by_pid and b != s.pid] for s in sessions}
    parent: dict[int, int | None] = {}
    for pid, theirs in blockers.items():
        if not theirs:
            parent[pid] = None
            continue
        waiting_blockers = [b for b in theirs if blockers.get(b)]
        parent[pid] = min(waiting_blockers) if waiting_blockers else min(theirs)
    _break_cycles(parent)
    children: dict[int, list[int]] = {}
    for pid, up in parent.items():
        if up is not None:
            children.setdefault(up, []).append(pid)

    def build(pid: int) -> BlockingNode:
        kids = sorted(children.get(pid, []), key=lambda p: _longest_first(by_pid[p]))
        return BlockingNode(by_pid[pid], tuple(build(kid) for kid in kids))

    roots = [
        pid for pid, up in parent.items() if up is None and (children.get(pid) or blockers[pid])
    ]
    trees = [build(pid) for pid in roots]
    return sorted(trees, key=lambda node: (-node.total_waiting, node.session.pid))


def _longest_first(session: Session) -> tuple[float, int]:
    return (-(session.duration_seconds or 0.0), session.pid)


def _break_cycles(parent: dict[int, int | None]) -> None:
    for start in list(parent):
        seen: list[int] = []
        current: int | None = start
        while current is not None and current not in seen:
            seen.append(current)
            current = parent.get(current)
        if current is not None:  # came back to a pid already on this path: a cycle
            cycle = seen[seen.index(current) :]
            parent[min(cycle)] = None


# --- cancel and terminate ----------------------------------------------------

Signal = Literal["cancel", "terminate"]

_EFFECT = {
    "cancel": (
        "The running query stops with an error and the session stays connected; "
        "inside a transaction block the transaction is aborted and must be rolled back "
        "by the application."
    ),
    "terminate": (
        "The session is disconnected: its open transaction is rolled back, its locks "
        "are released, and its application gets a connection error and must reconnect."
    ),
}


async def signal_sessions(
    client: PostgresClient,
    pids: Sequence[int],
    signal: Signal,
    *,
    confirm: bool,
    readonly: bool,
    wait_seconds: float = 5.0,
) -> ActionOutcome:
    """Cancel the query of, or terminate, the sessions ``pids``.

    With ``confirm=False`` nothing is sent: the outcome says which sessions
    would be hit and what that does to them. Our own connection and server
    processes that are not client sessions (autovacuum, WAL senders, ...)
    are refused, since signalling them breaks the server, not a client.
    """
    verb = "cancel the query of" if signal == "cancel" else "terminate"
    if readonly:
        raise ReadOnlyRefused(f"{verb} PostgreSQL sessions")
    if not pids:
        raise ActionRefused("no session given: name at least one pid")
    activity = await fetch_activity(client)
    targets: list[Session] = []
    refused: list[str] = []
    for pid in dict.fromkeys(pids):
        session = activity.session(pid)
        if pid == activity.own_pid:
            refused.append(f"pid {pid}: that is alfred-tui's own connection")
        elif session is None:
            refused.append(f"pid {pid}: no such session (it may have ended already)")
        elif not session.is_client:
            refused.append(
                f"pid {pid}: it is a server process ({session.backend_type}), not a client "
                "session; signalling it would disturb the server itself"
            )
        elif signal == "cancel" and session.state != "active":
            refused.append(
                f"pid {pid}: it runs no query right now ({session.state or 'no state'}); "
                "to free it, terminate it instead"
            )
        else:
            targets.append(session)
    if not targets:
        raise ActionRefused("; ".join(refused))
    function = "pg_cancel_backend" if signal == "cancel" else "pg_terminate_backend"
    word = "Cancel the running query of" if signal == "cancel" else "Terminate"
    count = f"{len(targets)} session{'s' if len(targets) != 1 else ''}"
    summary = f"{word} {count}: {', '.join(s.describe() for s in targets)}. {_EFFECT[signal]}"
    outcome = ActionOutcome(
        action=signal,
        service="postgres",
        applied=False,
        summary=summary,
        steps=tuple(f"SELECT {function}({s.pid})" for s in targets),
        results=tuple(refused),
        previous={"sessions": [_snapshot(s) for s in targets]},
        undo="none: a cancelled query or terminated session cannot be brought back; "
        "the journal keeps what each one was doing",
        destructive=True,
    )
    if not confirm:
        return outcome
    journal = record(outcome, ",".join(str(s.pid) for s in targets))
    results = list(refused)
    for session in targets:
        results.append(
            await _send(client, session.pid, signal, activity.server_version_num, wait_seconds)
        )
    return replace(outcome, applied=True, results=tuple(results), journal=journal)


def _snapshot(session: Session) -> dict[str, object]:
    data = session.to_json()
    data["query"] = scrub_query(session.query, 500)
    return data


async def _send(
    client: PostgresClient, pid: int, signal: Signal, version: int, wait_seconds: float
) -> str:
    if signal == "cancel":
        sent = (await client.fetch("SELECT pg_cancel_backend($1) AS ok", pid))[0]["ok"]
        return f"pid {pid}: query cancelled" if sent else f"pid {pid}: gone before the signal"
    if version >= 140000:  # the two-argument form waits for the process to exit
        waited = (
            await client.fetch(
                "SELECT pg_terminate_backend($1, $2::bigint) AS ok", pid, int(wait_seconds * 1000)
            )
        )[0]["ok"]
        if waited:
            return f"pid {pid}: terminated"
        still = await client.fetch("SELECT 1 FROM pg_stat_activity WHERE pid = $1", pid)
        if still:
            return f"pid {pid}: signal sent, still exiting after {wait_seconds:g} s"
        return f"pid {pid}: gone before the signal"
    sent = (await client.fetch("SELECT pg_terminate_backend($1) AS ok", pid))[0]["ok"]
    return f"pid {pid}: terminated" if sent else f"pid {pid}: gone before the signal"
