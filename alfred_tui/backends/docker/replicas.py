"""PostgreSQL read replicas on Docker: hot standbys streaming from the primary.

As the spec's scaling section does it (``hot_standby=on``, ``primary_conninfo``
pointing at the primary), with the data copied the standard way:

1. the primary is made to accept replication connections from its own
   network (``host replication all samenet scram-sha-256`` in pg_hba.conf,
   a reload) and, when the profile names a separate ``replication_user``,
   that role is created;
2. a throwaway container of the profile's own image (so this works with
   the real supabase/postgres image as well as the test image) runs
   ``pg_basebackup -R -X stream`` into the replica's fresh volume,
   ``<project>_<volume>-<n>``; ``-R`` writes ``standby.signal`` and
   ``primary_conninfo``;
3. a container of the same image starts on that volume with the profile's
   command plus ``-c hot_standby=on``; it finds a cluster, so the entrypoint
   skips initdb and PostgreSQL starts as a standby.

Secrets: the replication password never appears in a command line, an
environment variable or a label, so ``docker inspect`` cannot show it. SQL
that carries it goes to psql on stdin; the basebackup container reads it
from stdin into a 0600 passfile inside itself, which ends up as
``replication.pgpass`` in the standby's data directory (mode 0600, owned by
postgres, inside its volume); ``primary_conninfo`` names that passfile
rather than holding the password, so ``SHOW primary_conninfo`` does not
reveal it either.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import OperationFailed, Progress, ProgressCallback
from alfred_tui.backends.docker import spec as spec_mod
from alfred_tui.backends.docker import transfers
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.config.models import PostgresService
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.backends.docker.containers import DockerContainers
    from alfred_tui.backends.docker.spec import ResourcePlan

DEFAULT_PGDATA = "/var/lib/postgresql/data"
#: Seconds a base backup may take.
BASEBACKUP_TIMEOUT = 1800.0
HBA_LINE = "host replication all samenet scram-sha-256"

# Reads the password from stdin into a passfile only this container has,
# copies the primary, then keeps the passfile in the new data directory and
# points primary_conninfo at it (pg_basebackup -R wrote the temporary path).
# $1 host, $2 port, $3 user, $4 data directory, $5 the replica's name (its
# application_name: the primary's pg_stat_replication names it so).
_BASEBACKUP_SCRIPT = (
    'IFS= read -r pw; umask 077; printf "%s:%s:*:%s:%s\\n" "$1" "$2" "$3" "$pw" > /tmp/.pgpass; '
    "unset pw; export PGPASSFILE=/tmp/.pgpass; "
    'pg_basebackup -d "application_name=$5" -h "$1" -p "$2" -U "$3" -D "$4" -R -X stream '
    "-c fast || exit $?; "
    'cp /tmp/.pgpass "$4/replication.pgpass" && '
    "sed -i \"s|passfile=''/tmp/.pgpass''|passfile=''$4/replication.pgpass''|\" "
    '"$4/postgresql.auto.conf" && '
    "grep -q \"passfile=''$4/replication.pgpass''\" \"$4/postgresql.auto.conf\""
)

# Adds the replication line to pg_hba.conf ($1) once.
_HBA_SCRIPT = (
    f'grep -qxF "{HBA_LINE}" "$1" || printf "\\n# added by alfred-tui for read replicas\\n%s\\n" '
    f'"{HBA_LINE}" >> "$1"'
)


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def data_directory(spec: PostgresService) -> str:
    """Where the image keeps the cluster: ``PGDATA`` or the official image's default."""
    return spec.env("PGDATA") or DEFAULT_PGDATA


def data_volume(spec: PostgresService) -> str:
    """The profile's named volume mounted at the data directory."""
    target = data_directory(spec).rstrip("/")
    for mount in spec.volumes:
        if mount.is_named_volume and mount.target.rstrip("/") in (target, "/var/lib/postgresql"):
            return mount.source
    raise OperationFailed(
        f"services.postgres.volumes has no named volume at {target}; a read replica needs one "
        "for its own copy of the data"
    )


async def _psql(backend: DockerContainers, primary_id: str, spec: PostgresService, sql: str) -> str:
    """Run SQL (sent on stdin) on the primary as the superuser; stdout, or a clear error."""
    client = await backend.client()
    result = await backend.call(
        transfers.exec_in,
        client.api,
        primary_id,
        [
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            spec.user,
            "-d",
            spec.database,
        ],
        sql.encode(),
        "",
        {"PGPASSWORD": spec.password.get_secret_value()},  # exec env: not in docker inspect
        timeout=60,
    )
    if not result.ok:
        raise OperationFailed(
            "preparing the primary for replicas failed: "
            + redact(result.stderr.decode("utf-8", "replace").strip()[-300:])
        )
    return result.stdout.decode("utf-8", "replace").strip()


