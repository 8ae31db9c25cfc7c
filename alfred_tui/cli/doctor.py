"""``alfred-tui doctor``: the runbooks, headless, and the remedies that change things.

``doctor`` runs every runbook of the profile's services (or the ones named
with ``--runbook``) and exits like ``check``: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (a profile that cannot be loaded is UNKNOWN too). Reading never
changes anything; the subcommands that do (``redis-memory``,
``latency-monitor``, ``enable-pg-stat-statements``, ``drop-slot``,
``resume-replay``, ``explain --analyze``)
print their plan and need ``--yes`` or a typed "yes", and are refused under
``--readonly``. Sessions are terminated with ``alfred-tui activity``.
"""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    ServiceChoice,
    TimeoutOption,
    YesOption,
    diagnostic,
    examples,
    exit_now,
    global_option,
    load,
    open_backend,
    run_async,
    stdout_console,
)
from alfred_tui.errors import AlfredError, UsageError

if TYPE_CHECKING:
    from alfred_tui.database_actions import ActionOutcome
    from alfred_tui.troubleshoot.context import TroubleshootContext

UNKNOWN_EXIT = 3


class PolicyChoice(enum.StrEnum):
    """Redis eviction policies."""

    noeviction = "noeviction"
    allkeys_lru = "allkeys-lru"
    allkeys_lfu = "allkeys-lfu"
    allkeys_random = "allkeys-random"
    volatile_lru = "volatile-lru"
    volatile_lfu = "volatile-lfu"
    volatile_random = "volatile-random"
    volatile_ttl = "volatile-ttl"


