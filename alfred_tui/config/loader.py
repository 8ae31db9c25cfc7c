"""Find, read, merge, interpolate and validate profiles.

``--profile`` takes a path to a YAML file, or a name looked up in
``$ALFRED_TUI_PROFILE_PATH`` (colon-separated folders), then the XDG config
dir (``~/.config/alfred-tui/profiles``), then the built-in profiles. A user
profile may shadow a built-in one and still ``extends:`` it.

Every error names the file, the line and the field path, and is raised as one
:class:`~alfred_tui.errors.ProfileError` that lists every problem found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alfred_tui import paths
from alfred_tui.config.interpolate import interpolate_tree
from alfred_tui.config.models import Profile
from alfred_tui.config.policy import policy_violations
from alfred_tui.config.yamlsource import FieldPath, Origin, SourcedYaml, format_path, load_sourced
from alfred_tui.errors import PolicyViolation, ProfileError
from alfred_tui.redact import register_secret

_SUFFIXES = (".yaml", ".yml")
_MAX_EXTENDS_DEPTH = 16


@dataclass(frozen=True)
class ProfileSource:
    """A profile file and where it was found."""

    name: str
    path: Path
    origin: str
    """``built-in``, ``user`` (XDG config dir), ``path`` ($ALFRED_TUI_PROFILE_PATH) or ``file``."""


@dataclass(frozen=True)
class LoadedProfile:
    """A validated profile and the origin of each of its fields, for later messages."""

    profile: Profile
    source: ProfileSource
    origins: dict[FieldPath, Origin]

    def origin_of(self, path: FieldPath) -> Origin | None:
        """Where a field (or its nearest ancestor) was written."""
        return SourcedYaml(None, self.origins).origin_of(path)


def _display(path: Path) -> str:
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


def _looks_like_path(reference: str) -> bool:
    return os.sep in reference or "/" in reference or reference.endswith(_SUFFIXES)


def find_profile(reference: str, *, exclude: Path | None = None) -> ProfileSource:
    """Resolve ``--profile`` (a name or a path) to a file, or say where it looked."""
    if _looks_like_path(reference):
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


def _read_chain(source: ProfileSource, depth: int = 0) -> SourcedYaml:
    """Read ``source`` and every profile it extends, merged, parents first."""
    if depth > _MAX_EXTENDS_DEPTH:
        raise ProfileError(f"{_display(source.path)}: 'extends' nests too deeply (a cycle?)")
    document = load_sourced(source.path, _display(source.path))
    data = document.data
    if not isinstance(data, dict):
        origin = document.origin_of(()) or Origin(_display(source.path), 1)
        raise ProfileError(f"{origin}: a profile must be a mapping of fields")
    parent_ref = data.pop("extends", None)
    data.setdefault("name", source.name)
    if parent_ref is None:
        return document
    origin = document.origins.get(("extends",))
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ProfileError(f"{origin}: extends: must be a profile name or a path")
    try:
        if _looks_like_path(parent_ref):
            parent_path = (source.path.parent / parent_ref).resolve()
            if not parent_path.is_file():
                raise ProfileError(f"profile file {parent_ref} does not exist")
            parent_source = ProfileSource(parent_path.stem, parent_path, "file")
        else:
            parent_source = find_profile(parent_ref, exclude=source.path)
    except ProfileError as exc:
        raise ProfileError(f"{origin}: extends: {exc.message}") from None
    parent = _read_chain(parent_source, depth + 1)
    merged, origins = _merge(parent.data, parent.origins, data, document.origins)
    return SourcedYaml(merged, origins)


def _error_path(data: Any, loc: tuple[str | int, ...], kind: str) -> FieldPath:
    """Pydantic's error location, keeping only the parts that name real fields."""
    kept: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            kept.append(part)
            node = node[part]
        elif kind == "missing" and isinstance(part, str) and isinstance(node, dict):
            kept.append(part)
            break
    return tuple(kept)


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _validation_problems(exc: ValidationError, document: SourcedYaml) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        path = _error_path(document.data, tuple(error["loc"]), error["type"])
        origin = document.origin_of(path)
        where = f"{origin}: " if origin else ""
        line = f"{where}{format_path(path)}: {_describe(error)}"
        if line not in problems:
            problems.append(line)
    return problems


def load_profile(
    reference: str, *, environ: Mapping[str, str] | None = None, enforce_policy: bool = True
) -> LoadedProfile:
    """Load, merge, interpolate and validate a profile; enforce its policy.

    Raises :class:`ProfileError` (or :class:`PolicyViolation`) listing every
    problem, each as ``file:line: field.path: what is wrong``.
    """
    source = find_profile(reference)
    document = _read_chain(source)
    env = os.environ if environ is None else environ
    data, errors = interpolate_tree(document.data, env)
    if errors:
        problems = [
            f"{document.origin_of(path) or _display(source.path)}: {format_path(path)}: {message}"
            for path, message in errors
        ]
        raise ProfileError(problems[0], problems=problems)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = _validation_problems(exc, SourcedYaml(data, document.origins))
        raise ProfileError(problems[0], problems=problems) from None
    loaded = LoadedProfile(profile, source, document.origins)
    for _kind, service in profile.services.enabled():
        for _field, secret in service.secrets():
            register_secret(secret.get_secret_value() if secret is not None else None)
    if enforce_policy:
        violations = policy_violations(loaded)
        if violations:
            raise PolicyViolation(violations[0], problems=violations)
    return loaded
