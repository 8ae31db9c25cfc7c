"""Start-up: the UI's command line without Typer, the shell before the profile, errors at start.

* ``alfred-tui [--profile P] [--backend B] [--readonly] [--version]`` is parsed
  without importing Typer; everything else still goes to Typer, with its own
  help and errors.
* The app draws its shell (header saying which profile is loading, pane bar)
  before the profile is validated, then opens the session in a worker; while
  it loads only ``q`` works; then the overview replaces the shell.
* A profile that does not load ends the app: one line on stderr, exit 2, the
  terminal restored (the installed program in a real pseudo-terminal).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import run_cli
from servers import PgServer, RedisServer
from ui_helpers import fast_session, key_of, wait_for

from alfred_tui.app import AlfredApp
from alfred_tui.cli.ui_args import UiArgs, parse_ui_args
from alfred_tui.screens.overview import OverviewPane
from alfred_tui.screens.starting import StartingScreen
from alfred_tui.widgets.header import TargetHeader

pytestmark = pytest.mark.timeout(120)

# --- the command line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], UiArgs()),
        (["--profile", "dev"], UiArgs(profile="dev")),
        (["--profile=dev"], UiArgs(profile="dev")),
        (["-p", "dev"], UiArgs(profile="dev")),
        (["-pdev"], UiArgs(profile="dev")),
        (["-p", "a", "-p", "b"], UiArgs(profile="b")),  # the last one wins, as in Click
        (["--backend", "docker"], UiArgs(backend="docker")),
        (["-bkubernetes", "--readonly"], UiArgs(backend="kubernetes", readonly=True)),
        (["--backend=local", "-p", "./x.yaml"], UiArgs(profile="./x.yaml", backend="local")),
        (["--version"], UiArgs(version=True)),
        (["--profile", ""], UiArgs(profile="")),
    ],
)
def test_the_ui_options_are_read_without_typer(args, expected, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ALFRED_TUI_PROFILE", raising=False)
    assert parse_ui_args(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["--profile", "dev", "status"],
        ["-h"],
        ["--help"],
        ["--profile"],  # no value: Typer says "requires an argument"
        ["--profile", "--readonly"],  # a value that looks like an option: Typer decides
        ["-p=dev"],
        ["--bogus"],
        ["--readonly", "--verbose"],
        ["--", "x"],
    ],
)
def test_anything_else_is_left_to_typer(args) -> None:  # type: ignore[no-untyped-def]
    assert parse_ui_args(args) is None


def test_the_profile_comes_from_the_environment_unless_given(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALFRED_TUI_PROFILE", "prod")
    assert parse_ui_args([]) == UiArgs(profile="prod")
    assert parse_ui_args(["-p", "dev"]) == UiArgs(profile="dev")
    monkeypatch.setenv("ALFRED_TUI_PROFILE", "")
    assert parse_ui_args([]) == UiArgs()


PROBE = """
import json, sys
from alfred_tui.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
heavy = ["typer", "click", "pydantic", "textual"]
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}), file=sys.stderr)
"""


def probe(*args: str) -> tuple[dict, str, str]:  # type: ignore[type-arg]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    lines = result.stderr.strip().splitlines()
    return json.loads(lines[-1]), result.stdout, "\n".join(lines[:-1])


def test_version_and_a_bad_backend_need_neither_typer_nor_the_ui(isolated_dirs: Path) -> None:
    report, out, err = probe("--version")
    assert report == {"code": 0, "loaded": []}
    assert out.startswith("alfred-tui ")

    report, out, err = probe("--profile", "local", "--backend", "podman")
    assert report == {"code": 2, "loaded": []}  # refused before the screen changes
    assert err == "Usage error: --backend must be one of local, docker, kubernetes, not 'podman'"


def test_what_the_first_frame_needs_imports_no_typer_pydantic_or_pane() -> None:
    """The shell's modules stay light: the profile models, Typer and the panes load later."""
    code = (
        "import sys; from alfred_tui.cli import main; from alfred_tui.cli import ui_args, tui; "
        "from alfred_tui import app; from alfred_tui.screens import starting; "
        "print(' '.join(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded = set(result.stdout.split())
    assert "textual.app" in loaded
    heavy = {"typer", "click", "pydantic", "yaml", "asyncpg", "redis", "docker", "kubernetes"}
    assert not {name.split(".")[0] for name in loaded} & heavy
    ours = {name for name in loaded if name.startswith("alfred_tui.")}
    assert (
        not {
            "alfred_tui.config.models",
            "alfred_tui.control.session",
            "alfred_tui.screens.base",
            "alfred_tui.screens.overview",
        }
        & ours
    )


def test_help_and_usage_errors_are_still_typers(isolated_dirs: Path) -> None:
    helped = run_cli("--help")
    assert helped.returncode == 0
    assert "--profile" in helped.stdout and "--readonly" in helped.stdout
    assert "check" in helped.stdout and "overview" in helped.stdout  # every command listed

    missing = run_cli("--profile")
    assert missing.returncode == 2
    assert "requires an argument" in missing.stderr

    unknown = run_cli("--readonly", "--bogus")
    assert unknown.returncode == 2
    assert "No such option" in unknown.stderr and "--bogus" in unknown.stderr


# --- the shell, then the session ------------------------------------------------------------


@pytest.fixture
def shell_profile(write_profile, pg: PgServer, redis: RedisServer) -> Path:  # type: ignore[no-untyped-def]
    return write_profile(
        "extends: local\n"
        "ui:\n  refresh_seconds: 0.3\n"
        "services:\n"
        f'  postgres:\n    ports: ["127.0.0.1:{pg.port}:5432"]\n'
        f"    environment:\n      POSTGRES_PASSWORD: {pg.password}\n"
        f'  redis:\n    ports: ["127.0.0.1:{redis.port}:6379"]\n'
        "  qdrant:\n    enabled: false\n",
        name="shell",
    )


def header_text(app: AlfredApp) -> str:
    header = app.screen.query_one(TargetHeader)
    return header.render().plain  # type: ignore[union-attr]


async def test_the_shell_is_drawn_first_and_the_overview_follows(
    shell_profile: Path, isolated_dirs: Path
) -> None:
    """The profile loads behind the first frame; meanwhile only q works."""
    gate = threading.Event()
    opened: list[str] = []

    def open_after_gate(profile, backend, readonly):  # type: ignore[no-untyped-def]
        gate.wait(30)  # a slow disk: the real open, held until the test has looked
        opened.append(profile)
        return fast_session(profile, backend, readonly)

    app = AlfredApp(profile=str(shell_profile), readonly=True, open_target=open_after_gate)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, StartingScreen)
        assert not app.has_session
        text = header_text(app)
        assert "loading profile" in text and "READ-ONLY" in text
        assert "shell.yaml" in text  # the profile asked for, as given (cut in the middle)
        for key in ("2", "p", "question_mark", "colon"):  # nothing to act on yet
            await pilot.press(key)
            await pilot.pause(0.05)
            assert isinstance(app.screen, StartingScreen), key

        gate.set()
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewPane), what="the overview")
        assert opened == [str(shell_profile)]
        assert app.session.readonly  # --readonly reached the session
        pane = app.screen
        await wait_for(pilot, lambda: pane.snapshot is not None and pane.session.monitor.polls >= 1)
        header = header_text(app)
        assert "profile shell" in header and "backend local" in header
        assert "loading" not in header
        await pilot.press(key_of("profile"))
        await wait_for(pilot, lambda: app.current_mode == "profile", what="pane 2")


