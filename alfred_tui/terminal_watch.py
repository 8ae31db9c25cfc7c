"""Quit when the operator's terminal goes away (SSH dropped, window closed).

On the ops bastion the session ends with SIGHUP, and Python's default for it
is to die on the spot: database connections, port-forwards and workers are
dropped instead of closed. Where no SIGHUP comes at all (``nohup``, a shell
with ``setopt nohup``, a pseudo-terminal closed by a program that never made
it the controlling terminal), Textual's input thread reads end-of-file in a
loop at 100% of a core for ever (textual PR #6690), an orphan nobody sees.

Both end the same way here: the app exits as if the operator had pressed
``q``, with status 129 (128 + SIGHUP, what a shell reports for a hang-up).
The check for a vanished terminal asks the terminal driver for its settings
every few seconds: on a hung-up pseudo-terminal that fails with EIO, while
the input thread's reads only ever return nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

HANGUP_STATUS = 128 + signal.SIGHUP
"""Exit status after a hang-up, as a shell reports a process ended by SIGHUP."""


def terminal_gone(fd: int) -> bool:
    """Whether ``fd`` was a terminal that has been hung up (reads give EOF for ever)."""
    try:
        termios.tcgetattr(fd)
    except termios.error as error:
        return bool(error.args) and error.args[0] == 5  # EIO: the other side closed
    except (OSError, ValueError):
        return True
    return False


def watch_terminal(app: App[Any], interval: float = 2.0) -> None:
    """Make ``app`` exit with :data:`HANGUP_STATUS` on SIGHUP or when its terminal is gone.

    Only for an app drawing on a real terminal: headless runs (tests), the web
    driver (``alfred-tui serve``: the server ends those sessions) and a stdin
    that is not a terminal are left alone.
    """
    if app.is_headless or app.is_web:
        return
    stdin = sys.__stdin__
    if stdin is None:
        return
    try:
        fd = stdin.fileno()
    except (OSError, ValueError):
        return
    if not os.isatty(fd):
        return

    def hang_up() -> None:
        app.exit(return_code=HANGUP_STATUS)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # The app's loop runs in the main thread, so the handler may be installed there.
        import asyncio

        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hang_up)

    def check() -> None:
        if terminal_gone(fd):
            hang_up()

    app.set_interval(interval, check, name="terminal-watch")
