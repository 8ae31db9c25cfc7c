"""Where pg_dump and pg_restore run: on this machine against the endpoint, or in the instance.

- **Host client** (the local backend, and any backend that cannot exec): the
  tools of a PostgreSQL installation on this machine, the same major version
  as the server when installed (else the newest newer one: pg_dump reads
  older servers, never newer), aimed at the backend's endpoint. The
  password travels in ``PGPASSWORD``, never on a command line. Streams to a
  file here, so progress is the dump's size as it grows.
- **In the instance** (Docker, Kubernetes): the backend's ``exec`` runs the
  tools that ship with the server image (their version always matches), and
  the dump crosses with the backend's file copy, or through stdout/stdin
  when the backend cannot copy files.
"""

from __future__ import annotations

import abc
import glob
import re
import shutil
import uuid
from pathlib import Path

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.backends.capabilities import (
    Capability,
    Executable,
    FileCopying,
    capable,
    require,
    supports,
)
from alfred_tui.backup.engine import BackupError, EngineContext
from alfred_tui.backup.process import ToolResult, run_tool
from alfred_tui.config.models import PostgresService
from alfred_tui.redact import redact

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def tool_major(binary: Path) -> int | None:
    """The major version a PostgreSQL tool reports (``pg_dump --version``)."""
    import subprocess

    try:
        output = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(output)
    return int(match.group(1)) if match else None


def installed_bindirs() -> list[tuple[int, Path]]:
    """PostgreSQL client installations here: (major, bin folder), newest first."""
    found: dict[int, Path] = {}
    for folder in glob.glob("/usr/lib/postgresql/*/bin"):
        path = Path(folder)
        if (path / "pg_dump").exists():
            major = tool_major(path / "pg_dump")
            if major is not None:
                found.setdefault(major, path)
    on_path = shutil.which("pg_dump")
    if on_path:
        path = Path(on_path).resolve().parent
        major = tool_major(path / "pg_dump")
        if major is not None:
            found.setdefault(major, path)
    return sorted(found.items(), reverse=True)


def host_bindir(server_major: int) -> Path | None:
    """The client tools to use against a server of ``server_major``: same major, else newer."""
    installations = installed_bindirs()
    for major, path in installations:
        if major == server_major:
            return path
    newer = [path for major, path in installations if major > server_major]
    return newer[-1] if newer else None


class PgTools(abc.ABC):
    """pg_dump / pg_restore / pg_basebackup wherever they run."""

    where: str = ""

    def __init__(self, context: EngineContext) -> None:
        self.context = context

    @property
    def spec(self) -> PostgresService:
        assert isinstance(self.context.spec, PostgresService)
        return self.context.spec

    @abc.abstractmethod
    async def dump(
        self, database: str, snapshot: str | None, destination: Path, progress: ProgressCallback
    ) -> None:
        """``pg_dump -F c`` of ``database`` (in ``snapshot``) into ``destination`` here."""

    @abc.abstractmethod
    async def list_archive(self, archive: Path) -> ToolResult:
        """``pg_restore --list`` of a dump here."""

    @abc.abstractmethod
    async def restore(
        self, archive: Path, database: str, progress: ProgressCallback = no_progress
    ) -> ToolResult:
        """``pg_restore -c --if-exists --single-transaction`` of a dump here into ``database``."""


LOCK_TIMEOUT = "120s"
"""How long a restore waits for a table another session holds before it gives up (and,
being one transaction, changes nothing) rather than hanging behind a stuck client."""

RESTORE_OPTIONS = ["--clean", "--if-exists", "--single-transaction", "--no-password"]
"""``--single-transaction``: a restore that fails midway changes nothing."""


class HostPgTools(PgTools):
    """The tools of a PostgreSQL installation on this machine, aimed at the endpoint."""

    where = "host client"

    def __init__(self, context: EngineContext, bindir: Path) -> None:
        super().__init__(context)
        self.bindir = bindir

    def env(self, database: str | None = None) -> dict[str, str]:
        """libpq's environment for the endpoint; the password never goes on argv."""
        from alfred_tui.databases.postgres import PostgresTarget

        target = PostgresTarget.from_profile(self.spec, self.context.endpoint)
        return {
            "PGHOST": target.host,
            "PGPORT": str(target.port),
            "PGUSER": target.user,
            "PGPASSWORD": target.password.get_secret_value(),
            "PGDATABASE": database or target.database,
            "PGSSLMODE": target.sslmode,
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": "alfred-tui-backup",
        }

    def tool(self, name: str) -> str:
        return str(self.bindir / name)

    async def dump(
        self, database: str, snapshot: str | None, destination: Path, progress: ProgressCallback
    ) -> None:
        argv = [self.tool("pg_dump"), "--format=custom", "--no-password", f"--file={destination}"]
        if snapshot:
            argv.append(f"--snapshot={snapshot}")
        result = await run_tool(
            argv,
            env=self.env(database),
            watch=destination,
            progress=progress,
            step=f"pg_dump {database}",
            service="postgres",
        )
        if not result.ok:
            raise BackupError(f"pg_dump of {database} failed: {result.last_lines()}")

    async def list_archive(self, archive: Path) -> ToolResult:
        return await run_tool([self.tool("pg_restore"), "--list", str(archive)], timeout=600)

    async def restore(
        self, archive: Path, database: str, progress: ProgressCallback = no_progress
    ) -> ToolResult:
        size = archive.stat().st_size
        progress(Progress(f"pg_restore into {database}", 0, size, "bytes", "postgres"))
        result = await run_tool(
            [self.tool("pg_restore"), *RESTORE_OPTIONS, f"--dbname={database}", str(archive)],
            env={**self.env(database), "PGOPTIONS": f"-c lock_timeout={LOCK_TIMEOUT}"},
        )
        progress(Progress(f"pg_restore into {database}", size, size, "bytes", "postgres"))
        return result


