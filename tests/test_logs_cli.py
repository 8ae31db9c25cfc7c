"""``alfred-tui logs --level/--grep``: the Logs pane's filters in its headless twin.

The lines are the real servers' (the local backend's PostgreSQL and Redis);
the installed command runs in a subprocess, as a user would run it.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable

import pytest
from localdeploy import LocalDeployment

Cli = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.timeout(180)


def psql(deployment: LocalDeployment, sql: str) -> None:
    import asyncio

    async def run() -> None:
        await deployment.backend().exec("postgres", ["psql", "-X", "-c", sql])

    asyncio.run(run())


def test_level_and_grep_filter_like_the_pane(
    cli: Cli, local_deployment: LocalDeployment, validate_schema
) -> None:  # type: ignore[no-untyped-def]
    profile = str(local_deployment.profile_path)
    mark = f"t{uuid.uuid4().hex[:8]}"
    psql(local_deployment, f"select * from {mark}")

    errors = cli("logs", "--profile", profile, "--level", "error")
    assert errors.returncode == 0, errors.stderr
    lines = errors.stdout.splitlines()
    assert lines and all(line.startswith("db-postgres | ") for line in lines)
    mine = [line for line in lines if mark in line]
    assert "ERROR:" in mine[0] and "STATEMENT:" in mine[1]  # the statement follows its error
    assert not any(" LOG: " in line for line in lines)

    warnings = cli("logs", "redis", "--profile", profile, "-l", "warn")
    assert warnings.returncode == 0, warnings.stderr
    assert warnings.stdout and all(" # " in line for line in warnings.stdout.splitlines())

    grep = cli("logs", "--profile", profile, "--grep", f"relation.*{mark}")
    assert grep.returncode == 0, grep.stderr
    assert grep.stdout.splitlines() == [mine[0]]

    as_json = cli("logs", "--profile", profile, "-g", mark, "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    documents = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [d["level"] for d in documents] == ["error", "error"]
    for document in documents:
        validate_schema(document, "log-record")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--level",
            "loud",
            "Usage error: --level: unknown level 'loud' (choose from debug, info, "
            "warning, error, fatal)",
        ),
        (
            "--grep",
            "(",
            "Usage error: --grep: /(/ is not a regular expression: missing ), "
            "unterminated subpattern at position 0",
        ),
    ],
)
def test_bad_filters_are_one_line_errors(
    cli: Cli, local_deployment: LocalDeployment, option: str, value: str, message: str
) -> None:
    result = cli("logs", "--profile", str(local_deployment.profile_path), option, value)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert result.stdout == ""
