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
    import platformdirs

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
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def profile_data_dir(profile_name: str, configured_data_dir: str | None) -> Path:
    """A profile's folder on this machine: ``local.data_dir`` if set, else the data dir; + name."""
    base = Path(configured_data_dir).expanduser() if configured_data_dir else data_dir()
    return base / profile_name


def backup_catalog_dir(
    profile_name: str, configured_catalog: str | None, configured_data_dir: str | None
) -> Path:
    """A profile's backup catalog: ``backups.catalog``, else ``<profile data dir>/backups``.

    Takes the raw profile fields, not a validated profile, so shell completion
    finds backup ids without loading pydantic.
    """
    if configured_catalog:
        return Path(configured_catalog).expanduser()
    return profile_data_dir(profile_name, configured_data_dir) / "backups"


def cache_dir() -> Path:
    """What can be rebuilt at any time (the shell completion's command tree).

    ``$ALFRED_TUI_CACHE_DIR`` wins; otherwise the XDG cache dir.
    """
    override = os.environ.get("ALFRED_TUI_CACHE_DIR")
    if override:
        return Path(override)
    # As platformdirs says on Linux, without its imports (a shell completion reads this).
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP_NAME


def kubeconfig_files(configured: str | None) -> tuple[list[Path], str]:
    """The kubeconfig files to read (the profile's, ``$KUBECONFIG``'s, or ~/.kube/config)
    and where that list came from, for messages."""
    if configured:
        return [Path(configured).expanduser()], "kubernetes.kubeconfig in the profile"
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p], "$KUBECONFIG"
    return [Path("~/.kube/config").expanduser()], "the default location"


def state_dir() -> Path:
    """Small state kept between runs: previous metric samples, restore journals."""
    override = os.environ.get("ALFRED_TUI_STATE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return platformdirs.user_state_path(APP_NAME)
