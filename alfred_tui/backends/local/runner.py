"""One database server as a local background process: the steps every server shares.

A :class:`ServiceRunner` owns one folder, ``<data dir>/<profile>/<service>/``,
holding the server's data, its log, its pid file and the fingerprint of the
settings it was started with. Starting is idempotent: a running server whose
settings are unchanged is left alone; one whose settings changed is
restarted, as ``docker compose up`` recreates a changed container. The
subclasses say only what differs: binaries, first-time setup, command line,
readiness probe and client environment.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alfred_tui.backends.base import (
    BackendError,
    Endpoint,
    InstanceState,
    InstanceStatus,
    OperationFailed,
    OperationTimeout,
    Progress,
    ProgressCallback,
    ServiceStatus,
)
from alfred_tui.backends.endpoints import published_endpoint
from alfred_tui.backends.local import processes
from alfred_tui.backends.local.processes import Account
from alfred_tui.backends.readiness import Readiness
from alfred_tui.config.models import Profile, ServiceKind, ServiceSpec
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.backends.logfiles import LogSource

#: A log file bigger than this is rotated (to ``.1``) when its server starts.
LOG_ROTATE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Launch:
    """How to start the server: command line, environment, working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def base_environment() -> dict[str, str]:
    """The environment servers start with: PATH and locale only, never our secrets."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key in ("TZ", "LANG", "LC_ALL"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def last_log_lines(path: Path, count: int = 3) -> str:
    """The last lines of a log, redacted and joined, for an error message."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return redact(" | ".join(line.strip() for line in lines[-count:]))


