"""The UI's layering, checked on the source and in a fresh interpreter.

Screens and widgets talk to ``alfred_tui.control`` (sessions, monitor,
actions) and plain data; they never import an engine SDK, a database client
library, or the modules that wrap them. The app imports no SDK before it is
needed: opening the UI on the local backend loads neither docker nor
kubernetes, and no database client before the first poll.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UI_PACKAGES = ("screens", "widgets")
UI_MODULES = ("app.py",)

FORBIDDEN = (
    "docker",
    "kubernetes",
    "asyncpg",
    "redis",
    "qdrant_client",
    "httpx",
    "alfred_tui.databases",
    "alfred_tui.backends.local",
    "alfred_tui.backends.docker",
    "alfred_tui.backends.kubernetes",
)


def _ui_files() -> list[Path]:
    files = [ROOT / "alfred_tui" / name for name in UI_MODULES]
    for package in UI_PACKAGES:
        files += sorted((ROOT / "alfred_tui" / package).rglob("*.py"))
    return files


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def test_screens_and_widgets_import_no_sdk_or_database_client() -> None:
    files = _ui_files()
    assert len(files) > 10, "the UI packages were not found"
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in files
        for line, module in _imports(path)
        if _forbidden(module)
    ]
    assert offenders == []


def test_the_control_layer_imports_no_textual() -> None:
    files = sorted((ROOT / "alfred_tui" / "control").rglob("*.py"))
    files += sorted((ROOT / "alfred_tui" / "recording").rglob("*.py"))  # the black box too
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in files
        for line, module in _imports(path)
        if module == "textual" or module.startswith("textual.")
    ]
    assert files and offenders == []


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import alfred_tui.app",
        "from alfred_tui.control.session import open_session; s = open_session('local'); "
        "from alfred_tui.app import AlfredApp; AlfredApp(s)",
    ],
    ids=["import", "build the app on the local profile"],
)
def test_opening_the_ui_loads_no_engine_sdk_or_database_client(code: str, isolated_dirs) -> None:  # type: ignore[no-untyped-def]
    loaded = _modules_after(code)
    heavy = sorted(
        name
        for name in loaded
        if name.split(".")[0] in ("docker", "kubernetes", "asyncpg", "redis", "qdrant_client")
    )
    assert heavy == []
    assert "textual.app" in loaded


def test_check_still_loads_no_textual(isolated_dirs) -> None:  # type: ignore[no-untyped-def]
    loaded = _modules_after("import alfred_tui.cli")
    assert not [
        name for name in loaded if name.split(".")[0] in ("textual", "docker", "kubernetes")
    ]
