"""The type checker stays part of the build and its escapes stay explained.

``make test`` runs mypy over the whole package before pytest (docs/ARCHITECTURE.md);
these tests keep that true and refuse a ``# type: ignore`` that does not say which
error it silences and why, so an ignore is a decision someone can read, not a mute.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "alfred_tui"

#: ``# type: ignore[code, code]  # the reason``: codes and a reason on the same line.
EXPLAINED = re.compile(r"# type: ignore\[[a-z-]+(?:, ?[a-z-]+)*\]  # \S.*$")


def _target(name: str) -> list[str]:
    """The recipe lines of the Makefile target ``name``."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_every_type_ignore_names_its_code_and_why() -> None:
    unexplained = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "type: ignore" in line and not EXPLAINED.search(line)
    ]
    assert unexplained == []


def test_make_test_type_checks_the_whole_package_strictly_before_pytest() -> None:
    recipe = _target("test")
    mypy = recipe.index("$(BIN)/mypy")
    pytest = next(i for i, line in enumerate(recipe) if "pytest" in line)
    assert mypy < pytest
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["files"] == ["alfred_tui"]
    assert config["strict"] is True
    assert "ignore_errors" not in config and "overrides" not in config
