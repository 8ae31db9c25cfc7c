"""A session: one profile on one backend, read-only or not, as the UI holds it.

Switching profile or backend builds a new session and closes the old one;
nothing of the old target (connections, history, backoff) leaks into the
new one. Opening is synchronous and cheap (read YAML, pick the backend
class); anything that talks to an engine happens later, in workers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from alfred_tui.backends.base import Backend, TargetInfo
from alfred_tui.backends.capabilities import (
    AccessChecking,
    Capability,
    capabilities,
    capable,
)
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.monitor import ServiceMonitor
from alfred_tui.control.sources import LiveSource, OverviewSource
from alfred_tui.control.tap import NO_TAP, DataTap, TappedTroubleshoot
from alfred_tui.control.troubleshoot_view import (
    TroubleshootFactory,
    TroubleshootSource,
    live_troubleshoot,
)

if TYPE_CHECKING:
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import Profile
    from alfred_tui.operator_journal import JournaledAction

DEFAULT_PROFILE = "local"

SourceFactory = Callable[[Backend, float], OverviewSource]
"""Builds the overview's data source from the backend and the probe timeout."""


class Closeable(Protocol):
    """Something holding connections to the session's target."""

    def close(self) -> Awaitable[None]:
        """Release them."""
        ...


R = TypeVar("R", bound=Closeable)


@dataclass
class Session:
    """What every pane works on."""

    loaded: LoadedProfile
    backend: Backend
    readonly: bool = False
    clock: Callable[[], float] = time.time
    source_factory: SourceFactory = LiveSource
    probe_timeout: float = 5.0
    backoff_cap: float = 30.0
    generation: int = 0
    """Increases with every switch; messages from an older session are dropped."""
    troubleshoot_factory: TroubleshootFactory = live_troubleshoot
    """Builds the troubleshooting panes' source (runbooks, activity, audit)."""
    tap: DataTap = NO_TAP
    """Where the panes' readings also go (the black-box recorder; nothing by default)."""
    _monitor: ServiceMonitor | None = field(default=None, init=False)
    resources: dict[str, Closeable] = field(default_factory=dict, init=False)
    """Data sources of the panes (migrations, keyspace, collections), closed with the session."""
    _troubleshoot: TroubleshootSource | None = field(default=None, init=False)

    @property
    def profile(self) -> Profile:
        """The loaded profile."""
        return self.loaded.profile

    @property
    def profile_name(self) -> str:
        """The profile's name."""
        return self.loaded.profile.name

    @property
    def backend_name(self) -> str:
        """``local``, ``docker`` or ``kubernetes``."""
        return self.backend.name

    @property
    def refresh_seconds(self) -> float:
        """Time between the end of one poll and the start of the next (profile ``ui``)."""
        return max(0.05, self.profile.ui.refresh_seconds)

    @property
    def services(self) -> list[ServiceKind]:
        """The profile's enabled services, in the spec's order."""
        return [kind for kind, _ in self.profile.services.enabled()]

    @property
    def recording(self) -> bool:
        """Whether a black-box recorder listens to this session's readings (then the
        overview keeps polling while another pane is shown: an outage must be recorded)."""
        return self.tap is not NO_TAP

    def journaled(
        self, action: str, *, plan: Sequence[str] = (), service: str | None = None
    ) -> AbstractContextManager[JournaledAction]:
        """:func:`alfred_tui.operator_journal.journaled` for this session's profile and backend."""
        from alfred_tui.operator_journal import journaled

        return journaled(
            action, profile=self.profile_name, backend=self.backend_name, plan=plan, service=service
        )

    def target(self) -> TargetInfo:
        """The header's line (may read engine config files: call it from a worker)."""
        return self.backend.target()

    async def write_access_problem(self) -> str | None:
        """Why the account may only look at this target (a cluster's RBAC), or None."""
        checking = capable(self.backend, None, AccessChecking)
        return None if checking is None else await checking.write_access_problem()

    def capabilities(self, kind: ServiceKind) -> frozenset[Capability]:
        """What the backend can do for ``kind``."""
        return capabilities(self.backend, kind)

    def services_with(self, capability: Capability) -> list[ServiceKind]:
        """Enabled services the backend can do ``capability`` for."""
        return [kind for kind in self.services if capability in self.capabilities(kind)]

    @property
    def monitor(self) -> ServiceMonitor:
        """The overview's monitor; created on first use and kept for the session."""
        if self._monitor is None:
            self._monitor = ServiceMonitor(
                source=self.source_factory(self.backend, self.probe_timeout),
                profile=self.profile_name,
                backend=self.backend_name,
                services=self.services,
                refresh_seconds=self.refresh_seconds,
                backoff_cap=self.backoff_cap,
                clock=self.clock,
                on_poll=lambda snapshot: self.tap.overview(snapshot),
            )
        return self._monitor

    def resource(self, key: str, factory: Callable[[Session], R]) -> R:
        """The pane data source ``key`` of this session, made by ``factory`` on first use.

        Owned by the session, so switching target closes it with everything
        else of the old target and no connection leaks into the new one.
        """
        found = self.resources.get(key)
        if found is None:
            found = self.resources[key] = factory(self)
        return found  # type: ignore[return-value]  # a key names one factory, so this is its R; the dict shared by every key can only say Closeable

    @property
    def troubleshoot(self) -> TroubleshootSource:
        """Runbooks, activity and audit; created on first use and kept for the session."""
        if self._troubleshoot is None:
            source = self.troubleshoot_factory(self.loaded, self.backend, self.readonly)
            self._troubleshoot = TappedTroubleshoot(source, lambda: self.tap)
        return self._troubleshoot

    async def close(self) -> None:
        """Close probes, troubleshooting, the panes' data sources and the backend."""
        monitor, self._monitor = self._monitor, None
        troubleshoot, self._troubleshoot = self._troubleshoot, None
        resources, self.resources = list(self.resources.values()), {}
        try:
            if monitor is not None:
                await monitor.close()
            if troubleshoot is not None:
                await troubleshoot.close()
            for resource in resources:
                with contextlib.suppress(Exception):
                    await resource.close()
        finally:
            await self.backend.close()


def open_session(
    profile: str | None, backend: str | None = None, readonly: bool = False
) -> Session:
    """Load ``profile`` (a name or a path) and choose its backend.

    Raises :class:`~alfred_tui.errors.ProfileError` or
    :class:`~alfred_tui.errors.UsageError` with a message naming what is wrong.
    """
    from alfred_tui.backends import BACKEND_NAMES, create_backend
    from alfred_tui.config.loader import load_profile
    from alfred_tui.errors import UsageError

    loaded = load_profile(profile or DEFAULT_PROFILE)
    name = backend or loaded.profile.backend
    if name not in BACKEND_NAMES:
        raise UsageError(f"--backend must be one of {', '.join(BACKEND_NAMES)}, not '{name}'")
    try:
        engine = create_backend(loaded, name)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("alfred_tui.backends"):
            raise
        raise UsageError(f"the {name} backend is not part of this build of alfred-tui") from None
    return Session(loaded, engine, readonly=readonly)
