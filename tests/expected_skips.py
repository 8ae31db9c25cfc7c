"""A skip that nobody expected fails the run: a test that silently stops running is a hole.

Every skip is compared with ``tests/expected-skips.txt``: one line per
expected skip, ``test id pattern | text of its reason | why it is expected``
(the pattern is an fnmatch glob over the node id, the text a substring of the
skip's reason). With ``ALFRED_TUI_STRICT_SKIPS=1`` (set by
``scripts/run-tests.sh``, so by ``make test`` and CI) a skip that matches no
line makes the run exit 1 after listing it; without it the list is only
printed, so a developer running one file on a machine without Docker is told
but not stopped. pytest's own ``-rs`` (pyproject's addopts) prints every
skip's reason either way.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ALLOW_LIST = Path(__file__).with_name("expected-skips.txt")
STRICT_VARIABLE = "ALFRED_TUI_STRICT_SKIPS"


@dataclass(frozen=True)
class ExpectedSkip:
    """One line of the allow-list."""

    pattern: str
    reason: str
    why: str

    def matches(self, nodeid: str, reason: str) -> bool:
        return fnmatch.fnmatchcase(nodeid, self.pattern) and self.reason in reason


def read_allow_list(path: Path = ALLOW_LIST) -> list[ExpectedSkip]:
    """The allow-list; a malformed line is an error naming it (never silently ignored)."""
    expected = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise pytest.UsageError(
                f"{path}:{number}: want 'test id pattern | reason text | why expected'"
            )
        expected.append(ExpectedSkip(*parts))
    return expected


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skipped report gives (``Skipped: `` dropped)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return str(text).removeprefix("Skipped: ")


class SkipGuard:
    """Collects the skips the allow-list does not name; fails the session on them if strict."""

    def __init__(self, expected: list[ExpectedSkip], strict: bool) -> None:
        self.expected = expected
        self.strict = strict
        self.unexpected: dict[str, str] = {}

    def _check(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        reason = skip_reason(report)
        if not any(line.matches(report.nodeid, reason) for line in self.expected):
            self.unexpected[report.nodeid] = reason

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._check(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._check(report)

    def pytest_terminal_summary(self, terminalreporter) -> None:  # type: ignore[no-untyped-def]
        if not self.unexpected:
            return
        verdict = "fail this run" if self.strict else f"would fail it with {STRICT_VARIABLE}=1"
        terminalreporter.section(f"unexpected skips ({verdict})", sep="=", red=True)
        for nodeid, reason in sorted(self.unexpected.items()):
            terminalreporter.line(f"{nodeid}: {reason}")
        terminalreporter.line(f"expected skips are listed, with why, in {ALLOW_LIST}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.strict and self.unexpected and exitstatus in (0, 5):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    strict = os.environ.get(STRICT_VARIABLE, "") not in ("", "0")
    config.pluginmanager.register(SkipGuard(read_allow_list(), strict), "alfred-skip-guard")
