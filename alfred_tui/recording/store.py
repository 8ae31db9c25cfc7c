"""The recording file: one SQLite database, versioned, readable with plain ``sqlite3``.

SQLite because it is in the standard library, survives a crash (the writer
runs in WAL mode and commits every flush, so a recorder killed with SIGKILL
leaves a file that opens with everything up to its last commit), and anyone
can open the file with ``sqlite3 FILE`` to look. The layout is documented in
``docs/recording.md``; ``meta`` says what the file is::

    meta(key, value)                  format, format_version, app_version, profile,
                                      backend, host, user, created_at, interval,
                                      profile_json (secrets masked), services
    frames(at, kind, body)            one reading as JSON: overview, markers,
                                      activity, keyspace, collections
    series(id, name) + samples(series, at, value)
                                      every metric's value per poll (the sparklines);
                                      NULL is a gap (the service did not answer)
    log_chunks(first_at, last_at, lines, body)
                                      log lines, zlib-compressed JSON rows
                                      [at, service, instance, stream, line];
                                      a chunk spans at most CHUNK_SECONDS
    timeline(at, kind, service, severity, title, detail, pane, ref)
                                      what happened, in order (docs: the Timeline)

Times are seconds since the epoch (UTC). Text is redacted before it is
written (:func:`~alfred_tui.redact.redact`): a recording never holds a secret.

A file that is not a recording, is damaged or truncated, or was written by a
newer format version is refused with :class:`RecordingError`: one line that
names the file and says why.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact, redact_lines

FORMAT = "alfred-tui/recording"
FORMAT_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frames (at REAL NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS frames_by_kind ON frames (kind, at);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL, at REAL NOT NULL, value REAL, PRIMARY KEY (series, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_chunks (
    first_at REAL NOT NULL, last_at REAL NOT NULL, lines INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_chunks_by_time ON log_chunks (last_at);
CREATE TABLE IF NOT EXISTS timeline (
    at REAL NOT NULL, kind TEXT NOT NULL, service TEXT, severity TEXT NOT NULL,
    title TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', pane TEXT NOT NULL DEFAULT '',
    ref TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS timeline_by_time ON timeline (at);
CREATE UNIQUE INDEX IF NOT EXISTS timeline_by_ref ON timeline (ref) WHERE ref != '';
CREATE VIEW IF NOT EXISTS metric_samples AS
    SELECT samples.at, series.name AS series, samples.value
    FROM samples JOIN series ON series.id = samples.series;
"""

#: The longest stretch of time one log chunk covers: readers find the chunks around a
#: moment from the index on ``last_at`` alone (``last_at`` within this of the moment).
CHUNK_SECONDS = 60.0
#: Kinds of ``frames`` (each has its index range).
FRAME_KINDS = ("overview", "markers", "activity", "keyspace", "collections")

#: Tables with an ``at`` column that retention trims (log chunks by their last line);
#: samples are trimmed series by series (their key is (series, at)).
_TIMED = (("frames", "at"), ("log_chunks", "last_at"), ("timeline", "at"))


class RecordingError(AlfredError):
    """A recording cannot be written or read; the message names the file and says why."""

    title = "Recording"


class LogRow(NamedTuple):
    """One recorded log line (what :class:`~alfred_tui.backends.base.LogRecord` holds).

    A named tuple: a seek reads ten thousand of them.
    """

    at: float
    service: str
    instance: str
    stream: str
    line: str


@dataclass(frozen=True)
class TimelineEntry:
    """One moment of the timeline: what happened, to which service, how bad, where to look."""

    at: float
    kind: str
    service: str | None
    severity: str
    title: str
    detail: str = ""
    pane: str = ""
    ref: str = ""
    """Unique key of an entry that is replaced as it changes (an operator action's id)."""


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = f"file:{path.resolve()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
    else:
        connection = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 5000")
    return connection


