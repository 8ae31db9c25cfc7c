"""Log levels read from the lines PostgreSQL, Redis and Qdrant really write.

The PostgreSQL and Redis lines are copied from servers the local backend ran
here (PostgreSQL 15, Redis 7.0); the Qdrant lines follow its ``tracing``
output (default and JSON formats) and the older ``env_logger`` one.
"""

from __future__ import annotations

import pytest
from fuzz_support import fuzz
from hypothesis import given
from hypothesis import strategies as st

from alfred_tui.loglevels import (
    Level,
    LevelTracker,
    may_be_severe,
    parse_generic,
    parse_level,
    parse_level_name,
    parse_postgres,
    parse_qdrant,
    parse_redis,
    strip_ansi,
)

PG = "2026-11-25 19:23:52.570 UTC [2274] "


@pytest.mark.parametrize(
    ("line", "level", "word"),
    [
        (PG + "LOG:  database system is ready to accept connections", Level.INFO, "LOG"),
        (PG + "LOG:  starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1)", Level.INFO, "LOG"),
        (
            PG + 'ERROR:  relation "no_such_table" does not exist at character 15',
            Level.ERROR,
            "ERROR",
        ),
        (PG + "WARNING:  there is no transaction in progress", Level.WARNING, "WARNING"),
        (PG + 'FATAL:  password authentication failed for user "agent"', Level.FATAL, "FATAL"),
        (PG + "PANIC:  could not write to file", Level.FATAL, "PANIC"),
        (PG + "NOTICE:  table does not exist, skipping", Level.INFO, "NOTICE"),
        (PG + "DEBUG3:  checkpointer updated shared memory configuration", Level.DEBUG, "DEBUG3"),
        (PG + "INFO:  vacuuming public.tasks", Level.INFO, "INFO"),
        # %q%u@%d in log_line_prefix (the Supabase image's style)
        (PG + "postgres@alfred ERROR:  duplicate key value", Level.ERROR, "ERROR"),
        # before the logging collector takes over: no prefix at all
        ("LOG:  redirecting log output to logging collector process", Level.INFO, "LOG"),
        # the message itself saying ERROR: the severity comes first
        (PG + "LOG:  statement: SELECT 'ERROR:  not me'", Level.INFO, "LOG"),
    ],
)
def test_postgres_severities(line: str, level: Level, word: str) -> None:
    found, start, end = parse_postgres(line)
    assert found is level
    assert line[start:end] == word
    assert parse_level("postgres", line)[0] is level


@pytest.mark.parametrize("word", ["DETAIL", "HINT", "STATEMENT", "CONTEXT", "QUERY", "LOCATION"])
def test_postgres_auxiliary_lines_belong_to_the_message_above(word: str) -> None:
    line = PG + f"{word}:  select * from no_such_table"
    found, start, end = parse_postgres(line)
    assert found is None and line[start:end] == word


def test_postgres_jsonlog() -> None:
    line = '{"timestamp":"2025-05-13 10:00:00.123 UTC","pid":42,"error_severity":"FATAL"}'
    found, start, end = parse_postgres(line)
    assert found is Level.FATAL and line[start:end] == "FATAL"


def test_postgres_lines_without_a_severity() -> None:
    # continuation lines of a multi-line statement carry data, not levels
    assert parse_level("postgres", "\tWHERE status = 'ERROR'")[0] is None
    assert parse_level("postgres", "")[1] == -1


@pytest.mark.parametrize(
    ("line", "level", "marker"),
    [
        ("2282:M 25 Nov 2026 19:23:52.605 * Ready to accept connections", Level.INFO, "*"),
        ("2282:C 25 Nov 2026 19:23:52.603 # oO0OoO0OoO0Oo Redis is starting", Level.WARNING, "#"),
        ("2282:M 25 Nov 2026 19:23:52.604 # WARNING Memory overcommit must", Level.WARNING, "#"),
        ("7:S 13 May 2025 10:00:00.123 - Accepted 127.0.0.1:50000", Level.DEBUG, "-"),
        ("7:M 13 May 2025 10:00:00.123 . Client closed connection", Level.DEBUG, "."),
        ("9:X 13 May 2025 10:00:00.123 # +sdown master mymaster", Level.WARNING, "#"),
        # Redis 2.x
        ("[4018] 14 Nov 07:01:22.119 * Background saving started by pid 4020", Level.INFO, "*"),
    ],
)
def test_redis_markers(line: str, level: Level, marker: str) -> None:
    found, start, end = parse_redis(line)
    assert found is level and line[start:end] == marker


def test_redis_logo_lines_have_no_level() -> None:
    assert (
        parse_level(
            "redis", "                _._                                                  "
        )[0]
        is None
    )
    assert (
        parse_level("redis", " (    '      ,       .-`  | `,    )     Running in standalone mode")[
            1
        ]
        == -1
    )


