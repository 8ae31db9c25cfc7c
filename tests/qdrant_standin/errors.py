"""The one error type the stand-in's handlers raise: an HTTP status and Qdrant's wording."""

from __future__ import annotations


class ApiError(Exception):
    """A request the stand-in refuses; rendered as ``{"status": {"error": message}}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(collection: str) -> ApiError:
    """Qdrant's reply for a collection that does not exist."""
    return ApiError(404, f"Not found: Collection `{collection}` doesn't exist!")


def wrong_input(message: str) -> ApiError:
    """Qdrant's 400 for a request it understood but cannot apply."""
    return ApiError(400, f"Wrong input: {message}")


def format_error(message: str) -> ApiError:
    """Qdrant's 400 for a body that does not parse as the endpoint expects."""
    return ApiError(400, f"Format error in JSON body: {message}")


def unsupported(what: str) -> ApiError:
    """Something real Qdrant accepts that this stand-in does not implement (said plainly)."""
    return ApiError(400, f"Wrong input: {what} is not supported by the alfred-tui Qdrant stand-in")
