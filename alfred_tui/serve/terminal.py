"""One browser session: a websocket, the app process behind it, and why it ended.

textual-serve's :class:`~textual_serve.app_service.AppService` starts the app
(``alfred-tui --profile P --backend B [--readonly]`` under Textual's web
driver) and relays its frames; this module reads the browser's side itself
instead of textual-serve's loop, so that:

* a malformed message is dropped, not an exception (textual-serve asserts);
* terminal sizes are clamped (a browser cannot ask for a 10^6-column screen);
* the session ends when the browser goes, when the app exits (also when it
  crashes, which textual-serve's loop does not notice), when the server
  stops, or after ``serve.idle_timeout`` without a key or mouse event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

if TYPE_CHECKING:
    from alfred_tui.serve.access import LoginSession

MAX_MESSAGE_BYTES = 64 * 1024
COLUMNS = (20, 500)
ROWS = (8, 200)
STOP_SECONDS = 5.0
"""How long an app may take to quit when asked before it is killed."""


def clamp(value: object, bounds: tuple[int, int], default: int) -> int:
    """``value`` as an int inside ``bounds`` (``default`` when it is not a number)."""
    try:
        number = int(value) if isinstance(value, str | int | float) else default
    except (ValueError, OverflowError):
        number = default
    return max(bounds[0], min(bounds[1], number))


class AppProcess(AppService):
    """textual-serve's app service, which also says when its process has ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ended = asyncio.Event()

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self.ended.set()

    def kill(self) -> None:
        """End the process now (it did not quit when asked)."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()


@dataclass(eq=False)
class Terminal:
    """One app process shown in one browser tab."""

    number: int
    login: LoginSession
    client: str
    websocket: web.WebSocketResponse
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    last_input: float = field(default=0.0)
    stop_reason: str | None = None
    """Set by the server when it ends the session itself (it is stopping)."""
    process: AppProcess | None = None

    def __post_init__(self) -> None:
        self.started = self.last_input = self.clock()

    async def stop(self, reason: str) -> None:
        """End the session from the server's side (the browser sees the socket close)."""
        self.stop_reason = reason
        await self.websocket.close(code=1001, message=reason.encode())

    async def run(
        self,
        argv: list[str],
        width: str | int,
        height: str | int,
        idle_timeout: float,
        downloads: DownloadManager,
    ) -> str:
        """Run the app until the session ends; the reason it ended.

        ``width`` and ``height`` are as the page asked (query strings): clamped here.
        """
        websocket = self.websocket
        self.process = process = AppProcess(
            shlex.join(argv),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=downloads,
        )
        await process.start(clamp(width, COLUMNS, 80), clamp(height, ROWS, 24))
        waits = {
            asyncio.ensure_future(self._read(process)): "browser closed",
            asyncio.ensure_future(process.ended.wait()): "app exited",
            asyncio.ensure_future(self._idle(idle_timeout)): "idle timeout",
        }
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            reason = self.stop_reason or waits[next(iter(done))]
        finally:
            for task in waits:
                task.cancel()
            await self._stop_process(process)
            await websocket.close(code=1000, message=b"session ended")
        return reason

    async def _stop_process(self, process: AppProcess) -> None:
        try:
            await asyncio.wait_for(process.stop(), STOP_SECONDS)
        except (TimeoutError, Exception):
            process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.ended.wait(), STOP_SECONDS)

    async def _idle(self, timeout: float) -> None:
        while (remaining := self.last_input + timeout - self.clock()) > 0:
            await asyncio.sleep(remaining)

    async def _read(self, process: AppProcess) -> None:
        async for message in self.websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if isinstance(envelope, list) and envelope and isinstance(envelope[0], str):
                await self._dispatch(process, envelope[0], envelope[1:])

    async def _dispatch(self, process: AppProcess, kind: str, arguments: list[object]) -> None:
        payload = arguments[0] if arguments else None
        if kind == "stdin" and isinstance(payload, str):
            self.last_input = self.clock()
            await process.send_bytes(payload.encode("utf-8", "replace"))
        elif kind == "resize" and isinstance(payload, dict):
            await process.set_terminal_size(
                clamp(payload.get("width"), COLUMNS, 80), clamp(payload.get("height"), ROWS, 24)
            )
        elif kind == "ping" and isinstance(payload, str) and len(payload) <= 64:
            await self.websocket.send_json(["pong", payload])
        elif kind == "blur":
            await process.blur()
        elif kind == "focus":
            await process.focus()
