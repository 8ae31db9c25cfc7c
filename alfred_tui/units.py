"""Parsing and printing of sizes, durations and CPU counts, as profiles write them.

Sizes follow Docker's and Redis's convention (``4G`` and ``2gb`` are binary
gibibytes); Kubernetes suffixes (``Gi``, ``Mi``) are accepted too.
"""

from __future__ import annotations

import math
import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)")
_DURATION_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}


def _finite_or_text(value: object, what: str) -> None:
    """Refuse what no unit parser takes: booleans, None, lists, NaN and infinities.

    A ValueError (not an AttributeError or OverflowError) is what pydantic and
    the command line turn into a one-line message naming the field.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{what} must be a number or a string like {_EXAMPLES[what]}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value}")


_EXAMPLES = {"a size": "512M or 4G", "a duration": "10s or 5m", "cpus": "0.5 or 2"}


def parse_bytes(value: str | int | float) -> int:
    """``"4G"`` -> 4294967296; ``"512Mi"`` -> 536870912; a number is bytes."""
    _finite_or_text(value, "a size")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return int(value)
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size (write e.g. 512M, 4G, 2gb or 1Gi)")
    number, unit, _suffix = match.groups()
    return int(float(number) * 1024 ** _POWERS[unit.lower()])


def format_bytes(value: float | None, precision: int = 1) -> str:
    """A size for people: ``1536`` -> ``1.5 KiB``."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.{precision}f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_docker_size(value: int) -> str:
    """A size as Docker Compose writes it (``4G``, ``512M``), exact where it can be."""
    for unit, power in (("G", 3), ("M", 2), ("K", 1)):
        if value % 1024**power == 0:
            return f"{value // 1024**power}{unit}"
    return str(value)


def format_k8s_size(value: int) -> str:
    """A size as a Kubernetes quantity (``4Gi``, ``512Mi``)."""
    for unit, power in (("Gi", 3), ("Mi", 2), ("Ki", 1)):
        if value % 1024**power == 0:
            return f"{value // 1024**power}{unit}"
    return str(value)


def parse_duration(value: str | int | float) -> float:
    """``"10s"``, ``"1m30s"``, ``"500ms"`` or a number of seconds -> seconds."""
    _finite_or_text(value, "a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration (write e.g. 10s, 5m, 1h30m or 500ms)")
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def format_duration(seconds: float | None) -> str:
    """A duration for people: ``3725`` -> ``1h2m``; ``0.0042`` -> ``4.2ms``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s"


def format_compose_duration(seconds: float) -> str:
    """A duration as Compose writes it: ``10s``, ``1m30s``, ``500ms``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs}s" if minutes and secs else (f"{minutes}m" if minutes else f"{secs}s")


def parse_cpus(value: str | int | float) -> float:
    """``"2"``, ``0.5``, ``"500m"`` (Kubernetes millicores) -> CPUs as a float."""
    _finite_or_text(value, "cpus")
    if isinstance(value, str):
        text = value.strip()
        try:
            cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a CPU count (write e.g. 0.5, 2 or 500m)") from None
    else:
        cpus = float(value)
    if not math.isfinite(cpus):
        raise ValueError(f"{value!r} is not a CPU count (write e.g. 0.5, 2 or 500m)")
    if cpus <= 0:
        raise ValueError("cpus must be greater than zero")
    return cpus
