"""Keep secrets out of everything a person or a file sees.

Secrets are held as ``SecretStr``; this is the second line of defence for
text that came from somewhere else (a server's error message, a log line, a
command's stderr) and might echo one back. Loading a profile registers its
secrets; :func:`redact` replaces each registered value with ``********``.

Log streams call :func:`redact` on every line, so the secrets are compiled
into one pattern when they change rather than sorted and scanned per call.
"""

from __future__ import annotations

import re

MASK = "********"
_registered: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret to mask (short values would mask too much)."""
    global _pattern
    if value and len(value) >= 4 and value not in _registered:
        _registered.add(value)
        # Longest first, so a secret that contains another is masked whole.
        alternatives = sorted(_registered, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(secret) for secret in alternatives))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``********``."""
    if _pattern is None:
        return text
    return _pattern.sub(MASK, text)


def redact_lines(lines: list[str]) -> list[str]:
    """Each of ``lines`` redacted, as :func:`redact` would.

    Log lines come by the thousand and almost never hold a secret, so they
    are scanned once, joined (a secret inside one line is inside the joined
    text too), and only a batch where the scan finds something is masked
    line by line: one pass in C instead of a call per line.
    """
    if _pattern is None or _pattern.search("\n".join(lines)) is None:
        return lines
    return [_pattern.sub(MASK, line) for line in lines]
