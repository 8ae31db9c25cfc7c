"""``alfred-tui pitr status|enable|base-backup|recover``: PostgreSQL point-in-time recovery.

``status`` reads only; ``enable`` restarts PostgreSQL and ``recover``
replaces its data (both ask first, keep what they replace, and are refused
in read-only mode). Every engine carries them out (local, Docker, Kubernetes).
"""

from __future__ import annotations

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
    YesOption,
    examples,
    journaled_command,
    load,
    open_backend,
    run_async,
)
from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.backup.pitr import Pitr


def _open(
    profile: str | None, backend: str | None, context: str | None, namespace: str | None
) -> Pitr:
    from alfred_tui.backup.catalog import Catalog
    from alfred_tui.backup.pitr import Pitr

    loaded = load(profile)
    if loaded.profile.postgres is None:
        raise AlfredError(
            f"profile '{loaded.profile.name}' has no enabled postgres", title="Usage error"
        )
    target = open_backend(loaded, backend, context, namespace)
    return Pitr(target, Catalog.for_profile(loaded.profile))


def _confirm(question_lines: list[str], yes: bool, action: str) -> None:
    from alfred_tui.cli.confirm import confirm_at_terminal, refuse_readonly

    refuse_readonly(action)
    for line in question_lines:
        print(f"  {line}")
    if yes:
        return
    if not confirm_at_terminal("postgres", f"This will {action}."):
        raise AlfredError(
            f"{action} needs confirmation: type the service name at a terminal, or pass --yes",
            title="Not confirmed",
        )


def _print_status(status: Any, pitr: Any, output: OutputFormat) -> None:
    document = status.to_dict(pitr.backend.profile.name, pitr.backend.name)
    if output == OutputFormat.json:
        print(json.dumps(document, indent=2))
        return
    settings = document["settings"]
    archive = document["archive"]
    print(f"PITR {'READY' if status.ready else 'NOT READY'}")
    print(f"  wal_level        {settings['wal_level']}")
    print(f"  archive_mode     {settings['archive_mode']}")
    print(f"  archive_command  {settings['archive_command'] or '(empty)'}")
    print(f"  archive_timeout  {settings['archive_timeout']}")
    files = "?" if archive["files"] is None else archive["files"]
    print(f"  archive          {archive['path']} ({files} WAL files)")
    print(
        f"  last archived    {archive['last_archived_wal'] or '-'} "
        f"at {archive['last_archived_time'] or '-'}"
    )
    if archive["failed_count"]:
        print(
            f"  failures         {archive['failed_count']} (last {archive['last_failed_wal']} "
            f"at {archive['last_failed_time']})"
        )
    print(f"  base backups     {len(document['base_backups'])}")
    print(
        f"  recoverable      {document['earliest_recovery_time'] or '-'} .. "
        f"{document['latest_recovery_time'] or '-'}"
    )
    for problem in status.problems:
        print(f"  - {problem}")


