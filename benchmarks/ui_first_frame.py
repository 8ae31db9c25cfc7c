"""Time to first frame of the UI in a real pseudo-terminal, against anchors in the same run.

Starts each command in an 80x24 pty (TERM=xterm-256color, as over SSH) and
measures from spawn until the terminal has received given text, i.e. until
the frame that contains it has been written:

* ``alfred-tui --profile local``, in a throwaway data dir, nothing deployed,
  at two moments of one start:

  - **first frame**: the app's first screen, its header saying which profile
    is loading ("loading profile", header line) and its pane bar
    ("Overview", line two). This is the real app's first frame: it takes
    keys (``q`` quits) while the profile loads in a worker behind it;
  - **overview ready**: the profile is loaded and the backend chosen, the
    header names the backend ("backend") and the overview's tables are
    drawn ("Last 10 min"); what the operator reads. (Before the start-up
    work of issue 5 the first frame *was* this one: this column is the
    number to compare with older runs.)

* anchor ``textual-hello``: a minimal Textual app (one Static), same pty;
* anchor ``import textual.app``: a plain process, no terminal, the floor any
  Textual app pays before it can draw.

Runs alternate between the commands so load on a shared machine hits them
alike. Prints the median, min and max of each, the ratio of each median to
the minimal Textual app's, and the command that made the table. The target
(<= 300 ms) applies to the first frame.

Bytecode: an installed alfred-tui has its ``.pyc`` files (pip compiles them
at install), as do Textual and the anchors in site-packages. So the runs
drop ``PYTHONDONTWRITEBYTECODE`` (set in some development shells) and a
warm-up run writes the caches; otherwise every start would compile our
modules from source (about 100 ms here). ``--no-pyc`` sets it instead: a
checkout with no ``__pycache__`` yet (a fresh ``git archive``, as a
``--baseline``) then compiles at every start, which is what a development
shell with that setting pays (caches already written are still read).

``--baseline DIR`` (repeatable) adds another checkout of alfred-tui (``git
worktree add DIR <commit>``, or ``git archive <commit> | tar -x -C DIR``,
using this environment's packages) run as ``python -P -m alfred_tui
--profile local`` with ``PYTHONPATH=DIR`` (``-P``: the current directory,
maybe this checkout, must not come first on the path), timed the same way and
interleaved with the rest: a before/after in one run. (A checkout without the loading shell has
its overview as its first frame: both columns show the same moment.)

    .venv/bin/python benchmarks/ui_first_frame.py [--runs 10] [--baseline DIR] [--no-pyc]
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
from collections.abc import Callable
from functools import partial
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


FIRST_FRAME = (b"loading profile", b"Overview")
"""The shell: header (which profile is loading) and pane bar."""
READY = (b"backend", b"Last 10 min")
"""The overview: header with the backend, tables drawn."""


def frame_ms(
    argv: list[str], phases: list[tuple[bytes, ...]], env: dict[str, str], timeout: float = 30
) -> list[float]:
    """Milliseconds from spawning ``argv`` in an 80x24 pty until each phase's markers are all
    written, waiting for the last phase. A phase never seen before a later one takes the
    later one's time: a program without a loading shell (older checkouts) has its overview
    as its first frame."""
    process, master, started = _spawn(argv, env)
    try:
        return _phase_times(master, argv, phases, started, timeout)
    finally:
        with_process_gone(process)
        os.close(master)


def frame_ms_process(
    argv: list[str], markers: tuple[bytes, ...], env: dict[str, str], timeout: float = 30
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``argv`` in an 80x24 pty and return once ``markers`` are drawn, still running:
    the process and the pty's master end (the caller stops it: :func:`with_process_gone`)."""
    process, master, started = _spawn(argv, env)
    try:
        _phase_times(master, argv, [markers], started, timeout)
    except BaseException:
        with_process_gone(process)
        os.close(master)
        raise
    return process, master


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, float]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    return process, master, started


