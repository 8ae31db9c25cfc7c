"""Backends: the engines that run the databases, behind one contract (:mod:`.base`).

:func:`create_backend` imports the chosen engine's module on demand, so the
Docker and Kubernetes SDKs are loaded only by the commands that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alfred_tui.errors import UsageError

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend
    from alfred_tui.config.loader import LoadedProfile

BACKEND_NAMES = ("local", "docker", "kubernetes")


def create_backend(loaded: LoadedProfile, name: str | None = None, **options: Any) -> Backend:
    """The backend ``name`` (default: the profile's) for ``loaded``.

    ``options`` are engine-specific (``context=``/``namespace=`` for Kubernetes).
    """
    chosen = name or loaded.profile.backend
    if chosen == "local":
        from alfred_tui.backends.local.backend import LocalBackend

        return LocalBackend(loaded, **options)
    if chosen == "docker":
        from alfred_tui.backends.docker.backend import DockerBackend

        return DockerBackend(loaded, **options)
    if chosen == "kubernetes":
        from alfred_tui.backends.kubernetes.backend import KubernetesBackend

        return KubernetesBackend(loaded, **options)
    raise UsageError(f"unknown backend '{chosen}' (choose one of {', '.join(BACKEND_NAMES)})")
