"""The Logs pane's adapter layer: buffer (filter, pause, bound), search, save, and the feed.

The feed runs over the real local backend: its log files are read by the
backend's own code (``backends/logfiles.py``); the test writes lines into
them as a server would, and breaks the log path for real (a folder where
the file should be) to make the stream fail.
"""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from alfred_tui.backends.base import LogRecord
from alfred_tui.backends.local.backend import LocalBackend
from alfred_tui.config.loader import load_profile
from alfred_tui.control.log_buffer import LogBuffer, clean_line, split_display_line
from alfred_tui.control.log_feed import FeedState, LogFeed
from alfred_tui.control.log_save import (
    SaveFailed,
    TargetExists,
    default_path,
    resolve,
    save_lines,
)
from alfred_tui.control.log_search import SearchError, compile_search, count_lines, find_line, rank
from alfred_tui.loglevels import Level

T0 = datetime(2025, 5, 13, 10, 0, 0, tzinfo=UTC)


def pg(n: int, severity: str = "LOG", text: str = "") -> LogRecord:
    moment = T0 + timedelta(seconds=n)
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S.000 UTC")
    return LogRecord(
        "postgres", "db-postgres", moment, "stderr", f"{stamp} [7] {severity}:  {text or n}"
    )


def rd(n: int, marker: str = "*", text: str = "") -> LogRecord:
    moment = T0 + timedelta(seconds=n)
    stamp = moment.strftime("%d %b %Y %H:%M:%S.000")
    return LogRecord("redis", "redis", moment, "stdout", f"1:M {stamp} {marker} {text or n}")


# --- buffer -----------------------------------------------------------------------------------


def test_lines_carry_padded_instance_names_and_reach_the_view_once() -> None:
    buffer = LogBuffer(100)
    buffer.extend([pg(1), rd(2), pg(3)])
    lines = buffer.take_pending()
    assert lines[0].startswith("db-postgres | 2025-05-13 10:00:01")
    assert lines[1].startswith("redis       | 1:M 13 May 2025")
    assert buffer.take_pending() == []
    assert buffer.instance_service == {"db-postgres": "postgres", "redis": "redis"}
    assert buffer.last_time == T0 + timedelta(seconds=3)


def test_filter_by_service_and_level_rebuilds_from_every_kept_line() -> None:
    buffer = LogBuffer(100)
    buffer.extend(
        [
            pg(1),
            pg(2, "ERROR", "relation x does not exist"),
            pg(3, "STATEMENT", "select * from x"),
            rd(4, "#", "warning"),
            rd(5, "*", "notice"),
            pg(6, "WARNING", "careful"),
        ]
    )
    buffer.take_pending()
    errors = buffer.set_filter(set(), Level.ERROR)
    assert [split_display_line(line)[1].split("[7] ")[1] for line in errors] == [
        "ERROR:  relation x does not exist",
        "STATEMENT:  select * from x",  # the statement stays with its error
    ]
    warnings_up = buffer.set_filter(set(), Level.WARNING)
    assert len(warnings_up) == 4
    only_redis = buffer.set_filter({"postgres"}, Level.DEBUG)
    assert all(line.startswith("redis") for line in only_redis) and len(only_redis) == 2
    # new lines obey the filter too
    buffer.add(pg(7))
    buffer.add(rd(8))
    assert [line.split(" |")[0].strip() for line in buffer.take_pending()] == ["redis"]


def test_the_bound_keeps_the_newest_lines_and_filters_still_work() -> None:
    buffer = LogBuffer(100)
    for n in range(250):
        buffer.add(pg(n, "ERROR" if n % 10 == 0 else "LOG"))
    assert buffer.kept == 100 and buffer.total == 250
    everything = buffer.set_filter(set(), Level.DEBUG)
    assert len(everything) == 100 and everything[-1].endswith("249")
    assert everything[0].endswith("150")
    errors = buffer.set_filter(set(), Level.ERROR)
    assert [line.rsplit(" ", 1)[-1] for line in errors] == [str(n) for n in range(150, 250, 10)]
    assert len(buffer.take_pending()) == 0  # a rebuild hands the lines over itself


