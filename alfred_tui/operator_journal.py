"""The operator journal: every change an operator made, from the UI or the CLI, in order.

When something broke at 03:00 the next person needs to know what was *done*
about it, by whom, and what each action said it would do. Every path that
changes a deployment or a database (deploy, teardown, scale, resize,
restart, restore, PITR, migrate, create collections, back up, prune,
cancel/terminate a session, failover, re-clone, a runbook's remedy) runs inside
:func:`journaled`, the one function that writes here: an entry when the
action starts and one when it ends, with the same ``id``. An action whose
process died midway keeps its ``started`` entry, which says so.

The file is ``<state dir>/operator-journal.jsonl``: append-only JSON Lines,
readable by its owner only, one ``alfred-tui/operator-journal`` v1 document
per line (``assets/schemas/operator-journal.v1.schema.json``). Every text
field goes through :func:`~alfred_tui.redact.redact` before it is written,
so a plan or an error that echoes a password does not put it on disk.

Not to be confused with the *restore journal* (``backup/journal.py``: where
an unfinished restore got to) or the remedies' safety copies
(``doctor-actions.jsonl``: what a remedy changed, to undo it).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from alfred_tui import paths
from alfred_tui.redact import redact

FILE_NAME = "operator-journal.jsonl"
SCHEMA_ID = "alfred-tui/operator-journal"
SCHEMA_VERSION = 1

Origin = Literal["ui", "cli", "serve"]
Outcome = Literal["started", "ok", "failed", "interrupted"]

#: Where actions come from in this process: the UI sets ``ui`` when it starts.
_origin: dict[str, Origin] = {"value": "cli"}


def set_origin(origin: Origin) -> None:
    """Say whether this process is the UI or a CLI command (recorded with every action)."""
    _origin["value"] = origin


def journal_path() -> Path:
    """The operator journal of this user (``$ALFRED_TUI_STATE_DIR`` or the XDG state dir)."""
    return paths.state_dir() / FILE_NAME


def who() -> str:
    """``user@host`` of this process (``$SUDO_USER`` named too when run through sudo)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (some containers)
        user = f"uid{os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    if sudo and sudo != user:
        user = f"{user} (sudo from {sudo})"
    return f"{user}@{socket.gethostname()}"


