"""The YAML a remedy tells the operator to write in the profile.

A change made live (``CONFIG SET``, ``ALTER SYSTEM``) is lost or overridden
at the next deploy unless the profile says the same thing; these helpers turn
"set max_connections to 2000" into the exact ``services.<kind>.command`` list,
built from the profile's current command so nothing else in it changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from alfred_tui.config.models import ServiceSpec


def postgres_command_with(service: ServiceSpec, settings: dict[str, str]) -> list[str]:
    """The service's command with ``-c name=value`` set for each of ``settings``."""
    command = list(service.command or ["postgres"])
    for name, value in settings.items():
        replaced = False
        for index, arg in enumerate(command):
            if arg.startswith(f"{name}="):
                command[index] = f"{name}={value}"
                replaced = True
            elif arg.startswith(f"-c{name}="):
                command[index] = f"-c{name}={value}"
                replaced = True
        if not replaced:
            command += ["-c", f"{name}={value}"]
    return command


def redis_command_with(service: ServiceSpec, settings: dict[str, str]) -> list[str]:
    """The service's command with ``--name value`` set for each of ``settings``."""
    command = list(service.command or ["redis-server"])
    for name, value in settings.items():
        flag = f"--{name}"
        if flag in command:
            index = command.index(flag)
            if index + 1 < len(command):
                command[index + 1] = value
            else:
                command.append(value)
        else:
            command += [flag, value]
    return command


def service_yaml(kind: str, fields: dict[str, Any]) -> str:
    """``services: {kind: fields}`` as block YAML, in the order given."""
    return yaml.safe_dump(
        {"services": {kind: fields}}, default_flow_style=False, sort_keys=False, width=100
    )


def command_yaml(kind: str, command: Sequence[str]) -> str:
    """The ``command`` list of one service as profile YAML."""
    return service_yaml(kind, {"command": list(command)})
