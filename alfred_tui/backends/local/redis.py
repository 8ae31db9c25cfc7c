"""Redis as a local process: ``redis-server <0600 config file>``.

The profile's command arguments (``--appendonly yes --maxmemory 2gb``)
become lines of a config file regenerated on every ``up``, followed by what
the local backend decides (port, bind address, data folder, log file) and
the password. Nothing but the config path is on the command line, so
``ps`` never shows the password. As root, Redis runs as the ``redis`` user.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from functools import cached_property
from pathlib import Path

from alfred_tui.backends.base import BackendError, ProgressCallback
from alfred_tui.backends.local import processes
from alfred_tui.backends.local.processes import Account
from alfred_tui.backends.local.runner import Launch, ServiceRunner, base_environment
from alfred_tui.backends.readiness import Readiness, redis_ready
from alfred_tui.config.models import RedisService

_SETTINGS_WE_OWN = frozenset(
    {"port", "bind", "dir", "logfile", "daemonize", "supervised", "requirepass", "pidfile"}
)


def quote(value: str) -> str:
    """A value as Redis's config parser reads it back exactly (double-quoted, escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def config_lines(command: list[str] | None) -> list[str]:
    """The profile's ``redis-server`` arguments as config-file directives.

    Redis itself turns ``--name v1 v2`` into the line ``name v1 v2``; a bare
    first argument is a config file, included when it exists here.
    """
    args = list(command or [])
    if args and not args[0].startswith("-"):
        args = args[1:]  # the program name
    lines: list[str] = []
    if args and not args[0].startswith("--"):
        path = Path(args.pop(0))
        if not path.is_file():
            raise BackendError(
                f"services.redis.command names the config file {path}, which does not "
                "exist on this machine"
            )
        lines.append(f"include {quote(str(path))}")
    started = len(lines)
    for arg in args:
        if arg.startswith("--"):
            lines.append(arg[2:])
        elif len(lines) > started:
            lines[-1] += " " + quote(arg)
        else:
            raise BackendError(f"services.redis.command: unexpected argument {arg!r}")
    for line in lines[started:]:
        name = line.split(" ", 1)[0].lower()
        if name in _SETTINGS_WE_OWN:
            raise BackendError(
                f"services.redis.command sets '{name}', which the local backend derives "
                "from the profile (ports, password) and its data dir; remove it"
            )
    return lines


class RedisRunner(ServiceRunner):
    """Redis under ``<root>/redis``: ``data/``, ``redis.conf`` (0600), ``redis.log``."""

    kind = "redis"
    program = "Redis"
    start_timeout = 30.0
    stop_timeout = 60.0
    port_env = "ALFRED_LOCAL_REDIS_PORT"

    spec: RedisService

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def workdir(self) -> Path:
        return self.data_dir

    @property
    def config_file(self) -> Path:
        return self.folder / "redis.conf"

    @cached_property
    def account(self) -> Account | None:
        return processes.service_account("redis")

    def binary(self) -> Path:
        found = shutil.which("redis-server")
        if found is None:
            raise BackendError(
                "redis-server not found on PATH; install it: apt-get install redis-server",
                title="Redis not installed",
            )
        return Path(found)

    def version_command(self) -> list[str]:
        return [str(self.binary()), "--version"]

    def format_version(self, output: str) -> str:
        match = re.search(r"v=(\S+)", output)
        return f"Redis {match.group(1)}" if match else output or self.program

    def config_text(self) -> str:
        """The config file: the profile's directives, then ours (later lines win)."""
        binding = self.spec.primary_port
        assert binding is not None
        lines = ["# Written by alfred-tui on every `up`; edit the profile, not this file."]
        lines += config_lines(self.spec.command)
        lines += [
            f"port {binding.host_port}",
            f"bind {binding.host_ip}",
            f"dir {quote(str(self.data_dir))}",
            f"logfile {quote(str(self.log_file))}",
            "daemonize no",
        ]
        if self.spec.password is not None:
            lines.append(f"requirepass {quote(self.spec.password.get_secret_value())}")
        return "\n".join(lines) + "\n"

    async def prepare(self, progress: ProgressCallback) -> None:
        await asyncio.to_thread(self._write_files)

    def _write_files(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        processes.require_traversable(self.account, self.folder.parent, self.program)
        self.data_dir.mkdir(exist_ok=True)
        self.log_file.touch()
        temporary = self.config_file.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.config_text())
        for path in (self.folder, self.data_dir, self.log_file, temporary):
            if self.account is not None:
                self.account.own(path)
        self.folder.chmod(0o750)
        self.data_dir.chmod(0o750)
        temporary.replace(self.config_file)

    def launch(self) -> Launch:
        argv = [str(self.binary()), str(self.config_file)]
        return Launch(argv=argv, env=base_environment(), cwd=self.data_dir)

    def fingerprint_inputs(self, launch: Launch) -> list[str]:
        # the config holds every setting (the password too: it is already in the 0600 file)
        return [*launch.argv, self.config_text()]

    async def readiness(self, timeout: float = 3.0) -> Readiness:
        endpoint = self.endpoint()
        assert endpoint.host is not None and endpoint.port is not None
        return await redis_ready(endpoint.host, endpoint.port, self.spec.password, timeout)

    def role(self) -> str:
        return "master"

    def client_command(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """``redis-cli`` gets ``-h``/``-p`` after its name and the password in REDISCLI_AUTH."""
        endpoint = self.endpoint()
        env = dict(os.environ)
        if self.spec.password is not None:
            env["REDISCLI_AUTH"] = self.spec.password.get_secret_value()
        if os.path.basename(argv[0]) == "redis-cli" and not {"-h", "-p", "-u"} & set(argv):
            argv = [argv[0], "-h", str(endpoint.host), "-p", str(endpoint.port), *argv[1:]]
        env["REDIS_HOST"], env["REDIS_PORT"] = str(endpoint.host), str(endpoint.port)
        return argv, env

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "data": str(self.data_dir), "config": str(self.config_file)}
