"""``alfred-tui migrate status|up`` and ``alfred-tui schema``: the migrations pane's twins.

Results go to stdout (a table, or the JSON documents described in
``assets/schemas/``); progress and problems go to stderr. Exit 0 when the
command did what it was asked, 2 otherwise (a failed migration, drift, an
unreachable database, bad input).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    TimeoutOption,
    YesOption,
    diagnostic,
    examples,
    global_option,
    journaled_command,
    load,
    run_async,
    stdout_console,
)
from alfred_tui.errors import UsageError

if TYPE_CHECKING:
    from alfred_tui.backends.base import Progress
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.databases.migration_model import MigrationStatus, UpResult
    from alfred_tui.databases.migrations import Migrator
    from alfred_tui.databases.schema_view import SchemaView

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        help="Database to use instead of the profile's POSTGRES_DB.",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``migrate`` group and the ``schema`` command to ``app``."""
    group = typer.Typer(
        help="Schema migrations: what is applied, and apply what is pending.",
        epilog=examples("alfred-tui migrate status", "alfred-tui migrate up -p prod"),
        no_args_is_help=True,
    )
    app.add_typer(group, name="migrate")

    @group.command(
        "status",
        epilog=examples(
            "alfred-tui migrate status",
            "alfred-tui migrate status -p prod -o json",
        ),
    )
    def status_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        database: DatabaseOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Applied, pending, drifted (file changed since applied) and missing-file migrations."""
        from alfred_tui.render import migrations as render

        loaded = load(profile)

        async def run() -> MigrationStatus:
            async with _migrator(loaded, backend, context, namespace, database, timeout) as m:
                return await m.status()

        status = run_async(run())
        if output == OutputFormat.json:
            print(json.dumps(render.status_json(status, loaded.profile.name), indent=2))
            return
        print(render.summary_line(status))
        stdout_console().print(render.status_table(status))
        if not status.tracking_table:
            diagnostic("note: no public.migrations table yet; `migrate up` creates it")

    @group.command(
        "up",
        epilog=examples(
            "alfred-tui migrate up",
            "alfred-tui migrate up -p prod --lock-timeout 5",
        ),
    )
    def up_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        database: DatabaseOption = None,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
        statement_timeout: Annotated[
            float,
            typer.Option("--statement-timeout", min=0.1, help="Seconds one statement may run."),
        ] = 300.0,
        lock_timeout: Annotated[
            float,
            typer.Option(
                "--lock-timeout",
                min=0.0,
                help="Seconds a statement may wait for a table lock (0: forever).",
            ),
        ] = 10.0,
        lock_wait: Annotated[
            float,
            typer.Option(
                "--lock-wait", min=0.0, help="Seconds to wait while another run holds the lock."
            ),
        ] = 60.0,
        allow_drift: Annotated[
            bool,
            typer.Option(
                "--allow-drift", help="Apply pending migrations even if applied ones changed."
            ),
        ] = False,
        yes: YesOption = False,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Apply pending migrations in order, each in its own transaction, under a lock.

        The pending ones are listed first and applied once confirmed (``--yes``,
        or "y" typed at a terminal); refused under ``--readonly``."""
        from alfred_tui.cli.destructive import confirm_change
        from alfred_tui.render import migrations as render

        if global_option("readonly"):
            raise UsageError("read-only mode (--readonly): migrate up changes the database")
        loaded = load(profile)

        def approve(status: MigrationStatus) -> None:
            if not status.pending or (status.drifted and not allow_drift):
                return  # nothing to apply, or up refuses the drift before applying any
            where = f"database {status.database} at {status.address}"
            effects = [f"apply {len(status.pending)} pending migration(s) to {where}:"]
            effects += [f"  {entry.name} ({entry.source})" for entry in status.pending]
            if status.drifted and allow_drift:
                effects.append(f"although {len(status.drifted)} applied one(s) changed since")
            confirm_change("migrate up", effects, loaded.profile, yes=yes)

        async def run() -> UpResult:
            async with _migrator(
                loaded,
                backend,
                context,
                namespace,
                database,
                timeout,
                statement_timeout=statement_timeout,
                lock_timeout=lock_timeout,
                lock_wait=lock_wait,
            ) as migrator:
                approve(await migrator.status())
                return await migrator.up(_progress_printer(), allow_drift=allow_drift)

        with journaled_command(
            "migrate up", loaded.profile.name, backend or loaded.profile.backend, service="postgres"
        ) as journal:
            result = run_async(run())
            names = ", ".join(item.name for item in result.applied) or "nothing pending"
            if result.failure is not None:
                journal.failed(f"applied {names}; {result.failure.name} failed")
            else:
                journal.succeeded(f"applied {names}")
        if output == OutputFormat.json:
            print(json.dumps(render.up_json(result, loaded.profile.name), indent=2))
        else:
            print("\n".join(render.up_lines(result)))
        result.raise_for_failure()

    @app.command(
        "schema",
        epilog=examples(
            "alfred-tui schema",
            "alfred-tui schema --schema public --limit 20 -o json",
        ),
    )
    def schema_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        database: DatabaseOption = None,
        schema: Annotated[
            list[str] | None,
            typer.Option("--schema", "-s", help="Only this schema (repeatable)."),
        ] = None,
        limit: Annotated[
            int,
            typer.Option("--limit", "-n", min=0, help="Largest tables to list (0: all)."),
        ] = 50,
        output: OutputOption = OutputFormat.table,
        timeout: TimeoutOption = 10.0,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Schemas, and tables with their sizes and estimated rows, largest first."""
        from alfred_tui.render import migrations as render

        loaded = load(profile)
        target = (loaded, backend, context, namespace, database)
        view = run_async(_schema_view(*target, timeout, schema or [], limit))
        if output == OutputFormat.json:
            print(json.dumps(render.schema_view_json(view, loaded.profile.name), indent=2))
            return
        stdout_console().print(render.schema_view_table(view))


def _progress_printer() -> Callable[[Progress], None]:
    """A progress callback printing each new step (applying, waiting) on stderr."""
    last = {"step": ""}

    def report(progress: Progress) -> None:
        if progress.step == last["step"] or progress.step.startswith(("applied ", "failed ")):
            return
        last["step"] = progress.step
        counter = ""
        if progress.total and progress.current is not None:
            counter = f" ({progress.current + 1}/{progress.total})"
        print(f"{progress.step}{counter}", file=sys.stderr, flush=True)

    return report


@contextlib.asynccontextmanager
async def _migrator(
    loaded: LoadedProfile,
    backend: str | None,
    context: str | None,
    namespace: str | None,
    database: str | None,
    timeout: float,
    **options: float,
) -> AsyncIterator[Migrator]:
    """A migrator on the profile's database; the files are checked before connecting."""
    from alfred_tui.cli.targets import postgres_target
    from alfred_tui.databases.migration_files import discover, profile_sources
    from alfred_tui.databases.migrations import Migrator
    from alfred_tui.databases.postgres import PostgresClient

    files = discover(profile_sources(loaded))
    async with (
        postgres_target(loaded, backend, context, namespace, database) as target,
        PostgresClient(target, connect_timeout=timeout, query_timeout=timeout) as client,
    ):
        yield Migrator(client, files, **options)


