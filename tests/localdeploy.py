"""Real local-backend deployments for tests: free ports, a data dir PostgreSQL can reach.

``pytest``'s ``tmp_path`` lives under ``/tmp/pytest-of-root`` (mode 0700) when
the tests run as root, and PostgreSQL runs as the ``postgres`` user, who
cannot enter it. :func:`public_temp_dir` makes a 0755 folder instead.
:class:`LocalDeployment` writes a profile extending the built-in ``local``
one (ports and data dir only) and, on exit, stops whatever it started and
deletes the folder, even when a test failed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from servers import free_port


def public_temp_dir(prefix: str = "alfred-local-") -> Path:
    """A fresh temporary folder every user may traverse (0755)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def _run_blocking(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to the end and return its value, also from inside a running loop
    (an async test)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class LocalDeployment:
    """A profile for the local backend on free ports, in its own folder."""

    base: Path = field(default_factory=public_temp_dir)
    name: str = "local-test"
    postgres_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    overrides: dict[str, Any] = field(default_factory=dict)
    """Profile fields merged over the generated ones (mappings merge, lists replace)."""

    def __post_init__(self) -> None:
        self.profile_path = self.base / f"{self.name}.yaml"
        self.write_profile()

    @property
    def data_dir(self) -> Path:
        """The profile's folder (``local.data_dir`` / profile name)."""
        return self.base / "data" / self.name

    def write_profile(self, overrides: dict[str, Any] | None = None) -> Path:
        """(Re)write the profile file; ``overrides`` replaces the previous ones."""
        if overrides is not None:
            self.overrides = overrides
        document = {
            "extends": "local",
            "name": self.name,
            "local": {"data_dir": str(self.base / "data")},
            "services": {
                "postgres": {"ports": [f"127.0.0.1:{self.postgres_port}:5432"]},
                "redis": {"ports": [f"127.0.0.1:{self.redis_port}:6379"]},
            },
        }
        text = yaml.safe_dump(_merge(document, self.overrides), sort_keys=False)
        self.profile_path.write_text(text)
        return self.profile_path

    def loaded(self):  # type: ignore[no-untyped-def]
        """The profile, loaded as the CLI would."""
        from alfred_tui.config.loader import load_profile

        return load_profile(str(self.profile_path))

    def backend(self):  # type: ignore[no-untyped-def]
        """A fresh LocalBackend on this profile."""
        from alfred_tui.backends.local.backend import LocalBackend

        return LocalBackend(self.loaded())

    def up(self) -> None:
        """Deploy every service and create the profile's collections, as ``alfred-tui up``."""
        from alfred_tui.backends.base import no_progress
        from alfred_tui.cli.lifecycle import after_deploy

        async def deploy() -> None:
            backend = self.backend()
            await backend.deploy()
            await after_deploy(backend, no_progress)

        _run_blocking(deploy)

    def postgres_value(self, sql: str) -> Any:
        """The first value ``sql`` returns, as the profile's superuser, on a connection of its
        own (blocking): for reading the server's statistics from outside."""
        import asyncpg

        async def fetch() -> Any:
            environment = self.loaded().profile.postgres.environment
            connection = await asyncpg.connect(
                host="127.0.0.1",
                port=self.postgres_port,
                user="postgres",
                password=environment["POSTGRES_PASSWORD"].get_secret_value(),
                database="postgres",
            )
            try:
                return await connection.fetchval(sql)
            finally:
                await connection.close()

        return _run_blocking(fetch)

    def down(self) -> None:
        """Stop every server (blocking); data is kept."""
        _run_blocking(lambda: self.backend().teardown())

    def close(self) -> None:
        """Stop what runs and delete the folder."""
        try:
            if self.data_dir.exists():
                self.down()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> LocalDeployment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def embedded_qdrant_path(profile_name: str) -> Path:
    """Where the local backend keeps a profile's embedded Qdrant store (default data dir)."""
    return Path(os.environ["ALFRED_TUI_DATA_DIR"]) / profile_name / "qdrant"


def create_embedded_collections(path: Path, names: list[str]) -> None:
    """Test setup: an embedded store at ``path`` holding ``names`` (1536-d, Cosine)."""
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(path))
    try:
        for name in names:
            client.create_collection(
                name, vectors_config=models.VectorParams(size=1536, distance=models.Distance.COSINE)
            )
    finally:
        client.close()
