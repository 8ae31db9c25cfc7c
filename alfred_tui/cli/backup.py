"""``alfred-tui backup``, ``backups list|verify|prune`` and ``restore``: the headless twins of
the backup pane and the guided restore screen.

Results go to stdout (a table, or a versioned JSON document); progress and
diagnostics go to stderr. Exit 0 when everything asked for worked, 2
otherwise (one line per problem, never a traceback).
"""

from __future__ import annotations

import json
import sys
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
    YesOption,
    diagnostic,
    examples,
    global_option,
    journaled_command,
    load,
    open_backend,
    run_async,
)
from alfred_tui.cli.confirm import confirm_at_terminal, refuse_readonly
from alfred_tui.cli.progress import ProgressLine
from alfred_tui.errors import AlfredError, UsageError

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend
    from alfred_tui.backup.catalog import Catalog, CatalogEntry
    from alfred_tui.backup.restore import Mode as RestoreMode
    from alfred_tui.backup.restore import RestoreFlow, Step
    from alfred_tui.backup.retention import Decision
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import ServiceKind


# --- shared output ------------------------------------------------------------------


def entry_document(entry: CatalogEntry) -> dict[str, Any]:
    """One catalog entry as JSON (``alfred-tui/backups`` items)."""
    if entry.manifest is None:
        return {"id": entry.id, "folder": str(entry.folder), "error": entry.error}
    manifest = entry.manifest
    check = entry.last_check()
    return {
        "id": manifest.id,
        "service": manifest.service,
        "kind": manifest.kind,
        "created_at": manifest.created_at.isoformat().replace("+00:00", "Z"),
        "bytes": manifest.bytes,
        "safety_copy": manifest.safety_copy,
        "safety_for": manifest.safety_for,
        "summary": manifest.summary(),
        "folder": str(entry.folder),
        "last_check": check.to_dict() if check else None,
        "manifest": json.loads(manifest.to_json()),
    }


def backups_document(profile: str, catalog: Catalog, entries: list[CatalogEntry]) -> str:
    return json.dumps(
        {
            "schema": "alfred-tui/backups",
            "version": 1,
            "profile": profile,
            "catalog": str(catalog.root),
            "backups": [entry_document(entry) for entry in entries],
        },
        indent=2,
    )