def _iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass
class OperatorAction:
    """One action as the journal holds it (its start and end merged)."""

    id: str
    at: float
    """When it started (epoch seconds)."""
    who: str
    origin: Origin
    profile: str
    backend: str
    action: str
    """``scale``, ``restore``, ``terminate``, ``migrate up``..."""
    service: str | None
    plan: tuple[str, ...]
    """What the operator was shown before confirming, line by line."""
    outcome: Outcome = "started"
    detail: str = ""
    """What came of it (``Scaled redis to 2``) or why it failed, in one line."""
    ended_at: float | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when it ended."""
        return None if self.ended_at is None else max(0.0, self.ended_at - self.at)

    def document(self) -> dict[str, Any]:
        """The entry as the journal's JSON line (and the timeline's detail)."""
        return {
            "schema": SCHEMA_ID,
            "version": SCHEMA_VERSION,
            "id": self.id,
            "at": _iso(self.at),
            "who": self.who,
            "origin": self.origin,
            "profile": self.profile,
            "backend": self.backend,
            "action": self.action,
            "service": self.service,
            "plan": list(self.plan),
            "outcome": self.outcome,
            "detail": self.detail,
            "ended_at": None if self.ended_at is None else _iso(self.ended_at),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> OperatorAction:
        """Read one journal line back (raises KeyError/ValueError when it is not one)."""
        ended = document.get("ended_at")
        return cls(
            id=str(document["id"]),
            at=_epoch(document["at"]),
            who=str(document["who"]),
            origin=document.get("origin", "cli"),
            profile=str(document["profile"]),
            backend=str(document["backend"]),
            action=str(document["action"]),
            service=document.get("service"),
            plan=tuple(str(line) for line in document.get("plan") or ()),
            outcome=document.get("outcome", "started"),
            detail=str(document.get("detail") or ""),
            ended_at=_epoch(ended) if ended else None,
        )

    def summary(self) -> str:
        """``scale redis by op@box (cli): ok - Scaled redis to 2``."""
        target = f" {self.service}" if self.service else ""
        result = {"started": "not finished", "interrupted": "interrupted"}.get(
            self.outcome, self.outcome
        )
        tail = f" - {self.detail}" if self.detail else ""
        return f"{self.action}{target} by {self.who} ({self.origin}): {result}{tail}"


def _epoch(text: str) -> float:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def _append(path: Path, document: dict[str, Any]) -> None:
    """One line, appended under an exclusive lock (the UI and a CLI may write at once)."""
    line = (json.dumps(document, ensure_ascii=False) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


@dataclass
class JournaledAction:
    """The handle :func:`journaled` yields: say how it went before the block ends."""

    entry: OperatorAction
    path: Path
    _failed: bool = field(default=False, init=False)

    def planned(self, lines: Sequence[str]) -> None:
        """The plan, when it is only known once the action ran (goes into the end entry)."""
        self.entry.plan = tuple(redact(line) for line in lines)

    def succeeded(self, detail: str) -> None:
        """What came of it, for the end entry (``Scaled redis to 2``)."""
        self.entry.detail = redact(detail)

    def failed(self, detail: str) -> None:
        """The action ended without an exception but did not do what it should."""
        self._failed = True
        self.entry.detail = redact(detail)


def _write(path: Path, entry: OperatorAction) -> None:
    # A full or read-only disk must not stop an operator from fixing an outage.
    with contextlib.suppress(OSError):
        _append(path, entry.document())


@contextlib.contextmanager
def journaled(
    action: str,
    *,
    profile: str,
    backend: str,
    plan: Sequence[str] = (),
    service: str | None = None,
) -> Iterator[JournaledAction]:
    """Run the block as one journaled operator action.

    Writes the ``started`` entry (who, where, the plan shown) before the
    block, and the end entry after it: ``ok``, ``failed`` with the error's
    one line when the block raised (or called :meth:`JournaledAction.failed`),
    ``interrupted`` when it was cancelled. Call it after the confirmation:
    an action the operator declined did not happen.
    """
    from alfred_tui.errors import AlfredError

    path = journal_path()
    entry = OperatorAction(
        id=uuid.uuid4().hex,
        at=time.time(),
        who=who(),
        origin=_origin["value"],
        profile=profile,
        backend=backend,
        action=action,
        service=service,
        plan=tuple(redact(line) for line in plan),
    )
    _write(path, entry)
    handle = JournaledAction(entry, path)
    try:
        yield handle
    except BaseException as exc:
        entry.ended_at = time.time()
        if isinstance(exc, Exception):
            entry.outcome = "failed"
            text = (
                exc.one_line() if isinstance(exc, AlfredError) else f"{type(exc).__name__}: {exc}"
            )
            entry.detail = redact(text)[:500]
        else:  # cancelled, Ctrl+C, SystemExit
            entry.outcome = "interrupted"
            entry.detail = entry.detail or type(exc).__name__
        _write(path, entry)
        raise
    entry.ended_at = time.time()
    entry.outcome = "failed" if handle._failed else "ok"
    _write(path, entry)


def record_access(
    event: str, client: str, *, profile: str, backend: str, detail: str, refused: bool
) -> None:
    """One ended entry for who reached the UI served to browsers (``serve``'s logins).

    A login, a failed login or a session's end changes no database, but it is
    who had the control plane in hand: the timeline lists it beside the
    actions. ``who`` is the browser's address (the token is never written).
    """
    moment = time.time()
    entry = OperatorAction(
        id=uuid.uuid4().hex,
        at=moment,
        who=client,
        origin="serve",
        profile=profile,
        backend=backend,
        action=f"serve {event.replace('_', ' ')}",
        service=None,
        plan=(),
        outcome="failed" if refused else "ok",
        detail=redact(detail)[:500],
        ended_at=moment,
    )
    _write(journal_path(), entry)


def read_actions(
    path: Path | None = None, since: float | None = None, until: float | None = None
) -> list[OperatorAction]:
    """Every action in the journal (start and end merged by id), oldest first.

    A line that is not an entry (a torn write, a hand edit) is skipped: the
    journal is evidence, and one bad line must not hide the rest.
    """
    path = path or journal_path()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return merge_lines(text.splitlines(), since, until)


def merge_lines(
    lines: Sequence[str], since: float | None = None, until: float | None = None
) -> list[OperatorAction]:
    """Journal lines to actions, the end entry of each id replacing its start."""
    found: dict[str, OperatorAction] = {}
    for line in lines:
        try:
            document = json.loads(line)
            action = OperatorAction.from_document(document)
        except (ValueError, KeyError, TypeError):
            continue
        found[action.id] = action
    actions = sorted(found.values(), key=lambda item: item.at)
    return [
        action
        for action in actions
        if (since is None or action.at >= since) and (until is None or action.at <= until)
    ]


class JournalTail:
    """New complete lines of the journal since the last call (the recorder copies them)."""

    def __init__(self, path: Path | None = None, *, from_start: bool = False) -> None:
        self.path = path or journal_path()
        self._offset = 0
        if not from_start:
            with contextlib.suppress(OSError):
                self._offset = self.path.stat().st_size

    def read(self) -> list[OperatorAction]:
        """Entries appended since the last read (a start and its end may come apart)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        lines = data[: end + 1].decode("utf-8", errors="replace").splitlines()
        actions = []
        for line in lines:
            try:
                actions.append(OperatorAction.from_document(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue
        return actions
