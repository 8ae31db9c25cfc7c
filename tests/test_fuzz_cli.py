"""Property-based fuzzing of the command line: every command, generated arguments and options.

The commands are enumerated from the Typer app (every module registered, as
``--help`` does), so a command added later is fuzzed without a change here.
Each gets generated values for its arguments and options: numbers (negative,
huge, fractional, NaN), sizes, durations, regular expressions, service names,
backup and process ids, paths (missing, a folder, a binary file, /dev/null),
and hostile text; flags on or off; sometimes ``--readonly`` before it. The
profile points at ports where nothing listens and at the test's own folders,
so every command runs its real path up to a refused connection. Never given:
``--follow`` (it waits for lines forever) and ``--yes`` on the commands that
would start servers (``up``, ``restart``, ``pitr enable``).

Run in-process through the real ``main()`` (an interpreter start per example
would cost a minute); ``test_through_the_installed_binary`` runs a few through
the installed ``alfred-tui``. The property: exit 0 or 2 (``check``, ``doctor``
and ``audit``: Nagios' 0-3; a usage error of ``check`` is 3), no traceback, no
"Internal error", and a failure's last line says what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ProfileWriter, run_cli
from fuzz_support import assert_clean_failure, few, run_main
from hypothesis import example, given
from hypothesis import strategies as st
from servers import free_port

#: Options never generated, and why (see the module's docstring).
NEVER = {"--follow", "--profile", "--help"}
#: Commands whose --yes would start servers on this machine.
NO_YES = {("up",), ("restart",), ("pitr", "enable")}
#: Commands that exit like a Nagios plugin.
NAGIOS = {"check", "doctor", "audit"}


def commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf command of the Typer app, with its path (``("backups", "prune")``)."""
    import typer

    from alfred_tui.cli import _typer_app, register_commands

    register_commands(None)

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        children = getattr(command, "commands", None)
        if children is None:
            yield path, command
            return
        for name, child in sorted(children.items()):
            yield from walk(child, (*path, name))

    yield from walk(typer.main.get_command(_typer_app()), ())


COMMANDS = dict(commands())


@pytest.fixture
def nowhere_profile(
    write_profile: ProfileWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The local profile on ports where nothing listens (a fresh data dir per test).

    The commands run in the test's folder: a generated relative path (``record -o
    x``) is written there, not into the checkout.
    """
    monkeypatch.chdir(tmp_path)
    return write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{free_port()}:5432"]
          redis:
            ports: ["127.0.0.1:{free_port()}:6379"]
        """,
        name="nowhere",
    )


# --- what a user might type ------------------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "-0", "1e400", "0x10", "1_000", "", " ", "NaN", "-inf"]),
)
sizes = st.sampled_from(["512M", "4G", "1Gi", "0", "-1G", "1e9P", "99999999999999999999T", "M"])
durations = st.sampled_from(["10m", "1h30m", "-5s", "0s", "500ms", "99999999999d", "2026-13-45"])
durations |= st.sampled_from(["2026-01-01T00:00:00", "yesterday", "1970-01-01", "10", "m"])
regexes = st.sampled_from(["(", "[", "a**", "(?P<x", "\\", "x{99999999}", ".*", "(a|b)+$", "\\1"])
services = st.sampled_from(["postgres", "redis", "qdrant", "POSTGRES", "mysql", "", "all"])
ids = st.sampled_from(["20260101T000000Z-redis", "../../etc", "latest", "-1", "0", "99999999999"])
paths = st.sampled_from(["/nonexistent/x", "/", "/dev/null", "/tmp", "relative/x", "~/x", "-"])
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)

values = st.one_of(numbers, sizes, durations, regexes, services, ids, paths, text)


