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
from typing import Any, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

from alfred_tui.screens.messages import IoFailed

T = TypeVar("T")


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

    worker: Any = node.run_worker(
        guarded, name=context, group=group, exclusive=exclusive, exit_on_error=False
    )
    return worker


def report(node: DOMNode, error: BaseException, context: str) -> None:
    """Send ``error`` down the same route as a failed worker's."""
    node.app.post_message(IoFailed(error, context))
