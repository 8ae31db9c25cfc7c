"""``alfred-tui collections``: the Qdrant collections pane's headless twin.

Lists every collection of the profile's Qdrant (server or embedded) with its
status, points, indexed vectors, segments, vectors against the profile
(drift flagged), optimizer and payload indexes; names the profile's missing
collections and the extra ones. ``--create-missing`` creates the missing
ones as the spec's deployment step 3 does and says what it created.

Exit 0 when the collections could be read (whatever they look like: scripts
read ``summary`` in the JSON), 2 when Qdrant cannot be reached or the
command line is wrong.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ContextOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    ProfileOption,
    diagnostic,
    examples,
    exit_now,
    global_option,
    journaled_command,
    load,
    open_backend,
    run_async,
    stdout_console,
)
from alfred_tui.errors import AlfredError, UsageError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from alfred_tui.backends.base import Backend
    from alfred_tui.config.models import Profile
    from alfred_tui.databases.qdrant_collections import CollectionReport, CollectionsReport

STATE_STYLES = {"ok": "green", "drift": "bold yellow", "missing": "bold red", "extra": "cyan"}
STATUS_STYLES = {"green": "green", "yellow": "yellow", "grey": "bright_black", "red": "bold red"}


def register(app: typer.Typer) -> None:
    """Add ``collections`` to ``app``."""

    @app.command(
        "collections",
        epilog=examples(
            "alfred-tui collections",
            "alfred-tui collections --create-missing -p prod",
        ),
    )
    def collections_command(
        create_missing: Annotated[
            bool,
            typer.Option(
                "--create-missing",
                help="Create the profile's missing collections (PUT /collections/NAME with its "
                "vector size and distance). Existing collections are never changed.",
            ),
        ] = False,
        output: OutputOption = OutputFormat.table,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        timeout: Annotated[
            float,
            typer.Option("--timeout", "-t", min=0.1, help="Seconds allowed for each request."),
        ] = 10.0,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Qdrant collections against the profile: status, points, drift, missing, extra."""
        try:
            if create_missing and global_option("readonly"):
                raise UsageError("--create-missing changes Qdrant; it is refused with --readonly")
            loaded = load(profile)
            engine = open_backend(loaded, backend, context, namespace)
            if create_missing:
                with journaled_command(
                    "create collections", loaded.profile.name, engine.name, service="qdrant"
                ) as journal:
                    report = run_async(_inspect(engine, loaded.profile, True, timeout))
                    journal.succeeded(f"created: {', '.join(report.created) or 'none missing'}")
            else:
                report = run_async(_inspect(engine, loaded.profile, False, timeout))
        except AlfredError as exc:
            diagnostic(exc.one_line())
            exit_now(exc.exit_code)
            return
        if output == OutputFormat.json:
            from alfred_tui.databases.qdrant_collections import report_json

            print(json.dumps(report_json(report, engine.name), indent=2))
        else:
            console = stdout_console()
            render_table(console, report, engine.name)
        exit_now(0)


async def _inspect(
    engine: Backend, profile: Profile, create_missing: bool, timeout: float
) -> CollectionsReport:
    from alfred_tui.databases.qdrant_collections import QdrantUnavailable, inspect_collections

    try:
        endpoint = await engine.endpoint("qdrant")
        # Each request has ``timeout``; the whole run gets room for a list, reads and creates.
        async with asyncio.timeout(timeout * 4):
            return await inspect_collections(
                profile, endpoint, create_missing=create_missing, timeout=timeout
            )
    except TimeoutError:
        raise QdrantUnavailable(f"no answer within {timeout * 4:g} s") from None
    finally:
        await engine.close()


# --- the table ------------------------------------------------------------------------------


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _vectors_cell(collection: CollectionReport, wide: bool) -> RenderableType:
    """The collection's vectors; drift in yellow, with the profile's (wide) or a ``*`` (narrow)."""
    from rich.text import Text

    if collection.state == "missing" and collection.expected is not None:
        return Text(f"({collection.expected.describe()})", style="dim")
    text = Text(", ".join(v.describe() for v in collection.vectors) or "-")
    if collection.drift and collection.expected is not None:
        text.stylize("bold yellow")
        if wide:
            text.append(f"  profile: {collection.expected.describe()}", style="yellow")
        else:
            text.append(" *", style="bold yellow")
    return text


