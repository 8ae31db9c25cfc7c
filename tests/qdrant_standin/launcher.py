"""Start the Qdrant stand-in as a real process for tests (and stop it, even on failure).

Import-light on purpose (standard library only): the test fixtures import it
without loading the storage engine into the test process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StandinProcess:
    """A running stand-in: where it listens, where it keeps data, its log."""

    host: str
    port: int
    storage: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    api_key: str | None = None
    args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def snapshots(self) -> Path:
        """The snapshots folder (the stand-in's default: under the storage)."""
        return self.storage / "snapshots"

    def log(self) -> str:
        """Everything the server logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 10) -> str:
        """The log once it holds ``text``.

        Like Qdrant's, the stand-in writes a request's access line after the
        reply is sent, so a client can read the reply before the line exists.
        """
        deadline = time.monotonic() + timeout
        while text not in (logged := self.log()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the stand-in's log after {timeout:g} s")
            time.sleep(0.01)
        return logged

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (the server flushes its shards), SIGKILL if it does not exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_ready(server: StandinProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running():
            raise RuntimeError(
                f"Qdrant stand-in exited with {server.process.returncode}:\n{server.log()[-2000:]}"
            )
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{server.url}/readyz", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.05)
    server.stop()
    raise TimeoutError(f"Qdrant stand-in not ready after {timeout} s:\n{server.log()[-2000:]}")


def start_standin(
    storage: Path,
    *args: str,
    port: int | None = None,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
) -> StandinProcess:
    """Run ``python -m qdrant_standin`` on ``port`` (a free one by default) until ready.

    The API key travels in ``QDRANT__SERVICE__API_KEY`` (as with Qdrant), never
    on the command line where ``ps`` would show it.
    """
    storage.mkdir(parents=True, exist_ok=True)
    attempts = 1 if port is not None else 3
    last_error: Exception | None = None
    for _ in range(attempts):
        chosen = port or free_port()
        log_path = storage.parent / f"qdrant-standin-{chosen}.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("QDRANT__")}
        if api_key:
            env["QDRANT__SERVICE__API_KEY"] = api_key
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "qdrant_standin",
                    "--host",
                    host,
                    "--port",
                    str(chosen),
                    "--storage",
                    str(storage),
                    *args,
                ],
                cwd=TESTS_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = StandinProcess(host, chosen, storage, log_path, process, api_key, tuple(args))
        try:
            _wait_ready(server, timeout)
            return server
        except RuntimeError as exc:  # lost a race for the port: try another
            last_error = exc
    assert last_error is not None
    raise last_error


@contextlib.contextmanager
def qdrant_standin_server(
    *args: str, api_key: str | None = None, storage: Path | None = None
) -> Iterator[StandinProcess]:
    """A stand-in on a free port with its own storage; stopped and deleted after."""
    base = Path(tempfile.mkdtemp(prefix="alfred-qdrant-"))
    server = start_standin(storage or base / "storage", *args, api_key=api_key)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def write_qdrant_shim(folder: Path) -> Path:
    """An executable ``qdrant`` in ``folder`` that runs the stand-in.

    For tests of code that looks for a ``qdrant`` binary on PATH (the local
    backend): it starts the stand-in configured by Qdrant's environment
    variables (``QDRANT__SERVICE__HTTP_PORT``, ``QDRANT__STORAGE__STORAGE_PATH``...).
    """
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "qdrant"
    shim.write_text(
        "#!/bin/sh\n"
        "# Qdrant stand-in (alfred-tui tests): not the Qdrant binary.\n"
        f'cd "{TESTS_DIR}" && exec "{sys.executable}" -m qdrant_standin "$@"\n'
    )
    shim.chmod(0o755)
    return shim
