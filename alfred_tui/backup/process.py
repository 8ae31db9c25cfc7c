"""Running the databases' own tools (pg_dump, pg_restore, redis-check-rdb) on this machine.

The process is killed when the caller is cancelled or the timeout passes, so
a cancelled backup never leaves a pg_dump running, and dies with alfred-tui if
that is killed. While it runs, the size of
the file it writes is reported as progress in bytes (pg_dump cannot say how
much is left, so ``total`` stays unknown). Its stderr is returned redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alfred_tui.backends.base import OperationTimeout, Progress, ProgressCallback, no_progress
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

DEFAULT_TIMEOUT = 6 * 3600.0


class ToolFailed(AlfredError):
    """A database tool exited with an error."""

    title = "Tool failed"


@dataclass(frozen=True)
class ToolResult:
    """A finished tool: exit code and its output (stderr redacted)."""

    exit_code: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def last_lines(self, count: int = 3) -> str:
        """The end of stderr on one line, for an error message."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return " | ".join(lines[-count:]) or f"exit status {self.exit_code}"


async def run_tool(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin_path: Path | None = None,
    watch: Path | None = None,
    progress: ProgressCallback = no_progress,
    step: str = "",
    service: ServiceKind | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    capture_stdout: bool = True,
) -> ToolResult:
    """Run ``argv`` here; kill it on cancellation or after ``timeout`` seconds.

    ``watch``: a file the tool writes, whose size is reported every 0.2 s.
    """
    stdin = stdin_path.open("rb") if stdin_path else None
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=stdin or asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if capture_stdout else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except OSError as exc:
        if stdin:
            stdin.close()
        raise ToolFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    watcher = asyncio.create_task(_watch(watch, progress, step, service)) if watch else None
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        await _kill(process)
        raise OperationTimeout(f"{argv[0]} did not finish within {timeout:g} s") from None
    except BaseException:
        await _kill(process)
        raise
    finally:
        if stdin:
            stdin.close()
        if watcher:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    if watch is not None and watch.exists():
        size = watch.stat().st_size
        progress(Progress(step, size, size, "bytes", service))
    return ToolResult(
        process.returncode or 0,
        stdout or b"",
        redact((stderr or b"").decode("utf-8", "replace")),
    )


def _die_with_parent() -> None:
    """In the child, before exec: be killed when alfred-tui dies (Linux ``PR_SET_PDEATHSIG``).

    A killed restore must not leave a pg_restore writing behind the back of the
    rollback that follows; its own session keeps it away from the terminal's Ctrl-C,
    which alfred-tui handles itself.
    """
    import ctypes
    import signal

    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(process.wait(), 5)


async def _watch(
    path: Path | None, progress: ProgressCallback, step: str, service: ServiceKind | None
) -> None:
    assert path is not None
    last = -1
    while True:
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            if size != last:
                progress(Progress(step, size, None, "bytes", service))
                last = size
        await asyncio.sleep(0.2)