async def _schema_view(
    loaded: LoadedProfile,
    backend: str | None,
    context: str | None,
    namespace: str | None,
    database: str | None,
    timeout: float,
    schemas: list[str],
    limit: int,
) -> SchemaView:
    from alfred_tui.cli.targets import DatabaseUnreachable, postgres_target
    from alfred_tui.databases.failures import DatabaseRefused, DatabaseUnavailable
    from alfred_tui.databases.postgres import PostgresClient
    from alfred_tui.databases.schema_view import read_schema_view
    from alfred_tui.errors import AlfredError

    async with (
        postgres_target(loaded, backend, context, namespace, database) as target,
        PostgresClient(target, connect_timeout=timeout, query_timeout=timeout) as client,
    ):
        try:
            view = await read_schema_view(client, schemas, limit or None)
        except DatabaseUnavailable as exc:
            raise DatabaseUnreachable(f"PostgreSQL: {exc.reason}") from None
        except DatabaseRefused as exc:
            raise AlfredError(exc.message, title="PostgreSQL refused") from None
    unknown = sorted(set(schemas) - {schema.name for schema in view.schemas})
    if unknown:
        raise UsageError(
            f"no schema {', '.join(unknown)} in database {view.database} "
            f"(schemas: {', '.join(s.name for s in view.schemas) or 'none'})"
        )
    return view
