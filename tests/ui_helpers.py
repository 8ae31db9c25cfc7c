"""Helpers for the UI tests: sessions on real servers, waiting for the screen to show something."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.pilot import Pilot

from alfred_tui.app import AlfredApp
from alfred_tui.control.session import Session, open_session

if TYPE_CHECKING:
    from alfred_tui.screens.backups import BackupsPane

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


async def click_button(
    pilot: Pilot[object], selector: str = "#confirm", timeout: float = 15.0
) -> None:
    """Click ``selector`` on the screen once it is mounted and laid out.

    A dialog is ``app.screen`` before its widgets have a place on it; on a
    loaded machine a click sent then finds no widget, or lands on nothing.
    """
    app = pilot.app

    def laid_out() -> bool:
        found = app.screen.query(selector)
        return bool(found) and found.first().region.area > 0

    await wait_for(pilot, laid_out, timeout, what=f"{selector} laid out")
    await pilot.click(selector)


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
    from alfred_tui.screens.panes import PANES
    from alfred_tui.widgets.pane_tabs import pane_key

    index = next(i for i, pane in enumerate(PANES) if pane.id == pane_id)
    return pane_key(index + 1)


# --- the Backups pane (shared by the local and the Kubernetes tests) ----------------------------


def notified(app: AlfredApp, title: str, contains: str = "") -> bool:
    """Whether a notification titled ``title`` (containing ``contains``) was shown."""
    return any(t == title and contains in m for _, t, m in app.notification_log)


async def open_backups(pilot: Pilot[object], app: AlfredApp) -> BackupsPane:
    """The Backups pane, once it has read the catalog and the PITR status."""
    from alfred_tui.screens.backups import BackupsPane

    await pilot.press(key_of("backups"))
    await wait_for(pilot, lambda: isinstance(app.screen, BackupsPane), what="the Backups pane")
    pane = app.screen
    assert isinstance(pane, BackupsPane)
    await wait_for(pilot, lambda: pane.catalog is not None, what="the catalog read")
    await wait_for(pilot, lambda: pane.pitr is not None, what="PITR status read")
    return pane


async def select(pilot: Pilot[object], pane: BackupsPane, key: str) -> None:
    """Put the catalog's cursor on row ``key``."""
    from alfred_tui.widgets.backup_tables import CatalogTable

    table = pane.query_one(CatalogTable)
    await wait_for(pilot, lambda: key in table.visible_keys, what=f"row {key}")
    table.focus()
    table.move_cursor(row=table.visible_keys.index(key))
    await settle(pilot, 0.1)


async def back_up(pilot: Pilot[object], app: AlfredApp, pane: BackupsPane, service: str) -> str:
    """``b`` on the service's row; the id of the backup it took."""
    before = {row.id for row in (pane.catalog.rows if pane.catalog else ())}
    count = len(app.notification_log)
    await select(pilot, pane, f"service:{service}")
    await pilot.press("b")
    await wait_for(
        pilot,
        lambda: any(t == "Done" or s == "error" for s, t, _ in list(app.notification_log)[count:]),
        timeout=120,
        what=f"backup of {service}",
    )
    done = [m for _, t, m in list(app.notification_log)[count:] if t == "Done"]
    assert done, list(app.notification_log)[count:]
    message = done[-1]
    assert message.startswith(f"Backed up {service}: "), app.notification_log
    await wait_for(
        pilot,
        lambda: pane.catalog is not None and len({r.id for r in pane.catalog.rows} - before) == 1,
        what="the new backup in the catalog",
    )
    (new,) = {r.id for r in pane.catalog.rows} - before  # type: ignore[union-attr]
    return new