def register(app: typer.Typer) -> None:
    """Add the ``pitr`` group to ``app``."""
    group = typer.Typer(
        help="PostgreSQL point-in-time recovery: WAL archiving, base backups, recovery.",
        epilog=examples(
            "alfred-tui pitr status", "alfred-tui pitr recover --to '2026-11-25 18:05:00+00'"
        ),
        no_args_is_help=True,
    )
    app.add_typer(group, name="pitr")

    @group.command(
        "status",
        epilog=examples(
            "alfred-tui pitr status",
            "alfred-tui pitr status -p prod -o json",
        ),
    )
    def status_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Whether PITR is ready: settings, archive, base backups, recoverable window."""
        pitr = _open(profile, backend, context, namespace)
        status = run_async(_closing(pitr, pitr.status()))
        _print_status(status, pitr, output)

    @group.command(
        "enable",
        epilog=examples(
            "alfred-tui pitr enable",
            "alfred-tui pitr enable --yes -p prod",
        ),
    )
    def enable_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        yes: YesOption = False,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Turn WAL archiving on (backups.wal_archive) and restart PostgreSQL."""
        from alfred_tui.cli.confirm import refuse_readonly

        refuse_readonly("pitr enable")
        pitr = _open(profile, backend, context, namespace)
        lines = run_async(pitr.describe_enable())
        _confirm(lines, yes, "restart PostgreSQL with WAL archiving on")
        from alfred_tui.cli.progress import ProgressLine

        progress = ProgressLine()
        with _journaled(pitr, "pitr enable", lines) as journal:
            status = run_async(_closing(pitr, pitr.enable(progress)))
            journal.succeeded(f"WAL archiving on: {status.archive_command}")
        progress.done()
        print(f"WAL archiving on: {status.archive_command}")
        if not status.base_backups:
            print("Next: alfred-tui pitr base-backup (recovery starts from a base backup)")

    @group.command(
        "base-backup",
        epilog=examples(
            "alfred-tui pitr base-backup",
            "alfred-tui pitr base-backup -p prod",
        ),
    )
    def base_backup_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """pg_basebackup into the catalog, checked with pg_verifybackup."""
        from alfred_tui.cli.progress import ProgressLine

        pitr = _open(profile, backend, context, namespace)
        progress = ProgressLine()
        with _journaled(pitr, "pitr base-backup", []) as journal:
            entry = run_async(_closing(pitr, pitr.base_backup(progress)))
            journal.succeeded(f"base backup {entry.id}")
        progress.done()
        manifest = entry.require()
        print(
            f"{entry.id}: base backup ended {manifest.details['end_time']} "
            f"({manifest.details['bytes_total']:,} bytes, pg_verifybackup ok)"
        )

    @group.command(
        "recover",
        epilog=examples(
            "alfred-tui pitr recover --to '2026-11-25 18:05:00+00'",
            "alfred-tui pitr recover --rollback --yes",
        ),
    )
    def recover_command(
        to: Annotated[
            str | None,
            typer.Option("--to", help="Time to recover to: '2026-11-25 18:00:00' (local) or ISO."),
        ] = None,
        rollback: Annotated[
            bool,
            typer.Option(
                "--rollback",
                help="Undo a recovery that did not finish: put back the data it saved.",
            ),
        ] = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        yes: YesOption = False,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Recover PostgreSQL to a time: base backup + archived WAL, safety copy first."""
        from alfred_tui.backup.pitr_settings import parse_time
        from alfred_tui.cli.confirm import refuse_readonly

        if (to is None) == (not rollback):
            raise AlfredError("give either --to TIME or --rollback", title="Usage error")
        refuse_readonly("pitr recover")
        if rollback:
            _rollback(profile, backend, context, namespace, yes)
            return
        assert to is not None
        target = parse_time(to)
        pitr = _open(profile, backend, context, namespace)
        plan = run_async(pitr.plan_recovery(target))
        _confirm(plan.lines, yes, f"replace PostgreSQL's data with its state at {to}")
        from alfred_tui.cli.progress import ProgressLine
        from alfred_tui.safety import safety_root

        progress = ProgressLine()
        with _journaled(pitr, "pitr recover", plan.lines) as journal:
            result = run_async(
                _closing(pitr, pitr.recover(plan, safety_root(pitr.backend.profile), progress))
            )
            journal.succeeded(
                f"recovered to {result['target']} from {result['base_backup']}; "
                f"data from before in {result['safety_copy']}"
            )
        progress.done()
        print(
            f"PostgreSQL recovered to {result['target']} from {result['base_backup']} "
            f"(timeline {result['timeline']})."
        )
        print(f"The data from before is kept in {result['safety_copy']}.")


def _rollback(
    profile: str | None,
    backend: str | None,
    context: str | None,
    namespace: str | None,
    yes: bool,
) -> None:
    """``pitr recover --rollback``: say what undoing the unfinished recovery takes, then do it."""
    from alfred_tui.backup.pitr_rollback import plan_rollback, rollback
    from alfred_tui.cli.progress import ProgressLine
    from alfred_tui.safety import safety_root

    pitr = _open(profile, backend, context, namespace)
    plan = plan_rollback(pitr)
    _confirm(plan.lines, yes, "undo the unfinished point-in-time recovery")
    progress = ProgressLine()
    with _journaled(pitr, "pitr recover --rollback", plan.lines) as journal:
        result = run_async(
            _closing(pitr, rollback(pitr, plan, safety_root(pitr.backend.profile), progress))
        )
        journal.succeeded("put back" if result["put_back"] else "nothing had been replaced")
    progress.done()
    if result["put_back"]:
        print(f"Rolled back: {result['data_dir']} is again the data from before the recovery.")
    else:
        print(f"Nothing had been replaced: {result['data_dir']} is as it was; PostgreSQL runs.")
    if result["replaced_kept_in"]:
        print(f"The data directory it replaced is kept in {result['replaced_kept_in']}.")


def _journaled(pitr: Any, action: str, plan: list[str]) -> Any:
    """The operator journal's record of one PITR step (plan as printed before asking)."""
    profile = pitr.backend.profile.name
    return journaled_command(action, profile, pitr.backend.name, plan=plan, service="postgres")


async def _closing(pitr: Any, coroutine: Any) -> Any:
    try:
        return await coroutine
    finally:
        await pitr.backend.close()
