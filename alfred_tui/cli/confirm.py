"""Asking before a change: print the plan, then ``--yes``, a typed "yes", or a refusal.

Shared by every command that changes a database (``activity terminate``,
``doctor redis-memory``, ``restore``, ``pitr``...). The plan goes to stderr so that stdout keeps
only the result. Without ``--yes`` a terminal is asked to type ``yes``; a
script (no terminal) is refused with a message naming ``--yes``, so nothing
destructive ever happens because a pipe happened to say "y".
"""

from __future__ import annotations

import sys

from alfred_tui.cli.common import diagnostic, global_option
from alfred_tui.database_actions import ActionOutcome
from alfred_tui.errors import AlfredError, UsageError


def confirmed(plan: ActionOutcome, yes: bool) -> bool:
    """Whether to go ahead with ``plan``; raises UsageError when it cannot ask."""
    from alfred_tui.troubleshoot.output import render_outcome

    diagnostic(render_outcome(plan))
    if yes:
        return True
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise UsageError("not done: this changes a live database; add --yes to go ahead")
    sys.stderr.write("Type 'yes' to go ahead: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer != "yes":
        diagnostic("Cancelled: nothing was changed.")
        return False
    return True


def refuse_readonly(action: str) -> None:
    """Refuse ``action`` when alfred-tui runs with ``--readonly``."""
    if global_option("readonly"):
        raise AlfredError(f"read-only mode: {action} is disabled", title="Refused")


def confirm_at_terminal(expected: str, question: str) -> bool:
    """Ask the operator to type ``expected``; False when stdin is no terminal."""
    if not sys.stdin.isatty():
        return False
    diagnostic(question)
    sys.stderr.write(f"Type '{expected}' to go ahead: ")
    sys.stderr.flush()
    try:
        return sys.stdin.readline().strip() == expected
    except (EOFError, KeyboardInterrupt):
        return False
