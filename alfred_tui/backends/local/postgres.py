"""PostgreSQL as a local process: initdb once, then ``postgres -D`` with the profile's ``-c``.

Like the official image: the superuser is ``POSTGRES_USER`` with
``POSTGRES_PASSWORD`` (scram-sha-256, given to initdb through a 0600 file that
is deleted right after, never on a command line) and ``POSTGRES_DB`` is
created on first start. As root the server runs as the ``postgres`` user
(PostgreSQL refuses root).

The host side of the profile's first port is where it listens (its
``host_ip``/``host_port``, as Docker would publish it). Logs go to stderr,
appended to ``postgres.log`` with UTC timestamps (``%m``) so that ``logs``
can merge them; no Unix socket is opened, clients use TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
from functools import cached_property
from pathlib import Path

from alfred_tui.backends.base import BackendError, OperationFailed, ProgressCallback
from alfred_tui.backends.local import processes
from alfred_tui.backends.local.processes import Account
from alfred_tui.backends.local.runner import Launch, ServiceRunner, base_environment
from alfred_tui.backends.readiness import Readiness, postgres_ready
from alfred_tui.config.models import PostgresService
from alfred_tui.redact import redact

#: Client programs taken from the server's own installation, so versions match.
CLIENT_TOOLS = frozenset(
    {
        "psql",
        "pg_dump",
        "pg_dumpall",
        "pg_restore",
        "pg_isready",
        "pg_basebackup",
        "createdb",
        "dropdb",
        "vacuumdb",
        "reindexdb",
        "pgbench",
    }
)

#: Settings the local backend decides: where to listen and how to log.
_LOG_SETTINGS = (
    "log_destination=stderr",
    "logging_collector=off",
    "log_line_prefix=%m [%p] ",
    "log_timezone=UTC",
)


def _major(bindir: Path) -> int | None:
    match = re.search(r"/postgresql/(\d+)/bin$", str(bindir))
    return int(match.group(1)) if match else None


def find_bindir(data_major: int | None = None) -> Path:
    """PostgreSQL's server binaries: the data's version if installed, else PATH, else newest.

    Debian installs every major version under ``/usr/lib/postgresql/N/bin``
    and puts no ``postgres`` on PATH; other systems put it on PATH.
    """
    installed = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "postgres").exists()),
        key=lambda p: _major(p) or 0,
    )
    if data_major is not None:
        for bindir in installed:
            if _major(bindir) == data_major:
                return bindir
    on_path = shutil.which("postgres")
    if on_path and Path(on_path).resolve().with_name("initdb").exists():
        return Path(on_path).resolve().parent
    if installed:
        return installed[-1]
    raise BackendError(
        "PostgreSQL server binaries not found (no postgres on PATH or under "
        "/usr/lib/postgresql/*/bin); install them: apt-get install postgresql",
        title="PostgreSQL not installed",
    )


def server_arguments(command: list[str] | None) -> list[str]:
    """The profile's command without the program name: ``-c`` settings and flags."""
    args = list(command or [])
    if args and not args[0].startswith("-"):
        args = args[1:]
    return args