async def prepare_primary(backend: DockerContainers, primary: dict[str, Any]) -> None:
    """Let the primary's network replicate from it, as the replication role."""
    spec = enabled_service(backend.profile, "postgres")
    assert isinstance(spec, PostgresService)
    user, password = spec.replication_credentials()
    hba_file = await _psql(backend, primary["Id"], spec, "SHOW hba_file;")
    client = await backend.client()
    result = await backend.call(
        transfers.exec_in,
        client.api,
        primary["Id"],
        ["sh", "-c", _HBA_SCRIPT, "sh", hba_file],
        timeout=30,
    )
    if not result.ok:
        raise OperationFailed(
            f"could not add the replication rule to {hba_file}: "
            + redact(result.stderr.decode("utf-8", "replace").strip()[-200:])
        )
    statements = []
    if user != spec.user:
        role = user.replace('"', '""')
        statements.append(
            f"""DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_sql_literal(user)}) THEN
    CREATE ROLE "{role}" WITH REPLICATION LOGIN;
  END IF;
END $$;
ALTER ROLE "{role}" WITH REPLICATION LOGIN PASSWORD {_sql_literal(password.get_secret_value())};"""
        )
    statements.append("SELECT pg_reload_conf();")
    await _psql(backend, primary["Id"], spec, "\n".join(statements))


def _fresh_volume_blocking(backend: DockerContainers, client: Any, name: str, short: str) -> None:
    """An empty volume ``name``: a stale copy from an earlier replica cannot resume safely."""
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        client.api.remove_volume(name, force=True)
    client.api.create_volume(
        name,
        driver="local",
        labels=spec_mod.resource_labels(backend.project, **{spec_mod.VOLUME: short}),
    )


def _basebackup_blocking(
    backend: DockerContainers,
    client: Any,
    image: str,
    network: str | None,
    volume: str,
    host: str,
    port: int,
    secret_line: bytes,
    number: int,
    datadir: str,
) -> None:
    api = client.api
    spec = enabled_service(backend.profile, "postgres")
    assert isinstance(spec, PostgresService)
    repl_user, _ = spec.replication_credentials()
    labels = spec_mod.oneoff_labels(backend.project, **{spec_mod.SERVICE: spec.name})
    networking = (
        api.create_networking_config({network: api.create_endpoint_config()}) if network else None
    )
    container = api.create_container(
        image,
        entrypoint=["sh", "-c", _BASEBACKUP_SCRIPT, "sh"],
        command=[
            host,
            str(port),
            repl_user,
            datadir,
            spec_mod.container_name(backend.project, spec.name, number),
        ],
        name=f"{backend.project}-{spec.name}-basebackup-{number}",
        user="postgres",
        labels=labels,
        stdin_open=True,
        host_config=api.create_host_config(binds={volume: {"bind": datadir, "mode": "rw"}}),
        networking_config=networking,
    )["Id"]
    try:
        transfers.run_with_stdin(api, container, secret_line)
        outcome = api.wait(container, timeout=BASEBACKUP_TIMEOUT)
        code = outcome.get("StatusCode", -1)
        if code != 0:
            output = api.logs(container, tail=5).decode("utf-8", "replace").strip()
            raise OperationFailed(
                f"pg_basebackup for read replica {number} failed (exit {code}): "
                f"{redact(output)[-400:]}"
            )
    finally:
        with contextlib.suppress(Exception):
            api.remove_container(container, v=True, force=True)


async def create_standby(
    backend: DockerContainers,
    primary: dict[str, Any],
    number: int,
    resources: ResourcePlan,
    network: str | None,
    progress: ProgressCallback,
) -> str:
    """Make instance ``number`` a hot standby of ``primary``; returns the started container's id."""
    spec = enabled_service(backend.profile, "postgres")
    assert isinstance(spec, PostgresService)
    client = await backend.client()
    progress(Progress(f"prepare the primary for read replica {number}", service="postgres"))
    await prepare_primary(backend, primary)
    volume_short = data_volume(spec)
    volume = spec_mod.volume_name(backend.project, volume_short, number)
    await backend.call(_fresh_volume_blocking, backend, client, volume, f"{volume_short}-{number}")
    port = spec.ports[0].container_port if spec.ports else 5432
    _, password = spec.replication_credentials()
    secret_line = (_pgpass_field(password.get_secret_value()) + "\n").encode()
    progress(Progress(f"pg_basebackup into {volume}", service="postgres"))
    await backend.call(
        _basebackup_blocking,
        backend,
        client,
        (primary.get("Config") or {}).get("Image") or spec.image,
        network,
        volume,
        spec.name,
        port,
        secret_line,
        number,
        data_directory(spec),
        timeout=BASEBACKUP_TIMEOUT + 60,
    )
    plan = backend.plan(
        "postgres", number, resources=resources, extra_args=("-c", "hot_standby=on"), role="replica"
    )
    return await backend.start_instance("postgres", plan, None, progress, network)
