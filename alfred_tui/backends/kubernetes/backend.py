"""The Kubernetes backend: the profile's databases as StatefulSets, through the official client.

What an operator gets on the bastion, without kubectl:

- ``deploy`` renders the manifests (:mod:`.manifests`) with the real
  credentials in the Secret and server-side applies every object (field
  manager ``alfred-tui``, forced, so re-running is idempotent and the profile
  wins), then waits until every StatefulSet has rolled out and is ready;
- ``status`` reads StatefulSets, pods (phase, readiness, restarts, last
  termination) and Warning events in three list calls, retried with backoff;
- ``scale`` goes through the ``scale`` subresource (PostgreSQL's count
  includes its primary: ``scale postgres 3`` = primary + 2 read replicas),
  ``resize`` patches requests and limits (a rolling restart, as on any
  StatefulSet), ``restart`` sets ``kubectl.kubernetes.io/restartedAt`` as
  ``kubectl rollout restart`` does;
- ``teardown`` deletes what ``deploy`` created and keeps the
  PersistentVolumeClaims (and so the data) unless ``remove_volumes``;
- ``logs`` follows every pod at once, merged by time; ``exec`` runs
  ``pg_dump`` or ``redis-cli`` through the exec subresource; ``endpoint``
  opens a loopback port-forward (:mod:`.tunnel`) so probes and panes
  reach a database with no ``kubectl port-forward``;
- ``events`` watches pods and Events, reconnecting with backoff.

The ``kubernetes`` package is imported only when a method first needs the
cluster; every blocking call runs in a thread under a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from alfred_tui.backends.base import (
    BackendEvent,
    Forbidden,
    NotDeployed,
    OperationFailed,
    Progress,
    ProgressCallback,
    ServiceStatus,
    no_progress,
)
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.core import queue_get
from alfred_tui.backends.kubernetes.errors import Operation
from alfred_tui.backends.kubernetes.exec import KubernetesExec
from alfred_tui.backends.kubernetes.failover import KubernetesFailover
from alfred_tui.backends.kubernetes.logs import KubernetesLogs
from alfred_tui.backends.kubernetes.scaling import KubernetesScaling
from alfred_tui.backends.kubernetes.usage import KubernetesUsage
from alfred_tui.config.models import ServiceKind

if TYPE_CHECKING:
    from alfred_tui.backends.kubernetes.pgdata import PodData
    from alfred_tui.config.models import Profile

_APPLY = "application/apply-patch+yaml"


class KubernetesBackend(
    KubernetesScaling, KubernetesLogs, KubernetesUsage, KubernetesFailover, KubernetesExec
):
    """The databases as StatefulSets in one namespace of a cluster.

    Each capability lives in the module of its job (:mod:`.scaling`,
    :mod:`.exec`, :mod:`.logs`, :mod:`.usage`, :mod:`.failover`, on
    :mod:`.core`); this class adds the lifecycle, status and events.
    """

    name = "kubernetes"

    # --- lifecycle -------------------------------------------------------------------

    async def _apply(self, obj: dict[str, Any]) -> None:
        from alfred_tui.backends.kubernetes.manifests import Manifest  # noqa: F401 - for readers

        api = await self.connected()
        kind, name = obj["kind"], obj["metadata"]["name"]
        functions: dict[str, tuple[Callable[..., Any], str, bool]] = {
            "Namespace": (api.core.patch_namespace, "namespaces", False),
            "Secret": (api.core.patch_namespaced_secret, "secrets", True),
            "ConfigMap": (api.core.patch_namespaced_config_map, "configmaps", True),
            "Service": (api.core.patch_namespaced_service, "services", True),
            "StatefulSet": (api.apps.patch_namespaced_stateful_set, "statefulsets.apps", True),
            "NetworkPolicy": (
                api.networking.patch_namespaced_network_policy,
                "networkpolicies.networking.k8s.io",
                True,
            ),
        }
        function, resource, namespaced = functions[kind]
        args = (name, api.namespace) if namespaced else (name,)
        op = Operation("apply", resource, api.namespace if namespaced else None, name)
        await api.call(
            op,
            function,
            *args,
            obj,
            field_manager=names.FIELD_MANAGER,
            force=True,
            _content_type=_APPLY,
        )

    async def deploy(
        self,
        profile: Profile | None = None,
        services: Sequence[ServiceKind] | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        from alfred_tui.backends.kubernetes.manifests import ManifestBuilder

        chosen = profile or self.profile
        wanted = list(services or [kind for kind, _ in chosen.services.enabled()])
        for kind in wanted:
            enabled_service(chosen, kind)
        for kind in ("postgres", "redis"):
            failed_over = await self.failed_over(kind) if kind in wanted else None
            if failed_over is not None:
                raise OperationFailed(
                    f"{kind} failed over to pod {failed_over.get('primary')}: applying the "
                    f"manifests would point its Services back at {names.first_pod(kind)}, the "
                    "fenced old primary; restore the layout by hand first "
                    f"(docs/replication.md), then remove the {names.FAILED_OVER} annotation"
                )
        objects = ManifestBuilder(chosen, self.namespace).build(secrets="values", services=wanted)
        total = len(objects) + 1
        for index, obj in enumerate(objects):
            label = f"apply {obj['kind']}/{obj['metadata']['name']}"
            progress(
                Progress(
                    label, index, total, service=names.service_of_object(obj["metadata"]["name"])
                )
            )
            await self._apply(obj)
        await self.wait_rolled_out(wanted, progress, step=len(objects), total=total)

    async def describe_teardown(self, remove_volumes: bool = False) -> list[str]:
        statefulsets = sorted(await self.statefulsets())
        where = f"namespace {self.namespace} ({(await self.connected()).target.context})"
        lines = [
            f"delete StatefulSets {', '.join(statefulsets) or '(none deployed)'}, their "
            f"Services, NetworkPolicies and the {names.SECRET_NAME} Secret in {where}"
        ]
        claims = await self.claims()
        listed = ", ".join(f"{c['metadata']['name']} ({_claim_size(c)})" for c in claims)
        if remove_volumes:
            lines.append(f"delete the PersistentVolumeClaims {listed or '(none)'} and their data")
        else:
            lines.append(f"keep the PersistentVolumeClaims {listed or '(none)'}")
        return lines

    async def _export_volumes(self, safety_dir: Path, progress: ProgressCallback) -> None:
        """Copy each claim's data folder to ``safety_dir`` as ``<claim>.tar``.

        Called once the pods have stopped, so the copy is of files no server is
        writing (a copy from a running PostgreSQL failed with "file changed as
        we read it", and would not be consistent anyway). Each claim is read by
        a pod of its own (a pod with several claims may not be schedulable:
        their volumes can be on different nodes); claims of services the
        profile does not enable are listed in ``NOT-COPIED.txt``.
        """
        claims = sorted(c["metadata"]["name"] for c in await self.claims())
        gate = asyncio.Semaphore(3)
        missing: list[str] = []

        async def copy(claim: str) -> None:
            kind = names.service_of_object(claim)
            if kind is None or self.profile.service(kind) is None:
                missing.append(claim)
                return
            async with gate:
                progress(Progress(f"copy {claim} to {safety_dir}", service=kind))
                try:
                    await self.copy_claim(claim, kind, safety_dir / f"{claim}.tar")
                except OperationFailed as exc:
                    raise OperationFailed(
                        f"{exc.one_line()} (alfred-tui up starts the databases again)"
                    ) from None

        await asyncio.gather(*(copy(claim) for claim in claims))
        if missing:
            (safety_dir / "NOT-COPIED.txt").write_text(
                "These claims belong to no service of the profile, so they were not copied:\n"
                + "".join(f"{name}\n" for name in sorted(missing))
            )

    async def teardown(
        self,
        remove_volumes: bool = False,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        from alfred_tui.backends.kubernetes.manifests import ManifestBuilder

        api = await self.connected()
        objects = ManifestBuilder(self.profile, self.namespace).build(
            secrets="values", include_namespace=False
        )
        deleters = {
            "Secret": (api.core.delete_namespaced_secret, "secrets"),
            "ConfigMap": (api.core.delete_namespaced_config_map, "configmaps"),
            "Service": (api.core.delete_namespaced_service, "services"),
            "StatefulSet": (api.apps.delete_namespaced_stateful_set, "statefulsets.apps"),
            "NetworkPolicy": (
                api.networking.delete_namespaced_network_policy,
                "networkpolicies.networking.k8s.io",
            ),
        }
        order = ["StatefulSet", "NetworkPolicy", "Service", "ConfigMap", "Secret"]
        ordered = sorted(objects, key=lambda o: order.index(o["kind"]))
        total = len(ordered) + 2
        for index, obj in enumerate(ordered):
            name = obj["metadata"]["name"]
            function, resource = deleters[obj["kind"]]
            progress(Progress(f"delete {obj['kind']}/{name}", index, total))
            with contextlib.suppress(NotDeployed):
                await api.call(
                    api.op("delete", resource, name),
                    function,
                    name,
                    api.namespace,
                    propagation_policy="Background",
                )
        await self._wait_pods_gone(progress, len(ordered), total)
        if remove_volumes and safety_dir is not None:
            await self._export_volumes(safety_dir, progress)
        if remove_volumes:
            for claim in await self.claims():
                name = claim["metadata"]["name"]
                progress(Progress(f"delete PersistentVolumeClaim/{name}", total - 1, total))
                with contextlib.suppress(NotDeployed):
                    await api.call(
                        api.op("delete", "persistentvolumeclaims", name),
                        api.core.delete_namespaced_persistent_volume_claim,
                        name,
                        api.namespace,
                    )
            await self._wait_claims_gone(progress, total - 1, total)
        progress(Progress("removed", total, total))

    async def _wait_claims_gone(self, progress: ProgressCallback, step: int, total: int) -> None:
        """Wait until the deleted claims are gone, not just Terminating.

        A claim stays Terminating while a pod still uses it (PVC protection);
        ``up`` right after would then bind new pods to a claim on its way
        out, which the scheduler refuses.
        """
        await self.wait_gone(
            self.claims,
            "claim(s) to go",
            "PersistentVolumeClaims still Terminating",
            " (a pod outside alfred-tui may still use them: kubectl describe pvc)",
            progress,
            step,
            total,
        )

    async def _wait_pods_gone(self, progress: ProgressCallback, step: int, total: int) -> None:
        await self.wait_gone(
            self.pods, "pod(s) to stop", "pods still running", "", progress, step, total
        )

    # --- status ----------------------------------------------------------------------

    async def status(self) -> list[ServiceStatus]:
        from alfred_tui.backends.kubernetes.status import service_status

        # Every read ends before a failure is raised: a call still running in its thread
        # when the caller closes the client (and the process exits) aborted the
        # interpreter at exit (SIGABRT, exit -6 instead of 2, seen on a 401).
        enabled = list(self.profile.services.enabled())
        reads: list[Any] = [self.statefulsets(), self.pods(), self.cluster_events()]
        if any(kind == "redis" for kind, _ in enabled):
            reads.append(self._redis_roles_if_readable())  # the master after a failover
        answers = await asyncio.gather(*reads, return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        statefulsets, pods, events = cast(list[Any], answers[:3])
        roles = cast(dict[str, str] | None, answers[3]) if len(answers) > 3 else None
        result = []
        for kind, spec in enabled:
            tunnel = self.tunnels.get(kind)
            local = tunnel.endpoint.address() if tunnel and tunnel.endpoint else None
            result.append(
                service_status(kind, spec, self.namespace, statefulsets, pods, events, local, roles)
            )
        return result

    async def _redis_roles_if_readable(self) -> dict[str, str] | None:
        """The Redis roles ConfigMap, or None where this account may not read it (the
        roles then show as unknown rather than as redis-0's)."""
        try:
            return await self.redis_roles()
        except Forbidden:  # 403 on configmaps (a 401 fails the other reads too)
            return None

    # --- point-in-time recovery ---------------------------------------------------------

    def postgres_data_directory(self) -> PodData:
        """PostgreSQL's data directory and WAL archive, on the primary's claim
        (PostgresDataAccess)."""
        from alfred_tui.backends.kubernetes.pgdata import PodData

        return PodData(self)

    # --- events ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[BackendEvent]:
        """Pod changes and cluster Events as they happen; watches reconnect with backoff."""
        from alfred_tui.backends.kubernetes.watching import EventWatcher

        watcher = EventWatcher(
            await self.connected(), self.profile, server_timeout=self.watch_timeout
        )
        watcher.start()
        try:
            while True:
                item = await queue_get(watcher.queue, None)
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            watcher.stop()


def _claim_size(claim: Any) -> str:
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    return str(requests.get("storage", "?"))
