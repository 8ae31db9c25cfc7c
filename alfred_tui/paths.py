"""Where alfred-tui finds its bundled files and keeps its own.

The built-in ``profiles/`` and ``assets/`` folders live at the top of the
repository. A wheel carries them inside the package as ``_bundled/``; a
checkout or an editable install finds them beside the package. One function
answers for all three, so no caller needs to know how it was installed.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import platformdirs

APP_NAME = "alfred-tui"
_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def bundled_dir(name: str) -> Path:
    """The bundled folder ``name`` ("profiles" or "assets"), wherever it is."""
    for candidate in (_PACKAGE_DIR / "_bundled" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"alfred-tui's bundled '{name}' folder is missing (looked in "
        f"{_PACKAGE_DIR / '_bundled' / name} and {_PACKAGE_DIR.parent / name}); "
        "reinstall the package"
    )


def profiles_dir() -> Path:
    """The folder of built-in profiles."""
    return bundled_dir("profiles")


def assets_dir() -> Path:
    """The folder of bundled assets: TCSS, SQL migrations, schemas, templates."""
    return bundled_dir("assets")


def config_dir() -> Path:
    """The XDG config dir (``~/.config/alfred-tui``): user profiles go in ``profiles/``."""
    return platformdirs.user_config_path(APP_NAME)


#: Root's data dir: PostgreSQL runs as the ``postgres`` user, who cannot enter
#: /root (where the XDG data dir would be), so root keeps data where services do.
ROOT_DATA_DIR = Path("/var/lib") / APP_NAME


def data_dir() -> Path:
    """Where the local backend keeps database files.

    ``$ALFRED_TUI_DATA_DIR`` wins; otherwise the XDG data dir, or
    ``/var/lib/alfred-tui`` for root.
    """
    override = os.environ.get("ALFRED_TUI_DATA_DIR")
    if override:
        return Path(override)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_DATA_DIR
    return platformdirs.user_data_path(APP_NAME)


def state_dir() -> Path:
    """Small state kept between runs: previous metric samples, restore journals."""
    override = os.environ.get("ALFRED_TUI_STATE_DIR")
    return Path(override) if override else platformdirs.user_state_path(APP_NAME)
