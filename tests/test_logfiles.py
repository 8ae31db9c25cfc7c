"""Reading log files as records: tail across blocks, partial lines, CRLF, secrets, merge order.

These drive :func:`stream_logs` on real files written here; the servers'
own log files are covered by the local-backend tests.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alfred_tui.backends.base import LogRecord
from alfred_tui.backends.logfiles import LogSource, merge_by_time, stream_logs
from alfred_tui.redact import MASK, register_secret


def pg_line(n: int, second: int = 0) -> str:
    return f"2025-05-13 10:00:{second:02d}.{n % 1000:03d} UTC [42] LOG:  line {n}"


async def collect(sources: list[LogSource], **options: object) -> list[str]:
    return [record.line async for record in stream_logs(sources, **options)]  # type: ignore[arg-type]


async def test_tail_spanning_many_blocks_gives_exactly_the_last_complete_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pg.log"
    # About 60 bytes a line: 5,000 lines span several 64 KiB read-back blocks;
    # the last line has no newline yet and belongs to follow, not to the tail.
    path.write_text(
        "\n".join(pg_line(n) for n in range(5000)) + "\n" + "2025-05-13 10:00:59.999 UT"
    )
    source = LogSource("postgres", "pg", path)

    lines = await collect([source], tail=3000)

    assert len(lines) == 3000
    assert lines[0].endswith("line 2000") and lines[-1].endswith("line 4999")
    assert await collect([source], tail=0) == []
    assert len(await collect([source], tail=10**9)) == 5000


async def test_crlf_is_trimmed_and_secrets_are_masked_in_history(tmp_path: Path) -> None:
    register_secret("s3cret-logged-by-mistake")
    path = tmp_path / "redis.log"
    path.write_bytes(
        b"1:M 13 May 2025 10:00:00.000 * ok\r\n"
        b"1:M 13 May 2025 10:00:01.000 # AUTH s3cret-logged-by-mistake failed\r\n"
    )

    lines = await collect([LogSource("redis", "redis", path)])

    assert lines == [
        "1:M 13 May 2025 10:00:00.000 * ok",
        f"1:M 13 May 2025 10:00:01.000 # AUTH {MASK} failed",
    ]


async def test_merge_is_by_time_and_ties_keep_source_then_file_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(f"{pg_line(1, 0)}\n{pg_line(2, 2)}\n  continuation of line 2\n")
    second.write_text(f"{pg_line(3, 1)}\n{pg_line(4, 2)}\n")
    sources = [LogSource("postgres", "a", first), LogSource("postgres", "b", second)]

    records = [record async for record in stream_logs(sources)]

    assert [(r.instance, r.line.split()[-1]) for r in records] == [
        ("a", "1"),
        ("b", "3"),
        ("a", "2"),
        ("a", "2"),  # the continuation carries line 2's time and stays after it
        ("b", "4"),
    ]
    assert records[2].timestamp == datetime(2025, 5, 13, 10, 0, 2, 2000, tzinfo=UTC)


@pytest.mark.parametrize("tail", [None, 2])
async def test_since_filters_by_the_time_each_line_carries(
    tmp_path: Path, tail: int | None
) -> None:
    path = tmp_path / "pg.log"
    path.write_text("".join(f"{pg_line(n, n)}\n" for n in range(5)))

    lines = await collect(
        [LogSource("postgres", "pg", path)],
        since=datetime(2025, 5, 13, 10, 0, 2, tzinfo=UTC),
        tail=tail,
    )

    expected = [pg_line(n, n) for n in range(2, 5)]
    assert lines == (expected[-tail:] if tail else expected)


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_merge_by_time_equals_a_stable_sort_whatever_the_window(chunk: int) -> None:
    rng = random.Random(chunk)
    start = datetime(2025, 5, 13, 10, 0, tzinfo=UTC)
    streams = []
    for source in range(3):
        seconds = sorted(rng.randint(0, 40) for _ in range(rng.randint(0, 30)))
        streams.append(
            [
                LogRecord("redis", f"r{source}", start + timedelta(seconds=s), "stdout", str(n))
                for n, s in enumerate(seconds)
            ]
        )
    expected = sorted((r for stream in streams for r in stream), key=lambda r: r.timestamp)

    merged = list(merge_by_time([iter(stream) for stream in streams], chunk=chunk))

    assert [r.timestamp for r in merged] == [r.timestamp for r in expected]
    assert sorted(merged) == sorted(expected)  # every record once
    for source in ("r0", "r1", "r2"):  # each source's own order kept
        assert [r.line for r in merged if r.instance == source] == [
            r.line for r in expected if r.instance == source
        ]
