"""The default command: open the terminal UI."""

from __future__ import annotations

from alfred_tui.backends import BACKEND_NAMES
from alfred_tui.errors import UsageError


def open_ui(profile: str | None, backend: str | None, readonly: bool) -> None:
    """Open the Textual app on ``profile`` (imports Textual only here).

    A ``--backend`` that does not exist is refused before anything else is
    imported or drawn; the profile itself loads after the first frame.
    """
    if backend is not None and backend not in BACKEND_NAMES:
        raise UsageError(f"--backend must be one of {', '.join(BACKEND_NAMES)}, not '{backend}'")
    from alfred_tui.app import run_app

    run_app(profile=profile, backend=backend, readonly=readonly)
