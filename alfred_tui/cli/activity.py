"""``alfred-tui activity``: PostgreSQL sessions and the blocking tree; cancel or terminate.

The headless twin of the Activity pane. ``activity`` prints every client
session (query, state, wait event, duration), then who blocks whom.
``activity cancel PID...`` stops running queries and ``activity terminate
PID...`` disconnects sessions; both print what they will do, need ``--yes``
(or a typed "yes" on a terminal), keep a safety copy of each session in the
journal, and are refused under ``alfred-tui --readonly``.
"""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alfred_tui.cli.common import (
    BackendOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    TimeoutOption,
    YesOption,
    examples,
    global_option,
    load,
    open_backend,
    stdout_console,
)

if TYPE_CHECKING:
    from alfred_tui.databases.activity import Activity, BlockingNode

SCHEMA_ID = "alfred-tui/activity"
SCHEMA_VERSION = 1


class SortChoice(enum.StrEnum):
    """Columns ``--sort`` accepts."""

    duration = "duration"
    pid = "pid"
    state = "state"
    user = "user"
    database = "database"
    application = "application"
    client = "client"
    wait = "wait"


PidsArgument = Annotated[list[int], typer.Argument(help="Process ids (the PID column).")]


def register(app: typer.Typer) -> None:
    """Add the ``activity`` group to ``app``."""
    group = typer.Typer(
        help="PostgreSQL sessions, the blocking tree, cancel and terminate.",
        epilog=examples(
            "alfred-tui activity --sort wait --no-idle", "alfred-tui activity -f etl -o json"
        ),
        invoke_without_command=True,
        no_args_is_help=False,
    )
    app.add_typer(group, name="activity")

    @group.callback(invoke_without_command=True)
    def activity(
        ctx: typer.Context,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        sort: Annotated[
            SortChoice, typer.Option("--sort", help="Order of the sessions.")
        ] = SortChoice.duration,
        filter_text: Annotated[
            str | None,
            typer.Option(
                "--filter", "-f", help="Only sessions with this text in any column (any case)."
            ),
        ] = None,
        include_idle: Annotated[
            bool, typer.Option("--idle/--no-idle", help="Show idle sessions too.")
        ] = True,
        timeout: TimeoutOption = 5.0,
    ) -> None:
        """Client sessions, longest first, and the blocking tree."""
        if ctx.invoked_subcommand is not None:
            return
        from alfred_tui.databases.activity import blocking_tree, filter_sessions, sort_sessions

        target = open_backend(load(profile), backend)
        snapshot = _run(target, timeout, _read)
        sessions = [s for s in snapshot.clients if include_idle or s.state != "idle"]
        sessions = sort_sessions(filter_sessions(sessions, filter_text), sort.value)
        trees = blocking_tree(snapshot.sessions)
        if output == OutputFormat.json:
            print(
                json.dumps(
                    activity_json(snapshot, sessions, trees, sort.value, filter_text), indent=2
                )
            )
            return
        _print_table(snapshot, sessions, trees)

    @group.command(
        "cancel",
        epilog=examples(
            "alfred-tui activity cancel 4242 --yes",
            "alfred-tui activity cancel 4242 4243 -p prod -o json",
        ),
    )
    def cancel_command(
        pids: PidsArgument,
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """Cancel the running query of each session (pg_cancel_backend); they stay connected."""
        _signal(pids, "cancel", yes, profile, backend, output, timeout)

    @group.command(
        "terminate",
        epilog=examples(
            "alfred-tui activity terminate 4242",
            "alfred-tui activity terminate 4242 --yes -o json",
        ),
    )
    def terminate_command(
        pids: PidsArgument,
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """Disconnect each session (pg_terminate_backend); open transactions roll back."""
        _signal(pids, "terminate", yes, profile, backend, output, timeout)


async def _read(ctx: Any) -> Activity:
    from alfred_tui.databases.activity import fetch_activity

    return await fetch_activity(await ctx.postgres())


def _run(target: Any, timeout: float, work: Any) -> Any:
    from alfred_tui.cli.doctor import _guarded
    from alfred_tui.troubleshoot.context import TroubleshootContext

    async def run() -> Any:
        try:
            async with TroubleshootContext(
                target, timeout=timeout, readonly=bool(global_option("readonly"))
            ) as ctx:
                return await work(ctx)
        finally:
            await target.close()

    return _guarded(run)


def _signal(
    pids: list[int],
    signal: str,
    yes: bool,
    profile: str | None,
    backend: str | None,
    output: OutputFormat,
    timeout: float,
) -> None:
    from alfred_tui.cli.doctor import _apply

    _apply(profile, backend, timeout, yes, output, signal, {"pids": pids})


def activity_json(
    snapshot: Activity,
    sessions: list[Any],
    trees: list[BlockingNode],
    sort: str,
    filter_text: str | None,
) -> dict[str, Any]:
    """The versioned JSON document of ``activity``."""
    clients = snapshot.clients
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "max_connections": snapshot.max_connections,
        "reserved_connections": snapshot.reserved_connections,
        "connections": len(clients) + 1,
        "own_pid": snapshot.own_pid,
        "sort": sort,
        "filter": filter_text,
        "sessions": [s.to_json() for s in sessions],
        "blocking": [tree.to_json() for tree in trees],
    }


def _print_table(snapshot: Activity, sessions: list[Any], trees: list[BlockingNode]) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from alfred_tui.databases.activity import scrub_query
    from alfred_tui.units import format_duration

    console = stdout_console()
    used = len(snapshot.clients) + 1
    console.print(
        f"{used} of {snapshot.max_connections} connections "
        f"({snapshot.reserved_connections} reserved for superusers; alfred-tui is pid "
        f"{snapshot.own_pid}, not listed)",
        markup=False,
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in (
        "PID",
        "User",
        "DB",
        "Application",
        "Client",
        "State",
        "Wait",
        "Duration",
        "Blocked by",
    ):
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("Query", overflow="ellipsis", no_wrap=True, ratio=1, min_width=20)
    styles = {
        "active": "green",
        "idle in transaction": "yellow",
        "idle in transaction (aborted)": "red",
    }
    for s in sessions:
        table.add_row(
            str(s.pid),
            s.user,
            s.database,
            s.application,
            s.client,
            Text(s.state, styles.get(s.state, "")),
            Text(s.wait, "red" if s.wait_event_type == "Lock" else ""),
            format_duration(s.duration_seconds),
            ",".join(str(p) for p in s.blocked_by),
            scrub_query(" ".join(s.query.split()), 200),
        )
    if not sessions:
        table.add_row(Text("no sessions", "dim"), *[""] * 9)
    console.print(table)
    if not trees:
        console.print(Text("Blocking: no session waits for another one.", "dim"))
        return
    console.print(Text("Blocking tree (a session above blocks the sessions below it)", "bold"))
    for root in trees:
        tree = Tree(_node_label(root))
        _add_children(tree, root)
        console.print(tree)


def _node_label(node: BlockingNode) -> Any:
    from rich.text import Text

    from alfred_tui.databases.activity import scrub_query
    from alfred_tui.units import format_duration

    s = node.session
    waiting = f"  blocks {node.total_waiting}" if node.total_waiting else ""
    return Text.assemble(
        (f"pid {s.pid}", "bold"),
        f"  {s.application or s.user}  {s.state}  {format_duration(s.duration_seconds)}",
        (f"  {s.wait}" if s.wait else "", "red"),
        (waiting, "yellow"),
        ("  " + scrub_query(" ".join(s.query.split()), 80), "dim"),
    )


def _add_children(tree: Any, node: BlockingNode) -> None:
    for child in node.waiting:
        branch = tree.add(_node_label(child))
        _add_children(branch, child)
