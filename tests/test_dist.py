"""The one-file build on a bastion: python3 alone, no network, a non-root user, a read-only home.

``scripts/build_dist.py`` (``make dist``) builds the artifact from this
checkout; it is run inside a container of the ``python3`` test image
(Debian bookworm's minimal base plus python3 3.11, nothing else) started
with ``--network none``, ``--read-only`` (so the operator's home cannot be
written) and as uid 1000. PostgreSQL and Redis run in containers of their
test images that share that container's network namespace: the only
interface is loopback, and the servers listen there and nowhere else.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker_support import BUILD_SCRIPT, docker_cli, engine_problem, image_present

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
PREFIX = os.environ.get("ALFRED_TEST_IMAGE_PREFIX", "alfred-tui-test")
IMAGES = {
    "python3": f"{PREFIX}/python3:3.11",
    "postgres": f"{PREFIX}/postgres:15",
    "redis": f"{PREFIX}/redis:7",
}
PASSWORD = "bastion-test-password"
PROFILE = f"""
extends: local
description: The test servers, as the bastion reaches them
services:
  postgres:
    ports: ["127.0.0.1:5432:5432"]
    environment:
      POSTGRES_PASSWORD: {PASSWORD}
  redis:
    ports: ["127.0.0.1:6379:6379"]
"""
#: Runs inside the bastion with its python3: the UI in a pty at 80x24 until its
#: first frame shows the Overview with the profile's services, then ``q``.
FIRST_FRAME = r"""
import fcntl, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.environ["TERM"] = "xterm-256color"
    os.execv(sys.argv[1], sys.argv[1:])
seen, started, quit_at = b"", time.monotonic(), None
while time.monotonic() - started < 120:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if ready:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    if quit_at is None and b"Overview" in seen and b"postgres" in seen:
        quit_at = time.monotonic() - started
        os.write(fd, b"q")
_, status = os.waitpid(pid, 0)
print("first-frame-seconds", quit_at)
print("exit", os.waitstatus_to_exitcode(status))
"""


@dataclass
class Bastion:
    """The running container and how to run the artifact in it."""

    name: str

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``alfred-tui ARGS`` inside, as the operator (uid 1000), with a read-only home."""
        return docker_cli(
            "exec",
            "-e", "ALFRED_TUI_PROFILE_PATH=/etc/alfred",
            "-e", "ALFRED_TUI_STATE_DIR=/tmp/alfred/state",
            "-e", "ALFRED_TUI_DATA_DIR=/tmp/alfred/data",
            self.name, *args,
            timeout=timeout,
        )  # fmt: skip


def ensure_image(name: str) -> None:
    if not image_present(IMAGES[name]):
        built = subprocess.run(
            [str(BUILD_SCRIPT), name], capture_output=True, text=True, timeout=1800
        )
        assert built.returncode == 0, built.stderr[-2000:]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make dist``'s build, into a folder the container mounts read-only."""
    folder = tmp_path_factory.mktemp("dist")
    folder.chmod(0o755)
    target = folder / "alfred-tui"
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_dist.py"), "-o", str(target)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    print(built.stdout.strip())
    return target


@pytest.fixture(scope="module")
def bastion(artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bastion]:
    problem = engine_problem()
    if problem:
        pytest.skip(problem)
    for name in IMAGES:
        ensure_image(name)
    profiles = tmp_path_factory.mktemp("profiles")
    profiles.chmod(0o755)
    (profiles / "bastion.yaml").write_text(PROFILE)
    (profiles / "bastion.yaml").chmod(0o644)
    (profiles / "first_frame.py").write_text(FIRST_FRAME)
    box = f"alfredtest-bastion-{uuid.uuid4().hex[:8]}"
    servers = [f"{box}-postgres", f"{box}-redis"]
    try:
        docker_cli(
            "run", "-d", "--name", box, "--network", "none", "--read-only",
            "--tmpfs", "/tmp:rw,exec,size=3g,mode=1777", "--user", "1000:1000",
            "-v", f"{artifact.parent}:/opt/alfred:ro", "-v", f"{profiles}:/etc/alfred:ro",
            IMAGES["python3"], "sleep", "infinity",
            check=True,
        )  # fmt: skip
        docker_cli(
            "run", "-d", "--name", servers[0], "--network", f"container:{box}",
            "-e", f"POSTGRES_PASSWORD={PASSWORD}", IMAGES["postgres"],
            check=True,
        )  # fmt: skip
        docker_cli(
            "run", "-d", "--name", servers[1], "--network", f"container:{box}",
            IMAGES["redis"],
            check=True,
        )  # fmt: skip
        yield Bastion(box)
    finally:
        docker_cli("rm", "-f", *servers, box, timeout=180)


