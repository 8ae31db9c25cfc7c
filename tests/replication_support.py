"""Real replication pairs on this machine: a PostgreSQL standby and a Redis replica.

The standby is a copy of a throwaway primary (``servers.postgres_server``)
made by ``pg_basebackup -R``, streaming from it on its own free port; the
Redis replica is ``redis-server --replicaof`` the master. Both are stopped and
deleted afterwards. They let the replication reads be tested on real servers
in a second, without a container engine (the Docker tests cover pause,
failover and the engines).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from servers import PgServer, _as_owner, free_port, redis_server, start_redis, wait_for_port


@contextlib.contextmanager
def postgres_standby(primary: PgServer, name: str = "standby-1") -> Iterator[PgServer]:
    """A hot standby of ``primary`` (application_name ``name``); removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="alfred-pg-standby-"))
    data_dir = base / "data"
    if primary.owner:
        record = pwd.getpwnam(primary.owner)
        os.chown(base, record.pw_uid, record.pw_gid)
    port = free_port()
    standby = PgServer(
        "127.0.0.1", port, primary.user, primary.password, primary.database, data_dir,
        primary.bindir, primary.owner,
    )  # fmt: skip
    env = {**os.environ, "PGPASSWORD": primary.password}
    try:
        subprocess.run(
            _as_owner(
                [
                    "env",
                    f"PGPASSWORD={primary.password}",
                    str(primary.bindir / "pg_basebackup"),
                    "-d",
                    f"host=127.0.0.1 port={primary.port} user={primary.user} "
                    f"application_name={name}",
                    "-D",
                    str(data_dir),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ],
                primary.owner,
            ),
            check=True,
            capture_output=True,
            timeout=120,
            env=env,
        )
        with open(data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write(f"port = '{port}'\nunix_socket_directories = '{base}'\n")
            conf.write("hot_standby = 'on'\nwal_receiver_status_interval = '1s'\n")
        subprocess.run(
            _as_owner(
                [
                    str(primary.bindir / "pg_ctl"),
                    "-D",
                    str(data_dir),
                    "-l",
                    str(base / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                primary.owner,
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        wait_for_port(port)
        yield standby
    finally:
        standby.stop()
        shutil.rmtree(base, ignore_errors=True)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Call ``predicate()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


@dataclass
class RedisPair:
    """A master and one replica."""

    master: object
    replica: object


@contextlib.contextmanager
def redis_pair() -> Iterator[RedisPair]:
    """A Redis master and a replica of it, both on free ports; stopped afterwards."""
    with redis_server() as master:
        directory = Path(tempfile.mkdtemp(prefix="alfred-redis-replica-"))
        replica = start_redis(free_port(), directory, "--replicaof", "127.0.0.1", str(master.port))
        try:
            wait_until(lambda: "master_link_status:up" in replica.cli("INFO", "replication"))
            yield RedisPair(master, replica)
        finally:
            replica.stop()
            shutil.rmtree(directory, ignore_errors=True)
