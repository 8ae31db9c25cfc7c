"""Run the security audit: profile checks, live checks, manifest checks.

Profile checks always run. Live checks run when asked (the default) and
reach the servers through the backend's endpoints, concurrently, under the
timeout. Kubernetes checks run on manifests given with ``--manifests``;
without them a Kubernetes profile gets those checks marked *pending* (the
manifests alfred-tui renders for Kubernetes are not readable here yet), and
other profiles get them *skipped*.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from alfred_tui.audit.live_checks import audit_postgres, audit_redis
from alfred_tui.audit.manifest_checks import (
    MANIFEST_CHECKS,
    MANIFEST_TITLES,
    Manifest,
)
from alfred_tui.audit.model import AuditReport, CheckResult, CheckStatus
from alfred_tui.audit.profile_checks import (
    PROFILE_CHECKS,
    check_postgres_profile,
    check_redis_profile,
)
from alfred_tui.config.loader import LoadedProfile

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend

RENDERED = "manifests rendered from the profile"

PENDING_NOTE = (
    "needs the Kubernetes manifests: alfred-tui cannot render them in this build yet; "
    "pass --manifests FILE_OR_DIR (rendered manifests or 'kubectl get ... -o yaml' output)"
)


async def run_audit(
    loaded: LoadedProfile,
    backend: Backend | None,
    *,
    timeout: float = 5.0,
    manifests: list[Manifest] | None = None,
) -> AuditReport:
    """Every check; live ones only when ``backend`` is given."""
    checks: list[CheckResult] = [check(loaded) for check in PROFILE_CHECKS]
    profile = loaded.profile
    if backend is not None:
        tasks: list[Awaitable[CheckResult | tuple[CheckResult, CheckResult]]] = []
        if profile.redis is not None:
            tasks.append(audit_redis(loaded, backend, timeout))
        if profile.postgres is not None:
            tasks.append(audit_postgres(loaded, backend, timeout))
        for result in await asyncio.gather(*tasks):
            checks.extend(result if isinstance(result, tuple) else (result,))
    else:
        checks.append(check_redis_profile(loaded))
        ssl, trust = check_postgres_profile(loaded)
        if profile.postgres is not None:
            checks.append(
                CheckResult(
                    "postgres-ssl",
                    "PostgreSQL TLS (ssl)",
                    "failed" if ssl else "passed",
                    "profile",
                    findings=tuple(ssl),
                )
            )
            checks.append(
                CheckResult(
                    "postgres-trust",
                    "PostgreSQL trust authentication (pg_hba)",
                    "failed" if trust else "passed",
                    "profile",
                    "profile only: pg_hba.conf is checked on the live server",
                    tuple(trust),
                )
            )
    checks.extend(_kubernetes_checks(loaded, manifests, backend))
    return AuditReport(
        profile=profile.name,
        policy=profile.policy,
        backend=backend.name if backend is not None else profile.backend,
        checked_at=datetime.now(UTC),
        checks=tuple(checks),
    )


def _kubernetes_checks(
    loaded: LoadedProfile, manifests: list[Manifest] | None, backend: Backend | None
) -> list[CheckResult]:
    kubernetes = (backend.name if backend is not None else loaded.profile.backend) == "kubernetes"
    if manifests is None and kubernetes:
        manifests = rendered_manifests(loaded)
    if manifests is not None:
        return [check(loaded, manifests) for check in MANIFEST_CHECKS]
    status: CheckStatus = "pending" if kubernetes else "skipped"
    note = PENDING_NOTE if kubernetes else "the profile does not deploy to Kubernetes"
    return [
        CheckResult(check_id, title, status, "manifests", note)
        for check_id, title in MANIFEST_TITLES.items()
    ]


def rendered_manifests(loaded: LoadedProfile) -> list[Manifest] | None:
    """The Kubernetes objects alfred-tui would apply for this profile, if it can render them.

    The renderer (``alfred_tui.backends.kubernetes.manifests``, issue 5) is imported
    when present; Secrets are rendered without values (``omit``), so no
    secret is ever held here: the profile checks already judge the values.
    """
    try:
        from alfred_tui.backends.kubernetes.manifests import render_manifests
    except ImportError:
        return None
    objects = render_manifests(loaded.profile, secrets="omit")
    return [Manifest(RENDERED, dict(item)) for item in objects]