def print_entries(entries: list[CatalogEntry]) -> None:
    from rich.table import Table

    from alfred_tui.backup.restore import age
    from alfred_tui.cli.common import stdout_console
    from alfred_tui.units import format_bytes

    table = Table(box=None, pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("Taken", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("Holds")
    table.add_column("Checked", no_wrap=True)
    for entry in entries:
        if entry.manifest is None:
            table.add_row(entry.id, "", "", f"unreadable: {entry.error}", "")
            continue
        manifest = entry.manifest
        check = entry.last_check()
        checked = (
            "-" if check is None else ("ok " if check.ok else "FAILED ") + age(check.checked_at)
        )
        label = manifest.id + (" (safety)" if manifest.safety_copy else "")
        table.add_row(
            label,
            age(manifest.created_at),
            format_bytes(manifest.bytes),
            manifest.summary(),
            checked,
        )
    stdout_console().print(table)


def _catalog(loaded: Any) -> Catalog:
    from alfred_tui.backup.catalog import Catalog

    return Catalog.for_profile(loaded.profile)


def _services(loaded: LoadedProfile, wanted: list[ServiceChoice] | None) -> list[ServiceKind]:
    enabled = [kind for kind, _ in loaded.profile.services.enabled()]
    chosen = [s.kind for s in wanted] if wanted else enabled
    missing = [s for s in chosen if s not in enabled]
    if missing:
        raise UsageError(
            f"profile '{loaded.profile.name}' has no enabled {', '.join(missing)} "
            f"(enabled: {', '.join(enabled) or 'none'})"
        )
    return chosen


# --- commands -----------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add ``backup``, ``backups``, ``restore`` and ``pitr`` to ``app``."""
    from alfred_tui.cli import pitr

    _register_backup(app)
    _register_backups(app)
    _register_restore(app)
    pitr.register(app)


def _register_backup(app: typer.Typer) -> None:
    @app.command(
        "backup",
        epilog=examples(
            "alfred-tui backup",
            "alfred-tui backup postgres redis -p prod -o json",
        ),
    )
    def backup_command(
        services: Annotated[
            list[ServiceChoice] | None, typer.Argument(help="Services to back up [default: all].")
        ] = None,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Back up services into the catalog: dump, checksum, read back, manifest."""
        loaded = load(profile)
        chosen = _services(loaded, services)
        target = open_backend(loaded, backend, context, namespace)
        catalog = _catalog(loaded)
        with journaled_command(
            "backup", loaded.profile.name, target.name, plan=[f"back up {', '.join(chosen)}"]
        ) as journal:
            entries, failures = run_async(_backup_all(target, chosen, catalog))
            done = ", ".join(entry.id for entry in entries) or "nothing"
            if failures:
                journal.failed(f"backed up {done}; " + "; ".join(failures))
            else:
                journal.succeeded(f"backed up {done}")
        if output == OutputFormat.json:
            print(backups_document(loaded.profile.name, catalog, entries))
        elif entries:
            print_entries(entries)
        for failure in failures:
            diagnostic(failure)
        if failures:
            raise typer.Exit(2)


async def _backup_all(
    backend: Backend, services: list[ServiceKind], catalog: Catalog
) -> tuple[list[CatalogEntry], list[str]]:
    from alfred_tui.backup.take import take_backup

    entries, failures = [], []
    progress = ProgressLine()
    try:
        for service in services:
            try:
                entries.append(await take_backup(backend, service, catalog, progress))
            except AlfredError as exc:
                progress.done()
                failures.append(exc.one_line())
            progress.done()
    finally:
        await backend.close()
    return entries, failures


def _register_backups(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The backup catalog: list, verify, prune.",
        epilog=examples("alfred-tui backups list", "alfred-tui backups prune --dry-run -p prod"),
        no_args_is_help=True,
    )
    app.add_typer(group, name="backups")

    @group.command(
        "list",
        epilog=examples(
            "alfred-tui backups list",
            "alfred-tui backups list redis -p prod -o json",
        ),
    )
    def list_command(
        services: Annotated[list[ServiceChoice] | None, typer.Argument(help="Only these.")] = None,
        profile: ProfileOption = None,
        output: OutputOption = OutputFormat.table,
    ) -> None:
        """Every backup in the profile's catalog, newest first."""
        loaded = load(profile)
        catalog = _catalog(loaded)
        wanted = {s.kind for s in services} if services else None
        entries = [
            e
            for e in catalog.entries()
            if wanted is None or (e.manifest is not None and e.manifest.service in wanted)
        ]
        if output == OutputFormat.json:
            print(backups_document(loaded.profile.name, catalog, entries))
        elif entries:
            print_entries(entries)
        else:
            diagnostic(f"No backups in {catalog.root}; take one with alfred-tui backup")

    @group.command(
        "verify",
        epilog=examples(
            "alfred-tui backups verify redis-20261125T181002Z",
            "alfred-tui backups verify /srv/backups/postgres/postgres-20261125T180635Z",
        ),
    )
    def verify_command(
        backup: Annotated[str, typer.Argument(help="Backup id or folder.")],
        profile: ProfileOption = None,
        backend: BackendOption = None,
    ) -> None:
        """Read a backup back: SHA-256 of every file and the engine's own tool."""
        loaded = load(profile)
        catalog = _catalog(loaded)
        entry = catalog.find(backup)
        target = open_backend(loaded, backend)
        problems = run_async(_verify(target, entry))
        if problems:
            for problem in problems:
                diagnostic(f"Verify failed: {entry.id}: {problem}")
            raise typer.Exit(2)
        check = entry.last_check()  # just recorded by the verify; None only if unreadable
        print(f"{entry.id}: ok ({check.how if check is not None else 'sha256'})")

    @group.command(
        "prune",
        epilog=examples(
            "alfred-tui backups prune --dry-run",
            "alfred-tui backups prune -p prod --yes",
        ),
    )
    def prune_command(
        profile: ProfileOption = None,
        yes: YesOption = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Only show what would be deleted.")
        ] = False,
        output: OutputOption = OutputFormat.table,
    ) -> None:
        """Apply retention (backups.keep_last, backups.keep_daily): delete the rest."""
        from alfred_tui.backup.journal import JournalStore
        from alfred_tui.backup.retention import plan_retention

        loaded = load(profile)
        settings = loaded.profile.backups
        catalog = _catalog(loaded)
        decisions = plan_retention(
            catalog.entries(),
            settings.keep_last,
            settings.keep_daily,
            protected=JournalStore().protected_ids(),
        )
        doomed = [d for d in decisions if not d.keep]
        if not dry_run and doomed:
            refuse_readonly("prune")
        if doomed and not dry_run and not yes:
            lines = "\n".join(f"  delete {d.entry.id}  ({d.entry.folder})" for d in doomed)
            question = (
                f"Retention keeps the last {settings.keep_last} and the newest of "
                f"{settings.keep_daily} days per service; this deletes:\n{lines}"
            )
            if not confirm_at_terminal("delete", question):
                raise AlfredError(
                    "prune deletes backups; confirm at a terminal or pass --yes",
                    title="Not confirmed",
                )
        deleted = []
        if not dry_run and doomed:
            shown = [f"delete {d.entry.id} ({d.entry.folder})" for d in doomed]
            with journaled_command(
                "prune", loaded.profile.name, loaded.profile.backend, plan=shown
            ) as journal:
                for decision in doomed:
                    catalog.remove(decision.entry)
                    deleted.append(decision.entry.id)
                journal.succeeded(f"deleted {len(deleted)} backups")
        _print_prune(loaded.profile.name, decisions, deleted, dry_run, output)


def _print_prune(profile: str, decisions: list[Decision], deleted: list[str], dry_run: bool,
                 output: OutputFormat) -> None:  # fmt: skip
    if output == OutputFormat.json:
        print(
            json.dumps(
                {
                    "schema": "alfred-tui/backups-prune",
                    "version": 1,
                    "profile": profile,
                    "dry_run": dry_run,
                    "decisions": [
                        {
                            "id": d.entry.id,
                            "keep": d.keep,
                            "reasons": list(d.reasons),
                            "deleted": d.entry.id in deleted,
                        }
                        for d in decisions
                    ],
                },
                indent=2,
            )
        )
        return
    for decision in decisions:
        if decision.keep:
            print(f"keep    {decision.entry.id}  ({', '.join(decision.reasons)})")
        else:
            verb = "would delete" if dry_run else "deleted"
            print(f"{verb} {decision.entry.id}")


async def _verify(backend: Backend, entry: CatalogEntry) -> list[str]:
    from alfred_tui.backup.verify import verify_backup

    progress = ProgressLine()
    try:
        return await verify_backup(backend, entry, progress)
    finally:
        progress.done()
        await backend.close()


# --- restore ------------------------------------------------------------------------


class StepPrinter:
    """Prints each step of a restore as it runs (table output) or only progress (JSON)."""

    def __init__(self, to_stdout: bool) -> None:
        self.to_stdout = to_stdout
        self.progress = ProgressLine()
        self.printed: dict[str, int] = {}
        self.ended: dict[str, str] = {}

    def _out(self, text: str) -> None:
        self.progress.done()
        if self.to_stdout:
            print(text, flush=True)
        else:
            diagnostic(text)

    def __call__(self, step: Step) -> None:
        from alfred_tui.backup.restore import StepStatus

        key = step.id.value
        if key not in self.printed:
            self.printed[key] = 0
            number = list(type(step.id)).index(step.id) + 1
            self._out(f"[{number}/7] {step.title}")
        for message in step.messages[self.printed[key] :]:
            self._out(f"      {message}")
        self.printed[key] = len(step.messages)
        if step.progress is not None and step.status == StepStatus.RUNNING:
            self.progress(step.progress)
        finished = (StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED)
        if step.status in finished and self.ended.get(key) != step.status:
            self.ended[key] = step.status
            self._out(f"      -> {step.status.value}")


def _register_restore(app: typer.Typer) -> None:
    @app.command(
        "restore",
        epilog=examples(
            "alfred-tui restore redis redis-20261125T181002Z",
            "alfred-tui restore postgres --rollback --yes",
        ),
    )
    def restore_command(
        service: Annotated[ServiceChoice, typer.Argument(help="postgres, redis or qdrant.")],
        backup: Annotated[
            str | None, typer.Argument(help="Backup id (see backups list) or folder.")
        ] = None,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        yes: YesOption = False,
        resume: Annotated[
            bool, typer.Option("--resume", help="Retry an interrupted restore.")
        ] = False,
        rollback: Annotated[
            bool,
            typer.Option(
                "--rollback", help="Undo an interrupted restore: restore its safety copy."
            ),
        ] = False,
        output: OutputOption = OutputFormat.table,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Restore SERVICE from BACKUP: check it, plan, confirm, safety copy, restore, verify."""
        from alfred_tui.backup.restore import Outcome, RestoreFlow, StepStatus

        if resume and rollback:
            raise UsageError("choose --resume or --rollback, not both")
        mode: RestoreMode = "resume" if resume else "rollback" if rollback else "restore"
        if mode == "restore" and not backup:
            raise UsageError("name the backup to restore (alfred-tui backups list shows them)")
        if mode != "restore" and backup:
            raise UsageError(f"--{mode} takes the backup from the interrupted restore's journal")
        loaded = load(profile)
        _services(loaded, [service])
        target = open_backend(loaded, backend, context, namespace)
        printer = StepPrinter(to_stdout=output == OutputFormat.table)
        flow = RestoreFlow(
            target,
            _catalog(loaded),
            service.kind,
            backup,
            mode=mode,
            on_change=printer,
        )
        run_async(_restore(flow, yes))
        printer.progress.done()
        if output == OutputFormat.json:
            print(json.dumps(flow.to_dict(), indent=2))
        if flow.outcome not in (Outcome.RESTORED, Outcome.NOTHING_TO_DO):
            # The steps above are the report; stderr gets the one line a script logs.
            failed = [step for step in flow.steps if step.status == StepStatus.FAILED]
            why = failed[-1].messages[-1] if failed and failed[-1].messages else ""
            outcome = flow.outcome.value.replace("_", " ")
            diagnostic(f"Restore not done: {outcome}" + (f": {why}" if why else ""))
            raise typer.Exit(2)


async def _restore(flow: RestoreFlow, yes: bool) -> None:
    try:
        async with flow:
            if not await flow.prepare():
                return
            readonly = bool(global_option("readonly"))
            typed = None
            if not yes and not readonly:
                if sys.stdin.isatty():
                    sys.stderr.write(f"Type '{flow.service}' to restore it: ")
                    sys.stderr.flush()
                    typed = sys.stdin.readline()
                else:
                    diagnostic(
                        "Not confirmed: restore replaces data; run it at a terminal or pass --yes"
                    )
            if flow.confirm(typed, assume_yes=yes, readonly=readonly):
                await flow.execute()
    finally:
        await flow.backend.close()
