"""The installed UI ends when its terminal goes away, instead of living on as an orphan.

A real pseudo-terminal: ``alfred-tui`` draws its first frame on it, then the
terminal disappears the two ways an SSH session can end: the other side of
the pseudo-terminal is closed with no SIGHUP sent (nohup, a program that
never made it the controlling terminal), or SIGHUP arrives. Either way the
process must exit by itself with status 129 (128 + SIGHUP); before the fix
the first case left it reading end-of-file at 100% of a core for ever.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)


def _alfred_tui() -> str:
    return shutil.which("alfred-tui", path=str(Path(sys.executable).parent)) or "alfred-tui"


class PtyApp:
    """``alfred-tui`` on the slave side of a new pseudo-terminal, in a session of its own."""

    def __init__(self, profile: Path) -> None:
        self.master, slave = os.openpty()
        os.set_blocking(self.master, False)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        self.process = subprocess.Popen(
            [_alfred_tui(), "--profile", str(profile)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,  # no controlling terminal: closing the master sends no SIGHUP
        )
        os.close(slave)
        self.output = b""

    def wait_for_text(self, text: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"never drew {text!r}; last output: {self.output[-400:]!r}")
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break

    def close_terminal(self) -> None:
        os.close(self.master)
        self.master = -1

    def exit_status(self, timeout: float = 30) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.master >= 0:
            os.close(self.master)


@pytest.fixture
def pty_app(servers_profile: Path) -> Iterator[PtyApp]:
    app = PtyApp(servers_profile)
    try:
        app.wait_for_text(b"Overview")
        yield app
    finally:
        app.stop()


def test_a_closed_terminal_without_sighup_ends_the_app(pty_app: PtyApp) -> None:
    pty_app.close_terminal()
    status = pty_app.exit_status()
    assert status == 129, f"alfred-tui kept running after its terminal closed (status {status})"


def test_sighup_ends_the_app_cleanly(pty_app: PtyApp) -> None:
    pty_app.process.send_signal(signal.SIGHUP)
    status = pty_app.exit_status()
    assert status == 129, f"alfred-tui did not end on SIGHUP (status {status})"
