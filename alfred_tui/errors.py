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


class FileSystemError(AlfredError):
    """A file or folder alfred-tui needs cannot be used as it is (the operator's to fix)."""

    title = "File system error"


def file_system_error(exc: OSError) -> FileSystemError:
    """``exc`` as one line naming the path and what is wrong with it.

    ``NotADirectoryError`` on ``/data/x/local`` becomes ``/data/x/local: Not a
    directory (a file is in the way of a folder on this path)``.
    """
    import errno

    hints = {
        errno.ENOTDIR: "a file is in the way of a folder on this path",
        errno.EEXIST: "something else already has this name",
        errno.EACCES: "this user may not write there",
        errno.EPERM: "this user may not write there",
        errno.EROFS: "the file system is mounted read-only",
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
    }
    where = exc.filename if exc.filename is not None else "a file"
    what = exc.strerror or type(exc).__name__
    hint = hints.get(exc.errno or 0)
    return FileSystemError(f"{where}: {what}" + (f" ({hint})" if hint else ""))
