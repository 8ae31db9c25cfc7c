"""A real ``alfred-tui serve`` in a subprocess, and Debian's chromium driven by Playwright.

:class:`ServeProcess` starts the installed command on a free port (``--port
0``), reads the URL it prints, and stops it with SIGINT as an operator's
Ctrl+C does. :func:`launch_chromium` starts ``/usr/bin/chromium`` headless
for a closed network (Playwright's own browser download cannot work here).

The terminal's text is read from the page's accessibility tree: the served
page turns on xterm.js's screen-reader mode, which keeps one DOM row per
terminal line (``.xterm-accessibility-tree``), the text a screen reader reads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
]
SCREEN = ".xterm-accessibility-tree"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"needs {CHROMIUM} (make test installs Debian's chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs the playwright package (pip install -e '.[test]')"
    return None


class ServeProcess:
    """``alfred-tui serve ARGS --port 0`` until :meth:`stop`."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 30) -> None:
        executable = Path(sys.executable).parent / "alfred-tui"
        self.process = subprocess.Popen(
            [str(executable), "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.banner: list[str] = []
        self.stderr = ""
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while not any(line.startswith("open: ") for line in self.banner):
            line = self.process.stdout.readline()
            if not line:
                self.stop()
                raise AssertionError(f"alfred-tui serve ended: {self.banner} {self.stderr}")
            self.banner.append(line.rstrip("\n"))
            assert time.monotonic() < deadline, f"no URL printed: {self.banner}"
        opened = next(line for line in self.banner if line.startswith("open: "))
        self.url = opened.split()[1]
        """What the operator is told to open (with ``?token=`` when one was made)."""
        self.base = self.url.split("?", 1)[0]
        self.token = self.url.split("?token=", 1)[1] if "?token=" in self.url else None

    @property
    def port(self) -> int:
        return int(self.base.rstrip("/").rsplit(":", 1)[1])

    def stop(self) -> int:
        """SIGINT, as Ctrl+C (every session ends), then wait; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, self.stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            _, self.stderr = self.process.communicate(timeout=10)
        return self.process.returncode

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def audit_lines(state_dir: Path) -> list[dict[str, Any]]:
    """The serve events written so far (``serve.log`` in the state dir)."""
    path = state_dir / "serve.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian chromium (Playwright gives each launch a fresh --user-data-dir)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def screen_text(page: Any) -> str:
    """The terminal's lines as the page holds them (accessibility tree), one per line."""
    return str(page.inner_text(SCREEN)) if page.query_selector(SCREEN) else ""


def wait_for_screen(page: Any, *texts: str, gone: tuple[str, ...] = (), timeout: float = 30) -> str:
    """Wait until every one of ``texts`` is on the terminal and none of ``gone``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            """([selector, texts, gone]) => {
                const tree = document.querySelector(selector);
                return tree !== null && texts.every((t) => tree.innerText.includes(t))
                    && !gone.some((t) => tree.innerText.includes(t));
            }""",
            arg=[SCREEN, list(texts), list(gone)],
            timeout=timeout * 1000,
        )
    except PlaywrightTimeout:
        screen = screen_text(page)
        missing = [text for text in texts if text not in screen]
        stayed = [text for text in gone if text in screen]
        raise AssertionError(
            f"never on screen: {missing}, never gone: {stayed}; last screen:\n{screen}"
        ) from None
    return screen_text(page)
