"""The served UI against the same app in a terminal: page load to the Overview, and key latency.

Two measurements, each as browser vs pty in the same run, interleaved:

* **open**: from asking for the page (the printed ``/?token=`` URL: login
  redirect, page, textual.js, websocket, app process start) until the
  terminal in the page shows the app's first frame ("loading profile" in the
  header) and then the Overview (header with "backend", "Last 10 min"); against
  spawning ``alfred-tui --profile P`` in an 80x24-ish pty until the same text
  has been written (as benchmarks/ui_first_frame.py does);
* **key**: in an open session, from sending ``0`` (Profile pane) or ``1``
  (Overview) until the other pane's text is on screen; browser: Playwright's
  key press into xterm.js until the page's accessibility tree shows it
  (polled every animation frame); pty: the key byte written to the terminal
  until the text has been written back.

The browser is Debian's headless chromium (Playwright, no download); the
server is ``alfred-tui serve --profile P --port 0`` started once, each
"open" a new browser page (a new app process). Both sides open the same
profile (default ``local``, nothing deployed, in a throwaway data dir).
``--busy N`` runs N CPU-bound processes meanwhile (a loaded machine).

    .venv/bin/python benchmarks/serve_latency.py [--runs 10] [--keys 20] [--busy 2]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import busy_processes
from serve_support import (
    SCREEN,
    ServeProcess,
    launch_chromium,
)
from ui_first_frame import with_process_gone

BIN = Path(sys.executable).parent
COLUMNS, ROWS = 100, 30
VIEWPORT = {"width": 1000, "height": 620}  # about 100x30 cells at textual.js's 16 px font
FIRST = ("loading profile",)
OVERVIEW = ("backend", "Last 10 min")
#: (key, what the pane it opens shows): Profile, then back to the Overview.
KEYS = (("0", "services.postgres.image"), ("1", "Last 10 min"))


class PtyApp:
    """``alfred-tui --profile P`` in a pty; reads what it writes."""

    def __init__(self, profile: str, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(BIN / "alfred-tui"), "--profile", profile],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.seen = b""

    def wait_for(self, *markers: str, timeout: float = 30) -> float:
        """Seconds since :attr:`started` until every marker has been written since the mark."""
        wanted = [marker.encode() for marker in markers]
        deadline = time.perf_counter() + timeout
        while not all(marker in self.seen for marker in wanted):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"pty never showed {markers}: {self.seen[-300:]!r}")
            ready, _, _ = select.select([self.master], [], [], 0.01)
            if ready:
                self.seen += os.read(self.master, 65536)
        return time.perf_counter() - self.started

    def key(self, key: str) -> None:
        self.seen = b""
        self.started = time.perf_counter()
        os.write(self.master, key.encode())

    def close(self) -> None:
        with_process_gone(self.process)
        os.close(self.master)


class BrowserApp:
    """One page of the served app."""

    def __init__(self, context: object, url: str) -> None:
        self.page = context.new_page()  # type: ignore[attr-defined]
        self.page.set_viewport_size(VIEWPORT)
        self.started = time.perf_counter()
        self.page.goto(url, wait_until="commit")

    def wait_for(self, *markers: str, gone: str | None = None, timeout: float = 30) -> float:
        self.page.wait_for_function(
            """([selector, markers, gone]) => {
                const tree = document.querySelector(selector);
                if (tree === null) return false;
                const text = tree.innerText;
                return markers.every((m) => text.includes(m)) && !(gone && text.includes(gone));
            }""",
            arg=[SCREEN, list(markers), gone],
            polling="raf",
            timeout=timeout * 1000,
        )
        return time.perf_counter() - self.started

    def key(self, key: str) -> None:
        self.page.focus(".xterm-helper-textarea")
        self.started = time.perf_counter()
        self.page.keyboard.type(key)

    def close(self) -> None:
        self.page.close()


def summary(label: str, samples: list[float], anchor: list[float]) -> str:
    median = statistics.median(samples) * 1000
    ratio = statistics.median(samples) / statistics.median(anchor)
    return (
        f"| {label} | {median:.0f} | {min(samples) * 1000:.0f} | {max(samples) * 1000:.0f} "
        f"| {ratio:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="page loads / pty starts each")
    parser.add_argument("--keys", type=int, default=20, help="pane switches each")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes meanwhile")
    parser.add_argument("--profile", default="local")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="alfred-serve-bench-") as home:
        env = {
            **os.environ,
            "ALFRED_TUI_DATA_DIR": f"{home}/data",
            "ALFRED_TUI_STATE_DIR": f"{home}/state",
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ.update({k: env[k] for k in ("ALFRED_TUI_DATA_DIR", "ALFRED_TUI_STATE_DIR")})
        samples: dict[str, list[float]] = {
            name: [] for name in ("pty first", "pty overview", "web first", "web overview")
        }
        keys: dict[str, list[float]] = {"pty": [], "web": []}
        with ServeProcess("--profile", args.profile) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            context = browser.new_context()  # one login; each page after it opens its own app
            login = context.new_page()
            login.goto(server.url)
            login.close()
            base = server.base
            with busy_processes(args.busy):
                for run in range(args.runs + 1):  # the first of each is a warm-up
                    terminal = PtyApp(args.profile, env)
                    first, ready = terminal.wait_for(*FIRST), terminal.wait_for(*OVERVIEW)
                    web = BrowserApp(context, base)
                    web_first, web_ready = web.wait_for(*FIRST), web.wait_for(*OVERVIEW)
                    if run:
                        samples["pty first"].append(first)
                        samples["pty overview"].append(ready)
                        samples["web first"].append(web_first)
                        samples["web overview"].append(web_ready)
                    if run == args.runs:
                        for index in range(args.keys + 1):
                            key, marker = KEYS[index % 2]
                            previous = KEYS[(index + 1) % 2][1]
                            terminal.key(key)
                            pty_ms = terminal.wait_for(marker)
                            web.key(key)
                            web_ms = web.wait_for(marker, gone=previous)
                            if index:
                                keys["pty"].append(pty_ms)
                                keys["web"].append(web_ms)
                    terminal.close()
                    web.close()
            browser.close()

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\n### alfred-tui serve vs the terminal ({args.runs} runs, {args.keys} keys, "
          f"busy {args.busy}; {os.cpu_count()} CPUs, load average {load})\n")  # fmt: skip
    print("| measurement | median ms | min ms | max ms | x pty |")
    print("|---|---:|---:|---:|---:|")
    print(summary("pty: spawn -> first frame", samples["pty first"], samples["pty first"]))
    print(summary("browser: page -> first frame", samples["web first"], samples["pty first"]))
    print(summary("pty: spawn -> Overview", samples["pty overview"], samples["pty overview"]))
    print(summary("browser: page -> Overview", samples["web overview"], samples["pty overview"]))
    print(summary("pty: key -> pane on screen", keys["pty"], keys["pty"]))
    print(summary("browser: key -> pane on screen", keys["web"], keys["pty"]))
    print(f"\nmade by: `{shlex.join([sys.executable, *sys.argv])}`")


if __name__ == "__main__":
    main()
