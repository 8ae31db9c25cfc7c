"""redact(): registered secrets never survive in text from outside."""

from __future__ import annotations

from alfred_tui.redact import MASK, redact, redact_lines, register_secret


def test_every_registered_secret_is_masked_longest_first() -> None:
    register_secret("s3cret-part")
    register_secret("s3cret-part-and-more")
    register_secret("a+b*c(d)")  # regex metacharacters are literal
    text = "login s3cret-part-and-more failed; s3cret-part again; weird a+b*c(d) too"
    assert redact(text) == f"login {MASK} failed; {MASK} again; weird {MASK} too"


def test_short_values_are_not_registered_and_unrelated_text_is_kept() -> None:
    register_secret("abc")  # too short: would mask half of every line
    register_secret(None)
    assert redact("abc is fine, so is this") == "abc is fine, so is this"


def test_a_batch_of_lines_is_redacted_as_each_line_would_be() -> None:
    """The black box masks its log lines a batch at a time (one scan when none holds one)."""
    register_secret("batch-secret-42")
    clean = [f"line {n}: nothing to hide" for n in range(1000)]
    assert redact_lines(clean) is clean  # no secret anywhere: the same list back, no copy
    mixed = [*clean[:3], "auth with batch-secret-42 failed", "batch-secret-42\nsecond half"]
    assert redact_lines(mixed) == [redact(line) for line in mixed]
    assert redact_lines(mixed)[3] == f"auth with {MASK} failed"
    # Split across two lines, a secret is in neither: the join keeps a newline between them.
    assert redact_lines(["ends with batch-", "secret-42 at the start"]) == [
        "ends with batch-",
        "secret-42 at the start",
    ]
