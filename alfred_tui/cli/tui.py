"""The default command: open the terminal UI."""

from __future__ import annotations


def open_ui(profile: str | None, backend: str | None, readonly: bool) -> None:
    """Open the Textual app on ``profile`` (imports Textual only here)."""
    from alfred_tui.app import run_app

    run_app(profile=profile, backend=backend, readonly=readonly)
