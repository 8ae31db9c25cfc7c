"""``alfred-tui keyspace``: the Redis keyspace pane's headless twin.

Results go to stdout (tables, or the ``alfred-tui/keyspace`` JSON document);
a progress bar goes to stderr when it is a terminal. Ctrl-C stops the scan
between two short script calls and exits 130.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    examples,
    load,
    run_async,
    stdout_console,
)
from alfred_tui.errors import UsageError

if TYPE_CHECKING:
    from alfred_tui.backends.base import Progress as ProgressReport
    from alfred_tui.backends.base import ProgressCallback
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.databases.keyspace_model import KeyspaceReport, Mode


def register(app: typer.Typer) -> None:
    """Add ``keyspace`` to ``app``."""

    @app.command(
        "keyspace",
        epilog=examples(
            "alfred-tui keyspace --db 0",
            "alfred-tui keyspace -p prod --sample 1 -o json",
        ),
    )
    def keyspace_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        db: Annotated[
            list[int] | None,
            typer.Option(
                "--db",
                "-n",
                min=0,
                help="Only this database (repeatable). [default: the profile's and any with keys]",
                show_default=False,
            ),
        ] = None,
        exact: Annotated[
            bool, typer.Option("--exact", help="Read every key, however many there are.")
        ] = False,
        sample: Annotated[
            float | None,
            typer.Option(
                "--sample",
                min=0.001,
                max=100.0,
                metavar="PCT",
                help="Sample about PCT percent of the keys of big databases. "
                "[default: 1 when there are more than 200,000 keys, else exact]",
                show_default=False,
            ),
        ] = None,
        output: OutputOption = OutputFormat.table,
        timeout: Annotated[
            float,
            typer.Option("--timeout", "-t", min=0.1, help="Seconds for each call to Redis."),
        ] = 5.0,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Keys, memory, types and TTLs per database and key group; big keys, queues, channels."""
        from alfred_tui.render import keyspace as render

        if exact and sample is not None:
            raise UsageError("--exact and --sample exclude each other; give one")
        mode: Mode = "exact" if exact else "sample" if sample is not None else "auto"
        # Ctrl-C can land between redis-py creating its send coroutine and awaiting
        # it; Python then warns at exit about a coroutine that never ran. Harmless.
        warnings.filterwarnings(
            "ignore", message=".*_send_packed_command' was never awaited", category=RuntimeWarning
        )
        loaded = load(profile)
        report = run_async(
            _analyze(loaded, backend, context, namespace, db, mode, sample or 1.0, timeout)
        )
        if output == OutputFormat.json:
            print(json.dumps(render.report_json(report, loaded.profile.name), indent=2))
            return
        print(render.summary_line(report))
        stdout_console().print(render.report_tables(report))


async def _analyze(
    loaded: LoadedProfile,
    backend: str | None,
    context: str | None,
    namespace: str | None,
    dbs: list[int] | None,
    mode: Mode,
    pct: float,
    timeout: float,
) -> KeyspaceReport:
    from alfred_tui.cli.targets import DatabaseUnreachable, redis_target
    from alfred_tui.databases.failures import DatabaseUnavailable
    from alfred_tui.databases.keyspace import KeyspaceAnalyzer

    async with redis_target(loaded, backend, context, namespace) as target:
        analyzer = KeyspaceAnalyzer(target, loaded.profile.redis_databases, timeout=timeout)
        with _progress_bar() as progress:
            try:
                return await analyzer.analyze(dbs or None, mode, pct, progress)
            except DatabaseUnavailable as exc:
                raise DatabaseUnreachable(f"Redis: {exc.reason}") from None


@contextlib.contextmanager
def _progress_bar() -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr when it is a terminal; otherwise a silent callback."""
    if not sys.stderr.isatty():
        yield lambda _progress: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from alfred_tui.cli.common import stderr_console

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr_console(),
        transient=True,
    )
    task = bar.add_task("keyspace", total=None)

    def report(progress: ProgressReport) -> None:
        bar.update(
            task, description=progress.step, completed=progress.current or 0, total=progress.total
        )

    with bar:
        yield report
