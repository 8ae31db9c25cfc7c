"""Keep secrets out of everything a person or a file sees.

Secrets are held as ``SecretStr``; this is the second line of defence for
text that came from somewhere else (a server's error message, a log line, a
command's stderr) and might echo one back. Loading a profile registers its
secrets; :func:`redact` replaces each registered value with ``********``.
"""

from __future__ import annotations

MASK = "********"
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret to mask (short values would mask too much)."""
    if value and len(value) >= 4:
        _registered.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``********``."""
    for secret in sorted(_registered, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
