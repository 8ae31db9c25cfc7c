"""Running I/O off the event loop's critical path: workers with timeouts and one error route.

Every call that may block on a network, an engine or a disk goes through
:func:`run_io`. It runs the work as a Textual worker under a timeout, and a
failure of any kind becomes an :class:`IoFailed` message to the app, which
turns it into one notification (``AlfredApp.on_io_failed``). Handlers never
see exceptions and the UI never freezes waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker, WorkerState

from alfred_tui.screens.messages import IoFailed

T = TypeVar("T")

#: A worker in one of these states has ended, whatever the outcome.
ENDED = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)


def run_io(
    node: DOMNode,
    work: Callable[[], Awaitable[T]],
    *,
    context: str,
    timeout: float | None,
    group: str = "io",
    exclusive: bool = False,
) -> Worker[T | None]:
    """Run ``work()`` in a worker owned by ``node``; failures are reported, not raised.

    ``context`` names the job in the notification ("deploy redis"); the
    worker is cancelled with ``node`` (a dialog closed, a pane reloaded).
    """
    app = node.app

    async def guarded() -> T | None:
        try:
            if timeout is None:
                return await work()
            async with asyncio.timeout(timeout):
                return await work()
        except TimeoutError:
            from alfred_tui.backends.base import OperationTimeout

            app.post_message(
                IoFailed(OperationTimeout(f"{context}: no answer within {timeout:g} s"), context)
            )
        except Exception as exc:
            app.post_message(IoFailed(exc, context))
        return None

    return node.run_worker(
        guarded, name=context, group=group, exclusive=exclusive, exit_on_error=False
    )


def report(node: DOMNode, error: BaseException, context: str) -> None:
    """Send ``error`` down the same route as a failed worker's."""
    node.app.post_message(IoFailed(error, context))


def worker_ended(event: Worker.StateChanged, group: str) -> bool:
    """Whether ``event`` says a worker of ``group`` has ended, however it ended."""
    return event.worker.group == group and event.state in ENDED


def poster(node: DOMNode, message: Callable[[T], Message]) -> Callable[[T], None]:
    """A callback that posts ``message(item)`` to ``node``, from the event loop or a thread.

    Backends and restores report progress from worker threads as well as
    from the loop; a message is the one safe way back to the screen.
    """
    loop = asyncio.get_running_loop()

    def post(item: T) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            node.post_message(message(item))
        else:
            loop.call_soon_threadsafe(node.post_message, message(item))

    return post