class ServiceRunner(abc.ABC):
    """Start, stop and observe one server process for one profile service."""

    kind: ServiceKind
    program: str
    """The server's name for messages (``PostgreSQL``)."""
    stop_signal: signal.Signals = signal.SIGTERM
    """The signal for a clean, fast shutdown."""
    log_stream: Literal["stdout", "stderr"] = "stdout"
    start_timeout: float = 60.0
    stop_timeout: float = 60.0
    port_env: str = ""
    """The variable the built-in local profile reads for this service's port."""

    def __init__(self, profile: Profile, spec: ServiceSpec, folder: Path) -> None:
        self.profile = profile
        self.spec = spec
        self.folder = folder
        self._version: str | None = None

    # --- layout --------------------------------------------------------------

    @property
    def instance(self) -> str:
        """The instance name shown everywhere: the service's name in the profile."""
        return self.spec.name

    @property
    def pid_file(self) -> Path:
        return self.folder / f"{self.kind}.pid"

    @property
    def fingerprint_file(self) -> Path:
        return self.folder / f"{self.kind}.fingerprint"

    @property
    def log_file(self) -> Path:
        return self.folder / f"{self.kind}.log"

    @property
    @abc.abstractmethod
    def workdir(self) -> Path:
        """The server's working directory once running: part of its identity."""

    @property
    @abc.abstractmethod
    def account(self) -> Account | None:
        """The user the server runs as (None: as ourselves)."""

    def log_source(self) -> LogSource:
        """The server's log for :func:`~alfred_tui.backends.logfiles.stream_logs`."""
        from alfred_tui.backends.logfiles import LogSource  # not on check's path

        return LogSource(self.kind, self.instance, self.log_file, self.log_stream)

    def endpoint(self) -> Endpoint:
        """Where clients reach the server: its first published port."""
        return published_endpoint(self.profile, self.kind)

    def port_setting(self) -> str:
        """How a person moves this service to another port, for error messages."""
        hint = f"services.{self.kind}.ports in the profile"
        return f"{hint}, or {self.port_env}" if self.port_env else hint

    # --- what each server defines ---------------------------------------------

    @abc.abstractmethod
    def binary(self) -> Path:
        """The server executable (raises :class:`BackendError` when missing)."""

    @abc.abstractmethod
    async def prepare(self, progress: ProgressCallback) -> None:
        """Create the folder, first-time data and config files; idempotent."""

    @abc.abstractmethod
    def launch(self) -> Launch:
        """The command that runs the server in the foreground."""

    @abc.abstractmethod
    async def readiness(self, timeout: float = 3.0) -> Readiness:
        """Ask the server whether it is ready (its own protocol)."""

    async def after_ready(self, progress: ProgressCallback) -> None:  # noqa: B027 - optional
        """One-time setup that needs the server up (PostgreSQL's POSTGRES_DB)."""

    @abc.abstractmethod
    def version_command(self) -> list[str]:
        """A command printing the server's version."""

    @abc.abstractmethod
    def format_version(self, output: str) -> str:
        """The image-like label from ``version_command``'s output."""

    def fingerprint_inputs(self, launch: Launch) -> list[str]:
        """What, if changed, requires a restart (the command line by default)."""
        return launch.argv

    def other_pid_sources(self) -> list[int]:
        """Pids the server itself recorded, to adopt it if our pid file was lost."""
        return []

    def remove_stale_server_state(self) -> None:  # noqa: B027 - optional
        """Delete lock files a dead server left that would stop a new one starting."""

    # --- process state --------------------------------------------------------

    def running_pid(self) -> int | None:
        """Our server's pid when it runs; stale pid files are ignored.

        Blocking (reads /proc): call in a thread from async code.
        """
        try:
            binary = self.binary()
        except BackendError:
            return None
        recorded = processes.read_pid(self.pid_file)
        for pid in self._candidate_pids(recorded):
            if pid is not None and processes.is_our_process(pid, binary, self.workdir):
                if recorded != pid:
                    processes.write_pid(self.pid_file, pid)
                return pid
        return None

    def _candidate_pids(self, recorded: int | None) -> Iterator[int | None]:
        """Where our server's pid may be written, cheapest first."""
        yield recorded
        yield from self.other_pid_sources()
        port = self.spec.primary_port
        if port is not None:  # last resort: who listens on our port (scans /proc)
            owner = processes.port_owner(port.host_port)
            yield owner[0] if owner else None

    def _fingerprint(self, launch: Launch) -> str:
        digest = hashlib.sha256()
        for item in self.fingerprint_inputs(launch):
            digest.update(item.encode() + b"\0")
        return digest.hexdigest()

    def _stored_fingerprint(self) -> str | None:
        try:
            return self.fingerprint_file.read_text().strip()
        except OSError:
            return None

    def version(self) -> str:
        """The server's version label, asked once (blocking)."""
        if self._version is None:
            try:
                result = subprocess.run(
                    self.version_command(), capture_output=True, text=True, timeout=10
                )
                self._version = self.format_version(result.stdout.strip())
            except (OSError, subprocess.TimeoutExpired, BackendError):
                self._version = self.program
        return self._version

    # --- lifecycle ------------------------------------------------------------

    def _report(self, progress: ProgressCallback, step: str) -> None:
        progress(Progress(step=step, service=self.kind))

    async def start(self, progress: ProgressCallback) -> None:
        """Bring the server up with the profile's settings; idempotent."""
        binary = await asyncio.to_thread(self.binary)
        self._report(progress, f"{self.program}: using {binary}")
        await self.prepare(progress)
        launch = self.launch()
        fingerprint = self._fingerprint(launch)
        pid = await asyncio.to_thread(self.running_pid)
        if pid is not None:
            if self._stored_fingerprint() in (fingerprint, None):
                self._report(progress, f"{self.instance} already running (pid {pid})")
                await self.wait_ready(pid)
                return
            self._report(progress, f"{self.instance}: settings changed, restarting")
            await self._end_process(progress)
        await asyncio.to_thread(self._check_ports)
        await asyncio.to_thread(self.remove_stale_server_state)
        await asyncio.to_thread(self._rotate_log)
        self._report(progress, f"start {self.instance}")
        pid = await asyncio.to_thread(
            processes.spawn,
            launch.argv,
            cwd=launch.cwd,
            log=self.log_file,
            env=launch.env,
            account=self.account,
        )
        processes.write_pid(self.pid_file, pid)
        self.fingerprint_file.write_text(fingerprint + "\n")
        self._report(progress, f"wait until {self.instance} is ready (pid {pid})")
        await self.wait_ready(pid)
        await self.after_ready(progress)

    def _check_ports(self) -> None:
        for binding in self.spec.ports:
            if not processes.port_is_free(binding.host_ip, binding.host_port):
                raise processes.port_in_use_error(
                    binding.host_ip, binding.host_port, self.kind, self.port_setting()
                )

    def _rotate_log(self) -> None:
        with contextlib.suppress(OSError):
            if self.log_file.stat().st_size > LOG_ROTATE_BYTES:
                self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))

    async def wait_ready(self, pid: int) -> None:
        """Poll readiness until healthy; fail with the log's last lines if the server dies."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        last = Readiness("unhealthy", "not probed yet")
        delay = 0.05
        while loop.time() < deadline:
            if not await asyncio.to_thread(processes.is_alive, pid):
                tail = await asyncio.to_thread(last_log_lines, self.log_file)
                with contextlib.suppress(OSError):
                    self.pid_file.unlink()
                raise OperationFailed(
                    f"{self.program} exited while starting; {self.log_file} says: {tail}"
                )
            last = await self.readiness(timeout=2.0)
            if last.health == "healthy":
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise OperationTimeout(
            f"{self.program} (pid {pid}) not ready after {self.start_timeout:g} s "
            f"({last.detail}); see {self.log_file}"
        )

    async def stop(self, progress: ProgressCallback) -> bool:
        """Stop the server cleanly if it runs; True when there was one to stop."""
        stopped = await self._end_process(progress)
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
        return stopped

    async def _end_process(self, progress: ProgressCallback) -> bool:
        """End the server's process if it runs (signal, then kill); the pid file stays."""
        pid = await asyncio.to_thread(self.running_pid)
        if pid is None:
            return False
        self._report(progress, f"stop {self.instance} (pid {pid}, {self.stop_signal.name})")
        processes.send_signal(pid, self.stop_signal)
        gone = await asyncio.to_thread(processes.wait_gone, pid, self.stop_timeout)
        if not gone:
            self._report(progress, f"{self.instance} ignored {self.stop_signal.name}; killing")
            processes.send_signal(pid, signal.SIGKILL)
            if not await asyncio.to_thread(processes.wait_gone, pid, 10):
                raise OperationTimeout(f"{self.program} (pid {pid}) did not stop")
        return True

    async def restart(self, progress: ProgressCallback) -> None:
        """Stop, then start with the profile's current settings.

        The pid file stays until start replaces it, so anyone watching sees the
        instance go ``exited`` and come back ``running``: without it, a status read
        in between showed the instance gone and a new one, as if replaced (a
        recording's timeline then had no ``exited -> running`` for the restart).
        """
        await self._end_process(progress)
        await self.start(progress)

    # --- observation ------------------------------------------------------------

    def _recorded_pid(self) -> int | None:
        return processes.read_pid(self.pid_file)

    def initialised(self) -> bool:
        """Whether the server's data exists (it has been deployed once)."""
        return self.workdir.is_dir()

    async def status(self) -> ServiceStatus:
        """State, health (a real probe), version, endpoint and uptime."""
        pid, version, recorded = await asyncio.to_thread(
            lambda: (self.running_pid(), self.version(), self._recorded_pid())
        )
        endpoint = self.endpoint().address()
        note = self._status_note()
        instances: tuple[InstanceStatus, ...] = ()
        started_at: datetime | None = None
        ready = 0
        if pid is not None:
            started_at = await asyncio.to_thread(processes.process_started_at, pid)
            probe = await self.readiness(timeout=2.0)
            state: InstanceState = "starting" if probe.health == "starting" else "running"
            changed = self._stored_fingerprint() not in (self._fingerprint(self.launch()), None)
            detail = f"pid {pid}" + (f"; {probe.detail}" if probe.detail else "")
            if changed:
                detail += "; settings changed since start (run up to apply)"
            instances = (
                InstanceStatus(
                    name=self.instance,
                    state=state,
                    health=probe.health,
                    started_at=started_at,
                    role=self.role(),
                    detail=detail,
                ),
            )
            ready = 1 if probe.health == "healthy" else 0
        elif recorded is not None:
            instances = (
                InstanceStatus(
                    name=self.instance,
                    state="exited",
                    health="unhealthy",
                    role=self.role(),
                    detail=(
                        f"not running: pid file names {recorded}, which is gone or another "
                        f"program (stopped without down?); see alfred-tui logs {self.kind}"
                    ),
                ),
            )
        elif self.initialised():
            note = "; ".join(filter(None, [note, f"stopped; data kept in {self.folder}"]))
        return ServiceStatus(
            service=self.kind,
            desired=self.desired(),
            ready=ready,
            instances=instances,
            image=version,
            endpoints=(endpoint,),
            started_at=started_at,
            note=note,
        )

    def role(self) -> str:
        """The instance's role, where the server has roles."""
        return ""

    def desired(self) -> int:
        """Instances the profile asks for, as far as one local process can give them."""
        return min(self.spec.replicas, 1)

    def _status_note(self) -> str:
        notes = []
        if self.spec.replicas > 1:
            notes.append(f"profile asks for {self.spec.replicas} replicas; local runs one")
        resources = self.spec.resources
        if resources.limits or resources.reservations:
            notes.append("resource limits are not applied to local processes")
        return "; ".join(notes)

    # --- files -------------------------------------------------------------------

    def resolve_inside(self, path: str) -> Path:
        """``path`` when it lies inside this service's folder; else a clear error.

        The local backend runs as whoever started it (often root): it must
        not become a way to read or write any file on the machine.
        """
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.workdir / candidate
        resolved = Path(os.path.realpath(candidate))
        folder = Path(os.path.realpath(self.folder))
        if resolved != folder and folder not in resolved.parents:
            raise BackendError(
                f"{path} is outside {self.kind}'s folder {folder}; "
                "the local backend copies files only within it"
            )
        return resolved

    def copy_out(self, path: str, destination: Path) -> Path:
        """Copy a file of the instance to ``destination`` (blocking)."""
        source = self.resolve_inside(path)
        if not source.is_file():
            raise BackendError(f"{source} is not a file")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        return destination

    def copy_in(self, source: Path, path: str) -> None:
        """Copy ``source`` into the instance, owned by the server's user (blocking)."""
        if not source.is_file():
            raise BackendError(f"{source} is not a file")
        target = self.resolve_inside(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.alfred-tmp")
        shutil.copyfile(source, temporary)
        if self.account is not None:
            self.account.own(temporary)
        temporary.replace(target)

    # --- exec ----------------------------------------------------------------------

    @abc.abstractmethod
    def client_command(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """``argv`` aimed at this instance: resolved program, extra args, environment."""

    def describe(self) -> dict[str, str]:
        """Facts for ``target()`` and docs: folder, log, binary."""
        return {"folder": str(self.folder), "log": str(self.log_file)}
