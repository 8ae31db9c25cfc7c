"""Reading an RDB file: its version, and how many keys each database holds.

Key counts come from the file itself, so the manifest says exactly what the
dump holds, even when clients kept writing while Redis saved it. Every
database section of an RDB (since Redis 3.2, RDB 7) starts with
``SELECTDB <id>`` followed by ``RESIZEDB <keys> <keys with a TTL>``, written by
the saving process from the very dataset it then writes. ``redis-check-rdb``
(the engine's own checker, run anyway to validate the file) prints the
offset right after each ``SELECTDB``; the ``RESIZEDB`` opcode starts there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"REDIS"
OPCODE_RESIZEDB = 0xFB
_SELECT = re.compile(r"\[offset (\d+)\] Selecting DB ID (\d+)")

#: The newest RDB version each Redis release reads (newer files are refused).
RDB_VERSION_BY_RELEASE: list[tuple[tuple[int, int], int]] = [
    ((2, 6), 6),
    ((3, 2), 7),
    ((4, 0), 8),
    ((5, 0), 9),
    ((7, 0), 10),
    ((7, 2), 11),
    ((7, 4), 12),
]


class RdbError(ValueError):
    """The file is not an RDB, or its database headers cannot be read."""


@dataclass(frozen=True)
class DatabaseSize:
    """Keys of one database as the RDB's RESIZEDB records them."""

    db: int
    keys: int
    volatile: int
    """Keys with a TTL (some may have expired by the time the file is loaded)."""


def rdb_version(path: Path) -> int:
    """The RDB format version from the file's header (``REDIS0010`` -> 10)."""
    with path.open("rb") as handle:
        header = handle.read(9)
    if len(header) < 9 or not header.startswith(MAGIC) or not header[5:].isdigit():
        raise RdbError(f"{path.name} does not start with an RDB header (REDISnnnn)")
    return int(header[5:])


def max_rdb_version(redis_version: str) -> int | None:
    """The newest RDB version a server of ``redis_version`` loads; None when newer than known."""
    match = re.match(r"(\d+)\.(\d+)", redis_version)
    if not match:
        return None
    release = (int(match.group(1)), int(match.group(2)))
    if release[0] > RDB_VERSION_BY_RELEASE[-1][0][0]:
        return None  # a newer major than this table knows: trust it
    supported = None
    for since, version in RDB_VERSION_BY_RELEASE:
        if release >= since:
            supported = version
    return supported


def _length(data: bytes, position: int) -> tuple[int, int]:
    """An RDB length encoding at ``position``: (value, next position)."""
    first = data[position]
    kind = first >> 6
    if kind == 0:
        return first & 0x3F, position + 1
    if kind == 1:
        return ((first & 0x3F) << 8) | data[position + 1], position + 2
    if first == 0x80:
        return int.from_bytes(data[position + 1 : position + 5], "big"), position + 5
    if first == 0x81:
        return int.from_bytes(data[position + 1 : position + 9], "big"), position + 9
    raise RdbError(f"unexpected encoding byte {first:#x} at offset {position}")


def database_sizes(path: Path, checker_output: str) -> list[DatabaseSize]:
    """Keys per database, from the RESIZEDB records at the offsets redis-check-rdb printed."""
    selections = [(int(offset), int(db)) for offset, db in _SELECT.findall(checker_output)]
    sizes: list[DatabaseSize] = []
    with path.open("rb") as handle:
        for offset, db in selections:
            handle.seek(offset)
            record = handle.read(20)
            if not record or record[0] != OPCODE_RESIZEDB:
                raise RdbError(f"no RESIZEDB record after SELECTDB {db} (offset {offset})")
            keys, position = _length(record, 1)
            volatile, _ = _length(record, position)
            sizes.append(DatabaseSize(db, keys, volatile))
    return sizes
