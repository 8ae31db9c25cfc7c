"""``alfred-tui audit``: the spec's Security section as checks; exits like ``check``.

0 nothing found, 1 warnings, 2 something critical, 3 a check could not run
(or the profile could not be loaded). A production profile that breaks its
own policy is still audited: the audit's job is to list exactly that.
"""

from __future__ import annotations

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
    open_backend,
    profile_reference,
    run_async,
    stdout_console,
)
from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.audit.manifest_checks import Manifest
    from alfred_tui.audit.model import AuditReport
    from alfred_tui.backends.base import Backend
    from alfred_tui.config.loader import LoadedProfile

UNKNOWN_EXIT = 3


def register(app: typer.Typer) -> None:
    """Add ``audit`` to ``app``."""

    @app.command(
        "audit",
        epilog=examples(
            "alfred-tui audit --profile prod",
            "alfred-tui audit -p prod --live -o json > audit.json",
        ),
    )
    def audit_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        output: OutputOption = OutputFormat.table,
        live: Annotated[
            bool,
            typer.Option(
                "--live/--no-live",
                help="Also check the running servers (Redis auth, PostgreSQL ssl and pg_hba).",
            ),
        ] = True,
        manifests: Annotated[
            str | None,
            typer.Option(
                "--manifests",
                "-m",
                help="Kubernetes manifests to check (a YAML file or a folder).",
            ),
        ] = None,
        timeout: Annotated[
            float, typer.Option("--timeout", "-t", min=0.1, help="Seconds per server.")
        ] = 5.0,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Audit the profile (and the live servers); exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
        from alfred_tui.audit.manifest_checks import load_manifests
        from alfred_tui.config.loader import load_profile

        try:
            loaded = load_profile(profile_reference(profile), enforce_policy=False)
            objects = load_manifests(manifests) if manifests else None
        except AlfredError as exc:
            diagnostic(exc.one_line())
            exit_now(UNKNOWN_EXIT)
            return
        target: Backend | None = None
        if live:
            try:
                target = open_backend(loaded, backend, context, namespace)
            except AlfredError as exc:
                diagnostic(exc.one_line())
                exit_now(UNKNOWN_EXIT)
                return
            except ImportError:
                diagnostic(
                    "Live checks skipped: this build has no "
                    f"{backend or loaded.profile.backend} backend; auditing the profile only."
                )
        report = run_async(_run(loaded, target, timeout, objects))
        from alfred_tui.audit import output as render

        if output == OutputFormat.json:
            print(render.render_json(report))
        else:
            console = stdout_console()
            console.print(render.summary_line(report), markup=False)
            console.print(render.render_report(report))
        exit_now(report.exit_code)


async def _run(
    loaded: LoadedProfile,
    target: Backend | None,
    timeout: float,
    objects: list[Manifest] | None,
) -> AuditReport:
    from alfred_tui.audit.runner import run_audit

    try:
        return await run_audit(loaded, target, timeout=timeout, manifests=objects)
    finally:
        if target is not None:
            await target.close()
