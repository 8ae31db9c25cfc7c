"""Results as versioned JSON documents and as Rich tables, one module per command.

The data layer (``alfred_tui.databases``) returns typed results; these
modules turn them into what the CLI prints. The JSON documents carry
``schema`` and ``version`` and are described in ``assets/schemas/``.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_iso() -> str:
    """The current time as :func:`iso` writes it."""
    return iso(datetime.now(UTC)) or ""
