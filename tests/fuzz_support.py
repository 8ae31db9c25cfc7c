"""What the property-based tests (``tests/test_fuzz_*.py``) share.

Hypothesis runs each property on a fixed, small number of examples with
``derandomize=True``: the examples are a function of the test, so CI runs the
same ones every time (repeatable, no example database to keep) and the whole
fuzzing stays within about three minutes. A failure found once is kept as an
``@example`` beside the property, whatever the seed does later.

The properties are the issue's: whatever the input, a person gets one line
per problem naming the file, line, field or argument, the documented exit
code (2, or 3 for ``check``), never a traceback or "Internal error", nothing
half-written, and no control sequence from a server reaches the terminal.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

#: Examples per property: small and fixed, so `make test` stays fast and repeatable.
#: ``ALFRED_TUI_FUZZ_EXAMPLES=500`` runs every property that long (a hunt, not CI).
HUNT = int(os.environ.get("ALFRED_TUI_FUZZ_EXAMPLES", "0"))
EXAMPLES = HUNT or 25

#: CI fails on the first failing example instead of spending minutes shrinking it
#: (a developer's run shrinks it to the smallest input, to keep as an @example).
PHASES = [phase for phase in Phase if not (os.environ.get("CI") and phase == Phase.shrink)]

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=PHASES,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # each example makes its own folder
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
"""The settings of every property; ``fuzz(max_examples=...)`` for a costlier one."""


def few(n: int) -> settings:
    """:data:`fuzz` with ``n`` examples (costlier properties), or the hunt's number."""
    return settings(fuzz, max_examples=HUNT or n)


# --- input that breaks things ----------------------------------------------------------

#: Terminal control sequences a hostile or careless server can hand us.
ESCAPES = (
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1b[31mred\x1b[0m",  # colour
    "\x1b]0;owned\x07",  # OSC: set the window title
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52: write the clipboard
    "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1bP+q544e\x1b\\",  # DCS: query the terminal
    "\x9b31m",  # 8-bit CSI
    "\x1b[?1049l",  # leave the alternate screen
    "\x1b[6n",  # ask the terminal for the cursor position (it answers on stdin)
    "\x07\x08\x0b\x0c\r\x7f",  # bell, backspace, VT, FF, CR, DEL
    "\u202e\u2066",  # bidi overrides
)

#: Rich/Textual markup a server's text must never be read as ("[/x]" raised MarkupError).
MARKUP = ("[/x]", "[bold red]", "[/]", "[link=http://x]y", "[@click=app.quit]q[/]", "[[", "\\[")

hostile_text = st.one_of(
    st.sampled_from(ESCAPES),
    st.sampled_from(MARKUP),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x9F), max_size=20),
    st.lists(st.sampled_from(ESCAPES), min_size=1, max_size=4).map("x".join),
)
"""Text as a server may send it: escapes, control characters, any Unicode."""

hostile_bytes = st.one_of(
    hostile_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
    st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\x1b[", b"\xe2\x80"]),
)
"""Bytes as a server may hold them: invalid UTF-8, NULs, escapes."""


def control_characters(text: str) -> list[str]:
    """Characters of ``text`` a terminal would act on (C0, DEL, C1)."""
    return sorted({char for char in text if unicodedata.category(char) == "Cc"})


# --- running the command line in-process ---------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One run of ``alfred_tui.cli.main``."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    interrupted: bool = False
    """It was still running after the runner's timeout and got a Ctrl-C (exit 130)."""

    def describe(self) -> str:
        return f"alfred-tui {' '.join(map(repr, self.args))} -> {self.code}\n{self.stderr[-2000:]}"


def run_main(args: Sequence[str], stdin: str = "", timeout: float = 30.0) -> Outcome:
    """``alfred-tui ARGS`` through the real ``main()``, in this process (no interpreter start).

    A command still running after ``timeout`` seconds (one that serves or follows
    until stopped, given valid arguments) gets a Ctrl-C, as a person would send;
    its outcome then says ``interrupted``.
    """
    from alfred_tui.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    fired = []

    def interrupt(_signum: int, _frame: object) -> None:
        fired.append(True)
        raise KeyboardInterrupt

    # Signals reach the main thread only: from another thread, no timeout.
    timed = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, interrupt) if timed else None
    if timed:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            _stdin(stdin),
        ):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return Outcome(tuple(args), code, out.getvalue(), err.getvalue(), bool(fired))


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(text)  # never a terminal: nothing waits for an answer
    try:
        yield
    finally:
        sys.stdin = saved


def assert_clean_failure(outcome: Outcome, codes: Sequence[int] = (0, 2)) -> None:
    """The property of every command: a documented exit code, no traceback, no "Internal
    error", and an exit 2 says on stderr what was wrong (a Nagios command's 1-3 is a
    verdict, printed as its report)."""
    if outcome.interrupted and outcome.code == 130:
        return  # a long-running command doing its work (serving, following), stopped by us
    assert outcome.code in codes, outcome.describe()
    assert "Traceback" not in outcome.stderr, outcome.describe()
    assert "Internal error" not in outcome.stderr, outcome.describe()
    if outcome.code == 2 and 3 not in codes:
        lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert lines, f"failed without saying why: {outcome.describe()}"


# --- shared inputs ---------------------------------------------------------------------


def field_paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON/YAML document (``("services", "redis", "ports", 0)``)."""
    found = [here] if here else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += field_paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += field_paths(value, (*here, index))
    return found


def qdrant_only_profile(data_dir: Path, catalog: Path) -> str:
    """A local profile with only the embedded Qdrant store, its data and catalog here."""
    return (
        "extends: local\n"
        "services:\n  postgres:\n    enabled: false\n  redis:\n    enabled: false\n"
        f"local:\n  data_dir: {data_dir}\n"
        f"backups:\n  catalog: {catalog}\n"
    )