class RecordingWriter:
    """Appends to a recording; used from one thread at a time (the recorder's flush)."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        fresh = not path.exists() or path.stat().st_size == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            # Owner-only from the first byte: it holds what the databases said.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        else:
            check_file(path)
        try:
            self.db = _connect(path, readonly=False)
            if fresh:
                self.db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.executescript(SCHEMA)
            if not fresh:
                _check_meta(path, self.db)
            self._write_meta(meta, fresh)
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{path}: cannot write it: {exc}") from None
        self._series: dict[str, int] = dict(
            (name, ident) for ident, name in self.db.execute("SELECT id, name FROM series")
        )

    def _write_meta(self, meta: dict[str, Any], fresh: bool) -> None:
        values = {"format": FORMAT, "format_version": str(FORMAT_VERSION), **meta}
        if not fresh:
            values.pop("created_at", None)  # the rolling recording keeps its first start
        self.db.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(key, redact(_text(value))) for key, value in values.items()],
        )

    def series_id(self, name: str) -> int:
        """The id of series ``name`` (``redis/redis_up``), added on first use."""
        ident = self._series.get(name)
        if ident is None:
            cursor = self.db.execute("INSERT INTO series (name) VALUES (?)", (name,))
            ident = self._series[name] = int(cursor.lastrowid or 0)
        return ident

    def write(
        self,
        frames: Sequence[tuple[float, str, str]] = (),
        samples: Sequence[tuple[float, str, float | None]] = (),
        logs: Sequence[LogRow] = (),
        timeline: Sequence[TimelineEntry] = (),
    ) -> None:
        """Append one batch in one transaction (text is redacted here, the last line of defence)."""
        db = self.db
        with db:
            if frames:
                db.executemany(
                    "INSERT INTO frames (at, kind, body) VALUES (?, ?, ?)",
                    [(at, kind, redact(body)) for at, kind, body in frames],
                )
            if samples:
                db.executemany(
                    "INSERT OR REPLACE INTO samples (at, series, value) VALUES (?, ?, ?)",
                    [(at, self.series_id(name), value) for at, name, value in samples],
                )
            for chunk in _chunks(sorted(logs, key=lambda row: row.at)):
                db.execute(
                    "INSERT INTO log_chunks (first_at, last_at, lines, body) VALUES (?, ?, ?, ?)",
                    (chunk[0].at, chunk[-1].at, len(chunk), pack_logs(chunk)),
                )
            for row in timeline:
                db.execute(
                    "INSERT OR REPLACE INTO timeline "
                    "(at, kind, service, severity, title, detail, pane, ref) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.at,
                        row.kind,
                        row.service,
                        row.severity,
                        redact(row.title),
                        redact(row.detail),
                        row.pane,
                        row.ref,
                    ),
                )

    def trim(self, before: float, max_bytes: int | None = None) -> None:
        """Drop what is older than ``before``; then the oldest hours while over ``max_bytes``."""
        db = self.db
        with db:
            self._delete_before(before)
        if max_bytes is not None:
            for _ in range(48):
                if self.size_bytes() - self.free_bytes() <= max_bytes:
                    break
                oldest = db.execute("SELECT min(at) FROM frames").fetchone()[0]
                if oldest is None:
                    break
                with db:
                    self._delete_before(oldest + 3600)
        with suppress(sqlite3.DatabaseError):
            db.execute("PRAGMA incremental_vacuum")
            db.commit()

    def _delete_before(self, before: float) -> None:
        for table, column in _TIMED:
            self.db.execute(f"DELETE FROM {table} WHERE {column} < ?", (before,))
        for ident in self._series.values():
            self.db.execute("DELETE FROM samples WHERE series = ? AND at < ?", (ident, before))

    def size_bytes(self) -> int:
        """The database's pages in bytes (the WAL not counted)."""
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(self.db.execute("PRAGMA page_size").fetchone()[0])

    def free_bytes(self) -> int:
        """Pages freed by trimming, not yet given back to the file system."""
        pages = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages) * int(self.db.execute("PRAGMA page_size").fetchone()[0])

    def close(self, *, single_file: bool = False) -> None:
        """Commit and close; ``single_file`` folds the WAL in, so the file travels alone."""
        with suppress(sqlite3.DatabaseError):
            self.db.commit()
            if single_file:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.db.execute("PRAGMA journal_mode = DELETE")
        self.db.close()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _chunks(rows: Sequence[LogRow]) -> list[Sequence[LogRow]]:
    """``rows`` (in time order) cut so that no chunk spans more than CHUNK_SECONDS."""
    chunks: list[Sequence[LogRow]] = []
    start = 0
    for index, row in enumerate(rows):
        if row.at - rows[start].at > CHUNK_SECONDS:
            chunks.append(rows[start:index])
            start = index
    if start < len(rows):
        chunks.append(rows[start:])
    return chunks


