"""``alfred-tui failover`` and ``alfred-tui reclone``: move the primary, rebuild a replica.

``failover postgres|redis [--to INSTANCE] [--force] [--yes]`` checks that
the primary is really down (``--force`` for a planned switchover: it is
stopped first), picks the replica that received the most (or ``--to``),
prints the plan, asks, then promotes it, points the profile's endpoint at it,
checks the other replicas follow, fences the old primary and records it all
(:mod:`alfred_tui.control.failover`). ``reclone SERVICE INSTANCE`` makes a
lagging replica, or a fenced old primary, a fresh replica of the primary,
keeping a safety copy of its data first. Both are refused under
``--readonly``.
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
    YesOption,
    diagnostic,
    examples,
    journaled_command,
    load,
    open_backend,
    run_async,
)
from alfred_tui.cli.confirm import refuse_readonly

if TYPE_CHECKING:
    from alfred_tui.config.models import ServiceKind


class ReplicatedService(enum.StrEnum):
    """The services that have replicas, hence a primary to move."""

    postgres = "postgres"
    redis = "redis"

    @property
    def kind(self) -> ServiceKind:
        """The config's ``ServiceKind`` of the same name (an enum's ``value`` is typed str)."""
        from alfred_tui.config.models import service_kind

        return service_kind(self.value)


ReplicatedServiceArgument = Annotated[
    ReplicatedService, typer.Argument(help="postgres or redis (they have replicas).")
]


def register(app: typer.Typer) -> None:
    """Add ``failover`` and ``reclone`` to ``app``."""

    @app.command(
        "failover",
        epilog=examples(
            "alfred-tui --backend docker failover postgres",
            "alfred-tui failover redis --to alfred-redis-3 --yes",
        ),
    )
    def failover_command(
        service: ReplicatedServiceArgument,
        to: Annotated[
            str | None,
            typer.Option("--to", help="Promote this replica (default: the most advanced)."),
        ] = None,
        force: Annotated[
            bool,
            typer.Option(
                "--force", help="The primary answers: stop it first (a planned switchover)."
            ),
        ] = False,
        yes: YesOption = False,
        output: OutputOption = OutputFormat.table,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Promote a replica of SERVICE when its primary is down; the old one is fenced."""
        from alfred_tui.cli.destructive import confirm_change
        from alfred_tui.cli.lifecycle import print_progress
        from alfred_tui.control.failover import execute_failover, plan_failover

        kind = service.kind
        refuse_readonly("failover")
        loaded = load(profile)

        async def decide(target: Any) -> Any:
            async with target:
                return await plan_failover(target, kind, to, force)

        plan = run_async(decide(open_backend(loaded, backend, context, namespace)))
        for warning in plan.warnings:
            diagnostic(f"Warning: {warning}")
        confirm_change(f"failover {kind}", list(plan.lines), loaded.profile, yes=yes)

        async def carry_out(target: Any) -> Any:
            async with target:
                with journaled_command(
                    "failover", loaded.profile.name, target.name, plan=plan.lines, service=kind
                ):
                    return await execute_failover(target, plan, print_progress)

        outcome = run_async(carry_out(open_backend(loaded, backend, context, namespace)))
        if output == OutputFormat.json:
            document = {"schema": "alfred-tui/failover", "version": 1, **outcome.to_json()}
            print(json.dumps({**document, "record": outcome.record}, indent=2))
            return
        print(outcome.summary())
        print(f"recorded in {outcome.record}")

    @app.command(
        "reclone",
        epilog=examples(
            "alfred-tui reclone postgres alfred-db-postgres-1",
            "alfred-tui --backend docker reclone redis alfred-redis-2 --yes",
        ),
    )
    def reclone_command(
        service: ReplicatedServiceArgument,
        instance: Annotated[str, typer.Argument(help="The replica, or fenced old primary.")],
        yes: YesOption = False,
        profile: ProfileOption = None,
        backend: BackendOption = None,
        context: ContextOption = None,
        namespace: NamespaceOption = None,
    ) -> None:
        """Make INSTANCE a fresh replica of SERVICE's primary (its data kept as a safety copy)."""
        from alfred_tui.backends.capabilities import PrimaryFailover, require
        from alfred_tui.cli.destructive import DestructivePlan, confirm, report_safety_copy
        from alfred_tui.cli.lifecycle import print_progress

        kind = service.kind
        refuse_readonly("reclone")
        loaded = load(profile)

        async def describe(target: Any) -> list[str]:
            async with target:
                engine = require(target, kind, PrimaryFailover)
                return await engine.reclone_plan(kind, instance)

        lines = run_async(describe(open_backend(loaded, backend, context, namespace)))
        plan = DestructivePlan(f"reclone {kind} {instance}", lines)
        confirm(plan, loaded.profile, yes=yes)
        safety_dir = plan.create_safety_dir(loaded.profile)

        async def carry_out(target: Any) -> str:
            async with target:
                engine = require(target, kind, PrimaryFailover)
                with journaled_command(
                    "reclone", loaded.profile.name, target.name, plan=lines, service=kind
                ):
                    return await engine.reclone(kind, instance, print_progress, safety_dir)

        print(run_async(carry_out(open_backend(loaded, backend, context, namespace))))
        report_safety_copy(safety_dir)
