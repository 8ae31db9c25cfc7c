"""The stand-in's kubelet: every pod bound to its node runs as real containers on Docker.

One :class:`PodWorker` per pod does what a kubelet's pod worker does, as
Kubernetes defines it (what it does not do is listed in docs/kubernetes.md):

- the **sandbox**: a pause container holding the pod's network namespace on
  the stand-in's own Docker network; the pod's containers join it (one IP,
  ``localhost`` between them). Pods and Services are found by their
  in-cluster DNS names: the pause container carries the aliases
  ``<hostname>.<subdomain>.<ns>.svc.cluster.local`` and
  ``<service>.<ns>.svc.cluster.local`` for every Service selecting the pod
  when it starts, and the search path ``<ns>.svc.cluster.local
  svc.cluster.local cluster.local``, so ``postgres-primary`` and
  ``qdrant-0.qdrant.<ns>.svc.cluster.local`` resolve as in a cluster
  (Docker's embedded DNS answers them);
- **volumes**: a PersistentVolumeClaim is a named Docker volume, created on
  first use and removed only when the claim object is (never with a pod);
  ``emptyDir`` a volume of the pod's own; ``configMap`` and ``secret``
  volumes are files written into the container before it starts (modes from
  ``defaultMode``/``items``); ``subPath`` mounts one file or folder;
  ``fsGroup`` owns the volumes and joins the containers' groups;
- **images** through :mod:`.images` (the test images stand in for the
  official ones); an image the engine lacks leaves the container waiting in
  ``ErrImagePull`` then ``ImagePullBackOff``, retried with back-off;
- **init containers** run in order, each to completion, before the main
  containers; a failing one is restarted with back-off (``CrashLoopBackOff``
  in ``initContainerStatuses``: kubectl's ``Init:CrashLoopBackOff``);
- **containers**: ``command``/``args``/``env`` as :mod:`.pod_spec` resolves
  them (``CreateContainerConfigError`` when a Secret or key is missing, retried),
  memory and CPU limits on the container, the user from ``securityContext``;
  an exit restarts the container per ``restartPolicy``, the first time at
  once, then with back-off from 10 s doubling to 5 minutes
  (``CrashLoopBackOff``); ``restartCount``, ``lastState.terminated`` (exit
  code, ``OOMKilled`` when the memory limit killed it, ``Error``,
  ``Completed``) and the state of each container go to the pod's status;
- **probes** (:mod:`.probes`): startup, then liveness (a failure restarts the
  container) and readiness (decides ``Ready``);
- **graceful deletion**: a pod with a ``deletionTimestamp`` has each
  container stopped with its image's stop signal, then SIGKILL after the
  grace period, its sandbox and ``emptyDir`` removed, and is then removed
  from the API;
- ``pods/log`` (``previous`` included), ``pods/exec`` and ``pods/portforward``
  reach the real container (port-forward connects to the pod's IP from this
  host, which reaches Docker's bridge networks).

A restarted container is the same Docker container started again (its
writable layer kept), where a kubelet creates a new one: with the vfs storage
driver a new container copies the whole image. Every container, volume and
network made carries the label ``org.alfred-tui.kube-standin=<instance>``;
:meth:`DockerKubelet.close` removes exactly those.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from . import images, pod_spec, probes
from .controllers import PODS, PVCS, is_terminating
from .docker_engine import DockerEngine, EngineError, parse_docker_time, tar_of
from .resources import find_type
from .server import ApiError, now, rfc3339

if TYPE_CHECKING:
    from .server import StandInApiServer

Obj = dict[str, Any]

INSTANCE_LABEL = "org.alfred-tui.kube-standin"
SERVICES = find_type("", "v1", "services")
SECRETS = find_type("", "v1", "secrets")
CONFIGMAPS = find_type("", "v1", "configmaps")
assert SERVICES and SECRETS and CONFIGMAPS

BACKOFF_START = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0
"""A container that ran this long starts its back-off over (the kubelet's 2 x 5 minutes)."""
CONFIG_RETRY = 2.0
"""Seconds between attempts at a container whose Secret or ConfigMap is missing."""
# A failed engine call (a loaded machine's Docker times out or answers 500) is retried, as a
# kubelet's sync loop retries: from this delay, doubling to ENGINE_RETRY_MAX.
ENGINE_RETRY = 1.0
ENGINE_RETRY_MAX = 30.0
ENGINE_FAILURES = (EngineError, OSError, asyncio.TimeoutError, aiohttp.ClientError)
KUBELET = "kubelet"
TERMINATION_FLOOR = 1.0
"""Seconds a deleted pod stays at least (the kubelet's sync and status report)."""


def _docker_time(text: str | None) -> str | None:
    moment = parse_docker_time(text or "")
    return rfc3339(moment) if moment else None


@dataclass
class ContainerRun:
    """One container of a pod: its Docker container and what the pod's status says of it."""

    spec: Obj
    init: bool
    docker_id: str | None = None
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    restarts: int = 0
    ready: bool = False
    started: bool = False
    image_id: str = ""
    runs: list[tuple[dt.datetime, dt.datetime | None]] = field(default_factory=list)
    """Start and end of each run of the Docker container (for ``previous`` logs)."""
    backoff: float = 0.0
    pull_backoff: float = 0.0
    engine_failures: int = 0
    restart: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to restart the container now (a failed liveness or startup probe)."""

    @property
    def name(self) -> str:
        """The container's name in the pod."""
        return str(self.spec["name"])

    def status(self) -> Obj:
        """Its ``containerStatuses`` entry."""
        entry: Obj = {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": self.image_id,
            "ready": self.ready,
            "restartCount": self.restarts,
            "started": self.started,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.docker_id:
            entry["containerID"] = f"docker://{self.docker_id}"
        return entry


class PodWorker:
    """Runs one pod until it is deleted (see the module docstring)."""

    def __init__(self, kubelet: DockerKubelet, pod: Obj) -> None:
        self.kubelet = kubelet
        self.server = kubelet.server
        self.engine = kubelet.engine
        self.pod = pod
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        spec = pod.get("spec") or {}
        self.inits = [ContainerRun(c, True) for c in spec.get("initContainers") or []]
        self.containers = [ContainerRun(c, False) for c in spec.get("containers") or []]
        for run in self.inits + (self.containers if self.inits else []):
            run.state = {"waiting": {"reason": "PodInitializing"}}
        self.failed = False
        self.sandbox: str | None = None
        self.ip = ""
        self.initialized = not self.inits
        self.started_at = rfc3339()
        self.terminating = asyncio.Event()
        self._main: asyncio.Task[None] | None = None
        self.done = asyncio.Event()

    # --- identity ----------------------------------------------------------------------

    def labels(self, container: str | None = None) -> dict[str, str]:
        """Labels of everything made for this pod."""
        labels = {
            INSTANCE_LABEL: self.kubelet.instance,
            "io.kubernetes.pod.name": self.name,
            "io.kubernetes.pod.namespace": self.namespace,
            "io.kubernetes.pod.uid": self.uid,
        }
        if container:
            labels["io.kubernetes.container.name"] = container
        return labels

    def docker_name(self, container: str) -> str:
        """The dockershim-style name: ``k8s_<container>_<pod>_<namespace>_<uid>``."""
        instance = self.kubelet.instance
        return f"k8s_{container}_{self.name}_{self.namespace}_{self.uid[:8]}_{instance}"

    def lookup(self, kind: str, name: str) -> Obj | None:
        """A Secret or ConfigMap of the pod's namespace, as the kubelet reads it."""
        rt = SECRETS if kind == "secrets" else CONFIGMAPS
        return self.server.find(rt, self.namespace, name)

    def event(self, reason: str, message: str, event_type: str = "Normal") -> None:
        """An Event about the pod, from the kubelet."""
        pod = self.server.find(PODS, self.namespace, self.name)
        if pod is not None and pod["metadata"]["uid"] == self.uid:
            self.server.add_event(pod, reason, message, event_type, component=KUBELET)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Run the pod in the background."""
        self._main = self.server.spawn(self._run())
        self.server.spawn(self._lifetime())

    def update(self, pod: Obj) -> None:
        """A new version of the pod object (deletion starts the termination)."""
        self.pod = pod
        if is_terminating(pod):
            self.terminating.set()

    async def _lifetime(self) -> None:
        await self.terminating.wait()
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(BaseException):
                await self._main
        try:
            await self._terminate()
        finally:
            self.done.set()
            self.kubelet.workers.pop(self.uid, None)
            self.server.finish_pod(self.namespace, self.name, self.uid)
            # Removing the stopped containers (slow with vfs) is the container garbage
            # collector's business, after the pod object is gone, as on a node.
            self.kubelet.collect(self.uid)

    async def _run(self) -> None:
        try:
            await self._sandbox_until_made()
            self.publish()
            for run in self.inits:
                if not await self._run_init(run):
                    self.failed = True
                    self.publish()
                    return
            self.initialized = True
            self.publish()
            await asyncio.gather(*(self._supervise(run) for run in self.containers))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a stand-in bug or an engine failure: say so on the pod
            reason = "FailedCreatePodSandBox" if self.sandbox is None else "Failed"
            self.event(reason, f"kubelet stand-in: {exc!r}", "Warning")
            raise

    # --- sandbox and volumes -------------------------------------------------------------

    def dns_names(self) -> list[str]:
        """The pod's and its Services' in-cluster names, as the cluster's DNS would serve them."""
        spec, labels = self.pod.get("spec") or {}, self.pod["metadata"].get("labels") or {}
        domain = f"{self.namespace}.svc.{self.kubelet.cluster_domain}"
        hostname = spec.get("hostname") or self.name
        names = []
        if spec.get("subdomain"):
            names.append(f"{hostname}.{spec['subdomain']}.{domain}")
        for service in self.server.items(SERVICES, self.namespace):
            selector = (service.get("spec") or {}).get("selector") or {}
            if selector and selector.items() <= labels.items():
                names.append(f"{service['metadata']['name']}.{domain}")
        return names

    async def _sandbox_until_made(self) -> None:
        """Create the sandbox; an engine failure is an event, then a retry with back-off (a
        pod left Pending for good would make ``up`` wait its whole timeout for nothing)."""
        delay = ENGINE_RETRY
        while True:
            try:
                await self._create_sandbox()
                return
            except ENGINE_FAILURES as exc:
                self.event("FailedCreatePodSandBox", f"kubelet stand-in: {exc!r}", "Warning")
                self.sandbox = None
                with contextlib.suppress(*ENGINE_FAILURES):  # the create may have happened
                    await self.engine.remove(self.docker_name("POD"))
                await asyncio.sleep(delay)
                delay = min(delay * 2, ENGINE_RETRY_MAX)

    async def _create_sandbox(self) -> None:
        spec = self.pod.get("spec") or {}
        hostname = spec.get("hostname") or self.name
        domain = f"{self.namespace}.svc.{self.kubelet.cluster_domain}"
        config: Obj = {
            "Image": self.kubelet.pause_image,
            "Hostname": hostname[:63],
            "Labels": {**self.labels("POD"), "io.kubernetes.docker.type": "podsandbox"},
            "HostConfig": {
                "NetworkMode": self.kubelet.network,
                "DnsSearch": [domain, f"svc.{self.kubelet.cluster_domain}",
                              self.kubelet.cluster_domain],
                "IpcMode": "shareable",
                "RestartPolicy": {"Name": "no"},
                "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
            },
            "NetworkingConfig": {
                "EndpointsConfig": {self.kubelet.network: {"Aliases": self.dns_names()}}
            },
        }  # fmt: skip
        if spec.get("subdomain"):
            config["Domainname"] = f"{spec['subdomain']}.{domain}"
        self.sandbox = await self.engine.create_container(self.docker_name("POD"), config)
        await self.engine.start(self.sandbox)
        info = await self.engine.inspect(self.sandbox) or {}
        network = ((info.get("NetworkSettings") or {}).get("Networks") or {}).get(
            self.kubelet.network
        ) or {}
        self.ip = network.get("IPAddress", "")

    async def _volume_name(self, volume: Obj) -> str | None:
        """The Docker volume behind a claim or ``emptyDir`` (created on first use)."""
        if "persistentVolumeClaim" in volume:
            claim_name = volume["persistentVolumeClaim"]["claimName"]
            claim = self.server.find(PVCS, self.namespace, claim_name)
            if claim is None:
                raise pod_spec.ConfigError(f'persistentvolumeclaim "{claim_name}" not found')
            if is_terminating(claim):
                raise pod_spec.ConfigError(f'persistentvolumeclaim "{claim_name}" is being deleted')
            return await self.kubelet.claim_volume(claim)
        if "emptyDir" in volume:
            name = f"ksi-{self.kubelet.instance}-{self.uid[:8]}-{volume['name']}"
            await self.engine.create_volume(name, self.labels())
            return name
        return None

    async def _mounts(
        self, run: ContainerRun
    ) -> tuple[list[Obj], list[str], list[tuple[str, Obj]]]:
        """Docker mounts and binds of a container, and the projected volumes to write into it."""
        volumes = {v["name"]: v for v in (self.pod.get("spec") or {}).get("volumes") or []}
        fs_group = ((self.pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        mounts: list[Obj] = []
        binds: list[str] = []
        projected: list[tuple[str, Obj]] = []
        for mount in run.spec.get("volumeMounts") or []:
            volume = volumes.get(mount["name"])
            if volume is None:
                raise pod_spec.ConfigError(f'volume "{mount["name"]}" is not in the pod')
            target = mount["mountPath"]
            read_only = bool(mount.get("readOnly"))
            if "configMap" in volume or "secret" in volume:
                projected.append((target, {**volume, "_subPath": mount.get("subPath")}))
                continue
            if "hostPath" in volume:
                source = os.path.join(volume["hostPath"]["path"], mount.get("subPath", ""))
                binds.append(f"{source}:{target}{':ro' if read_only else ''}")
                continue
            name = await self._volume_name(volume)
            if name is None:
                raise pod_spec.ConfigError(
                    f'volume "{mount["name"]}": only persistentVolumeClaim, emptyDir, configMap, '
                    "secret and hostPath volumes are supported by the stand-in's kubelet"
                )
            root = await self.kubelet.volume_path(name)
            if fs_group is not None:
                await asyncio.to_thread(_own_by_group, root, int(fs_group))
            if mount.get("subPath"):
                source = root / mount["subPath"]
                await asyncio.to_thread(source.mkdir, parents=True, exist_ok=True)
                binds.append(f"{source}:{target}{':ro' if read_only else ''}")
                continue
            if "emptyDir" in volume and volume["emptyDir"].get("medium") == "Memory":
                size = pod_spec.quantity(volume["emptyDir"].get("sizeLimit"))
                mounts.append(
                    {
                        "Type": "tmpfs",
                        "Target": target,
                        **({"TmpfsOptions": {"SizeBytes": int(size)}} if size else {}),
                    }
                )
                continue
            mounts.append(
                {
                    "Type": "volume",
                    "Source": name,
                    "Target": target,
                    "ReadOnly": read_only,
                    "VolumeOptions": {"NoCopy": True},
                }
            )
        return mounts, binds, projected

    async def _project(self, docker_id: str, projected: list[tuple[str, Obj]]) -> None:
        """Write the files of ``configMap``/``secret`` volumes into the created container."""
        fs_group = ((self.pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        gid = int(fs_group) if fs_group is not None else 0
        for target, volume in projected:
            files = pod_spec.projected_files(self.pod, volume, self.lookup) or []
            sub = volume.get("_subPath")
            if sub:
                chosen = [(path, content, mode) for path, content, mode in files if path == sub]
                if not chosen:
                    raise pod_spec.ConfigError(
                        f"subPath {sub} is not a key of volume {volume['name']}"
                    )
                folder, _, base = target.rstrip("/").rpartition("/")
                tar = tar_of([(base, chosen[0][1], chosen[0][2], 0, gid)])
                await self.engine.put_archive(docker_id, folder or "/", tar)
                continue
            parent, _, leaf = target.rstrip("/").rpartition("/")
            entries = [(f"{leaf}/", b"", 0o755, 0, gid)]
            entries += [(f"{leaf}/{path}", content, mode, 0, gid) for path, content, mode in files]
            await self.engine.put_archive(docker_id, parent or "/", tar_of(entries))

    # --- containers ----------------------------------------------------------------------

    async def _image(self, run: ContainerRun) -> str | None:
        """The local image to run, or None (the container waits for its image)."""
        wanted = run.spec.get("image", "")
        local = images.mirrored(wanted)
        found = await self.engine.image(local)
        if found is not None:
            run.image_id = f"docker-pullable://{local}@{found.get('Id', '')}"
            run.pull_backoff = 0.0
            if not run.docker_id:
                self.event("Pulled", f'Container image "{wanted}" already present on machine')
            return local
        message = (
            f'failed to pull and unpack image "{wanted}": the stand-in\'s kubelet never pulls, '
            f"and the Docker engine has no image {local}"
        )
        if run.pull_backoff == 0.0:
            run.state = {"waiting": {"reason": "ErrImagePull", "message": message}}
            self.event("Failed", f'Failed to pull image "{wanted}": {message}', "Warning")
            self.event("Failed", "Error: ErrImagePull", "Warning")
            run.pull_backoff = BACKOFF_START
        else:
            run.state = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{wanted}"',
                }
            }
            self.event("BackOff", f'Back-off pulling image "{wanted}"', "Warning")
            self.event("Failed", "Error: ImagePullBackOff", "Warning")
            run.pull_backoff = min(BACKOFF_MAX, run.pull_backoff * 2)
        self.publish()
        return None

    async def _create(self, run: ContainerRun, image: str) -> None:
        info = await self.engine.image(image) or {}
        image_user = str((info.get("Config") or {}).get("User") or "")
        config = pod_spec.container_config(self.pod, run.spec, self.lookup, image_user)
        mounts, binds, projected = await self._mounts(run)
        spec = self.pod.get("spec") or {}
        env = [f"{k}={v}" for k, v in config.env.items()]
        env.append(f"HOSTNAME={spec.get('hostname') or self.name}")
        body: Obj = {
            "Image": image,
            "Env": env,
            "Labels": self.labels(run.name),
            "StopTimeout": int(spec.get("terminationGracePeriodSeconds", 30)),
            "HostConfig": {
                "NetworkMode": f"container:{self.sandbox}",
                "IpcMode": f"container:{self.sandbox}",
                "Mounts": mounts,
                "Binds": binds,
                "RestartPolicy": {"Name": "no"},
                "LogConfig": {"Type": "json-file", "Config": {"max-size": "20m", "max-file": "2"}},
                "GroupAdd": config.groups,
                "ReadonlyRootfs": config.read_only_root,
                "Privileged": config.privileged,
                "CapAdd": config.cap_add,
                "CapDrop": config.cap_drop,
            },
        }
        if config.entrypoint is not None:
            body["Entrypoint"] = config.entrypoint
            body["Cmd"] = config.cmd or []
        elif config.cmd is not None:
            body["Cmd"] = config.cmd
        if config.user:
            body["User"] = config.user
        if config.working_dir:
            body["WorkingDir"] = config.working_dir
        host = body["HostConfig"]
        if config.memory:
            host["Memory"] = config.memory
            host["MemorySwap"] = config.memory
        if config.nano_cpus:
            host["NanoCpus"] = config.nano_cpus
        if config.cpu_shares:
            host["CpuShares"] = config.cpu_shares
        docker_id = await self.engine.create_container(self.docker_name(run.name), body)
        await self._project(docker_id, projected)
        run.docker_id = docker_id  # made whole: a failure before is made again from scratch
        self.event("Created", f"Created container {run.name}")

    async def _start_once(self, run: ContainerRun) -> bool:
        """Create the container if it is not yet, then start it; False if it cannot be yet.

        An engine failure is a ``Failed`` event and a ``CreateContainerError`` /
        ``RunContainerError`` state, then False after a back-off: the caller tries again.
        """
        try:
            return await self._create_and_start(run)
        except ENGINE_FAILURES as exc:
            reason = "RunContainerError" if run.docker_id else "CreateContainerError"
            run.state = {"waiting": {"reason": reason, "message": str(exc)}}
            self.event("Failed", f"Error: kubelet stand-in: {exc!r}", "Warning")
            self.publish()
            if not run.docker_id:  # the create may have happened: its name is taken
                with contextlib.suppress(*ENGINE_FAILURES):
                    await self.engine.remove(self.docker_name(run.name))
            run.engine_failures += 1
            await asyncio.sleep(min(ENGINE_RETRY * 2**run.engine_failures, ENGINE_RETRY_MAX))
            return False

    async def _create_and_start(self, run: ContainerRun) -> bool:
        if not run.docker_id:
            image = await self._image(run)
            if image is None:
                await asyncio.sleep(run.pull_backoff / 2)
                return False
            try:
                await self._create(run, image)
            except pod_spec.ConfigError as exc:
                text = str(exc)
                run.state = {"waiting": {"reason": "CreateContainerConfigError", "message": text}}
                reason = "FailedMount" if text.startswith("MountVolume") else "Failed"
                self.event(reason, f"Error: {text}", "Warning")
                self.publish()
                await asyncio.sleep(CONFIG_RETRY)
                return False
        assert run.docker_id is not None
        await self.engine.start(run.docker_id)
        info = await self.engine.inspect(run.docker_id) or {}
        state = info.get("State") or {}
        started = parse_docker_time(state.get("StartedAt", "")) or now()
        run.runs.append((started, None))
        run.state = {"running": {"startedAt": rfc3339(started)}}
        run.started = "startupProbe" not in run.spec and not run.init
        self.event("Started", f"Started container {run.name}")
        self.publish()
        return True

    async def _exited(self, run: ContainerRun) -> int:
        """Wait for the container to stop; record its termination. Its exit code."""
        assert run.docker_id is not None
        code = await self.engine.wait(run.docker_id)
        info = await self.engine.inspect(run.docker_id) or {}
        state = info.get("State") or {}
        code = int(state.get("ExitCode", code))
        finished = parse_docker_time(state.get("FinishedAt", "")) or now()
        if run.runs:
            run.runs[-1] = (run.runs[-1][0], finished)
        reason = "OOMKilled" if state.get("OOMKilled") else "Completed" if code == 0 else "Error"
        terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": _docker_time(state.get("StartedAt")),
            "finishedAt": rfc3339(finished),
            "containerID": f"docker://{run.docker_id}",
        }
        run.state = {"terminated": terminated}
        run.ready = False
        run.started = False
        self.publish()
        return code

    def _next_backoff(self, run: ContainerRun) -> float:
        """The kubelet's crash back-off: none the first time, then 10 s doubling to 5 min."""
        if run.runs and run.runs[-1][1] is not None:
            ran = (run.runs[-1][1] - run.runs[-1][0]).total_seconds()
            if ran >= BACKOFF_RESET:
                run.backoff = 0.0
        delay = run.backoff
        run.backoff = BACKOFF_START if run.backoff == 0.0 else min(BACKOFF_MAX, run.backoff * 2)
        return delay

    async def _wait_back_off(self, run: ContainerRun, delay: float) -> None:
        terminated = run.state.get("terminated") or {}
        run.last_state = {"terminated": terminated} if terminated else run.last_state
        if delay > 0:
            message = (
                f"back-off {delay:g}s restarting failed container={run.name} "
                f"pod={self.name}_{self.namespace}({self.uid})"
            )
            run.state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
            self.event(
                "BackOff",
                f"Back-off restarting failed container {run.name} in pod "
                f"{self.name}_{self.namespace}({self.uid})",
                "Warning",
            )
            self.publish()
            await asyncio.sleep(delay)
        run.restarts += 1

    async def _run_init(self, run: ContainerRun) -> bool:
        """Run an init container to completion, restarting it with back-off while it fails.

        False when it failed for good (``restartPolicy: Never``): the pod failed.
        """
        policy = (self.pod.get("spec") or {}).get("restartPolicy", "Always")
        while True:
            if not await self._start_once(run):
                continue
            code = await self._exited(run)
            if code == 0:
                return True
            if policy == "Never":
                return False
            await self._wait_back_off(run, self._next_backoff(run))

    async def _supervise(self, run: ContainerRun) -> None:
        """Keep a main container running as ``restartPolicy`` says, probing it."""
        policy = (self.pod.get("spec") or {}).get("restartPolicy", "Always")
        while True:
            if not await self._start_once(run):
                continue
            prober = self.server.spawn(self._probe(run))
            waiter = asyncio.ensure_future(self._exited(run))
            restart = asyncio.ensure_future(run.restart.wait())
            try:
                await asyncio.wait({waiter, restart}, return_when=asyncio.FIRST_COMPLETED)
                if restart.done() and not waiter.done():
                    assert run.docker_id is not None
                    await self.engine.stop(run.docker_id, self.grace())
                code = await waiter
            finally:
                prober.cancel()
                restart.cancel()
                run.restart.clear()
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                run.last_state = {}
                self.publish()
                return
            await self._wait_back_off(run, self._next_backoff(run))

    async def _probe(self, run: ContainerRun) -> None:
        """Startup probe until it passes, then liveness and readiness side by side."""
        spec = run.spec
        if "startupProbe" in spec:
            startup = probes.ProbeState(spec["startupProbe"], initially=False)
            if not await self._probe_loop(run, startup, "Startup"):
                return
        run.started = True
        self.publish()
        tasks = []
        if "livenessProbe" in spec:
            liveness = probes.ProbeState(spec["livenessProbe"], initially=True)
            tasks.append(self._probe_loop(run, liveness, "Liveness"))
        if "readinessProbe" in spec:
            readiness = probes.ProbeState(spec["readinessProbe"], initially=False)
            tasks.append(self._probe_loop(run, readiness, "Readiness"))
        else:
            run.ready = True
            self.publish()
        await asyncio.gather(*tasks)

    async def _probe_loop(self, run: ContainerRun, state: probes.ProbeState, kind: str) -> bool:
        """Run one probe until it decides (startup) or forever; False: the container restarts."""
        await asyncio.sleep(state.initial_delay)
        while True:
            outcome = await probes.run_handler(state.probe, run.spec, self.ip, self._exec_for(run))
            verdict = state.record(outcome.ok)
            if not outcome.ok:
                detail = f": {outcome.output}" if outcome.output else ""
                self.event("Unhealthy", f"{kind} probe failed{detail}", "Warning")
            if kind == "Readiness" and verdict is not None:
                run.ready = verdict
                self.publish()
            elif kind == "Startup" and verdict is True:
                return True
            elif kind in ("Startup", "Liveness") and verdict is False:
                self.event(
                    "Killing",
                    f"Container {run.name} failed {kind.lower()} probe, will be restarted",
                )
                run.restart.set()
                return False
            await asyncio.sleep(state.period)

    def _exec_for(self, run: ContainerRun) -> Any:
        async def run_exec(argv: list[str], timeout: float) -> tuple[int | None, str]:
            assert run.docker_id is not None
            session = await self.engine.exec(run.docker_id, argv)
            chunks: list[bytes] = []

            async def collect() -> int | None:
                async for _, chunk in session.output():
                    chunks.append(chunk)
                return await session.exit_code()

            try:
                code = await asyncio.wait_for(collect(), timeout)
            except TimeoutError:
                code = None
            finally:
                await session.close()
            return code, b"".join(chunks).decode(errors="replace")[-300:]

        return run_exec

    # --- status --------------------------------------------------------------------------

    def publish(self) -> None:
        """Write the pod's status as the kubelet sees it (only when it changed)."""
        pod = self.server.find(PODS, self.namespace, self.name)
        if pod is None or pod["metadata"]["uid"] != self.uid:
            return
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy", "Always")
        all_ready = bool(self.containers) and all(r.ready for r in self.containers)
        if self.terminating.is_set():
            all_ready = False
        running = any("running" in r.state for r in self.containers)
        terminated = [r.state.get("terminated") for r in self.containers]
        if self.failed:
            phase = "Failed"
        elif policy != "Always" and self.containers and all(terminated):
            phase = "Succeeded" if all(t and t["exitCode"] == 0 for t in terminated) else "Failed"
        elif self.initialized and (running or any(r.restarts or r.runs for r in self.containers)):
            phase = "Running"
        else:
            phase = "Pending"
        old = pod.get("status") or {}
        before = {c["type"]: c for c in old.get("conditions") or []}

        def condition(kind: str, value: bool, reason: str = "") -> Obj:
            text = "True" if value else "False"
            previous = before.get(kind)
            moment = (
                previous["lastTransitionTime"]
                if previous and previous.get("status") == text
                else rfc3339()
            )
            entry = {"type": kind, "status": text, "lastTransitionTime": moment}
            if reason and not value:
                entry["reason"] = reason
            return entry

        not_ready = [r.name for r in self.containers if not r.ready]
        reason = "ContainersNotReady" if not_ready else ""
        status: Obj = {
            "phase": phase,
            "conditions": [
                condition("PodReadyToStartContainers", bool(self.ip)),
                condition("Initialized", self.initialized, "ContainersNotInitialized"),
                condition("Ready", all_ready, reason),
                condition("ContainersReady", all_ready, reason),
                condition("PodScheduled", True),
            ],
            "hostIP": self.kubelet.host_ip,
            "hostIPs": [{"ip": self.kubelet.host_ip}],
            "startTime": old.get("startTime") or self.started_at,
            "qosClass": pod_spec.qos_class(pod),
            "containerStatuses": [r.status() for r in self.containers],
        }
        if self.ip:
            status["podIP"] = self.ip
            status["podIPs"] = [{"ip": self.ip}]
        if self.inits:
            status["initContainerStatuses"] = [r.status() for r in self.inits]
        if status != old:
            pod["status"] = status
            self.server.store(PODS, self.namespace, self.name, pod)

    # --- termination ---------------------------------------------------------------------

    def grace(self) -> float:
        """Seconds a container gets to stop before SIGKILL (deletion's, else the pod's)."""
        pod = self.server.find(PODS, self.namespace, self.name) or self.pod
        given = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
        if given is not None:
            return float(given)
        return float((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    async def _terminate(self) -> None:
        started = now()
        grace = self.grace()
        for run in self.containers:
            run.ready = False
        self.publish()
        running = [r for r in self.inits + self.containers if r.docker_id and "running" in r.state]
        for run in running:
            self.event("Killing", f"Stopping container {run.name}")

        async def stop(run: ContainerRun) -> None:
            assert run.docker_id is not None
            with contextlib.suppress(EngineError):
                await self.engine.stop(run.docker_id, grace)
            info = await self.engine.inspect(run.docker_id) or {}
            state = info.get("State") or {}
            run.state = {
                "terminated": {
                    "exitCode": int(state.get("ExitCode", 0)),
                    "reason": "OOMKilled"
                    if state.get("OOMKilled")
                    else ("Completed" if not state.get("ExitCode") else "Error"),
                    "startedAt": _docker_time(state.get("StartedAt")),
                    "finishedAt": _docker_time(state.get("FinishedAt")) or rfc3339(),
                    "containerID": f"docker://{run.docker_id}",
                }
            }

        await asyncio.gather(*(stop(r) for r in running))
        self.publish()
        # A kubelet takes a moment to notice a deletion and report back, even with nothing
        # to stop; clients rely on seeing the pod Terminating first (kubectl delete waits
        # on a list and a watch; a StatefulSet's new pod of the same name must not come
        # before that list, or kubectl waits for its deletion instead).
        await asyncio.sleep(max(0.0, TERMINATION_FLOOR - (now() - started).total_seconds()))

    # --- streams -------------------------------------------------------------------------

    def run_of(self, container: str) -> ContainerRun:
        """The container called ``container`` (init or main)."""
        for run in self.inits + self.containers:
            if run.name == container:
                return run
        raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {self.name}")


class DockerKubelet:
    """A node whose pods are real containers on a Docker engine (see the module docstring)."""

    node_name = "stand-in"
    cluster_domain = "cluster.local"

    def __init__(
        self, server: StandInApiServer, instance: str, engine: DockerEngine | None = None
    ) -> None:
        self.server = server
        self.instance = instance
        self.engine = engine or DockerEngine()
        self.network = f"kube-standin-{instance}"
        self.pause_image = ""
        self.host_ip = ""
        self.workers: dict[str, PodWorker] = {}
        self._volume_paths: dict[str, Path] = {}
        self._collecting: dict[str, asyncio.Task[None]] = {}

    @property
    def label(self) -> str:
        """``key=value`` of the label on everything this kubelet made."""
        return f"{INSTANCE_LABEL}={self.instance}"

    async def start(self) -> None:
        """Make the pod network and the pause image."""
        self.pause_image = await images.ensure_pause_image(self.engine)
        info = await self.engine.create_network(self.network, {INSTANCE_LABEL: self.instance})
        configs = ((info.get("IPAM") or {}).get("Config")) or [{}]
        self.host_ip = configs[0].get("Gateway", "")

    async def close(self) -> None:
        """Stop every pod's containers and remove everything labelled with the instance."""
        for worker in list(self.workers.values()):
            if worker._main is not None:
                worker._main.cancel()
        try:
            await cleanup(self.engine, self.instance)
        finally:
            await self.engine.close()

    # --- the API server tells the kubelet ------------------------------------------------

    def pod_changed(self, event: str, pod: Obj) -> None:
        """Start a worker for a new pod of this node; tell an existing one what changed."""
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if event == "DELETED":
            if worker is not None:
                gone = {**pod["metadata"], "deletionTimestamp": rfc3339()}
                worker.update({**pod, "metadata": gone})
            return
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        if worker is None:
            if is_terminating(pod):
                self.server.finish_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], uid)
                return
            worker = self.workers[uid] = PodWorker(self, pod)
            worker.start()
        worker.update(pod)

    def claim_removed(self, claim: Obj) -> None:
        """The claim object is gone: its storage goes too (reclaim policy Delete)."""
        name = self.claim_volume_name(claim)
        self._volume_paths.pop(name, None)

        async def reclaim() -> None:
            # Stopped containers of deleted pods may still hold the volume: the container
            # garbage collector removes them first (the claim is gone, so is every pod of it).
            for _ in range(120):
                await asyncio.gather(*list(self._collecting.values()), return_exceptions=True)
                holders = [
                    c
                    for c in await self.engine.containers(self.label, volume=name)
                    if c.get("State") != "running" and c["Id"] not in self._running_ids()
                ]
                for holder in holders:
                    await self.engine.remove(holder["Id"])
                try:
                    await self.engine.remove_volume(name)
                    return
                except EngineError as exc:
                    if exc.status != 409:
                        raise
                await asyncio.sleep(1)

        self.server.spawn(reclaim())

    def _running_ids(self) -> set[str]:
        """Docker ids of the containers live pods still run."""
        return {
            run.docker_id
            for worker in self.workers.values()
            for run in worker.inits + worker.containers
            if run.docker_id
        }

    def collect(self, uid: str) -> None:
        """Remove a finished pod's containers in the background."""
        task = self.server.spawn(self.remove_pod_things(uid))
        self._collecting[uid] = task
        task.add_done_callback(lambda _: self._collecting.pop(uid, None))

    # --- storage ----------------------------------------------------------------------------

    def claim_volume_name(self, claim: Obj) -> str:
        """The Docker volume holding a claim's data."""
        return f"ksi-{self.instance}-pvc-{claim['metadata']['uid']}"

    async def claim_volume(self, claim: Obj) -> str:
        """The claim's Docker volume, created on first use."""
        name = self.claim_volume_name(claim)
        meta = claim["metadata"]
        await self.engine.create_volume(
            name,
            {
                INSTANCE_LABEL: self.instance,
                "io.kubernetes.pvc.namespace": meta["namespace"],
                "io.kubernetes.pvc.name": meta["name"],
            },
        )
        return name

    async def volume_path(self, name: str) -> Path:
        """Where the engine keeps a volume's files on this machine (the local driver)."""
        if name not in self._volume_paths:
            info = await self.engine.request("GET", f"/volumes/{name}")
            self._volume_paths[name] = Path(info["Mountpoint"])
        return self._volume_paths[name]

    async def remove_pod_things(self, uid: str) -> None:
        """Remove a pod's containers (sandbox last) and its ``emptyDir`` volumes."""
        label = f"io.kubernetes.pod.uid={uid}"
        found = [
            c
            for c in await self.engine.containers(label)
            if (c.get("Labels") or {}).get(INSTANCE_LABEL) == self.instance
        ]
        found.sort(key=_is_sandbox)
        for container in found:
            await self.engine.remove(container["Id"])
        for volume in await self.engine.volumes(label):
            with contextlib.suppress(EngineError):
                await self.engine.remove_volume(volume["Name"])

    # --- streams ------------------------------------------------------------------------------

    def _worker(self, pod: Obj) -> PodWorker:
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is None:
            raise ApiError(
                400, "BadRequest", f'pod "{pod["metadata"]["name"]}" is not running on this node'
            )
        return worker

    async def log_lines(
        self,
        pod: Obj,
        container: str,
        *,
        previous: bool = False,
        follow: bool = False,
        since: dt.datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[tuple[dt.datetime, bytes]]:
        """The container's log lines: the current run's, or the previous run's."""
        worker = self._worker(pod)
        run = worker.run_of(container)
        if not run.docker_id or not run.runs:
            return
        index = len(run.runs) - (2 if previous else 1)
        if index < 0:
            return
        # One Docker container, started again on each restart, holds every run's lines.
        # The engine stamps a line when it reads it, which can be just before the start
        # it reports or just after the end: a run's lines are those between the midpoints
        # of the gaps around it.
        lower = _between(run.runs[index - 1][1], run.runs[index][0]) if index else None
        upper = None
        if index + 1 < len(run.runs):
            upper = _between(run.runs[index][1], run.runs[index + 1][0])
        follow = follow and not previous and run.runs[index][1] is None
        if since is not None:
            lower = max(lower, since) if lower else since
        async for moment, line in self.engine.logs(
            run.docker_id, follow=follow, since=lower, until=upper, tail=tail
        ):
            yield moment, line

    async def exec(self, pod: Obj, container: str, argv: list[str], stdin: bool) -> Any:
        """Start ``argv`` in the container; the streams handler talks to it."""
        run = self._worker(pod).run_of(container)
        if not run.docker_id or "running" not in run.state:
            raise ApiError(400, "BadRequest", f"container {container} is not running")
        try:
            session = await self.engine.exec(run.docker_id, argv, stdin=stdin)
        except EngineError as exc:
            message = f"error executing command in container: {exc.message}"
            raise ApiError(500, "InternalError", message) from None
        return KubeletExec(session)

    async def port_forward(
        self, pod: Obj, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to ``port`` inside the pod (its IP on the pod network)."""
        worker = self._worker(pod)
        if not worker.ip:
            raise ConnectionRefusedError("the pod has no IP yet")
        return await asyncio.wait_for(asyncio.open_connection(worker.ip, port), 10)


_OCI_FAILURE = b"OCI runtime exec failed"


class KubeletExec:
    """An exec'd process as the streams handler wants it; a process that could not start
    is reported as the runtime's error (the Status channel), not as its output."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._held = b""

    async def write(self, data: bytes) -> None:
        """To its stdin."""
        await self.session.write(data)

    async def close_stdin(self) -> None:
        """End of its stdin."""
        await self.session.close_stdin()

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """Its stdout (1) and stderr (2)."""
        first = True
        async for channel, chunk in self.session.output():
            if first and chunk.startswith(_OCI_FAILURE):
                self._held = chunk
                first = False
                continue
            first = False
            yield channel, chunk
        if self._held:
            code = await self.session.exit_code()
            if code not in (126, 127):
                yield 1, self._held
                self._held = b""

    async def wait(self) -> tuple[int | None, str]:
        """Exit code, or None and the runtime's error when the process never ran."""
        code = await self.session.exit_code()
        if self._held and code in (126, 127):
            text = self._held.decode(errors="replace").strip()
            return None, f"error executing command in container: {text}"
        return code, ""

    async def close(self) -> None:
        """Drop the connection."""
        await self.session.close()


def _between(end: dt.datetime | None, start: dt.datetime) -> dt.datetime:
    """The middle of the gap between a run's end and the next run's start."""
    return start if end is None else end + (start - end) / 2


def _is_sandbox(container: Obj) -> bool:
    return (container.get("Labels") or {}).get("io.kubernetes.container.name") == "POD"


def _own_by_group(root: Path, gid: int) -> None:
    """``fsGroup``: the volume's files belong to the group, folders keep it (setgid)."""
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(OSError):
            info = path.lstat()
            if info.st_gid != gid:
                os.lchown(path, -1, gid)
            if path.is_dir() and not path.is_symlink():
                path.chmod(info.st_mode | 0o2070)
            elif not path.is_symlink():
                path.chmod(info.st_mode | 0o060)


async def cleanup(engine: DockerEngine, instance: str) -> None:
    """Remove every container, volume and network labelled with ``instance``."""
    label = f"{INSTANCE_LABEL}={instance}"
    # The container garbage collector may be removing some of them at the same time (409:
    # removal already in progress): one failure must not leave the sandboxes, volumes and
    # network behind, so each removal stands alone, and what is left is listed again.
    for _ in range(10):
        found = await engine.containers(label)
        if not found:
            break
        pause = [c for c in found if _is_sandbox(c)]
        others = [c for c in found if c not in pause]
        await asyncio.gather(*(engine.remove(c["Id"]) for c in others), return_exceptions=True)
        await asyncio.gather(*(engine.remove(c["Id"]) for c in pause), return_exceptions=True)
        await asyncio.sleep(0.5)
    for volume in await engine.volumes(label):
        with contextlib.suppress(*ENGINE_FAILURES):
            await engine.remove_volume(volume["Name"])
    for network in await engine.networks(label):
        await engine.remove_network(network["Name"])