async def test_q_quits_while_the_profile_is_still_loading(isolated_dirs: Path) -> None:
    gate = threading.Event()

    def never_ready(profile, backend, readonly):  # type: ignore[no-untyped-def]
        gate.wait(30)
        return fast_session("local", backend, readonly)

    app = AlfredApp(profile="local", open_target=never_ready)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
            await pilot.press("q")
            await pilot.pause(0.1)
            assert not app.is_running
    finally:
        gate.set()
    assert app.return_code in (0, None) and app.startup_error is None


async def test_a_profile_error_at_start_ends_the_app_with_the_error(
    write_profile, isolated_dirs: Path
) -> None:  # type: ignore[no-untyped-def]
    broken = write_profile("extends: local\nservices:\n  redis:\n    replicas: many\n", name="bad")
    app = AlfredApp(profile=str(broken))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.startup_error is not None, what="the profile error")
        await pilot.pause(0.1)
    assert app.return_code == 2
    assert "bad.yaml:4" in str(app.startup_error) or "bad.yaml:4" in getattr(
        app.startup_error, "message", ""
    )


# --- the installed program in a pseudo-terminal -----------------------------------------


def run_in_pty(args: list[str], env: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    """Run the installed alfred-tui on an 80x24 pty; return its exit status and all it wrote."""
    import fcntl
    import struct
    import termios

    executable = Path(sys.executable).parent / "alfred-tui"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [str(executable), *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the program exited and the pty closed
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        return process.wait(10), output.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.close(master)


def test_the_installed_ui_with_a_missing_profile_exits_2_with_one_line(
    isolated_dirs: Path,
) -> None:
    code, output = run_in_pty(["--profile", "no-such-profile"], dict(os.environ))
    assert code == 2
    assert "loading profile" in output  # the shell was drawn first...
    after_ui = output.rsplit("\x1b[?1049l", 1)[-1]  # ...and the terminal given back before:
    text = re.sub(r"\x1b\[[0-9;?<>=$]*[A-Za-z]", "", after_ui).replace("\r", "")
    lines = [line for line in text.split("\n") if line.strip()]
    assert len(lines) == 1, after_ui
    assert lines[0].startswith("Profile error: no profile named 'no-such-profile'")
