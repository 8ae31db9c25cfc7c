"""The Activity pane's tables: PostgreSQL sessions, and who blocks whom.

Both are :class:`FilterableTable` s keyed by pid (``/`` filters them, the
cursor stays on the same session across refreshes). Below 120 columns the
sessions table keeps what decides "what is this and should I end it":
pid, application, state, wait, duration and query. Every state is written
out as well as coloured.
"""

from __future__ import annotations

from rich.text import Text

from alfred_tui.control.activity import ActivityView, PgSession, TreeRow
from alfred_tui.units import format_duration
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.styles import AnyApp, theme_colour

#: From this width on, user, database, client and "blocked by" are shown too.
WIDE = 120
_PAD = 2
_SCROLLBAR = 2

#: The prefix of the blocking tree's row keys (the sessions table uses the bare pid).
TREE_KEY = "tree/"


#: States in a narrow column: the words that matter survive.
SHORT_STATES = {
    "idle in transaction": "idle in tx",
    "idle in transaction (aborted)": "aborted tx",
    "fastpath function call": "fastpath",
}


def state_cell(app: AnyApp, session: PgSession, short: bool = False) -> Text:
    """The state in words, coloured: idle in transaction is the one to look at."""
    roles = {
        "active": "success",
        "idle in transaction": "warning",
        "idle in transaction (aborted)": "error",
    }
    role = roles.get(session.state)
    style = theme_colour(app, role) if role else "dim"
    word = SHORT_STATES.get(session.state, session.state) if short else session.state
    return Text(word or "-", style=style, overflow="ellipsis", no_wrap=True)


def wait_cell(app: AnyApp, session: PgSession) -> Text:
    """The wait event; a lock wait stands out, an idle session waiting for its client does not."""
    if session.wait_event_type == "Lock":
        style = f"bold {theme_colour(app, 'error')}"
    elif session.wait_event_type in ("Client", "Activity"):
        style = "dim"
    else:
        style = ""
    return Text(session.wait, style=style, overflow="ellipsis", no_wrap=True)


def query_cell(session: PgSession) -> Text:
    """The query on one line (the full text is behind Enter)."""
    return Text(" ".join(session.query.split()), overflow="ellipsis", no_wrap=True)


def _rest(width: int, fixed: list[int], minimum: int) -> int:
    used = sum(fixed) + _PAD * (len(fixed) + 1) + _SCROLLBAR
    return max(minimum, width - used)


class SessionsTable(FilterableTable):
    """Client sessions in the pane's order."""

    def show(self, view: ActivityView, width: int) -> None:
        """Render the sessions of ``view`` at ``width``."""
        wide = width >= WIDE
        if wide:
            fixed = [7, 10, 10, 16, 17, 19, 16, 8, 10]
            columns = [
                Column("PID", "pid", 7),
                Column("User", "user", 10),
                Column("Database", "database", 10),
                Column("Application", "application", 16),
                Column("Client", "client", 17),
                Column("State", "state", 19),
                Column("Wait", "wait", 16),
                Column("Duration", "duration", 8),
                Column("Blocked by", "blocked", 10),
            ]
        else:
            fixed = [7, 12, 11, 12, 7]
            columns = [
                Column("PID", "pid", 7),
                Column("Application", "application", 12),
                Column("State", "state", 11),
                Column("Wait", "wait", 12),
                Column("Time", "duration", 7),
            ]
        columns.append(Column("Query", "query", _rest(width, fixed, 12)))
        self.set_columns(columns)
        rows = []
        for s in view.sessions:
            cells: list[str | Text] = [Text(str(s.pid), style="bold")]
            if wide:
                cells += [
                    Text(s.user, overflow="ellipsis", no_wrap=True),
                    Text(s.database, overflow="ellipsis", no_wrap=True),
                ]
            cells.append(Text(s.application or "-", overflow="ellipsis", no_wrap=True))
            if wide:
                cells.append(Text(s.client, overflow="ellipsis", no_wrap=True))
            cells += [
                state_cell(self.app, s, short=not wide),
                wait_cell(self.app, s),
                format_duration(s.duration_seconds).rjust(7 if not wide else 8),
            ]
            if wide:
                cells.append(",".join(str(p) for p in s.blocked_by))
            cells.append(query_cell(s))
            rows.append(Row(str(s.pid), tuple(cells)))
        self.set_rows(rows)


def tree_label(row: TreeRow) -> Text:
    """``└─ 412 worker``: the pid under its blocker, indented by depth."""
    text = Text()
    if row.depth:
        text.append("   " * (row.depth - 1) + ("└─ " if row.last else "├─ "), style="dim")
    text.append(str(row.session.pid), style="bold")
    who = row.session.application or row.session.user
    if who:
        text.append(f" {who}")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class BlockingTable(FilterableTable):
    """The blocking tree as an indented table: a session above blocks those below it."""

    def show(self, view: ActivityView, width: int) -> None:
        """Render the tree of ``view`` at ``width``."""
        fixed = [30, 11, 7, 7]
        self.set_columns(
            [
                Column("Blocker ← waiting", "who", 30),
                Column("State", "state", 11),
                Column("Time", "duration", 7),
                Column("Waiting", "waiting", 7),
                Column("Query", "query", _rest(width, fixed, 12)),
            ]
        )
        rows = []
        for row in view.tree:
            s = row.session
            waiting = f"{row.waiting} wait" if row.waiting else ""
            rows.append(
                Row(
                    f"{TREE_KEY}{s.pid}",
                    (
                        tree_label(row),
                        state_cell(self.app, s, short=True),
                        format_duration(s.duration_seconds).rjust(7),
                        Text(waiting, style="bold") if waiting else "",
                        query_cell(s),
                    ),
                )
            )
        self.set_rows(rows)
