"""What exists on this machine, for completion: profiles, backends, contexts, backup ids.

Each source reads only what it must (a folder listing, a kubeconfig, the
profile's YAML for where its catalog lives), never validates a profile and
never imports pydantic, so a completion stays a few tens of milliseconds.
A source that cannot read something offers nothing rather than fail: a
completion must never print an error into the operator's command line.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: The services every command names, in the spec's order.
SERVICES = ("postgres", "redis", "qdrant")
DEFAULT_PROFILE = "local"
PROFILE_ENV = "ALFRED_TUI_PROFILE"


class Candidates:
    """What the shell may insert: values with a short description, and whether files fit too.

    A plain class: :mod:`dataclasses` costs a completion a few milliseconds of imports.
    """

    __slots__ = ("files", "values")

    def __init__(self, values: list[tuple[str, str]] | None = None, files: bool = False) -> None:
        self.values = values or []
        self.files = files


def profiles(incomplete: str) -> Candidates:
    """Every profile a name reaches (user ones first); files too when it looks like a path."""
    from alfred_tui.config.sources import list_profiles, looks_like_path

    found: dict[str, str] = {}
    for source in list_profiles():
        found.setdefault(source.name, source.origin)
    path_like = looks_like_path(incomplete) or incomplete.startswith((".", "~"))
    return Candidates(sorted(found.items()), files=path_like)


def backends() -> Candidates:
    """The engines: local processes, Docker, Kubernetes."""
    from alfred_tui.backends import BACKEND_NAMES

    return Candidates([(name, "backend") for name in BACKEND_NAMES])


def kube_contexts(profile: str) -> Candidates:
    """The contexts of the kubeconfig the profile (or $KUBECONFIG, or ~/.kube/config) names."""
    from alfred_tui.paths import kubeconfig_files

    files, _ = kubeconfig_files(_profile_field(profile, ("kubernetes", "kubeconfig")))
    values: dict[str, str] = {}
    for path in files:
        for context in _yaml_mapping(path).get("contexts") or []:
            if isinstance(context, dict) and isinstance(context.get("name"), str):
                details = context.get("context") or {}
                cluster = details.get("cluster", "") if isinstance(details, dict) else ""
                values.setdefault(context["name"], f"cluster {cluster}" if cluster else "")
    return Candidates(sorted(values.items()))


def backup_ids(profile: str, service: str | None) -> Candidates:
    """The ids in the profile's backup catalog (of ``service`` when one is named), newest first."""
    from alfred_tui import paths

    name = _profile_field(profile, ("name",)) or profile
    catalog = paths.backup_catalog_dir(
        name,
        _profile_field(profile, ("backups", "catalog")),
        _profile_field(profile, ("local", "data_dir")),
    )
    services = [service] if service in SERVICES else list(SERVICES)
    found: list[tuple[str, str]] = []
    for kind in services:
        with contextlib.suppress(OSError):
            found += [(entry.name, kind) for entry in os.scandir(catalog / kind) if _backup(entry)]
    return Candidates(sorted(found, key=lambda item: _age_of(item[0]), reverse=True))


def profile_in_use(given: Mapping[str, list[str]]) -> str:
    """The profile the command line names, else ``$ALFRED_TUI_PROFILE``, else ``local``."""
    named = given.get("profile")
    return named[-1] if named else os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE


def _age_of(backup_id: str) -> tuple[str, int]:
    """Ids end with their UTC second, then ``-N`` for the Nth more in that second.

    (<service>[-base]-YYYYmmddTHHMMSSZ[-N]); sorting on this puts them in the catalog's
    order, newest first, without reading a manifest per id.
    """
    *_, stamp, last = ["", *backup_id.split("-")]
    if last.isdigit() and stamp.endswith("Z"):
        return (stamp, int(last))
    return (last, 0)


def _backup(entry: os.DirEntry[str]) -> bool:
    return not entry.name.startswith(".") and entry.is_dir()


@functools.cache
def _profile_data(profile: str) -> dict[str, Any]:
    """The profile as written, ``extends`` merged (read once per completion), or nothing."""
    from alfred_tui.config.sources import find_profile, read_chain
    from alfred_tui.errors import AlfredError

    try:
        data = read_chain(find_profile(profile)).data
    except (AlfredError, ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def _profile_field(profile: str, path: tuple[str, ...]) -> str | None:
    """One field of the profile (``${VAR}`` filled in), or None."""
    from alfred_tui.config.interpolate import interpolate_value

    node: Any = _profile_data(profile)
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    try:
        return interpolate_value(node, os.environ) if isinstance(node, str) else None
    except ValueError:
        return None


def _yaml_mapping(path: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(), Loader=loader)
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def iter_values(candidates: Candidates, incomplete: str) -> Iterator[tuple[str, str]]:
    """The candidates that start with what was typed."""
    return ((value, help) for value, help in candidates.values if value.startswith(incomplete))
