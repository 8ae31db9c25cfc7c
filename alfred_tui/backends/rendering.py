"""What a profile rendered for Compose and for Kubernetes shares, engine-neutral.

Both renderings name the spec's credentials the same way (the Secret keys
``db-user``, ``db-password``... and the Compose variables ``DB_USER``,
``DB_PASSWORD``...), and both write a service's ``resources`` as two sides
of CPU and memory amounts, each in its own words: Compose's ``limits`` and
``reservations`` (``cpus: "2"``, ``memory: 4g``), Kubernetes's ``limits``
and ``requests`` (``cpu: "2"``, ``memory: 4Gi``). The Docker and Kubernetes
engines import this module, never each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from alfred_tui.config.models import ServiceSpec

#: The spec's Secret keys and Compose variables for PostgreSQL's credentials.
SPEC_CREDENTIALS: dict[str, tuple[str, str]] = {
    "POSTGRES_USER": ("db-user", "DB_USER"),
    "POSTGRES_PASSWORD": ("db-password", "DB_PASSWORD"),
    "POSTGRES_DB": ("db-name", "DB_NAME"),
    "JWT_SECRET": ("db-jwt-secret", "DB_JWT_SECRET"),
}
_SPEC_VARIABLES = {"JWT_EXP": "DB_JWT_EXP", **{k: v[1] for k, v in SPEC_CREDENTIALS.items()}}


def compose_variable(env: str) -> str:
    """The variable a rendered Compose file uses for environment entry ``env``."""
    return _SPEC_VARIABLES.get(env, env)


def resource_sides(
    spec: ServiceSpec,
    sides: dict[str, Literal["limits", "reservations"]],
    cpu_key: str,
    cpus: Callable[[float], str],
    memory: Callable[[int], str],
) -> dict[str, dict[str, str]]:
    """``spec``'s limits and reservations in a rendering's words; unset ones left out.

    ``sides`` maps each side's rendered name to the profile's, in the order
    they are written; ``cpu_key`` names the CPU entry (memory is ``memory``
    in both); ``cpus`` and ``memory`` write an amount.
    """
    result: dict[str, dict[str, str]] = {}
    for side, which in sides.items():
        amounts = getattr(spec.resources, which)
        if amounts is None:
            continue
        values: dict[str, str] = {}
        if amounts.cpus is not None:
            values[cpu_key] = cpus(amounts.cpus)
        if amounts.memory is not None:
            values["memory"] = memory(amounts.memory)
        if values:
            result[side] = values
    return result