def test_pause_holds_new_lines_back_and_resume_hands_every_one_over() -> None:
    buffer = LogBuffer(100)
    buffer.extend([pg(1), pg(2)])
    assert len(buffer.take_pending()) == 2
    buffer.pause()
    buffer.extend([pg(3), rd(4), pg(5)])
    assert buffer.take_pending() == [] and buffer.waiting == 3
    # a filter change while paused keeps the frozen view frozen
    frozen = buffer.set_filter({"redis"}, Level.DEBUG)
    assert [line.rsplit(" ", 1)[-1] for line in frozen] == ["1", "2"]
    assert buffer.waiting == 2
    released = buffer.resume()
    assert [line.rsplit(" ", 1)[-1] for line in released] == ["3", "5"]
    assert not buffer.paused and buffer.waiting == 0


def test_a_long_pause_counts_what_the_bound_dropped() -> None:
    buffer = LogBuffer(100)
    buffer.pause()
    for n in range(130):
        buffer.add(pg(n))
    assert buffer.waiting == 130 and buffer.over_bound == 30
    released = buffer.resume()
    assert len(released) == 100 and released[0].endswith(" 30")


def test_lines_are_cleaned_for_one_terminal_row() -> None:
    assert clean_line("\x1b[31mE\x1b[0m\tb\x07c\x85d") == "E       b\ufffdc\ufffdd"
    buffer = LogBuffer(100)
    buffer.add(LogRecord("qdrant", "vector-db", T0, "stdout", "x\u2028y\x1b[1m z"))
    (line,) = buffer.take_pending()
    assert "\x1b" not in line and "\u2028" not in line and len(line.splitlines()) == 1


# --- search -----------------------------------------------------------------------------------


def test_search_is_smart_case_and_says_what_is_wrong() -> None:
    lines = ["a ERROR b", "error c", "nothing", "Error d"]
    lower = compile_search("error")
    assert lower is not None and count_lines(lines, lower) == 3
    upper = compile_search("ERROR")
    assert upper is not None and count_lines(lines, upper) == 1
    assert compile_search("") is None
    with pytest.raises(
        SearchError, match=r"/\(oops/ is not a regular expression: .* at position 0"
    ):
        compile_search("(oops")


def test_next_and_previous_wrap_around_and_rank_counts() -> None:
    lines = ["x1", "-", "x2", "-", "x3"]
    pattern = compile_search("x")
    assert pattern is not None
    assert find_line(lines, pattern, -1) == 0
    assert find_line(lines, pattern, 0) == 2
    assert find_line(lines, pattern, 4) == 0  # wraps
    assert find_line(lines, pattern, 0, forward=False) == 4  # wraps back
    assert find_line(lines, pattern, len(lines), forward=False) == 4
    assert rank(lines, pattern, 2) == 2
    assert find_line(["-"], pattern, 0) is None
    assert find_line([], pattern, 0) is None


# --- save -------------------------------------------------------------------------------------


def test_save_creates_a_private_file_and_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    path = folder / "view.log"
    assert save_lines(path, ["a | one", "b | two"]) == len("a | one\nb | two\n")
    assert path.read_text() == "a | one\nb | two\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(TargetExists) as raised:
        save_lines(path, ["other"])
    assert raised.value.path == path and path.read_text() == "a | one\nb | two\n"
    save_lines(path, ["other"], overwrite=True)
    assert path.read_text() == "other\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == ["view.log"]  # no temporary file left


def test_save_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(SaveFailed, match=f"folder {tmp_path / 'missing'} does not exist"):
        save_lines(tmp_path / "missing" / "x.log", ["a"])
    with pytest.raises(SaveFailed, match="is a folder: add a file name"):
        save_lines(tmp_path, ["a"])
    with pytest.raises(SaveFailed, match="type a file name"):
        resolve("  ")
    assert resolve("x.log", tmp_path) == tmp_path / "x.log"
    assert resolve("~/x.log") == Path(os.path.expanduser("~/x.log"))
    named = default_path("dev", datetime(2025, 5, 13, 10, 1, 2), tmp_path)
    assert named == tmp_path / "alfred-logs-dev-20250513-100102.log"


# --- the feed, over the real local backend ------------------------------------------------------