def option_values(command: Any, path: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """Arguments for ``command``: each option maybe given, each argument filled."""
    parts: list[st.SearchStrategy[list[str]]] = []
    for param in command.params:
        names = list(param.opts)
        if NEVER & set(names):
            continue
        if getattr(param, "param_type_name", "") == "argument":
            count = (0, 3) if param.nargs == -1 else (1, 1)
            parts.append(st.lists(values, min_size=count[0], max_size=count[1]))
        elif getattr(param, "is_flag", False):
            if names[0] == "--yes" and path in NO_YES:
                continue
            parts.append(st.sampled_from([[], [names[0]]]))
        else:
            name = st.sampled_from(names)
            backend = st.sampled_from(["local", "kubernetes", "nope", ""])
            value = backend if names[0] == "--backend" else values
            parts.append(st.one_of(st.just([]), st.tuples(name, value).map(list)))
    if not parts:
        return st.just([])
    return st.tuples(*parts).map(lambda chunks: [arg for chunk in chunks for arg in chunk])


def expected_codes(path: tuple[str, ...]) -> tuple[int, ...]:
    return (0, 1, 2, 3) if path[0] in NAGIOS else (0, 2)


def assert_says_what_went_wrong(outcome: Any, path: tuple[str, ...]) -> None:
    assert_clean_failure(outcome, expected_codes(path))
    if outcome.code == 2 and path[0] not in NAGIOS:
        last = outcome.stderr.strip().splitlines()[-1]
        assert re.match(r"^[A-Z][^:]{0,60}: \S", last), outcome.describe()


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
@few(6)
@given(data=st.data(), readonly=st.booleans())
def test_every_command(
    nowhere_profile: Path, path: tuple[str, ...], data: Any, readonly: bool
) -> None:
    args = data.draw(option_values(COMMANDS[path], path), label="args")
    takes_profile = any("--profile" in param.opts for param in COMMANDS[path].params)
    profile = ["--profile", str(nowhere_profile)] if takes_profile else []
    argv = [*(["--readonly"] if readonly else []), *path, *args, *profile]
    outcome = run_main(argv, timeout=8)
    assert_says_what_went_wrong(outcome, path)
    if path[0] == "check" and "Error: " in outcome.stderr and outcome.code != 0:
        assert outcome.code == 3, outcome.describe()  # a usage error of check is UNKNOWN


def test_every_command_is_fuzzed() -> None:
    """The enumeration found the commands (a broken walk would fuzz nothing)."""
    names = {" ".join(path) for path in COMMANDS}
    assert {"check", "keyspace", "logs", "backups prune", "migrate up", "resize"} <= names
    assert len(names) >= 30


# --- a data dir or state dir that cannot be used ----------------------------------------


@few(6)
@given(
    path=st.sampled_from([("status",), ("backups", "list"), ("backup", "redis"), ("check",)]),
    breakage=st.sampled_from(["file", "unwritable", "dangling-link", "fifo"]),
    which=st.sampled_from(["ALFRED_TUI_DATA_DIR", "ALFRED_TUI_STATE_DIR"]),
)
@example(path=("status",), breakage="file", which="ALFRED_TUI_DATA_DIR")  # the issue's
def test_unusable_data_and_state_dirs(
    nowhere_profile: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: tuple[str, ...],
    breakage: str,
    which: str,
) -> None:
    import os
    import tempfile

    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "dir"
    if breakage == "file":
        folder.write_text("not a folder")
    elif breakage == "unwritable":
        folder.mkdir()
        folder.chmod(0o500)
        os.chown(folder, 65534, 65534) if os.geteuid() == 0 else None
    elif breakage == "dangling-link":
        folder.symlink_to(tmp_path / "gone" / "nowhere")
    else:
        os.mkfifo(folder)
    monkeypatch.setenv(which, str(folder / "sub") if breakage == "file" else str(folder))
    outcome = run_main([*path, "--profile", str(nowhere_profile)])
    assert_says_what_went_wrong(outcome, path)


# --- through the installed binary -------------------------------------------------------


@few(4)
@given(
    argv=st.sampled_from(
        [
            ["keyspace", "--db", "-1"],
            ["keyspace", "--sample", "NaN"],
            ["logs", "--since", "-5s"],
            ["logs", "--grep", "("],
            ["resize", "redis", "--memory", "-1G"],
            ["scale", "redis", "99999999999999999999"],
            ["check", "--timeout", "nan"],
            ["restore", "redis", "../../etc"],
        ]
    )
)
def test_through_the_installed_binary(nowhere_profile: Path, argv: list[str]) -> None:
    result = run_cli(*argv, "--profile", str(nowhere_profile), timeout=60)
    codes = (3,) if argv[0] == "check" else (2,)
    assert result.returncode in codes, result.stderr
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr
    assert re.match(r"^[A-Z][^:]{0,60}: \S", result.stderr.strip().splitlines()[-1]), result.stderr


def test_a_usage_error_of_check_is_unknown_even_after_a_check_ran(nowhere_profile: Path) -> None:
    """Found by fuzzing: main() remembered that an earlier check had started, so a later
    usage error in the same process exited 2 instead of Nagios' UNKNOWN (3)."""
    first = run_main(["check", "--timeout", "0.5", "--profile", str(nowhere_profile)])
    assert first.code == 2, first.describe()  # CRITICAL: nothing listens
    second = run_main(["check", "--timeout", "0", "--profile", str(nowhere_profile)])
    assert second.code == 3, second.describe()
    assert second.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--timeout' / '-t': Input should be greater than or equal to 0.1"
    )


def test_a_usage_error_is_one_line() -> None:
    """Found by fuzzing: a missing choice option listed its choices over three lines."""
    outcome = run_main(["render"])
    assert outcome.code == 2
    assert outcome.stderr.strip().splitlines()[-1] == (
        "Error: Missing option '--target' / '-t'. Choose from: kubernetes, compose"
    )


def test_logs_since_longer_ago_than_dates_go(nowhere_profile: Path) -> None:
    """Found by fuzzing: ``--since 99999999999`` (3,000 years) was an Internal error
    (OverflowError); it means every line."""
    outcome = run_main(["logs", "--since", "99999999999", "--profile", str(nowhere_profile)])
    assert outcome.code == 0, outcome.describe()
