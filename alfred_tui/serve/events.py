"""The audit log of ``alfred-tui serve``: who logged in, who failed, which session ended.

One JSON object per line in ``serve.log`` under the state dir (mode 0600),
written through :func:`record_event` alone, so the operator journal of the
incident timeline can read the same lines later. A line never holds the login
token nor a session id (both are credentials): sessions are named by a short
number that is only meaningful inside this log.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alfred_tui import paths

LOG_NAME = "serve.log"
_lock = threading.Lock()


def log_path() -> Path:
    """Where the serve events go: ``<state dir>/serve.log``."""
    return paths.state_dir() / LOG_NAME


def record_event(event: str, client: str, **fields: Any) -> dict[str, Any]:
    """Append one event (``login``, ``login_failed``, ``session_start``, ``session_end``...).

    ``client`` is the browser's address as the server saw it. Returns the
    line's fields (for the server's own console line). The file is created
    owner-only: it says who reached the control plane and when.
    """
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "source": "serve",
        "event": event,
        "client": client,
        **fields,
    }
    path = log_path()
    text = json.dumps(line, sort_keys=False) + "\n"
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, text.encode())
        finally:
            os.close(descriptor)
    return line
