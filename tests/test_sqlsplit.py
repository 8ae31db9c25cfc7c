"""The SQL splitter: statements, their lines, and what hides a semicolon."""

from __future__ import annotations

import pytest

from alfred_tui.databases.sqlsplit import SqlSplitError, line_of, split_statements


def test_statements_and_their_first_lines() -> None:
    source = "-- header\n\nCREATE TABLE a (x int);\n/* note */ INSERT INTO a VALUES (1);\n\n"
    statements = split_statements(source)
    assert [s.keyword for s in statements] == ["CREATE", "INSERT"]
    assert [s.line for s in statements] == [3, 4]
    assert statements[1].text.strip().endswith("VALUES (1)")


def test_semicolons_inside_quotes_comments_and_dollar_bodies_do_not_split() -> None:
    source = (
        "SELECT 'a;b', E'c\\';d', \"we;ird\";\n"
        "-- a comment; still a comment\n"
        "/* outer /* nested; */ still comment; */\n"
        "DO $body$\nBEGIN\n  PERFORM 1; PERFORM $$x;y$$;\nEND\n$body$;\n"
        "SELECT $1::int;\n"
    )
    statements = split_statements(source)
    assert [s.keyword for s in statements] == ["SELECT", "DO", "SELECT"]
    do_block = statements[1]
    assert do_block.line == 4
    assert do_block.body_offset is not None
    body_start = do_block.offset + do_block.body_offset
    assert line_of(source, body_start) == 4  # the line of the opening $body$


def test_dollar_sign_inside_identifier_is_not_a_quote() -> None:
    statements = split_statements("SELECT a$b$c FROM t; SELECT 2;")
    assert len(statements) == 2


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("SELECT 1;\nSELECT 'open;\n", 2, "unterminated string"),
        ("SELECT 1;\n\nDO $$ BEGIN\n", 3, "unterminated dollar-quoted"),
        ("SELECT 1;\n/* never closed", 2, "unterminated /*"),
        ("SELECT 1;\n\\connect other\nSELECT 2;", 2, "psql meta-command"),
    ],
)
def test_malformed_files_name_the_line(source: str, line: int, words: str) -> None:
    with pytest.raises(SqlSplitError) as caught:
        split_statements(source)
    assert caught.value.line == line
    assert words in str(caught.value)


def test_only_comments_is_no_statement() -> None:
    assert split_statements("-- nothing\n/* here */\n;;\n") == []