def register(app: typer.Typer) -> None:
    """Add the ``doctor`` group to ``app``."""
    group = typer.Typer(
        help="Diagnose the spec's common issues from live data, and apply remedies.",
        epilog=examples(
            "alfred-tui doctor -p prod", "alfred-tui doctor --runbook postgres-slow-queries -o json"
        ),
        invoke_without_command=True,
        no_args_is_help=False,
    )
    app.add_typer(group, name="doctor")

    @group.callback(invoke_without_command=True)
    def doctor(
        ctx: typer.Context,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        runbook: Annotated[
            list[str] | None,
            typer.Option("--runbook", "-r", help="Run only this runbook (repeatable); see 'list'."),
        ] = None,
        service: Annotated[
            list[ServiceChoice] | None,
            typer.Option("--service", "-s", help="Run only this service's runbooks (repeatable)."),
        ] = None,
        timeout: TimeoutOption = 5.0,
        sample_seconds: Annotated[
            float,
            typer.Option(
                "--sample-seconds", min=0.1, help="Gap between the two samples of a rate."
            ),
        ] = 1.0,
        all_details: Annotated[
            bool,
            typer.Option(
                "--all",
                "-a",
                help="Show the details of every runbook, not only of those that found something.",
            ),
        ] = False,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Run the runbooks; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
        if ctx.invoked_subcommand is not None:
            return
        from alfred_tui.troubleshoot.registry import select_runbooks

        try:
            loaded = load(profile)
            chosen = select_runbooks(
                loaded.profile, runbook, [s.kind for s in service] if service else None
            )
            target = open_backend(loaded, backend, context, namespace)
        except AlfredError as exc:
            diagnostic(exc.one_line())
            exit_now(UNKNOWN_EXIT)
            return
        report = run_async(_run(target, chosen, timeout, sample_seconds))
        from alfred_tui.troubleshoot import output as render

        if output == OutputFormat.json:
            print(render.render_json(report))
        else:
            console = stdout_console()
            console.print(render.summary_line(report), markup=False)
            console.print(render.render_report(report, all_details or bool(runbook)))
        exit_now(report.exit_code)

    @group.command(
        "list",
        epilog=examples(
            "alfred-tui doctor list",
            "alfred-tui doctor list -o json",
        ),
    )
    def list_command(output: OutputOption = OutputFormat.table) -> None:
        """The runbooks: name, service, and the symptom each one looks for."""
        from alfred_tui.troubleshoot.output import runbooks_json

        data = runbooks_json()
        if output == OutputFormat.json:
            print(json.dumps(data, indent=2))
            return
        from rich.table import Table

        table = Table("Runbook", "Service", "Issue", "Symptoms")
        for item in data["runbooks"]:
            table.add_row(item["name"], item["service"], item["title"], item["symptoms"])
        stdout_console().print(table)

    @group.command(
        "explain",
        epilog=examples(
            "alfred-tui doctor explain 'SELECT * FROM documents WHERE tenant_id = 7'",
            "alfred-tui doctor explain --query-id 4187029374 --analyze --yes",
        ),
    )
    def explain_command(
        statement: Annotated[
            str | None, typer.Argument(help="The SQL statement (one), quoted.", show_default=False)
        ] = None,
        query_id: Annotated[
            int | None,
            typer.Option("--query-id", "-q", help="A query id from pg_stat_statements instead."),
        ] = None,
        analyze: Annotated[
            bool,
            typer.Option("--analyze", help="Run the statement for real (EXPLAIN ANALYZE)."),
        ] = False,
        yes: YesOption = False,
        statement_timeout: Annotated[
            float,
            typer.Option("--statement-timeout", min=0.1, help="Seconds EXPLAIN ANALYZE may run."),
        ] = 30.0,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """Show a statement's plan; never runs it unless --analyze and consent."""
        if (statement is None) == (query_id is None):
            raise UsageError("give either a SQL statement or --query-id, not both or neither")
        target = open_backend(load(profile), backend)

        async def work() -> Any:
            from alfred_tui.troubleshoot.context import TroubleshootContext

            try:
                async with TroubleshootContext(target, timeout=timeout) as ctx:
                    return await _explain(ctx, statement, query_id, analyze, yes, statement_timeout)
            finally:
                await target.close()

        result = _guarded(work)
        if result is None:
            exit_now(0)
            return
        if output == OutputFormat.json:
            print(
                json.dumps(
                    {"schema": "alfred-tui/explain", "version": 1, **result.to_json()}, indent=2
                )
            )
            return
        print(f"-- {result.statement}")
        if result.note:
            print(f"-- {result.note}")
        print("\n".join(result.plan))

    @group.command(
        "enable-pg-stat-statements",
        epilog=examples(
            "alfred-tui doctor enable-pg-stat-statements",
            "alfred-tui doctor enable-pg-stat-statements -p prod --yes",
        ),
    )
    def enable_statements_command(
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """Create pg_stat_statements, adding it to shared_preload_libraries if needed."""
        _apply(profile, backend, timeout, yes, output, "enable-pg-stat-statements", {})

    @group.command(
        "redis-memory",
        epilog=examples(
            "alfred-tui doctor redis-memory --maxmemory 2gb --policy allkeys-lru",
            "alfred-tui doctor redis-memory --policy noeviction --yes",
        ),
    )
    def redis_memory_command(
        maxmemory: Annotated[
            str | None,
            typer.Option("--maxmemory", help="New maxmemory: 2gb, 512mb, or 0 for no limit."),
        ] = None,
        policy: Annotated[
            PolicyChoice | None, typer.Option("--policy", help="New maxmemory-policy.")
        ] = None,
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """CONFIG SET maxmemory / maxmemory-policy (previous values kept in the journal)."""
        from alfred_tui.units import parse_bytes

        try:
            size = parse_bytes(maxmemory) if maxmemory is not None else None
        except ValueError as exc:
            raise UsageError(f"--maxmemory: {exc}") from None
        parameters: dict[str, Any] = {}
        if size is not None:
            parameters["maxmemory"] = size
        if policy is not None:
            parameters["policy"] = policy.value
        _apply(profile, backend, timeout, yes, output, "redis-memory", parameters)

    @group.command(
        "drop-slot",
        epilog=examples(
            "alfred-tui doctor drop-slot old_reporting",
            "alfred-tui doctor drop-slot old_reporting --yes",
        ),
    )
    def drop_slot_command(
        slot: Annotated[str, typer.Argument(help="The inactive replication slot to drop.")],
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """Drop a PostgreSQL replication slot no standby uses, so the WAL it keeps can go."""
        _apply(profile, backend, timeout, yes, output, "drop-slot", {"slot": slot})

    @group.command(
        "resume-replay",
        epilog=examples(
            "alfred-tui doctor resume-replay alfred-db-postgres-2",
            "alfred-tui --backend docker doctor resume-replay alfred-db-postgres-2 --yes",
        ),
    )
    def resume_replay_command(
        instance: Annotated[str, typer.Argument(help="The standby whose replay is paused.")],
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """pg_wal_replay_resume() on a standby whose WAL replay was paused."""
        _apply(profile, backend, timeout, yes, output, "resume-replay", {"instance": instance})

    @group.command(
        "latency-monitor",
        epilog=examples(
            "alfred-tui doctor latency-monitor --threshold-ms 50",
            "alfred-tui doctor latency-monitor --threshold-ms 100 --yes",
        ),
    )
    def latency_monitor_command(
        threshold_ms: Annotated[
            int,
            typer.Option("--threshold-ms", min=0, help="Record events slower than this (0: off)."),
        ] = 100,
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
    ) -> None:
        """CONFIG SET latency-monitor-threshold, so LATENCY DOCTOR has data."""
        _apply(
            profile,
            backend,
            timeout,
            yes,
            output,
            "latency-monitor",
            {"threshold_ms": threshold_ms},
        )

    @group.command(
        "journal",
        epilog=examples(
            "alfred-tui doctor journal",
            "alfred-tui doctor journal --limit 5 -o json",
        ),
    )
    def journal_command(
        limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Entries.")] = 20,
        output: OutputOption = OutputFormat.table,
    ) -> None:
        """The safety copies of the last changes made by doctor and activity."""
        from alfred_tui.database_actions import journal_path, read_journal

        entries = read_journal(limit)
        if output == OutputFormat.json:
            print(
                json.dumps(
                    {
                        "schema": "alfred-tui/journal",
                        "version": 1,
                        "path": str(journal_path()),
                        "entries": entries,
                    },
                    indent=2,
                    default=str,
                )
            )
            return
        if not entries:
            diagnostic(f"No changes recorded yet ({journal_path()}).")
            return
        for entry in entries:
            print(f"{entry.get('time')}  {entry.get('service')}  {entry.get('action')}")
            print(f"  {entry.get('summary')}")
            previous = entry.get("previous")
            if previous:
                print(f"  before: {json.dumps(previous, default=str)[:500]}")


async def _explain(
    ctx: TroubleshootContext,
    statement: str | None,
    query_id: int | None,
    analyze: bool,
    yes: bool,
    statement_timeout: float,
) -> Any:
    """Look the statement up if needed, ask before ANALYZE, return the plan (None if declined)."""
    from alfred_tui.cli.confirm import confirmed
    from alfred_tui.database_actions import ActionOutcome
    from alfred_tui.databases.activity import scrub_query
    from alfred_tui.databases.statements import explain, statement_text, statements_status

    client = await ctx.postgres()
    sql = statement or ""
    if query_id is not None:
        sql = await statement_text(client, await statements_status(client), query_id)
    consent = False
    if analyze:
        plan = ActionOutcome(
            action="explain-analyze",
            service="postgres",
            applied=False,
            summary=(
                "Run this statement for real to measure it: it takes as long and takes the "
                "locks it takes; writes are rolled back at the end, sequences are not; it is "
                f"stopped after {statement_timeout:g} s."
                + (" Read-only mode: writes fail." if _readonly() else "")
            ),
            steps=(f"EXPLAIN (ANALYZE, BUFFERS) {scrub_query(sql, 200)}",),
        )
        consent = confirmed(plan, yes)
        if not consent:
            return None
    return await explain(
        client,
        sql,
        analyze=analyze,
        consent=consent,
        readonly=_readonly(),
        statement_timeout=statement_timeout,
    )


def _readonly() -> bool:
    return bool(global_option("readonly"))


def _guarded(work: Any) -> Any:
    """Run ``work()``; a database that does not answer becomes one line and exit 2."""
    from alfred_tui.databases.failures import DatabaseUnavailable

    try:
        return run_async(work())
    except DatabaseUnavailable as exc:
        raise AlfredError(exc.reason, title="Database unavailable") from None
    except Exception as exc:
        from alfred_tui.databases.failures import refusal

        refused = refusal(exc)
        if refused is None:
            raise
        raise refused from None


def _apply(
    profile: str | None,
    backend: str | None,
    timeout: float,
    yes: bool,
    output: OutputFormat,
    action: str,
    parameters: dict[str, Any],
) -> None:
    """Plan, confirm, apply, print: the shape of every changing subcommand."""
    from alfred_tui.cli.confirm import confirmed
    from alfred_tui.troubleshoot.context import TroubleshootContext
    from alfred_tui.troubleshoot.output import action_json, render_outcome
    from alfred_tui.troubleshoot.remedies import perform

    target = open_backend(load(profile), backend)

    async def work() -> ActionOutcome | None:
        try:
            async with TroubleshootContext(target, timeout=timeout, readonly=_readonly()) as ctx:
                plan = await perform(ctx, action, parameters, confirm=False)
                if not confirmed(plan, yes):
                    return None
                return await perform(ctx, action, parameters, confirm=True)
        finally:
            await target.close()

    outcome = _guarded(work)
    if outcome is None:
        return
    if output == OutputFormat.json:
        print(json.dumps(action_json(outcome), indent=2, default=str))
    else:
        print(render_outcome(outcome))


async def _run(target: Any, runbooks: Any, timeout: float, sample_seconds: float) -> Any:
    from alfred_tui.troubleshoot.context import TroubleshootContext
    from alfred_tui.troubleshoot.registry import run_runbooks

    try:
        async with TroubleshootContext(
            target, timeout=timeout, sample_seconds=sample_seconds, readonly=_readonly()
        ) as ctx:
            return await run_runbooks(ctx, runbooks)
    finally:
        await target.close()
