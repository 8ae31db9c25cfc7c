"""Quitting at once: ``q`` gives the shell back in well under 200 ms.

Textual's own exit unmounts every widget of every pane one by one (about
200 ms with a few panes open) and the interpreter then tears down its modules
(another 300 ms with the SDKs loaded), all after the operator asked to
leave; closing the session politely would add the connections' goodbyes.
None of that is needed when only reads are running: the terminal is put
back exactly as Textual does it (termios restored, alternate screen left,
the writer thread drained; the input thread is not waited for, it only
reads keys), then the process ends and the kernel closes every socket.
PostgreSQL and Redis see a client that went away; nothing is half-written
because nothing was writing.

When a worker that changes something is running (a deploy, a restore, a
remedy, a saved log) or the app is not on a real terminal (tests, a web
driver), Textual's normal exit runs instead.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

#: Worker groups that only read or wait: a quit may abandon them mid-way.
ABANDONABLE_GROUPS = frozenset(
    {
        "poll",
        "read",
        "scan",
        "catalog",
        "audit",
        "markers",
        "profiles",
        "logs-feed",
        "logs-status",
        "prune-plan",
        "explain",
        "target",
        "switch",
        "close",
        "default",
        "io",
    }
)


def changing_work(app: App[Any]) -> list[str]:
    """The groups of running workers that change something (a quit must wait for them)."""
    return sorted(
        {
            worker.group
            for worker in app.workers
            if worker.is_running and worker.group not in ABANDONABLE_GROUPS
        }
    )


def leave_at_once(app: App[Any], return_code: int = 0) -> bool:
    """Restore the terminal and end the process now, if nothing is being changed.

    Returns False (and does nothing) when Textual's normal exit must run.
    """
    from textual.drivers.linux_driver import LinuxDriver

    driver = app._driver
    if not isinstance(driver, LinuxDriver) or app.is_headless or changing_work(app):
        return False
    # The input thread wakes every 100 ms to see whether to stop; joining it would cost
    # up to that. It only reads keys, and ends with the process a moment later.
    driver._key_thread = None
    driver.stop_application_mode()
    driver.close()  # drains the writer thread: every byte of the restore reaches the tty
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(return_code)
