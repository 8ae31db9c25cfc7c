"""The skip guard as CI meets it: a real pytest run, its exit status and its summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

SKIPPING = """
import pytest

def test_runs():
    assert True

@pytest.mark.skipif(True, reason="{reason}")
def test_skipped():
    pass
"""


def run_pytest(
    root: Path, test_file: str, reason: str, strict: bool
) -> subprocess.CompletedProcess[str]:
    """pytest on one file under ``root`` with the guard loaded (and no other plugin)."""
    path = root / test_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SKIPPING.format(reason=reason))
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "ALFRED_TUI_STRICT_SKIPS": "1" if strict else "",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "expected_skips",
            "-rs",
            "-q",
            test_file,
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("strict", [True, False])
def test_an_unexpected_skip_fails_a_strict_run(tmp_path: Path, strict: bool) -> None:
    result = run_pytest(tmp_path, "test_inner.py", "the database fell asleep", strict)
    assert result.returncode == (1 if strict else 0), result.stdout
    assert "unexpected skips" in result.stdout
    assert "test_inner.py::test_skipped: the database fell asleep" in result.stdout
    assert "1 passed, 1 skipped" in result.stdout


def test_an_expected_skip_passes(tmp_path: Path) -> None:
    # The allow-list's first line, met by a test whose id matches its pattern.
    reason = "needs /dev/shm on another filesystem than /tmp"
    result = run_pytest(tmp_path, "tests/test_safety_moves.py", reason, strict=True)
    assert result.returncode == 0, result.stdout
    assert "unexpected skips" not in result.stdout
