"""`alfred-tui check` stays light: no textual, docker, kubernetes; qdrant_client only if embedded.

Each case runs the real command in a fresh interpreter and reports which
modules it imported (``sys.modules`` at exit).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from localdeploy import create_embedded_collections, embedded_qdrant_path

PROBE = """
import json, sys
from alfred_tui.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = ["textual", "docker", "kubernetes", "qdrant_client", "httpx", "aiohttp"]
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}), file=sys.stderr)
"""


def imported_by(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    report["output"] = result.stdout + result.stderr  # shown when an assertion fails
    return report


def test_check_without_qdrant_imports_no_heavy_library(servers_profile: Path) -> None:
    report = imported_by(
        "check", "--profile", str(servers_profile), "-s", "postgres", "-s", "redis"
    )
    assert report["code"] == 0, report["output"]
    assert report["loaded"] == []


def test_check_with_embedded_qdrant_imports_qdrant_client_only(servers_profile: Path) -> None:
    create_embedded_collections(embedded_qdrant_path("servers"), ["general-knowledge"])
    report = imported_by("check", "--profile", str(servers_profile), "--output", "json")
    assert report["code"] == 0, report["output"]
    assert report["loaded"] == ["qdrant_client", "httpx"]  # httpx comes with qdrant_client


@pytest.mark.parametrize(
    "command", [["--help"], ["profiles", "list"], ["check", "--help"], ["serve", "--help"]]
)
def test_cli_entry_points_import_no_heavy_library(command: list[str]) -> None:
    assert imported_by(*command)["loaded"] == []


def test_command_map_names_every_registered_command() -> None:
    """`COMMANDS` (which module to import for a command) must match what modules register."""
    import typer.main

    from alfred_tui import cli

    cli.register_commands()  # every module
    group = typer.main.get_command(cli.app)
    assert set(group.commands) == set(cli.COMMANDS)


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["check", "-p", "x"], "check"),
        (["--profile", "dev", "status"], "status"),
        (["-b", "docker", "--readonly", "logs", "redis"], "logs"),
        (["--help"], None),
        ([], None),
    ],
)
def test_command_in_finds_the_subcommand_after_root_options(args, command) -> None:
    from alfred_tui.cli import command_in

    assert command_in(args) == command