@pytest.fixture
def local_logs(tmp_path: Path) -> tuple[LocalBackend, Path, Path]:
    """A local-backend profile (nothing deployed) and its PostgreSQL and Redis log files."""
    profile = tmp_path / "logs.yaml"
    profile.write_text(
        yaml.safe_dump(
            {"extends": "local", "name": "logs", "local": {"data_dir": str(tmp_path / "data")}}
        )
    )
    backend = LocalBackend(load_profile(str(profile)))
    paths = []
    for service in ("postgres", "redis"):
        path = backend.runner(service).log_file  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        paths.append(path)
    return backend, paths[0], paths[1]


def pg_line(n: int) -> str:
    return f"2025-05-13 10:00:{n:02d}.000 UTC [7] LOG:  line {n}\n"


def rd_line(n: int) -> str:
    return f"1:M 13 May 2025 10:00:{n:02d}.000 * line {n}\n"


async def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_feed_follows_then_survives_a_broken_log_path_without_loss_or_repeats(
    local_logs: tuple[LocalBackend, Path, Path],
) -> None:
    backend, pg_log, redis_log = local_logs
    pg_log.write_text("".join(pg_line(n) for n in (1, 3)))
    redis_log.write_text("".join(rd_line(n) for n in (2, 2)))  # two lines, same timestamp
    feed = LogFeed(backend, ["postgres", "redis"], tail=100, backoff_base=0.05, backoff_cap=0.2)
    got: list[str] = []
    states: list[FeedState] = []
    task = asyncio.create_task(feed.run(lambda r: got.append(r.line), states.append))
    try:
        await wait_until(lambda: len(got) == 4)
        assert [line.rsplit(" ", 1)[-1] for line in got] == ["1", "2", "2", "3"]
        assert states[-1].phase == "following"
        # The log path becomes a folder: the backend cannot read it.
        redis_log.unlink()
        redis_log.mkdir()
        await wait_until(lambda: sum(s.phase == "retrying" for s in states) >= 2)
        retrying = [s for s in states if s.phase == "retrying"]
        assert "IsADirectoryError" in retrying[0].problem or "Is a directory" in retrying[0].problem
        assert retrying[1].failures == retrying[0].failures + 1
        # Back as a file with the old lines and new ones: only the new ones arrive.
        redis_log.rmdir()
        redis_log.write_text("".join(rd_line(n) for n in (2, 2, 4)))
        with pg_log.open("a") as handle:
            handle.write(pg_line(5))
        await wait_until(lambda: len(got) == 6)
        await asyncio.sleep(0.5)  # a repeat would have arrived by now
        assert [line.rsplit(" ", 1)[-1] for line in got] == ["1", "2", "2", "3", "4", "5"]
        assert feed.connections >= 2 and states[-1].phase == "following"
        assert feed.backoff.failures == 0
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_feed_reports_a_backend_without_logs_and_stops(
    local_logs: tuple[LocalBackend, Path, Path],
) -> None:
    backend, _, _ = local_logs  # no qdrant binary here: Qdrant is embedded, no log
    states: list[FeedState] = []
    feed = LogFeed(backend, ["qdrant"], tail=10)
    await asyncio.wait_for(feed.run(lambda r: None, states.append), 5)
    assert states[-1].phase == "unavailable"
    assert states[-1].problem == "Not supported: the local backend cannot follow logs for qdrant"


async def test_feed_gives_the_event_loop_turns_while_a_big_history_pours_in(
    local_logs: tuple[LocalBackend, Path, Path],
) -> None:
    backend, pg_log, _ = local_logs
    pg_log.write_text(
        "".join(f"2025-05-13 10:00:00.000 UTC [7] LOG:  n{n}\n" for n in range(30000))
    )
    feed = LogFeed(backend, ["postgres"], tail=30000)
    got = 0
    ticks = 0

    def sink(_record: LogRecord) -> None:
        nonlocal got
        got += 1

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    counter = asyncio.create_task(ticker())
    task = asyncio.create_task(feed.run(sink, lambda s: None))
    try:
        await wait_until(lambda: got == 30000, timeout=30)
        assert ticks > 20  # the loop ran other work many times during the pour
    finally:
        for running in (task, counter):
            running.cancel()
        await asyncio.gather(task, counter, return_exceptions=True)
