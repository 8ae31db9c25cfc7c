"""Shared fixtures: real PostgreSQL and Redis servers, isolated folders, profile files.

The servers are started once per test session on free loopback ports and
stopped at the end, even on failure (see ``servers.py``). Tests that stop a
server start their own with ``postgres_server()`` / ``redis_server()``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import PgServer, RedisServer, postgres_server, redis_server

#: Unexpected skips fail `make test` (tests/expected_skips.py, tests/expected-skips.txt).
pytest_plugins = ("expected_skips",)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A real PostgreSQL cluster for the whole session."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """A real Redis server for the whole session."""
    with redis_server() as server:
        yield server


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data, state and config folders (never the user's)."""
    home = tmp_path / "home"
    for name, sub in (
        ("ALFRED_TUI_DATA_DIR", "data"),
        ("ALFRED_TUI_STATE_DIR", "state"),
        ("ALFRED_TUI_CACHE_DIR", "cache"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "xdg-data"),
        ("XDG_STATE_HOME", "xdg-state"),
    ):
        folder = home / sub
        folder.mkdir(parents=True)
        monkeypatch.setenv(name, str(folder))
    monkeypatch.delenv("ALFRED_TUI_PROFILE", raising=False)
    monkeypatch.delenv("ALFRED_TUI_PROFILE_PATH", raising=False)
    return home


ProfileWriter = Callable[..., Path]


@pytest.fixture
def write_profile(tmp_path: Path) -> ProfileWriter:
    """Write a profile YAML file and return its path.

    ``write_profile(text, name="p")`` writes ``text`` as is (dedented);
    ``{pg_port}``-style placeholders are the caller's business.
    """

    def write(text: str, name: str = "test-profile") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def servers_profile(write_profile: ProfileWriter, pg: PgServer, redis: RedisServer) -> Path:
    """A profile extending ``local`` that points at the session's real servers.

    Qdrant resolves to an embedded store under the test's own data dir.
    """
    return write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{pg.port}:5432"]
            environment:
              POSTGRES_PASSWORD: {pg.password}
          redis:
            ports: ["127.0.0.1:{redis.port}:6379"]
        """,
        name="servers",
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``alfred-tui`` in a subprocess, as a user would."""
    executable = shutil.which("alfred-tui", path=str(Path(sys.executable).parent)) or "alfred-tui"
    return subprocess.run(
        [executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        input=input,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli("check", "--profile", path)`` runs the real command in a subprocess."""
    return run_cli


# --- local backend (issue 3) ---------------------------------------------------

from localdeploy import LocalDeployment  # noqa: E402


@pytest.fixture(scope="module")
def local_deployment() -> Iterator[LocalDeployment]:
    """PostgreSQL, Redis and embedded Qdrant deployed by the local backend, for one module.

    Free ports, a 0755 data dir, everything stopped and deleted after the
    module. ``local_deployment.profile_path`` is the profile to pass to
    ``--profile``; ``local_deployment.backend()`` a LocalBackend on it.
    """
    with LocalDeployment() as deployment:
        deployment.up()
        yield deployment


# --- Qdrant stand-in (tests/qdrant_standin: Qdrant's REST subset over qdrant-edge) ---------

from qdrant_standin.launcher import StandinProcess, start_standin  # noqa: E402 - standard library only

QdrantStandinFactory = Callable[..., StandinProcess]


@pytest.fixture
def qdrant_standin_factory(tmp_path: Path) -> Iterator[QdrantStandinFactory]:
    """Start Qdrant stand-in servers with options; all are stopped after the test.

    ``qdrant_standin_factory("--disable-metrics", api_key="k")`` returns a
    running :class:`StandinProcess` (``.url``, ``.port``, ``.storage``, ``.stop()``);
    ``storage=`` restarts a server on an earlier server's folder.
    """
    started: list[StandinProcess] = []

    def start(
        *args: str, api_key: str | None = None, storage: Path | None = None
    ) -> StandinProcess:
        folder = storage or tmp_path / f"qdrant-standin-{len(started)}" / "storage"
        server = start_standin(folder, *args, api_key=api_key)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def qdrant_standin(qdrant_standin_factory: QdrantStandinFactory) -> StandinProcess:
    """A fresh, empty Qdrant stand-in server on a free loopback port (no API key)."""
    return qdrant_standin_factory()


# --- doctor, activity and audit (issue 8) -------------------------------------


@pytest.fixture
def validate_schema() -> Callable[[object, str], None]:
    """``validate_schema(document, "doctor")`` checks it against assets/schemas/doctor.v1."""
    import json

    import jsonschema

    def validate(document: object, name: str, version: int = 1) -> None:
        path = ROOT / "assets" / "schemas" / f"{name}.v{version}.schema.json"
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
            document
        )

    return validate


# --- Docker (tests/docker_support.py) ---------------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that answers; scripts/run-tests.sh starts one. Skips when none could."""
    from docker_support import engine_problem

    problem = engine_problem()
    if problem:
        if os.environ.get("CI"):  # CI's test command starts an engine: none is a failure
            pytest.fail(f"no Docker engine in CI: {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def docker_stack(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The test profile deployed on the engine under a project unique to this module.

    Every service healthy on free loopback ports; everything labelled with the
    project (containers, network, volumes) is removed afterwards.
    """
    from docker_support import docker_stack as deployed_stack

    with deployed_stack(tmp_path_factory.mktemp("docker")) as stack:
        yield stack


# --- Kubernetes API-server stand-in (tests/kube_standin) ---------------------------------


@pytest.fixture
def k8s_standin() -> Iterator[Any]:
    """A Kubernetes API-server **stand-in** on loopback (kmock-based; no cluster here)."""
    from kube_standin import StandInCluster

    with StandInCluster() as cluster:
        yield cluster


@pytest.fixture
def k8s_kubeconfig(k8s_standin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubeconfig for the stand-in, exported as ``KUBECONFIG`` (also for subprocesses)."""
    path = k8s_standin.kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return path


@pytest.fixture(scope="session")
def kube_cluster(docker_engine: None) -> Iterator[Any]:
    """The stand-in with its **Docker kubelet**: every pod runs as real containers.

    One for the session; each deployment lives in a namespace of its own, and
    every container, volume and network the kubelet made is removed at the
    end, even after a failure (tests/kube_support.py).
    """
    from kube_support import kube_cluster as running_cluster

    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kube_shared(kube_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """tests/profiles/kube-e2e.yaml deployed once, for the tests that leave it as they found it."""
    from kube_support import kube_deployment

    with kube_deployment(kube_cluster, tmp_path_factory.mktemp("kube-shared"), "shared") as found:
        yield found


@pytest.fixture
def fresh_database(pg: PgServer) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL, dropped after the test."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    pg.psql(f"CREATE DATABASE {name}")
    yield name
    pg.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- snapshot tests -------------------------------------------------------------


@pytest.fixture(autouse=True)
def steady_text_cursors(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In snapshot tests a focused Input's cursor stays on instead of blinking.

    Otherwise a screenshot shows the cursor or not depending on when, within
    the half-second blink, it is taken, and the snapshot flickers between runs.
    """
    if "snap_compare" in request.fixturenames:
        from textual.widgets import Input

        monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