def wait_for_servers(bastion: Bastion) -> None:
    """Until PostgreSQL and Redis answer on the bastion's loopback."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pg = docker_cli("exec", f"{bastion.name}-postgres", "pg_isready", "-h", "127.0.0.1")
        redis = docker_cli("exec", f"{bastion.name}-redis", "redis-cli", "-h", "127.0.0.1", "ping")
        if pg.returncode == 0 and redis.stdout.strip() == "PONG":
            return
        time.sleep(1)
    pytest.fail("PostgreSQL and Redis did not answer within 120 s")


def test_one_file_runs_offline_as_a_non_root_user(bastion: Bastion) -> None:
    interfaces = bastion.run("cat", "/proc/net/dev").stdout
    assert [line.split(":")[0].strip() for line in interfaces.splitlines()[2:]] == ["lo"]
    assert bastion.run("python3", "-c", "import pip").returncode != 0  # nothing but python3

    started = time.monotonic()
    first = bastion.run("/opt/alfred/alfred-tui", "--version")
    first_run = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    assert first.stdout == "alfred-tui 0.1.0\n"
    assert first.stderr == ""  # no warning about the home it cannot write
    # The home is read-only: the wheels were unpacked in the user's own folder under /tmp.
    unpacked = bastion.run("stat", "-c", "%u %a", "/tmp/alfred-tui-pex-1000")
    assert unpacked.stdout.split() == ["1000", "700"]
    started = time.monotonic()
    assert bastion.run("/opt/alfred/alfred-tui", "--version").returncode == 0
    print(f"--version: first run {first_run:.1f} s, then {time.monotonic() - started:.2f} s")

    listed = bastion.run("/opt/alfred/alfred-tui", "profiles", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert {"base", "dev", "local", "prod", "bastion"} <= set(rows)
    assert rows["dev"]["origin"] == "built-in" and rows["bastion"]["status"] == "ok"
    shown = bastion.run("/opt/alfred/alfred-tui", "profiles", "show", "dev", "-o", "json")
    assert json.loads(shown.stdout)["services"]["postgres"]["image"].startswith("supabase/")

    wait_for_servers(bastion)
    checked = bastion.run(
        "/opt/alfred/alfred-tui", "check", "-p", "bastion", "-s", "postgres", "-s", "redis",
        "-o", "json",
    )  # fmt: skip
    report = json.loads(checked.stdout)
    assert checked.returncode == report["exit_code"] < 2, checked.stdout + checked.stderr
    assert {s["service"]: s["up"] for s in report["services"]} == {"postgres": True, "redis": True}
    assert {s["service"]: s["address"] for s in report["services"]} == {
        "postgres": "127.0.0.1:5432",
        "redis": "127.0.0.1:6379",
    }
    # Embedded Qdrant: qdrant-client and numpy, compiled wheels from the artifact, load and run.
    deployed = bastion.run("/opt/alfred/alfred-tui", "up", "qdrant", "-p", "bastion", "--yes")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    embedded = bastion.run("/opt/alfred/alfred-tui", "check", "-p", "bastion", "-s", "qdrant")
    assert embedded.returncode in (0, 1), embedded.stdout + embedded.stderr
    assert "qdrant  embedded:" in embedded.stdout

    frame = bastion.run(
        "python3", "/etc/alfred/first_frame.py", "/opt/alfred/alfred-tui", "--profile", "bastion"
    )
    assert frame.returncode == 0, frame.stderr
    lines = dict(line.split(" ", 1) for line in frame.stdout.splitlines())
    assert lines["first-frame-seconds"] != "None", frame.stdout
    assert lines["exit"] == "0", frame.stdout
    print(f"UI first frame with the Overview after {float(lines['first-frame-seconds']):.2f} s")


def load_build_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_dist", ROOT / "scripts" / "build_dist.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unsupported_python_gets_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The artifact's first code, run by this Python as if it were too old for it."""
    build_dist = load_build_script()
    this = sys.version_info[:2]
    monkeypatch.setattr(build_dist, "PYTHONS", ((this[0], this[1] + 1), (this[0], this[1] + 3)))
    preamble = tmp_path / "preamble.py"
    preamble.write_text(build_dist.preamble())
    result = subprocess.run([sys.executable, str(preamble)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"alfred-tui needs Python {this[0]}.{this[1] + 1} to {this[0]}.{this[1] + 3} (CPython, "
        f"Linux x86_64); {sys.executable} is Python {this[0]}.{this[1]}: run it with "
        f"python{this[0]}.{this[1] + 1} or newer\n"
    )


def old_pythons() -> list[Path]:
    """Interpreters older than 3.11 on this machine (pyenv's, if any)."""
    found = []
    for folder in sorted(Path("~/.pyenv/versions").expanduser().glob("*")):
        python = folder / "bin" / "python"
        if python.is_file() and folder.name.split(".")[:2] in (["2", "7"], ["3", "9"], ["3", "10"]):
            found.append(python)
    return found


@pytest.mark.skipif(not old_pythons(), reason="no Python older than 3.11 here (pyenv's are used)")
def test_the_artifact_on_an_old_python_says_which_it_needs(artifact: Path, tmp_path: Path) -> None:
    for python in old_pythons():
        result = subprocess.run(
            [str(python), str(artifact), "--version"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PEX_ROOT": str(tmp_path / "pex")},
        )
        assert result.returncode == 2, (python, result.stderr)
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("alfred-tui needs Python 3.11 to 3.14 (CPython"), python
        assert not (tmp_path / "pex").exists()  # refused before anything was unpacked


def newer_pythons() -> list[Path]:
    """The newest other supported interpreter here (pyenv's 3.12+), if any: one is enough
    to prove the other Pythons' wheels, and each first run unpacks for 30 s."""
    found = []
    for folder in sorted(Path("~/.pyenv/versions").expanduser().glob("3.1[234].*")):
        if (folder / "bin" / "python3").is_file():
            found.append(folder / "bin")
    return found[-1:]


@pytest.mark.skipif(not newer_pythons(), reason="no CPython 3.12+ here (pyenv's are used)")
def test_the_artifact_runs_on_every_other_python_here(artifact: Path, tmp_path: Path) -> None:
    """Its compiled wheels for 3.12+ load: the /bin/sh start finds only that Python on the PATH."""
    probe = "import sys, numpy, asyncpg, hiredis, pydantic_core, grpc, yaml; print(sys.version)"
    for folder in newer_pythons():
        env = {"PATH": str(folder), "PEX_ROOT": str(tmp_path / folder.parent.name), "HOME": "/"}
        version = subprocess.run(
            [str(artifact), "--version"], env=env, capture_output=True, text=True, timeout=300
        )
        assert version.stdout == "alfred-tui 0.1.0\n", version.stderr
        loaded = subprocess.run(
            [str(artifact), "-c", probe],
            env={**env, "PEX_INTERPRETER": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.startswith(folder.parent.name), (folder, loaded.stdout)


def test_the_lock_holds_compiled_wheels_for_every_python() -> None:
    build_dist = load_build_script()
    build_dist.check_lock()  # made for pyproject's dependencies, else: run make dist-lock
    lock = json.loads((ROOT / "packaging" / "pex-lock.json").read_text())
    wheels = [
        Path(artifact["url"]).name
        for resolve in lock["locked_resolves"]
        for requirement in resolve["locked_requirements"]
        for artifact in requirement["artifacts"]
    ]
    for a, b in build_dist.PYTHONS:
        for project in ("asyncpg", "hiredis", "pydantic_core", "numpy", "grpcio", "PyYAML"):
            tag = f"-cp{a}{b}-cp{a}{b}-"
            assert any(w.lower().startswith(project.lower()) and tag in w for w in wheels), (
                project,
                tag,
            )
    assert textwrap.dedent(build_dist.interpreter_constraint()) == "CPython>=3.11,<3.15"
