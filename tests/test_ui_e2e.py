"""End to end: the installed ``alfred-tui --profile local`` in tmux at 80x24, read by capture-pane.

A real pseudo-terminal, a 256-colour TERM and no COLORTERM (as over SSH to a
bastion): the app must draw, switch pane, open help, close it, and quit with
status 0, and it must use the 256-colour palette only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ui_helpers import key_of

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (make test installs it)"),
]

TMUX_CONF = "set -g default-terminal tmux-256color\nset -g remain-on-exit on\nset -g status off\n"


class Tmux:
    """One private tmux server running one program in an 80x24 window."""

    def __init__(self, conf: Path) -> None:
        self.socket = f"alfred-e2e-{uuid.uuid4().hex[:8]}"
        self.conf = conf

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-f", str(self.conf), "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout

    def screen(self, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "ui")

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        text = self.screen()
        while not condition(text):
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never showed {what}; last screen:\n{text}")
            time.sleep(0.1)
            text = self.screen()
        return text

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "ui", *keys)

    def pane(self, field: str) -> str:
        return self.run("display-message", "-p", "-t", "ui", f"#{{{field}}}").strip()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    conf = tmp_path / "tmux.conf"
    conf.write_text(TMUX_CONF)
    session = Tmux(conf)
    try:
        yield session
    finally:
        session.run("kill-server")


def test_the_installed_ui_in_tmux_switches_pane_opens_help_and_quits(
    tmux: Tmux, isolated_dirs: Path
) -> None:
    executable = Path(sys.executable).parent / "alfred-tui"
    assert executable.exists(), "alfred-tui is not installed in this environment"
    env = [f"ALFRED_TUI_DATA_DIR={isolated_dirs / 'data'}", "COLORTERM=", "LANG=C.UTF-8"]
    started = ["new-session", "-d", "-s", "ui", "-x", "80", "-y", "24"]
    for item in env:
        started += ["-e", item]
    # The exit status is written by a shell that waits for alfred-tui: tmux itself
    # learns it only when it reaps the process, which it sometimes leaves undone
    # (the process was seen as a zombie for the whole 15 s, about 1 run in 25).
    status_file = isolated_dirs / "exit-status"
    command = f"{executable} --profile local; echo $? > {status_file}"
    tmux.run(*started, "sh", "-c", command)

    screen = tmux.wait_for(
        lambda s: "backend local" in s and "postgres" in s and "Last 10 min" in s, "the overview"
    )
    lines = screen.splitlines()
    assert "profile local" in lines[0] and "backend local" in lines[0], screen
    assert all(len(line) <= 80 for line in lines)
    tmux.wait_for(lambda s: "connection refused" in s or "OK" in s, "the first poll")

    colours = tmux.screen(escapes=True)
    assert "\x1b[38;5;" in colours  # the 256-colour palette...
    assert "38;2;" not in colours and "48;2;" not in colours  # ...and no true colour

    tmux.keys(key_of("profile"))
    tmux.wait_for(lambda s: "Field" in s and "services.postgres.image" in s, "the Profile pane")

    tmux.keys("?")
    help_screen = tmux.wait_for(lambda s: "Help" in s and "ui.keymap" in s, "the help screen")
    assert "Profile pane" in help_screen

    tmux.keys("Escape")
    tmux.wait_for(lambda s: "ui.keymap" not in s and "Field" in s, "help closed")

    tmux.keys("1")
    tmux.wait_for(lambda s: "Last 10 min" in s, "back on the overview")

    tmux.keys("q")
    deadline = time.monotonic() + 15
    while not (status_file.exists() and status_file.read_text().strip()):
        assert time.monotonic() < deadline, "alfred-tui did not quit on q"
        time.sleep(0.1)
    assert status_file.read_text().strip() == "0"  # 128+N had a signal N ended it
    while tmux.pane("pane_dead") != "1":  # and the terminal closed behind it
        assert time.monotonic() < deadline, "the pane stayed open after alfred-tui quit"
        time.sleep(0.1)
