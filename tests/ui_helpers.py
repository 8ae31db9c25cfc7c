"""Helpers for the UI tests: sessions on real servers, waiting for the screen to show something."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from alfred_tui.app import AlfredApp
from alfred_tui.control.session import Session, open_session

#: Refresh and backoff small enough that "within two polls" takes well under a second.
FAST = {"backoff_cap": 1.0, "probe_timeout": 2.0}


def fast_session(
    profile: str | Path, backend: str | None = None, readonly: bool = False
) -> Session:
    """A session on ``profile`` with a short backoff cap (the profile sets refresh_seconds)."""
    session = open_session(str(profile), backend, readonly)
    session.backoff_cap = FAST["backoff_cap"]
    session.probe_timeout = FAST["probe_timeout"]
    return session


def fast_app(profile: str | Path, readonly: bool = False) -> AlfredApp:
    """The real app on ``profile``; switching opens fast sessions too."""
    return AlfredApp(
        fast_session(profile, readonly=readonly),
        open_target=lambda ref, backend, ro: fast_session(ref or "local", backend, ro),
    )


async def wait_for(
    pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 15.0, what: str = ""
) -> float:
    """Let the app run until ``condition()`` holds; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.05)
    return time.monotonic() - started


async def settle(pilot: Pilot[object], seconds: float = 0.2) -> None:
    """Give workers and message handlers a moment."""
    await pilot.pause(seconds)
    await asyncio.sleep(0)


def static_text(widget: object, width: int = 160) -> str:
    """The plain text a Static shows (Rich renderables included), for assertions."""
    import io

    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    content = widget.content  # type: ignore[attr-defined]
    with console.capture() as capture:
        console.print(content)
    return capture.get()


def key_of(pane_id: str) -> str:
    """The number key that opens pane ``pane_id`` (tests must not hard-code the order)."""
    from alfred_tui.screens.panes import PANES, pane_key

    index = next(i for i, pane in enumerate(PANES) if pane.id == pane_id)
    return pane_key(index + 1)
