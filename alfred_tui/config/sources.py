"""Find and read profile files: where names are looked up, and the ``extends`` chain.

``--profile`` takes a path to a YAML file, or a name looked up in
``$ALFRED_TUI_PROFILE_PATH`` (colon-separated folders), then the XDG config
dir (``~/.config/alfred-tui/profiles``), then the built-in profiles. A user
profile may shadow a built-in one and still ``extends:`` it.

This half of the loader neither interpolates nor validates, and imports no
pydantic: shell completion lists profiles and peeks at a profile's backup
catalog from here in a few milliseconds (:mod:`alfred_tui.config.loader`
does the rest).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from alfred_tui import paths
from alfred_tui.errors import ProfileError

if TYPE_CHECKING:
    from alfred_tui.config.yamlsource import FieldPath, Origin, SourcedYaml

_SUFFIXES = (".yaml", ".yml")
_MAX_EXTENDS_DEPTH = 16


class ProfileSource(NamedTuple):
    """A profile file and where it was found."""

    name: str
    path: Path
    origin: str
    """``built-in``, ``user`` (XDG config dir), ``path`` ($ALFRED_TUI_PROFILE_PATH) or ``file``."""


def display_path(path: Path) -> str:
    """A short name for a file in messages: relative to the cwd when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def search_dirs() -> list[tuple[str, Path]]:
    """The folders searched for named profiles, in order, with their origin label."""
    dirs: list[tuple[str, Path]] = []
    for entry in os.environ.get("ALFRED_TUI_PROFILE_PATH", "").split(os.pathsep):
        if entry:
            dirs.append(("path", Path(entry).expanduser()))
    dirs.append(("user", paths.config_dir() / "profiles"))
    dirs.append(("built-in", paths.profiles_dir()))
    return dirs


def looks_like_path(reference: str) -> bool:
    """Whether ``--profile`` names a file rather than a profile name."""
    return os.sep in reference or "/" in reference or reference.endswith(_SUFFIXES)


def find_profile(reference: str, *, exclude: Path | None = None) -> ProfileSource:
    """Resolve ``--profile`` (a name or a path) to a file, or say where it looked."""
    if looks_like_path(reference):
        path = Path(reference).expanduser()
        if not path.is_file():
            raise ProfileError(f"profile file {reference} does not exist")
        return ProfileSource(path.stem, path.resolve(), "file")
    looked: list[str] = []
    for origin, folder in search_dirs():
        for suffix in _SUFFIXES:
            candidate = folder / f"{reference}{suffix}"
            if candidate.is_file() and (exclude is None or candidate.resolve() != exclude):
                return ProfileSource(reference, candidate.resolve(), origin)
        looked.append(str(folder))
    names = ", ".join(sorted({s.name for s in list_profiles()})) or "none"
    raise ProfileError(
        f"no profile named '{reference}' (looked in {', '.join(looked)}; known profiles: {names})"
    )


def list_profiles() -> list[ProfileSource]:
    """Every profile file that a name can reach, first match first, shadowed ones too."""
    found: list[ProfileSource] = []
    for origin, folder in search_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix in _SUFFIXES and path.is_file() and not path.name.startswith("_"):
                found.append(ProfileSource(path.stem, path.resolve(), origin))
    return found


def _merge(
    base: Any, base_origins: dict[FieldPath, Origin], top: Any, top_origins: dict[FieldPath, Origin]
) -> tuple[Any, dict[FieldPath, Origin]]:
    """Deep-merge ``top`` over ``base``: mappings merge key by key, anything else replaces."""
    origins = dict(base_origins)

    def merge(lower: Any, upper: Any, here: FieldPath) -> Any:
        if isinstance(lower, dict) and isinstance(upper, dict):
            merged = dict(lower)
            for key, value in upper.items():
                merged[key] = merge(lower.get(key), value, (*here, key)) if key in lower else value
                if key not in lower or not (
                    isinstance(lower.get(key), dict) and isinstance(value, dict)
                ):
                    _drop_below(origins, (*here, key))
            return merged
        return upper

    result = merge(base, top, ())
    origins.update(top_origins)
    return result, origins


def _drop_below(origins: dict[FieldPath, Origin], prefix: FieldPath) -> None:
    for key in [k for k in origins if k[: len(prefix)] == prefix]:
        del origins[key]


def read_chain(source: ProfileSource, depth: int = 0) -> SourcedYaml:
    """Read ``source`` and every profile it extends, merged, parents first."""
    # PyYAML only here: listing profiles (shell completion) reads no YAML.
    from alfred_tui.config.yamlsource import Origin, SourcedYaml, load_sourced

    if depth > _MAX_EXTENDS_DEPTH:
        raise ProfileError(f"{display_path(source.path)}: 'extends' nests too deeply (a cycle?)")
    document = load_sourced(source.path, display_path(source.path))
    data = document.data
    if not isinstance(data, dict):
        origin = document.origin_of(()) or Origin(display_path(source.path), 1)
        raise ProfileError(f"{origin}: a profile must be a mapping of fields")
    parent_ref = data.pop("extends", None)
    data.setdefault("name", source.name)
    if parent_ref is None:
        return document
    origin = document.origin_of(("extends",)) or Origin(display_path(source.path), 1)
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ProfileError(f"{origin}: extends: must be a profile name or a path")
    try:
        if looks_like_path(parent_ref):
            parent_path = (source.path.parent / parent_ref).resolve()
            if not parent_path.is_file():
                raise ProfileError(f"profile file {parent_ref} does not exist")
            parent_source = ProfileSource(parent_path.stem, parent_path, "file")
        else:
            parent_source = find_profile(parent_ref, exclude=source.path)
    except ProfileError as exc:
        raise ProfileError(f"{origin}: extends: {exc.message}") from None
    parent = read_chain(parent_source, depth + 1)
    merged, origins = _merge(parent.data, parent.origins, data, document.origins)
    return SourcedYaml(merged, origins)