def _payload_cell(collection: CollectionReport) -> str:
    if collection.state == "missing":
        return ""
    if collection.payload_indexes is None:
        return "n/a"
    return (
        ", ".join(
            f"{i.field}:{i.data_type}" + (f" ({i.points:,})" if i.points is not None else "")
            for i in collection.payload_indexes
        )
        or "-"
    )


def render_table(console: Console, report: CollectionsReport, backend: str) -> None:
    """The report for people: a table, then what is missing, drifted, extra or created."""
    from rich.table import Table
    from rich.text import Text

    where = "embedded store" if report.embedded else "Qdrant"
    console.print(
        f"{where} {report.address}  (profile {report.profile}, backend {backend})", markup=False
    )
    wide = console.width >= 120
    # No borders, one space between columns (kubectl-style): 80 columns hold the spec's four.
    table = Table(
        box=None, padding=(0, 2 if wide else 1, 0, 0), pad_edge=False, header_style="bold"
    )
    longest = max((len(c.name) for c in report.collections), default=10)
    table.add_column("Collection", no_wrap=True, min_width=min(longest, 40))
    table.add_column("State", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("Indexed", justify="right", no_wrap=True)
    table.add_column("Segments" if wide else "Segs", justify="right", no_wrap=True)
    table.add_column("Vectors", no_wrap=True)
    table.add_column("Optimizer" if wide else "Opt", overflow="fold")
    table.add_column("Payload indexes" if wide else "Indexes", overflow="fold")
    for collection in report.collections:
        state = Text(
            "created" if collection.created else collection.state,
            style="bold green" if collection.created else STATE_STYLES[collection.state],
        )
        status = (
            Text(
                f"● {collection.status}" if wide else collection.status,
                style=STATUS_STYLES.get(collection.status, ""),
            )
            if collection.status
            else Text("-", style="dim")
        )
        absent = collection.state == "missing"
        optimizer = collection.optimizer
        table.add_row(
            collection.name,
            state,
            status,
            "" if absent else _count(collection.points),
            "" if absent else _count(collection.indexed_vectors),
            "" if absent else _count(collection.segments),
            _vectors_cell(collection, wide),
            Text(
                "" if absent else (optimizer or "n/a"),
                style="bold red" if optimizer and optimizer != "ok" else "",
            ),
            _payload_cell(collection),
        )
    console.print(table)
    for line, style in summary_lines(report):
        console.print(Text(line, style=style))


def summary_lines(report: CollectionsReport) -> list[tuple[str, str]]:
    """What a person should know after the table, each with its style."""
    lines: list[tuple[str, str]] = []
    if report.created:
        made = ", ".join(
            f"{c.name} ({c.expected.describe()})"
            for c in report.collections
            if c.created and c.expected
        )
        lines.append((f"Created {len(report.created)}: {made}", "green"))
    missing = report.by_state("missing")
    if missing:
        names = ", ".join(c.name for c in missing)
        lines.append(
            (
                f"Missing {len(missing)} of the profile's collections: {names}. "
                "Create them with: alfred-tui collections --create-missing",
                "red",
            )
        )
    for collection in report.by_state("drift"):
        lines.append(
            (
                f"* Drift in {collection.name}: {'; '.join(collection.drift)}. Fixing it means "
                "recreating the collection and re-indexing its data; alfred-tui leaves it as is.",
                "yellow",
            )
        )
    extra = report.by_state("extra")
    if extra:
        names = ", ".join(c.name for c in extra)
        lines.append((f"Not in the profile ({len(extra)}): {names}", "cyan"))
    if report.embedded:
        lines.append(
            (
                "Embedded mode (qdrant-client local mode) keeps no segments, HNSW index, "
                "optimizer or payload indexes: those columns are n/a.",
                "dim",
            )
        )
    if not report.collections:
        lines.append(("No collections, and the profile expects none.", "dim"))
    return lines