class PostgresRunner(ServiceRunner):
    """PostgreSQL under ``<root>/postgres``: ``data/``, ``postgres.log``, pid file."""

    kind = "postgres"
    program = "PostgreSQL"
    stop_signal = signal.SIGINT  # PostgreSQL's "fast" shutdown
    log_stream = "stderr"
    start_timeout = 90.0
    stop_timeout = 60.0
    port_env = "ALFRED_LOCAL_POSTGRES_PORT"

    spec: PostgresService

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def workdir(self) -> Path:
        return self.data_dir

    @cached_property
    def account(self) -> Account | None:
        return processes.service_account("postgres")

    @property
    def _setup_marker(self) -> Path:
        return self.folder / ".initialised"

    def _data_major(self) -> int | None:
        try:
            return int((self.data_dir / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    @cached_property
    def bindir(self) -> Path:
        return find_bindir(self._data_major())

    def binary(self) -> Path:
        return self.bindir / "postgres"

    def version_command(self) -> list[str]:
        return [str(self.binary()), "--version"]

    def format_version(self, output: str) -> str:
        match = re.search(r"\(PostgreSQL\)\s+(\S+)", output)
        return f"PostgreSQL {match.group(1)}" if match else output or self.program

    def other_pid_sources(self) -> list[int]:
        """The pid in ``postmaster.pid`` (PostgreSQL's own lock file)."""
        pid = processes.read_pid(self.data_dir / "postmaster.pid")
        return [pid] if pid is not None else []

    def remove_stale_server_state(self) -> None:
        """Delete a ``postmaster.pid`` whose process is gone or is another program.

        PostgreSQL refuses to start while that file names a live process, even
        an unrelated one that happens to have the pid now.
        """
        lock = self.data_dir / "postmaster.pid"
        pid = processes.read_pid(lock)
        if pid is not None and not processes.is_our_process(pid, self.binary(), self.data_dir):
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()

    # --- first-time setup ---------------------------------------------------------

    async def prepare(self, progress: ProgressCallback) -> None:
        await asyncio.to_thread(self._make_folder)
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise BackendError(
                f"{self.data_dir} exists but holds no PostgreSQL cluster (no PG_VERSION); "
                "move it away and run up again"
            )
        self._report(progress, f"initdb {self.data_dir} (superuser {self.spec.user})")
        await asyncio.to_thread(self._initdb)

    def _make_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        processes.require_traversable(self.account, self.folder.parent, self.program)
        if self.account is not None:
            self.account.own(self.folder)
        self.folder.chmod(0o700)

    def _initdb(self) -> None:
        password = self.spec.password.get_secret_value()
        if not password:
            raise BackendError(
                "services.postgres.environment.POSTGRES_PASSWORD is empty; PostgreSQL "
                f"needs a password for its superuser '{self.spec.user}'",
                title="Profile error",
            )
        pwfile = self.folder / ".initdb-password"
        log = self.folder / "initdb.log"
        try:
            descriptor = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(password + "\n")
            if self.account is not None:
                self.account.own(pwfile)
            argv = [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.spec.user,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-locale",
            ]
            options = self.account.popen_options() if self.account else {}
            with open(log, "wb") as output:
                result = subprocess.run(
                    argv,
                    cwd=self.folder,
                    env=base_environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=300,
                    check=False,
                    **options,
                )
        finally:
            with contextlib.suppress(FileNotFoundError):
                pwfile.unlink()
        if result.returncode != 0:
            tail = redact(" | ".join(log.read_text(errors="replace").strip().splitlines()[-3:]))
            raise OperationFailed(f"initdb failed (exit {result.returncode}): {tail}")
        # like the official image: password logins from any address (listen_addresses gates it)
        with open(self.data_dir / "pg_hba.conf", "a") as hba:
            hba.write("\n# added by alfred-tui, as the official image does\n")
            hba.write("host all all all scram-sha-256\n")

    # --- running ----------------------------------------------------------------------

    def launch(self) -> Launch:
        binding = self.spec.primary_port
        assert binding is not None  # endpoint() has checked the profile publishes one
        argv = [str(self.binary()), "-D", str(self.data_dir)]
        argv += server_arguments(self.spec.command)
        settings = (
            f"port={binding.host_port}",
            f"listen_addresses={binding.host_ip}",
            "unix_socket_directories=",
            f"cluster_name=alfred-{self.profile.name}",
            *_LOG_SETTINGS,
        )
        for setting in settings:  # after the profile's, so these win
            argv += ["-c", setting]
        return Launch(argv=argv, env=base_environment(), cwd=self.data_dir)

    async def readiness(self, timeout: float = 3.0) -> Readiness:
        endpoint = self.endpoint()
        assert endpoint.host is not None and endpoint.port is not None
        return await postgres_ready(
            endpoint.host, endpoint.port, self.spec.user, self.spec.database, timeout
        )

    async def after_ready(self, progress: ProgressCallback) -> None:
        """Create ``POSTGRES_DB`` the first time, as the official image does."""
        if self._setup_marker.exists():
            return
        database = self.spec.database
        if database != "postgres":
            created = await self._create_database(database)
            if created:
                self._report(progress, f"created database {database}")
        self._setup_marker.write_text("POSTGRES_DB created\n")

    async def _create_database(self, database: str) -> bool:
        import asyncpg

        endpoint = self.endpoint()
        try:
            connection = await asyncpg.connect(
                host=endpoint.host,
                port=endpoint.port,
                user=self.spec.user,
                password=self.spec.password.get_secret_value(),
                database="postgres",
                timeout=15,
            )
        except Exception as exc:
            raise OperationFailed(
                redact(f"cannot connect to create database {database}: {exc}")
            ) from None
        try:
            exists = await connection.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", database
            )
            if exists:
                return False
            quoted = '"' + database.replace('"', '""') + '"'
            await connection.execute(f"CREATE DATABASE {quoted}")
            return True
        finally:
            await connection.close(timeout=5)

    def role(self) -> str:
        return "primary"

    # --- clients ------------------------------------------------------------------------

    def client_command(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """PostgreSQL tools from the server's installation, aimed through PG* variables."""
        program = argv[0]
        if "/" not in program and program in CLIENT_TOOLS and (self.bindir / program).exists():
            program = str(self.bindir / program)
        endpoint = self.endpoint()
        env = {
            **os.environ,
            "PGHOST": str(endpoint.host),
            "PGPORT": str(endpoint.port),
            "PGUSER": self.spec.user,
            "PGPASSWORD": self.spec.password.get_secret_value(),
            "PGDATABASE": self.spec.database,
            "PGAPPNAME": "alfred-tui",
        }
        return [program, *argv[1:]], env

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "data": str(self.data_dir), "bindir": str(self.bindir)}
