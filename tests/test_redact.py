"""redact(): registered secrets never survive in text from outside."""

from __future__ import annotations

from alfred_tui.redact import MASK, redact, register_secret


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
