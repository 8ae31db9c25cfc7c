"""The garbage collector during a process's start: paused, then frozen and resumed.

A start allocates about two hundred thousand objects that live as long as
the process: modules, classes, dataclass methods, pydantic schemas, Typer's
parameters. Python's cyclic collector walks them again and again while they
are made, and finds almost no garbage: about 45 ms of a 300 ms ``check``,
20 ms of it in one full collection (measured with ``gc.callbacks``;
``benchmarks/check_wall.py`` compares the check with its import floor run
both ways). Reference counting still frees everything that is not in a
cycle, so pausing the collector for the start costs almost no memory.

A command that is still running after :data:`STARTUP_SECONDS` (the UI, a
follow, a long scan) gets the collector back: what the start made is frozen
first (``gc.freeze``), so later full collections skip it too, which is the
lasting gain for a process that refreshes every second. Short commands
(``check``, ``keyspace --sample``, ``status``) end before that: they never
collect while they work, and what they leave is freed as the process exits.
"""

from __future__ import annotations

import gc
import threading

#: How long after the start the collector stays paused.
STARTUP_SECONDS = 2.0

_paused = False


def pause_during_startup(seconds: float = STARTUP_SECONDS) -> None:
    """Pause the collector now and resume it ``seconds`` later (once per process)."""
    global _paused
    if _paused or not gc.isenabled():
        return  # a second main() in the same process, or a host that manages the collector
    _paused = True
    gc.disable()
    timer = threading.Timer(seconds, resume)
    timer.daemon = True  # never keeps a finished command alive
    timer.name = "alfred-tui startup collector"
    timer.start()


def resume() -> None:
    """Collect what the start left in cycles, freeze the rest, and collect as usual again."""
    gc.collect()
    gc.freeze()
    gc.enable()