class InstancePgTools(PgTools):
    """The tools inside the server's container or pod, through the backend's exec."""

    where = "in the instance"

    def scratch(self) -> str:
        return f"/tmp/alfred-tui-{uuid.uuid4().hex}.dump"

    @property
    def can_copy(self) -> bool:
        return supports(self.context.backend, "postgres", Capability.FILES)

    async def _exec(self, argv: list[str], stdin: bytes | None = None) -> ToolResult:
        runner = require(self.context.backend, "postgres", Executable)
        result = await runner.exec("postgres", argv, stdin=stdin, timeout=6 * 3600)
        stderr = redact(result.stderr.decode("utf-8", "replace"))
        return ToolResult(result.exit_code, result.stdout, stderr)

    async def dump(
        self, database: str, snapshot: str | None, destination: Path, progress: ProgressCallback
    ) -> None:
        step = f"pg_dump {database}"
        argv = ["pg_dump", "--format=custom", "--no-password", f"--dbname={database}"]
        if snapshot:
            argv.append(f"--snapshot={snapshot}")
        progress(Progress(step, 0, None, "bytes", "postgres"))
        if self.can_copy:
            scratch = self.scratch()
            try:
                result = await self._exec([*argv, f"--file={scratch}"])
                if not result.ok:
                    raise BackupError(f"pg_dump of {database} failed: {result.last_lines()}")
                copier = require(self.context.backend, "postgres", FileCopying)
                await copier.copy_from("postgres", scratch, destination)
            finally:
                await self._exec(["rm", "-f", scratch])
        else:
            result = await self._exec(argv)
            if not result.ok:
                raise BackupError(f"pg_dump of {database} failed: {result.last_lines()}")
            destination.write_bytes(result.stdout)
        size = destination.stat().st_size
        progress(Progress(step, size, size, "bytes", "postgres"))

    async def list_archive(self, archive: Path) -> ToolResult:
        return await self._with_archive(archive, ["pg_restore", "--list"])

    async def restore(
        self, archive: Path, database: str, progress: ProgressCallback = no_progress
    ) -> ToolResult:
        size = archive.stat().st_size
        progress(Progress(f"pg_restore into {database}", 0, size, "bytes", "postgres"))
        result = await self._with_archive(
            archive, ["pg_restore", *RESTORE_OPTIONS, f"--dbname={database}"]
        )
        progress(Progress(f"pg_restore into {database}", size, size, "bytes", "postgres"))
        return result

    async def _with_archive(self, archive: Path, command: list[str]) -> ToolResult:
        """Run ``command`` on the archive: copied in, or fed on stdin (pg_restore reads it)."""
        if not self.can_copy:
            return await self._exec(command, stdin=archive.read_bytes())
        scratch = self.scratch()
        try:
            copier = require(self.context.backend, "postgres", FileCopying)
            await copier.copy_to("postgres", archive, scratch)
            return await self._exec([*command, scratch])
        finally:
            await self._exec(["rm", "-f", scratch])


def choose_tools(context: EngineContext, server_major: int) -> PgTools:
    """The engine's own tools inside the instance where the backend can exec there,
    else a matching installation on this machine against the endpoint.

    The local backend's exec runs on this machine anyway, so it uses the host
    client directly (which streams with progress).
    """
    backend = context.backend
    runner = capable(backend, "postgres", Executable)
    if runner is not None and not runner.exec_runs_here:
        return InstancePgTools(context)
    bindir = host_bindir(server_major)
    if bindir is None:
        raise BackupError(
            f"no pg_dump for PostgreSQL {server_major} or newer on this machine, and the "
            f"{backend.name} backend cannot run it in the instance; "
            f"install postgresql-client-{server_major}"
        )
    return HostPgTools(context, bindir)
