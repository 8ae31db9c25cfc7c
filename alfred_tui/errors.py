"""One error hierarchy for the whole product.

Every error a person can meet carries a short ``title`` and a ``message`` they
can act on. The CLI prints ``title: message`` on one line and exits with
``exit_code``; the UI shows the same two strings in a notification. No error
ever carries a secret: callers pass already-masked text.
"""

from __future__ import annotations


class AlfredError(Exception):
    """Base of every error alfred-tui reports to a person."""

    title: str = "Error"
    exit_code: int = 2

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def one_line(self) -> str:
        """The error as one line, as the CLI prints it on stderr."""
        return f"{self.title}: {self.message}".replace("\n", " ")


class ProfileError(AlfredError):
    """A profile could not be found, parsed, interpolated or validated."""

    title = "Profile error"

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]

    def one_line(self) -> str:  # several problems are several lines, one each
        return "\n".join(f"{self.title}: {p}" for p in self.problems)


class PolicyViolation(ProfileError):
    """A profile breaks its policy (``policy: production``)."""

    title = "Policy violation"


class UsageError(AlfredError):
    """The command line asks for something that cannot be done as asked."""

    title = "Usage error"
