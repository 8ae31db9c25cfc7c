"""Where the Docker backend looks for its engine: the docker CLI's rules, no SDK needed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from alfred_tui.backends.base import EngineUnreachable
from alfred_tui.backends.docker.engine import DEFAULT_SOCKET, locate_engine, unreachable


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _write_context(config: Path, name: str, host: str) -> Path:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))
    return meta


def test_default_socket_when_nothing_is_set(docker_config: Path) -> None:
    location = locate_engine()
    assert location.url == DEFAULT_SOCKET
    assert "default socket" in location.source


def test_docker_host_wins_over_the_context(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_context(docker_config, "remote", "tcp://10.0.0.9:2376")
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/other.sock")
    location = locate_engine()
    assert (location.url, location.source) == ("unix:///run/other.sock", "DOCKER_HOST")


def test_current_context_from_config_json(docker_config: Path) -> None:
    meta = _write_context(docker_config, "colima", "unix:///home/me/.colima/docker.sock")
    (docker_config / "config.json").write_text(json.dumps({"currentContext": "colima"}))
    location = locate_engine()
    assert location.url == "unix:///home/me/.colima/docker.sock"
    assert location.context == "colima"
    assert str(meta) in location.source and "currentContext" in location.source


def test_docker_context_env_wins_over_config_json(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_context(docker_config, "a", "unix:///a.sock")
    _write_context(docker_config, "b", "unix:///b.sock")
    (docker_config / "config.json").write_text(json.dumps({"currentContext": "a"}))
    monkeypatch.setenv("DOCKER_CONTEXT", "b")
    assert locate_engine().url == "unix:///b.sock"


def test_missing_context_is_a_clear_error(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    with pytest.raises(EngineUnreachable) as caught:
        locate_engine()
    assert "docker context 'gone'" in caught.value.message
    assert "docker context ls" in caught.value.message


def test_the_profile_host_wins(docker_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///env.sock")
    assert locate_engine("tcp://127.0.0.1:2375").source == "the profile's docker.host"


def test_unreachable_message_says_where_and_what_to_check(docker_config: Path) -> None:
    error = unreachable(locate_engine(), "connection refused")
    line = error.one_line()
    assert line.startswith("Engine unreachable: no Docker engine answers at unix:///var/run/")
    assert "dockerd" in line and "DOCKER_HOST" in line and "\n" not in line


def test_locating_and_endpoints_do_not_import_docker() -> None:
    code = (
        "import sys\n"
        "from alfred_tui.backends.docker.backend import DockerBackend\n"
        "from alfred_tui.backends.docker.engine import locate_engine\n"
        "from alfred_tui.config.loader import load_profile\n"
        "import asyncio\n"
        "backend = DockerBackend(load_profile('dev'))\n"
        "print(asyncio.run(backend.endpoint('postgres')).address(), locate_engine().url)\n"
        "assert 'docker' not in sys.modules, 'docker SDK imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("127.0.0.1:5432 ")
