"""Interpolate, validate and police profiles (finding and reading them: :mod:`.sources`).

Every error names the file, the line and the field path, and is raised as one
:class:`~alfred_tui.errors.ProfileError` that lists every problem found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from alfred_tui.config.interpolate import interpolate_tree
from alfred_tui.config.models import Profile
from alfred_tui.config.policy import policy_violations
from alfred_tui.config.sources import ProfileSource, display_path, find_profile, read_chain
from alfred_tui.config.yamlsource import FieldPath, Origin, SourcedYaml, format_path
from alfred_tui.errors import PolicyViolation, ProfileError
from alfred_tui.redact import register_secret


@dataclass(frozen=True)
class LoadedProfile:
    """A validated profile and the origin of each of its fields, for later messages."""

    profile: Profile
    source: ProfileSource
    origins: dict[FieldPath, Origin]

    def origin_of(self, path: FieldPath) -> Origin | None:
        """Where a field (or its nearest ancestor) was written."""
        return SourcedYaml(None, self.origins).origin_of(path)


def _error_path(data: Any, loc: tuple[str | int, ...], kind: str) -> FieldPath:
    """Pydantic's error location, keeping only the parts that name real fields."""
    kept: list[str | int] = []
    node = data
    for part in loc:
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_mapping or in_list:
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
    document = read_chain(source)
    env = os.environ if environ is None else environ
    data, errors = interpolate_tree(document.data, env)
    if errors:
        fallback = display_path(source.path)
        problems = [
            f"{document.origin_of(path) or fallback}: {format_path(path)}: {message}"
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
