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

The check runs in a thread of its own, not on the app's event loop, and a
hang-up also ends the process :data:`EXIT_GRACE_SECONDS` after asking the
app to exit, if it is still alive then. With the check on the loop, and
the app's exit trusted to finish, the hang-up test failed in CI about one
run in three on a loaded machine (the process was still alive 30 s after
its terminal closed; once seen joining Textual's input thread). The app's
own exit has that long to close connections and write the black box;
nobody is left to see the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

HANGUP_STATUS = 128 + signal.SIGHUP
"""Exit status after a hang-up, as a shell reports a process ended by SIGHUP."""
EXIT_GRACE_SECONDS = 10.0
"""How long the app's own exit may take after a hang-up before the process ends anyway."""


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

    loop = asyncio.get_running_loop()
    hung_up = threading.Event()

    def exit_app() -> None:
        app.exit(return_code=HANGUP_STATUS)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # The app's loop runs in the main thread, so the handler may be installed there.
        loop.add_signal_handler(signal.SIGHUP, hung_up.set)

    def watch() -> None:
        while not hung_up.wait(interval):
            if terminal_gone(fd):
                break
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app is ending
            loop.call_soon_threadsafe(exit_app)
        time.sleep(EXIT_GRACE_SECONDS)
        os._exit(HANGUP_STATUS)  # still alive: the app's exit did not finish

    threading.Thread(target=watch, name="terminal-watch", daemon=True).start()