@pytest.mark.parametrize(
    ("line", "level", "word"),
    [
        (
            "2025-05-13T10:00:00.123456Z  INFO qdrant::actix::web_ui: Web UI available",
            Level.INFO,
            "INFO",
        ),
        (
            "2025-05-13T10:00:00.123456Z  WARN segment::index: slow HNSW build",
            Level.WARNING,
            "WARN",
        ),
        ("2025-05-13T10:00:00.123456Z ERROR qdrant::tonic: timed out", Level.ERROR, "ERROR"),
        ("2025-05-13T10:00:00.123456Z DEBUG storage: loading", Level.DEBUG, "DEBUG"),
        ("2025-05-13T10:00:00.123456Z TRACE raft: tick", Level.DEBUG, "TRACE"),
        ("2025-05-13T10:00:00+02:00  INFO qdrant: local offset", Level.INFO, "INFO"),
        (
            "[2023-03-01T10:00:00.000Z INFO  qdrant] Qdrant gRPC listening on 6334",
            Level.INFO,
            "INFO",
        ),
        (
            '{"timestamp":"2025-05-13T10:00:00.1Z","level":"WARN","fields":{"message":"x"}}',
            Level.WARNING,
            "WARN",
        ),
    ],
)
def test_qdrant_levels(line: str, level: Level, word: str) -> None:
    found, start, end = parse_qdrant(line)
    assert found is level and line[start:end] == word


def test_qdrant_coloured_output_is_read_once_the_colours_are_gone() -> None:
    coloured = "\x1b[2m2025-05-13T10:00:00.123456Z\x1b[0m \x1b[31mERROR\x1b[0m qdrant: boom"
    assert parse_qdrant(coloured)[0] is None
    plain = strip_ansi(coloured)
    assert plain == "2025-05-13T10:00:00.123456Z ERROR qdrant: boom"
    assert parse_qdrant(plain)[0] is Level.ERROR


def test_qdrant_banner_and_panics_have_no_level() -> None:
    assert parse_level("qdrant", "           _                 _    ")[0] is None
    assert parse_level("qdrant", "thread 'main' panicked at 'ERROR here'")[0] is None


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("ERROR something broke", Level.ERROR),
        ("[WARN] disk almost full", Level.WARNING),
        ('time=2025-05-13T10:00:00Z level=error msg="boom"', Level.ERROR),
        ("CRITICAL out of memory", Level.FATAL),
        ("a long preamble that goes on and on for a while ERROR", None),
        ("terrorism is not a level", None),
    ],
)
def test_generic_levels_for_other_services(line: str, level: Level | None) -> None:
    assert parse_generic(line)[0] is level
    assert parse_level("something-else", line)[0] is level


def test_tracker_carries_a_level_to_lines_without_one_per_instance() -> None:
    tracker = LevelTracker()
    assert tracker.level("postgres", "db", PG + "ERROR:  relation x does not exist") is Level.ERROR
    # a Redis line in between must not break the ERROR/STATEMENT pair
    assert tracker.level("redis", "redis", "1:M 13 May 2025 10:00:00.000 * DB saved") is Level.INFO
    assert tracker.level("postgres", "db", PG + "STATEMENT:  select * from x") is Level.ERROR
    assert tracker.level("redis", "redis", "        _._        ") is Level.INFO
    assert tracker.level("postgres", "db-2", PG + "DETAIL:  first line seen") is Level.INFO
    tracker.reset()
    assert tracker.level("postgres", "db", PG + "HINT:  after a reset") is Level.INFO


def test_level_names() -> None:
    assert parse_level_name("warn") is Level.WARNING
    assert parse_level_name(" Error ") is Level.ERROR
    assert parse_level_name("critical") is Level.FATAL
    with pytest.raises(ValueError, match="choose from debug, info, warning, error, fatal"):
        parse_level_name("loud")


# --- the black box's shortcut to errors ------------------------------------------------------

#: Level words of every service's format, in the cases they are written in.
_LEVEL_WORDS = [
    "DEBUG1",
    "LOG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "FATAL",
    "PANIC",
    "DETAIL",
    "STATEMENT",
    "TRACE",
    "DEBUG",
    "WARN",
    "ERR",
    "CRIT",
    "CRITICAL",
    "error",
    "Error",
    "fatal",
    "warn",
]
_SHAPES = [
    PG + "{word}:  {text}",
    "1:M 25 Nov 2026 19:23:52.570 {marker} {text}",
    "2026-11-25T19:23:52.570Z {word} qdrant::tonic: {text}",
    '{{"timestamp":"2026-11-25T19:23:52Z","level":"{word}","message":"{text}"}}',
    '{{"error_severity":"{word}","message":"{text}"}}',
    "{text} level={word} {text}",
    "[{word}] {text}",
    "{text}",
]


@fuzz
@given(
    service=st.sampled_from(["postgres", "redis", "qdrant", "other"]),
    shape=st.sampled_from(_SHAPES),
    word=st.sampled_from(_LEVEL_WORDS),
    marker=st.sampled_from(list(".-*#")),
    text=st.text(max_size=60),
)
def test_every_line_parsed_as_an_error_passes_the_shortcut(
    service: str, shape: str, word: str, marker: str, text: str
) -> None:
    """The timeline skips the parser when ``may_be_severe`` says no: it must never miss one."""
    line = shape.format(word=word, marker=marker, text=text)
    level = parse_level(service, line)[0]
    if level is not None and level >= Level.ERROR:
        assert may_be_severe(service, line), line


def test_the_shortcut_lets_most_lines_skip_the_parser() -> None:
    assert not may_be_severe("postgres", PG + "LOG:  checkpoint starting: time")
    assert not may_be_severe("redis", "1:M 25 Nov 2026 19:23:52.570 # ERR something odd")
    assert may_be_severe("postgres", PG + "ERROR:  duplicate key value")
    assert may_be_severe("qdrant", '{"level":"error","message":"timed out"}')
