"""Commands that change something: say exactly what will happen, ask, keep a safety copy.

Every lifecycle command that changes a deployment (``up``, ``down``, ``scale``,
``resize``, ``restart``) and ``migrate up`` go through :func:`confirm`: it is
refused under ``alfred-tui --readonly``, prints the plan, and needs ``--yes``
or a "y" typed at a terminal. Those that can lose data (``down --volumes``,
``scale ... 0``) also keep a safety copy, whatever the backend::

    plan = DestructivePlan("down --volumes", effects, safety_dir=planned_safety_dir(profile))
    confirm(plan, yes=yes)                      # prints the plan on stderr, asks y/N
    safety = plan.create_safety_dir(profile)    # <data dir>/<profile>/safety/<timestamp>/
    await backend.teardown(remove_volumes=True, safety_dir=safety)
    report_safety_copy(safety)                  # says where (stdout), or removes it if empty

``--yes`` answers for scripts; without it, a stdin that is not a terminal is
refused (exit 2) rather than read, so a pipeline never confirms by accident.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from alfred_tui.errors import AlfredError, UsageError

if TYPE_CHECKING:
    from alfred_tui.config.models import Profile


class Cancelled(AlfredError):
    """The operator answered no: nothing was changed."""

    title = "Cancelled"


@dataclass
class DestructivePlan:
    """What a destructive command will do, line by line, and where the safety copy goes."""

    action: str
    """The command as typed, e.g. ``down --volumes``."""
    effects: list[str]
    """One line per effect, as specific as the backend can be (names, paths, sizes)."""
    keeps_safety_copy: bool = True
    removes_data: bool = True
    """False for a change that loses nothing (resize, restart): no safety copy is kept."""
    moment: datetime = field(default_factory=lambda: datetime.now(UTC))

    def safety_dir_preview(self, profile: Profile) -> Path:
        """Where :meth:`create_safety_dir` will put the copy (for the prompt)."""
        from alfred_tui.safety import safety_root

        return safety_root(profile) / self.moment.strftime("%Y%m%dT%H%M%SZ")

    def create_safety_dir(self, profile: Profile) -> Path:
        """Create the safety folder (only once confirmed)."""
        from alfred_tui.safety import new_safety_dir

        return new_safety_dir(profile, self.moment)


def describe(plan: DestructivePlan, profile: Profile, out: TextIO) -> None:
    """Print the plan: every effect, then where the safety copy goes."""
    print(f"{plan.action} on profile '{profile.name}' will:", file=out)
    for line in filter(None, plan.effects):
        print(f"  - {line}", file=out)
    if plan.keeps_safety_copy:
        where = plan.safety_dir_preview(profile)
        print(f"  - first keep a safety copy of what it removes in {where}/", file=out)
    out.flush()


def confirm(
    plan: DestructivePlan,
    profile: Profile,
    *,
    yes: bool,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> None:
    """Show the plan and get a yes; raise :class:`UsageError` or :class:`Cancelled` otherwise."""
    from alfred_tui.cli.common import global_option

    if global_option("readonly"):
        refusal = f"read-only mode (--readonly): {plan.action} is disabled"
        raise AlfredError(refusal, title="Refused")
    stdin = stdin or sys.stdin
    out = out or sys.stderr
    describe(plan, profile, out)
    if yes:
        return
    if not stdin.isatty():
        what = "removes data" if plan.removes_data else "changes the deployment"
        raise UsageError(
            f"{plan.action} {what} and needs confirmation, but stdin is not a "
            "terminal; add --yes to confirm from a script",
            title="Confirmation needed",
        )
    out.write("Proceed? [y/N] ")
    out.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise Cancelled(f"{plan.action}: nothing was changed")


def confirm_change(action: str, effects: list[str], profile: Profile, *, yes: bool) -> None:
    """:func:`confirm` for a change that removes no data (no safety copy)."""
    plan = DestructivePlan(action, effects, keeps_safety_copy=False, removes_data=False)
    confirm(plan, profile, yes=yes)


def report_safety_copy(safety_dir: Path, out: TextIO | None = None) -> None:
    """Say where the safety copy is; remove the folder if nothing needed keeping."""
    out = out or sys.stdout
    if safety_dir.is_dir() and not any(safety_dir.iterdir()):
        safety_dir.rmdir()
        print("nothing to keep: there was no data to remove", file=out)
        return
    print(f"safety copy kept in {safety_dir} (delete it when no longer needed)", file=out)
