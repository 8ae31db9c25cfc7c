"""Time to first frame of the UI in a real pseudo-terminal, against anchors in the same run.

Starts each command in an 80x24 pty (TERM=xterm-256color, as over SSH) and
measures from spawn until the terminal has received the first frame, i.e.
until a marker that only the first full frame contains has been written:

* ``alfred-tui --profile local`` (markers: the header's "backend" and the
  overview's "Last 10 min" column: the whole screen is drawn), in a
  throwaway data dir, nothing deployed;
* anchor ``textual-hello``: a minimal Textual app (one Static), same pty;
* anchor ``import textual.app``: a plain process, no terminal, the floor any
  Textual app pays before it can draw.

Runs alternate between the commands so load on a shared machine hits them
alike. Prints the median, min and max of each, the ratio of each median to
the minimal Textual app's, and the command that made the table.

    .venv/bin/python benchmarks/ui_first_frame.py [--runs 10]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_MS = 300.0

HELLO = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Hello(App):\n"
    "    def compose(self):\n"
    "        yield Static('anchor first frame')\n"
    "Hello().run()\n"
)


def first_frame_ms(
    argv: list[str], markers: tuple[bytes, ...], env: dict[str, str], timeout: float = 30
) -> float:
    """Milliseconds from spawning ``argv`` in an 80x24 pty until every marker is written."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    try:
        while not all(marker in seen for marker in markers):
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{argv[0]}: no first frame within {timeout} s")
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:  # the program exited
                    raise RuntimeError(f"{argv}: exited before drawing: {seen[-400:]!r}") from None
        return (time.perf_counter() - started) * 1000
    finally:
        with_process_gone(process)
        os.close(master)


def with_process_gone(process: subprocess.Popen[bytes]) -> None:
    """Stop the program (and anything it started) without waiting on it to tidy up."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def process_ms(argv: list[str], env: dict[str, str]) -> float:
    """Milliseconds a plain process takes to run to its end."""
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="alfred-bench-"))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "",
        "ALFRED_TUI_DATA_DIR": str(data_dir),
        "ALFRED_TUI_STATE_DIR": str(data_dir / "state"),
    }
    env.pop("ALFRED_TUI_PROFILE", None)
    alfred = shutil.which("alfred-tui", path=str(BIN)) or str(BIN / "alfred-tui")
    commands = {
        "alfred-tui --profile local": lambda: first_frame_ms(
            [alfred, "--profile", "local"], (b"backend", b"Last 10 min"), env
        ),
        "anchor: textual-hello (minimal app)": lambda: first_frame_ms(
            [sys.executable, "-c", HELLO], (b"anchor first frame",), env
        ),
        "anchor: python -c 'import textual.app'": lambda: process_ms(
            [sys.executable, "-c", "import textual.app"], env
        ),
    }
    try:
        for measure in commands.values():  # warm the page cache and .pyc files
            measure()
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, measure in commands.items():
                samples[name].append(measure())
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    anchor = statistics.median(samples["anchor: textual-hello (minimal app)"])
    print(f"Time to first frame, 80x24 pty, median of {args.runs} (ms), {os.cpu_count()} CPUs")
    print(f"{'command':<42} {'median':>8} {'min':>8} {'max':>8} {'vs hello':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"{name:<42} {median:8.0f} {min(values):8.0f} {max(values):8.0f} "
            f"{median / anchor:8.2f}x"
        )
    ours = statistics.median(samples["alfred-tui --profile local"])
    verdict = "meets" if ours <= TARGET_MS else "misses"
    print(f"target <= {TARGET_MS:.0f} ms: alfred-tui {verdict} it ({ours:.0f} ms)")
    python = Path(sys.executable)
    shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    print(f"command: {shown} benchmarks/ui_first_frame.py --runs {args.runs}")


if __name__ == "__main__":
    main()