def _phase_times(
    master: int, argv: list[str], phases: list[tuple[bytes, ...]], started: float, timeout: float
) -> list[float]:
    seen = b""
    times: list[float | None] = [None] * len(phases)
    while times[-1] is None:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{argv[0]}: {phases[-1]} not drawn within {timeout} s")
        ready, _, _ = select.select([master], [], [], 0.01)
        if not ready:
            continue
        try:
            seen += os.read(master, 65536)
        except OSError:  # the program exited
            raise RuntimeError(f"{argv}: exited before drawing: {seen[-400:]!r}") from None
        now = (time.perf_counter() - started) * 1000
        for index, markers in enumerate(phases):
            if times[index] is None and all(marker in seen for marker in markers):
                times[index] = now
    filled: list[float] = []
    for value in reversed(times):  # a phase not seen takes the next phase's time
        filled.insert(0, value if value is not None else filled[0])
    return filled


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


def print_medians(samples: dict[str, list[float]], anchor: float) -> None:
    """Median, min and max of each command (ms), and its median over the anchor's."""
    width = max(len(name) for name in samples) + 2
    print(f"{'command':<{width}} {'median':>8} {'min':>8} {'max':>8} {'vs hello':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"{name:<{width}} {median:8.0f} {min(values):8.0f} {max(values):8.0f} "
            f"{median / anchor:8.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="another checkout to time beside this one (repeatable)",
    )
    parser.add_argument(
        "--no-pyc", action="store_true", help="set PYTHONDONTWRITEBYTECODE=1 (no new .pyc)"
    )
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
    if args.no_pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached
    alfred = shutil.which("alfred-tui", path=str(BIN)) or str(BIN / "alfred-tui")
    hello = "anchor: textual-hello (minimal app)"
    runs: dict[str, Callable[[], list[float]]] = {
        "alfred-tui --profile local": lambda: frame_ms(
            [alfred, "--profile", "local"], [FIRST_FRAME, READY], env
        ),
    }
    for checkout in args.baseline:
        runs[f"baseline {checkout.name}"] = partial(
            frame_ms,
            [sys.executable, "-P", "-m", "alfred_tui", "--profile", "local"],
            [FIRST_FRAME, READY],
            {**env, "PYTHONPATH": str(checkout.resolve())},
        )
    commands: dict[tuple[str, ...], Callable[[], list[float]]] = {
        (f"{name}: first frame", f"{name}: overview ready"): measure
        for name, measure in runs.items()
    }
    commands[(hello,)] = lambda: frame_ms(
        [sys.executable, "-c", HELLO], [(b"anchor first frame",)], env
    )
    commands[("anchor: python -c 'import textual.app'",)] = lambda: [
        process_ms([sys.executable, "-c", "import textual.app"], env)
    ]
    try:
        for measure in commands.values():  # warm the page cache and .pyc files
            measure()
        samples: dict[str, list[float]] = {name: [] for names in commands for name in names}
        for _ in range(args.runs):
            for names, measure in commands.items():
                for name, value in zip(names, measure(), strict=True):
                    samples[name].append(value)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    anchor = statistics.median(samples[hello])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    cache = "PYTHONDONTWRITEBYTECODE=1" if args.no_pyc else ".pyc cached"
    print(
        f"Time to first frame, 80x24 pty, median of {args.runs} (ms), "
        f"{os.cpu_count()} CPUs, load average {load}, {cache}"
    )
    print_medians(samples, anchor)
    ours = statistics.median(samples["alfred-tui --profile local: first frame"])
    verdict = "meets" if ours <= TARGET_MS else "misses"
    print(
        f"target <= {TARGET_MS:.0f} ms to the first frame: alfred-tui {verdict} it "
        f"({ours:.0f} ms; {ours - anchor:+.0f} ms over the minimal app)"
    )
    python = Path(sys.executable)
    shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    options = "".join(f" --baseline {checkout}" for checkout in args.baseline)
    options += " --no-pyc" if args.no_pyc else ""
    print(f"command: {shown} benchmarks/ui_first_frame.py --runs {args.runs}{options}")


if __name__ == "__main__":
    main()
