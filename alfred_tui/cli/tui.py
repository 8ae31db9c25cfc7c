"""The default command: open the terminal UI."""

from __future__ import annotations

from alfred_tui.backends import BACKEND_NAMES
from alfred_tui.errors import UsageError


def open_ui(
    profile: str | None, backend: str | None, readonly: bool, replay: str | None = None
) -> None:
    """Open the Textual app on ``profile`` (imports Textual only here), or on a recording.

    A ``--backend`` that does not exist is refused before anything else is
    imported or drawn; the profile itself loads after the first frame. A
    recording that does not open is refused before the screen changes, in
    one line (the file says which profile and backend it was: ``--profile``
    is not used, and ``--backend`` is refused).
    """
    if replay is not None:
        if backend is not None:
            raise UsageError("--replay takes no --backend: the recording says which it was")
        from pathlib import Path

        from alfred_tui.app import run_replay

        run_replay(Path(replay))
        return
    if backend is not None and backend not in BACKEND_NAMES:
        raise UsageError(f"--backend must be one of {', '.join(BACKEND_NAMES)}, not '{backend}'")
    from alfred_tui.app import run_app

    run_app(profile=profile, backend=backend, readonly=readonly)
