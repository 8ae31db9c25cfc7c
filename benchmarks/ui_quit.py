"""Time from pressing ``q`` until the UI's process has exited, against a minimal Textual app.

Starts each command in an 80x24 pty (as ``ui_first_frame.py`` does), waits
until its screen is drawn and its pollers have run for ``--settle`` seconds,
sends the quit key, and measures until the process has exited (its exit
status collected), i.e. until the operator has the shell back:

* ``alfred-tui --profile local`` (on free ports) in a throwaway data dir: nothing deployed
  (every poll is a refused connection, retried with backoff), or with
  ``--deploy`` the profile's servers started first by ``alfred-tui up --yes``
  (live connections and pools to close) and stopped after;
* anchor ``textual-hello``: a minimal Textual app quitting on ``q``.

Runs alternate between the two so load on a shared machine hits them alike.
Prints median, min and max of each, the ratio to the anchor, the load
average, and the command that made the table. Target: < 200 ms.

    .venv/bin/python benchmarks/ui_quit.py [--runs 10] [--settle 2] [--deploy]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ui_first_frame import READY, frame_ms_process, print_medians, with_process_gone

BIN = Path(sys.executable).parent
TARGET_MS = 200.0

HELLO = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Hello(App):\n"
    "    BINDINGS = [('q', 'quit', 'Quit')]\n"
    "    def compose(self):\n"
    "        yield Static('anchor first frame')\n"
    "Hello().run()\n"
)


def quit_ms(
    argv: list[str], markers: tuple[bytes, ...], env: dict[str, str], settle: float
) -> float:
    """Milliseconds from writing ``q`` to the pty until the process has exited."""
    process, master = frame_ms_process(argv, markers, env)
    try:
        deadline = time.perf_counter() + settle
        while time.perf_counter() < deadline:  # keep draining what it draws meanwhile
            if select.select([master], [], [], 0.02)[0]:
                os.read(master, 65536)
        started = time.perf_counter()
        os.write(master, b"q")
        while process.poll() is None:
            if select.select([master], [], [], 0.002)[0]:
                with contextlib.suppress(OSError):
                    os.read(master, 65536)
            if time.perf_counter() - started > 20:
                raise TimeoutError(f"{argv[0]} still running 20 s after q")
        return (time.perf_counter() - started) * 1000
    finally:
        with_process_gone(process)
        os.close(master)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds on screen before q")
    parser.add_argument("--deploy", action="store_true", help="run the profile's servers first")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="alfred-bench-quit-"))
    data_dir.chmod(0o755)  # PostgreSQL runs as its own user (when we are root)
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "ALFRED_TUI_DATA_DIR": str(data_dir),
        "ALFRED_TUI_STATE_DIR": str(data_dir / "state"),
    }
    env.pop("ALFRED_TUI_PROFILE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    alfred = shutil.which("alfred-tui", path=str(BIN)) or str(BIN / "alfred-tui")
    # Free ports, so that a local deployment already on the profile's (make run) is left be.
    profile = data_dir / "bench.yaml"
    profile.write_text(
        "extends: local\nname: bench\nservices:\n"
        f"  postgres:\n    ports: ['127.0.0.1:{free_port()}:5432']\n"
        f"  redis:\n    ports: ['127.0.0.1:{free_port()}:6379']\n"
    )
    ours = "alfred-tui --profile local" + (" (deployed)" if args.deploy else " (nothing deployed)")
    anchor = "anchor: textual-hello (minimal app)"
    commands = {
        ours: lambda: quit_ms([alfred, "--profile", str(profile)], READY, env, args.settle),
        anchor: lambda: quit_ms(
            [sys.executable, "-c", HELLO], (b"anchor first frame",), env, args.settle
        ),
    }
    try:
        if args.deploy:
            subprocess.run(
                [alfred, "up", "--yes", "--profile", str(profile)],
                env=env,
                check=True,
                capture_output=True,
            )
        for measure in commands.values():  # warm the page cache and .pyc files
            measure()
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, measure in commands.items():
                samples[name].append(measure())
    finally:
        if args.deploy:
            subprocess.run(
                [alfred, "down", "--yes", "--profile", str(profile)], env=env, capture_output=True
            )
        shutil.rmtree(data_dir, ignore_errors=True)

    anchor_median = statistics.median(samples[anchor])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"Quit (q to exit), 80x24 pty, median of {args.runs} (ms), {os.cpu_count()} CPUs, "
        f"load average {load}"
    )
    print_medians(samples, anchor_median)
    median = statistics.median(samples[ours])
    verdict = "meets" if median < TARGET_MS else "misses"
    print(f"target < {TARGET_MS:.0f} ms: alfred-tui {verdict} it ({median:.0f} ms)")
    options = f" --runs {args.runs} --settle {args.settle:g}" + (" --deploy" if args.deploy else "")
    print(f"command: .venv/bin/python benchmarks/ui_quit.py{options}")


if __name__ == "__main__":
    main()
