"""Throwaway PostgreSQL clusters and Redis servers for the tests.

Real servers on free loopback ports, in temporary folders, stopped after use
even when a test fails. PostgreSQL refuses to run as root, so when the tests
run as root the cluster belongs to the ``postgres`` user (the Debian package
creates it); otherwise it runs as the current user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_PASSWORD = "test-password-4f9c"
PG_USER = "postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def pg_bindir() -> Path:
    """The folder of PostgreSQL's server binaries (newest version installed)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")


def _as_owner(argv: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


@dataclass
class PgServer:
    """A running throwaway cluster."""

    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path
    bindir: Path
    owner: str | None

    def dsn(self, database: str | None = None) -> str:
        return (
            f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{database or self.database}"
        )

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run ``sql`` with psql and return its output (unaligned, tuples only)."""
        env = {**os.environ, "PGPASSWORD": self.password}
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database or self.database,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        )
        return result.stdout.strip()

    def stop(self) -> None:
        subprocess.run(
            _as_owner(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                self.owner,
            ),
            capture_output=True,
            timeout=60,
        )


@contextlib.contextmanager
def postgres_server(settings: dict[str, str] | None = None) -> Iterator[PgServer]:
    """Start a cluster with password (scram) auth on a free port; stop and delete it after."""
    bindir = pg_bindir()
    owner = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="alfred-pg-"))
    data_dir = base / "data"
    pwfile = base / "pwfile"
    pwfile.write_text(PG_PASSWORD + "\n")
    if owner:
        record = pwd.getpwnam(owner)
        os.chown(base, record.pw_uid, record.pw_gid)
        os.chown(pwfile, record.pw_uid, record.pw_gid)
    port = free_port()
    server = PgServer("127.0.0.1", port, PG_USER, PG_PASSWORD, "postgres", data_dir, bindir, owner)
    try:
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    PG_USER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                owner,
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = {
            "port": str(port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(base),
            "fsync": "off",
            "max_connections": "200",
            "wal_level": "logical",
        }
        options.update(settings or {})
        with open(data_dir / "postgresql.auto.conf", "a") as conf:
            for key, value in options.items():
                conf.write(f"{key} = '{value}'\n")
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data_dir),
                    "-l",
                    str(base / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                owner,
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class RedisServer:
    """A running throwaway Redis."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    directory: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            ["redis-cli", "-h", self.host, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout.strip()


def start_redis(port: int, directory: Path, *extra: str) -> RedisServer:
    """Start redis-server on ``port`` (foreground process) and wait until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found (apt-get install redis-server)")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--daemonize",
            "no",
            "--logfile",
            str(directory / "redis.log"),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer("127.0.0.1", port, process, directory)
    try:
        wait_for_port(port, 20)
    except TimeoutError:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def redis_server(*extra: str) -> Iterator[RedisServer]:
    """A Redis on a free port; stopped and deleted after."""
    directory = Path(tempfile.mkdtemp(prefix="alfred-redis-"))
    server = start_redis(free_port(), directory, *extra)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
