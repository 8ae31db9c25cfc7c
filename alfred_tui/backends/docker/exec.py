"""Commands and files in the Docker engine's containers: exec, copy in, copy out.

The database's own tools are aimed at the instance without a secret on the
command line (:func:`aim_tool`); files cross with the archive API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import ExecResult, NotDeployed
from alfred_tui.backends.docker import transfers
from alfred_tui.backends.docker.core import DockerCore
from alfred_tui.backends.docker.status import state_of
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.config.models import PostgresService, RedisService, ServiceKind, ServiceSpec
from alfred_tui.errors import UsageError

#: Seconds an exec'd command may run unless the caller says otherwise.
EXEC_TIMEOUT = 600.0

#: PostgreSQL client tools that read PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE.
PG_TOOLS = frozenset(
    {
        "psql",
        "pg_dump",
        "pg_dumpall",
        "pg_restore",
        "pg_isready",
        "pg_basebackup",
        "vacuumdb",
        "reindexdb",
        "clusterdb",
        "createdb",
        "dropdb",
        "pgbench",
    }
)


class DockerExec(DockerCore):
    """``exec``, ``copy_from`` and ``copy_to`` (Executable, FileCopying)."""

    exec_runs_here = False

    async def _running_instance(self, service: ServiceKind, instance: str | None) -> dict[str, Any]:
        instances = await self.instances(service)
        if instance is not None:
            chosen = next((a for a in instances if a["Name"].lstrip("/") == instance), None)
            if chosen is None:
                names = ", ".join(a["Name"].lstrip("/") for a in instances) or "none"
                raise NotDeployed(f"{service} has no instance '{instance}' (instances: {names})")
        else:
            chosen = instances[0] if instances else None
            if chosen is None:
                raise NotDeployed(f"{service} is not deployed; run `alfred-tui up`")
        if state_of(chosen) != "running":
            raise NotDeployed(
                f"{chosen['Name'].lstrip('/')} is {state_of(chosen)}, not running; "
                "`alfred-tui status` tells why"
            )
        return chosen

    async def exec(
        self,
        service: ServiceKind,
        argv: Sequence[str],
        stdin: bytes | None = None,
        instance: str | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` in the primary (or ``instance``); stdout/stderr demuxed, stdin optional.

        The database's own tools are aimed at the instance without a secret on
        the command line: PostgreSQL tools get ``PGHOST``/``PGPORT``/``PGUSER``/
        ``PGPASSWORD``/``PGDATABASE`` in the exec's environment (which ``docker
        inspect`` does not show), ``redis-cli`` gets ``-h``/``-p`` and
        ``REDISCLI_AUTH``. A non-zero exit is a result, not an error. On
        timeout the stream is dropped and :class:`OperationTimeout` raised; the
        command itself may run on inside the container.
        """
        attrs = await self._running_instance(service, instance)
        command, environment = aim_tool(service, enabled_service(self.profile, service), argv)
        client = await self.client()
        return await self.call(
            transfers.exec_in,
            client.api,
            attrs["Id"],
            command,
            stdin,
            "",
            environment,
            timeout=timeout or EXEC_TIMEOUT,
        )

    async def copy_from(
        self,
        service: ServiceKind,
        path: str,
        destination: Path,
        instance: str | None = None,
    ) -> Path:
        """Copy the file ``path`` out of an instance to ``destination`` (archive API)."""
        attrs = await self._running_instance(service, instance)
        client = await self.client()
        await self.call(
            transfers.copy_file_out, client.api, attrs["Id"], path, destination, timeout=600
        )
        return destination

    async def copy_to(
        self,
        service: ServiceKind,
        source: Path,
        path: str,
        instance: str | None = None,
    ) -> None:
        """Copy ``source`` to ``path`` in an instance, owned by the user the server runs as."""
        if not source.is_file():
            raise UsageError(f"{source} is not a file")
        attrs = await self._running_instance(service, instance)
        client = await self.client()
        owner = await self.call(
            transfers.exec_in, client.api, attrs["Id"], ["stat", "-c", "%u:%g", "/proc/1"]
        )
        uid, gid = 0, 0
        if owner.ok:
            with contextlib.suppress(ValueError):
                uid, gid = (int(x) for x in owner.stdout.decode().strip().split(":"))
        await self.call(
            transfers.copy_file_in,
            client.api,
            attrs["Id"],
            source,
            path,
            None,
            uid,
            gid,
            timeout=600,
        )


def aim_tool(
    kind: ServiceKind, spec: ServiceSpec, argv: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """``argv`` and environment that aim a database tool at the instance it runs in."""
    command = list(argv)
    if not command:
        raise UsageError("exec needs a command")
    tool = command[0].rsplit("/", 1)[-1]
    port = spec.ports[0].container_port if spec.ports else None
    if isinstance(spec, PostgresService) and tool in PG_TOOLS:
        return command, {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port or 5432),
            "PGUSER": spec.user,
            "PGPASSWORD": spec.password.get_secret_value(),
            "PGDATABASE": spec.database,
        }
    if isinstance(spec, RedisService) and tool == "redis-cli":
        environment = {}
        if spec.password is not None:
            environment["REDISCLI_AUTH"] = spec.password.get_secret_value()
        return [command[0], "-h", "127.0.0.1", "-p", str(port or 6379), *command[1:]], environment
    return command, {}
