"""Background server processes: start detached, recognise our own, stop cleanly.

A pid file alone can lie: the process may be gone, or its pid reused by
another program. So a pid counts as *ours* only when ``/proc`` shows a live
(not zombie) process running the expected binary **with its working
directory in the service's folder** — PostgreSQL and Redis both ``chdir`` to
their data folder, and we start the others there. That one test is what
``up``, ``status`` and ``down`` trust; a stale pid file is ignored (and
replaced), never signalled.

Linux only: identity, uptime and port owners come from ``/proc``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import pwd
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from alfred_tui.backends.base import BackendError

#: Processes this Python process started and has not reaped yet (pid -> Popen).
#: A server started by a long-lived caller (the UI) is its child until it exits;
#: polling here reaps it so a stopped server never lingers as a zombie.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def reap_children() -> None:
    """Collect the exit status of our children that have ended."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)


# --- accounts ---------------------------------------------------------------


class PopenUser(TypedDict, total=False):
    """The ``subprocess`` arguments that run a child as another user."""

    user: int
    group: int
    extra_groups: list[int]


@dataclass(frozen=True)
class Account:
    """The unprivileged user a server runs as when alfred-tui runs as root."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def lookup(cls, name: str) -> Account | None:
        """The account ``name``, or None when it does not exist."""
        try:
            record = pwd.getpwnam(name)
        except KeyError:
            return None
        groups = tuple(os.getgrouplist(name, record.pw_gid))
        return cls(name, record.pw_uid, record.pw_gid, groups)

    def can_traverse(self, folder: Path) -> bool:
        """Whether this user may enter ``folder`` (its execute bit applies to them)."""
        info = folder.stat()
        if info.st_uid == self.uid:
            return bool(info.st_mode & stat.S_IXUSR)
        if info.st_gid in self.groups:
            return bool(info.st_mode & stat.S_IXGRP)
        return bool(info.st_mode & stat.S_IXOTH)

    def popen_options(self) -> PopenUser:
        """``subprocess`` arguments that drop to this user (done in C, thread-safe)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def own(self, path: Path) -> None:
        """Give ``path`` to this user."""
        os.chown(path, self.uid, self.gid)


def service_account(name: str) -> Account | None:
    """The account to drop to: ``name`` when running as root, else None (stay ourselves).

    Raises when running as root and the account does not exist, because the
    server must not run as root (PostgreSQL refuses to).
    """
    if os.geteuid() != 0:
        return None
    account = Account.lookup(name)
    if account is None:
        raise BackendError(
            f"running as root, the server must run as the unprivileged '{name}' user, "
            f"which does not exist; create it (adduser --system --group {name}) "
            "or run alfred-tui as a normal user"
        )
    return account


def untraversable_parent(account: Account, folder: Path) -> Path | None:
    """The first folder from ``/`` down to ``folder`` that ``account`` cannot enter."""
    resolved = folder.resolve()
    for parent in (*reversed(resolved.parents), resolved):
        if parent.exists() and not account.can_traverse(parent):
            return parent
    return None


def require_traversable(account: Account | None, folder: Path, server: str) -> None:
    """Fail with one actionable line when ``account`` cannot reach ``folder``."""
    if account is None:
        return
    blocked = untraversable_parent(account, folder)
    if blocked is not None:
        mode = stat.S_IMODE(blocked.stat().st_mode)
        raise BackendError(
            f"{server} runs as the '{account.name}' user, who cannot enter {blocked} "
            f"(mode {mode:04o}); put the data dir where every user can traverse, "
            "e.g. ALFRED_TUI_DATA_DIR=/var/lib/alfred-tui (or local.data_dir in the profile)",
            title="Data dir not reachable",
        )


# --- /proc ------------------------------------------------------------------


def _proc(pid: int) -> Path:
    return Path("/proc") / str(pid)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_proc(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return text[text.rindex(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not)."""
    reap_children()
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _readlink(path: Path) -> str | None:
    try:
        return os.readlink(path).removesuffix(" (deleted)")
    except OSError:
        return None


def _realpath(path: str | Path) -> str:
    return os.path.realpath(path)


def process_binaries(pid: int) -> set[str]:
    """Real paths of what ``pid`` runs: its executable and the first two argv words.

    The argv words cover scripts (the interpreter is the executable) and the
    executable covers servers that rewrite their argv (Redis's proc title).
    """
    found: set[str] = set()
    exe = _readlink(_proc(pid) / "exe")
    if exe:
        found.add(_realpath(exe))
    with contextlib.suppress(OSError):
        words = (_proc(pid) / "cmdline").read_bytes().split(b"\0")[:2]
        for word in words:
            if word.startswith(b"/"):
                found.add(_realpath(os.fsdecode(word)))
    return found


def is_our_process(pid: int, binary: Path, workdir: Path) -> bool:
    """Whether ``pid`` is a live ``binary`` whose working directory is ``workdir``."""
    if pid <= 0 or not is_alive(pid):
        return False
    if _realpath(binary) not in process_binaries(pid):
        return False
    cwd = _readlink(_proc(pid) / "cwd")
    return cwd is not None and _realpath(cwd) == _realpath(workdir)


@functools.cache
def _boot_time() -> float:
    """When the machine booted (it does not change while we run; read once)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_started_at(pid: int) -> datetime | None:
    """When ``pid`` started (from its start tick since boot)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    try:
        ticks = int(fields[19])  # field 22 of /proc/PID/stat; fields[0] is field 3
        seconds = _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return datetime.fromtimestamp(seconds, UTC)


# --- pid files --------------------------------------------------------------


def read_pid(path: Path) -> int | None:
    """The pid in ``path`` (first line), or None when missing or unreadable."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
        return int(first)
    except (OSError, ValueError):
        return None


def write_pid(path: Path, pid: int) -> None:
    """Write ``pid`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{pid}\n")
    temporary.replace(path)


# --- ports ------------------------------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` now (a TIME_WAIT socket does not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def port_owner(port: int) -> tuple[int, str] | None:
    """The pid and program name listening on TCP ``port``, when ``/proc`` tells."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                if _readlink(fd) in targets:
                    name = (entry / "comm").read_text().strip()
                    return int(entry.name), name
    return None


def port_in_use_error(host: str, port: int, service: str, setting: str) -> BackendError:
    """One line naming the port, who holds it when known, and how to move ours."""
    owner = port_owner(port)
    holder = f" by {owner[1]} (pid {owner[0]})" if owner else " by another program"
    return BackendError(
        f"port {port} on {host} is already in use{holder}; stop it, or give {service} "
        f"another port ({setting})",
        title="Port in use",
    )


# --- start and stop ---------------------------------------------------------


def spawn(
    argv: list[str],
    *,
    cwd: Path,
    log: Path,
    env: dict[str, str],
    account: Account | None,
) -> int:
    """Start ``argv`` in its own session, output appended to ``log``; return its pid.

    A new session keeps the server out of the terminal's process group, so
    Ctrl-C in the shell that ran ``alfred-tui up`` does not reach it, and it
    outlives the command that started it.
    """
    with open(log, "ab") as output:
        if account is not None:
            account.own(log)
        try:
            child = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                **account.popen_options() if account else {},
            )
        except OSError as exc:
            raise BackendError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    _CHILDREN[child.pid] = child
    return child.pid


def send_signal(pid: int, signum: signal.Signals) -> bool:
    """Signal ``pid``; False when it is already gone."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout: float) -> bool:
    """Block up to ``timeout`` seconds until ``pid`` has exited (call from a thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.05)
    return not is_alive(pid)