def pack_logs(rows: Sequence[LogRow]) -> bytes:
    """Log rows as a compressed chunk (busy servers write 10k lines a minute)."""
    lines = redact_lines([row.line for row in rows])
    plain = json.dumps(
        [
            [row.at, row.service, row.instance, row.stream, line]
            for row, line in zip(rows, lines, strict=True)
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return zlib.compress(plain.encode(), 6)


def unpack_logs(body: bytes) -> list[LogRow]:
    """A chunk back into rows (raises RecordingError when it is damaged)."""
    try:
        return [LogRow(*row) for row in json.loads(zlib.decompress(body))]
    except (zlib.error, ValueError, TypeError) as exc:
        raise RecordingError(f"a log chunk is damaged: {exc}") from None


# --- reading ---------------------------------------------------------------------------


def check_file(path: Path) -> None:
    """Refuse what is not a SQLite file, in one line, before SQLite is asked."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a folder, not a recording") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read it: {exc.strerror}") from None
    if head != SQLITE_MAGIC:
        what = "empty" if not head else "not an alfred-tui recording (not a SQLite file)"
        raise RecordingError(f"{path}: {what}")


def _check_meta(path: Path, db: sqlite3.Connection) -> dict[str, str]:
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise RecordingError(f"{path}: damaged or truncated ({exc})") from None
        raise RecordingError(
            f"{path}: not an alfred-tui recording (a SQLite file of another kind)"
        ) from None
    except sqlite3.DatabaseError as exc:
        raise RecordingError(f"{path}: damaged or truncated ({exc})") from None
    if meta.get("format") != FORMAT:
        raise RecordingError(f"{path}: not an alfred-tui recording (a SQLite file of another kind)")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        version = 0
    if version > FORMAT_VERSION:
        written = meta.get("app_version", "a newer version")
        raise RecordingError(
            f"{path}: recording format {version} (written by alfred-tui {written}) is newer "
            f"than this alfred-tui reads (format {FORMAT_VERSION}); upgrade alfred-tui"
        )
    if version < 1:
        raise RecordingError(f"{path}: recording format '{meta.get('format_version')}' unknown")
    return meta


def check_replayable(path: Path) -> None:
    """Raise RecordingError when ``path`` cannot be replayed: not a recording, damaged,
    newer, or empty (cheap: no profile is loaded, no reading decoded)."""
    reader = RecordingReader(path)
    try:
        if reader.span() is None:
            raise RecordingError(f"{path}: holds no readings (the recorder wrote nothing)")
        if not isinstance(reader.meta_json("profile_json"), dict):
            raise RecordingError(f"{path}: its meta table has no recorded profile")
    finally:
        reader.close()


class RecordingReader:
    """Read access to a recording (its own connection: a writer may be appending meanwhile)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        check_file(path)
        try:
            self.db = _connect(path, readonly=not os.access(path.parent, os.W_OK))
            self.meta = _check_meta(path, self.db)
            self.db.execute("SELECT 1 FROM timeline LIMIT 1").fetchone()
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{path}: damaged or truncated ({exc})") from None
        self._series = {name: ident for ident, name in self._all("SELECT id, name FROM series")}

    def _all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{self.path}: damaged or truncated ({exc})") from None

    def meta_json(self, key: str, default: Any = None) -> Any:
        """A meta value that holds JSON."""
        text = self.meta.get(key)
        if text is None:
            return default
        try:
            return json.loads(text)
        except ValueError:
            return default

    def span(self) -> tuple[float, float] | None:
        """The first and last moment anything was recorded (None: the file is empty)."""
        # Each through its index (a 24-hour file is hundreds of MB: never scan it).
        queries = [
            f"SELECT min(at), max(at) FROM frames WHERE kind = '{kind}'" for kind in FRAME_KINDS
        ]
        queries += [
            "SELECT (SELECT first_at FROM log_chunks ORDER BY last_at LIMIT 1), max(last_at) "
            "FROM log_chunks",
            "SELECT min(at), max(at) FROM timeline",
        ]
        rows = [self._all(sql)[0] for sql in queries]
        firsts = [row[0] for row in rows if row[0] is not None]
        lasts = [row[1] for row in rows if row[1] is not None]
        return (float(min(firsts)), float(max(lasts))) if firsts else None

    def frame_at(self, kind: str, at: float, *, newer: bool = False) -> tuple[float, str] | None:
        """The last ``kind`` frame at or before ``at`` (or, ``newer``, the first after)."""
        if newer:
            sql = "SELECT at, body FROM frames WHERE kind = ? AND at > ? ORDER BY at LIMIT 1"
        else:
            sql = "SELECT at, body FROM frames WHERE kind = ? AND at <= ? ORDER BY at DESC LIMIT 1"
        rows = self._all(sql, (kind, at))
        return (float(rows[0][0]), rows[0][1]) if rows else None

    def frames(self, kind: str, start: float, end: float) -> list[tuple[float, str]]:
        """Every ``kind`` frame in ``[start, end]``, oldest first."""
        return [
            (float(at), body)
            for at, body in self._all(
                "SELECT at, body FROM frames WHERE kind = ? AND at BETWEEN ? AND ? ORDER BY at",
                (kind, start, end),
            )
        ]

    def series_names(self) -> list[str]:
        """Every metric series recorded."""
        return sorted(self._series)

    def samples(self, start: float, end: float) -> dict[str, list[tuple[float, float | None]]]:
        """Each series' samples in ``(start, end]``, oldest first."""
        found: dict[str, list[tuple[float, float | None]]] = {}
        for name, ident in self._series.items():  # one index range each
            rows = self._all(
                "SELECT at, value FROM samples WHERE series = ? AND at > ? AND at <= ? ORDER BY at",
                (ident, start, end),
            )
            if rows:
                found[name] = [(float(at), value) for at, value in rows]
        return found

    def logs(self, start: float, end: float) -> list[LogRow]:
        """Log lines with ``start < at <= end``, oldest first."""
        rows: list[LogRow] = []
        for (body,) in self._all(
            "SELECT body FROM log_chunks WHERE last_at > ? AND last_at <= ? AND first_at <= ? "
            "ORDER BY last_at",
            (start, end + CHUNK_SECONDS, end),
        ):
            rows += [row for row in unpack_logs(body) if start < row.at <= end]
        rows.sort(key=lambda row: row.at)
        return rows

    def logs_before(self, end: float, limit: int) -> list[LogRow]:
        """The last ``limit`` log lines at or before ``end``, oldest first."""
        rows: list[LogRow] = []
        cursor = self.db.execute(
            "SELECT body FROM log_chunks WHERE last_at <= ? AND first_at <= ? "
            "ORDER BY last_at DESC",
            (end + CHUNK_SECONDS, end),
        )
        try:
            for (body,) in cursor:  # newest first, read only as far back as needed
                rows = [row for row in unpack_logs(body) if row.at <= end] + rows
                if limit and len(rows) >= limit + 1000:
                    break
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{self.path}: damaged or truncated ({exc})") from None
        finally:
            cursor.close()
        rows.sort(key=lambda row: row.at)
        return rows[-limit:] if limit else rows

    def has_logs(self) -> bool:
        """Whether any log line was recorded."""
        return bool(self._all("SELECT 1 FROM log_chunks LIMIT 1"))

    def timeline(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        after_rowid: int = 0,
        newest: int | None = None,
    ) -> list[tuple[int, TimelineEntry]]:
        """Timeline entries (with their row ids) in ``[start, end]``, oldest first;
        ``newest``: only that many, the newest ones."""
        clauses: list[str] = ["rowid > ?"]
        parameters: list[float] = [after_rowid]
        if start is not None:
            clauses.append("at >= ?")
            parameters.append(start)
        if end is not None:
            clauses.append("at <= ?")
            parameters.append(end)
        order = "at DESC, rowid DESC" if newest is not None else "at, rowid"
        sql = (
            "SELECT rowid, at, kind, service, severity, title, detail, pane, ref FROM timeline "
            f"WHERE {' AND '.join(clauses)} ORDER BY {order}"
        )
        if newest is not None:
            sql += f" LIMIT {int(newest)}"
        rows = [(int(row[0]), TimelineEntry(*row[1:])) for row in self._all(sql, parameters)]
        return rows[::-1] if newest is not None else rows

    def close(self) -> None:
        """Close the connection."""
        with suppress(sqlite3.DatabaseError):
            self.db.close()


def copy_window(source: Path, target: Path, start: float, end: float, meta: dict[str, Any]) -> int:
    """Write ``[start, end]`` of ``source`` to a new single file ``target``; its size in bytes.

    The sparklines of the first moments need the ten minutes before
    ``start``: frames and samples from then are copied too.
    """
    if target.exists():
        raise RecordingError(f"{target}: exists; choose another name or remove it first")
    reader = RecordingReader(source)
    try:
        base = dict(reader.meta)
    finally:
        reader.close()
    base.pop("format", None)
    base.pop("format_version", None)
    writer = RecordingWriter(target, {**base, **meta})
    try:
        db = writer.db
        db.execute("ATTACH DATABASE ? AS source", (f"file:{source.resolve()}?mode=ro",))
        context = start - 600.0
        with db:
            db.execute("INSERT INTO series SELECT * FROM source.series")
            db.execute(
                "INSERT INTO frames SELECT * FROM source.frames WHERE at BETWEEN ? AND ?",
                (context, end),
            )
            db.execute(
                "INSERT INTO samples (series, at, value) SELECT series, at, value "
                "FROM source.samples WHERE at BETWEEN ? AND ?",
                (context, end),
            )
            db.execute(
                "INSERT INTO log_chunks SELECT * FROM source.log_chunks "
                "WHERE last_at >= ? AND first_at <= ?",
                (start, end),
            )
            db.execute(
                "INSERT INTO timeline SELECT * FROM source.timeline WHERE at BETWEEN ? AND ?",
                (start, end),
            )
        db.execute("DETACH DATABASE source")
    except sqlite3.DatabaseError as exc:
        writer.close()
        with suppress(OSError):
            target.unlink()
        raise RecordingError(f"{source}: cannot copy from it ({exc})") from None
    writer.close(single_file=True)
    return target.stat().st_size
