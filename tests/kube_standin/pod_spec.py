"""What the kubelet makes of a pod's spec, as Kubernetes defines it (no engine calls here).

- the environment: ``envFrom`` (ConfigMaps and Secrets, with ``prefix`` and
  ``optional``), then ``env`` in order, each ``value`` expanded with
  ``$(VAR)`` against the variables before it; ``valueFrom`` with
  ``secretKeyRef``, ``configMapKeyRef``, ``fieldRef`` and
  ``resourceFieldRef``; a missing Secret, ConfigMap or key that is not
  ``optional`` is a :class:`ConfigError` (the kubelet's
  ``CreateContainerConfigError``, with its messages);
- ``command`` and ``args`` against the image's ENTRYPOINT and CMD (command
  replaces the entrypoint and drops the image's CMD; args alone replace the
  CMD), both ``$(VAR)``-expanded with the container's environment;
- the user (``runAsUser``/``runAsGroup``, container over pod,
  ``runAsNonRoot`` refused for root), ``fsGroup`` and
  ``supplementalGroups`` as extra groups;
- resource limits as the engine's memory and CPU limits, CPU requests as
  shares;
- the files of ``configMap`` and ``secret`` volumes (``items``,
  ``defaultMode``/``mode``, ``optional``), projected where they are mounted
  (whole volume, or one key through ``subPath``).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Lookup = Callable[[str, str], Obj | None]
"""``lookup("secrets" | "configmaps", name)`` -> the object in the pod's namespace, or None."""

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


class ConfigError(Exception):
    """The container cannot be configured: the kubelet's ``CreateContainerConfigError``."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: known variables replaced, ``$$`` -> ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR.sub(one, text)


def quantity(text: str | int | float | None) -> float | None:
    """A resource quantity as a number (``500m`` -> 0.5, ``1Gi`` -> 1073741824)."""
    if text is None:
        return None
    value = str(text)
    if value.endswith("m"):
        return float(value[:-1]) / 1000
    match = _QUANTITY.match(value)
    if not match:
        return float(value)
    number, suffix = float(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * 1024 ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * 1000 ** _DECIMAL[suffix]
    return number


def _decoded(obj: Obj, kind: str) -> dict[str, bytes]:
    if kind == "secrets":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


_KINDS = {"secrets": "Secret", "configmaps": "ConfigMap"}
_SINGULAR = {"secrets": "secret", "configmaps": "configmap"}


def _source(lookup: Lookup, kind: str, name: str, namespace: str) -> dict[str, bytes] | None:
    found = lookup(kind, name)
    return None if found is None else _decoded(found, kind)


def _key_ref(lookup: Lookup, kind: str, ref: Obj, namespace: str) -> str | None:
    data = _source(lookup, kind, ref.get("name", ""), namespace)
    if data is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{_SINGULAR[kind]} "{ref.get("name", "")}" not found')
    if ref["key"] not in data:
        if ref.get("optional"):
            return None
        raise ConfigError(
            f"couldn't find key {ref['key']} in {_KINDS[kind]} {namespace}/{ref.get('name', '')}"
        )
    return data[ref["key"]].decode("utf-8", "replace")


def _field(pod: Obj, path: str) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
    }
    if path in simple:
        return simple[path]
    found = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if found:
        return str((meta.get(found.group(1)) or {}).get(found.group(2), ""))
    raise ConfigError(f'unsupported fieldPath "{path}"')


def _resource(container: Obj, ref: Obj) -> str:
    side, _, name = ref["resource"].partition(".")
    amount = quantity(((container.get("resources") or {}).get(side) or {}).get(name))
    if amount is None:  # unset limits default to the node's capacity
        amount = {"cpu": 2.0, "memory": float(2**34)}.get(name, 0.0)
    divisor = quantity(ref.get("divisor")) or 1.0
    return str(math.ceil(amount / divisor))


def environment(pod: Obj, container: Obj, lookup: Lookup) -> dict[str, str]:
    """The container's environment, as the kubelet builds it (raises :class:`ConfigError`)."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        kind = "configmaps" if "configMapRef" in source else "secrets"
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        data = _source(lookup, kind, ref.get("name", ""), namespace)
        if data is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{_SINGULAR[kind]} "{ref.get("name", "")}" not found')
        for key, value in data.items():
            name = source.get("prefix", "") + key
            if _ENV_NAME.match(name):
                env[name] = value.decode("utf-8", "replace")
    for entry in container.get("env") or []:
        name = entry["name"]
        if "valueFrom" not in entry:
            env[name] = expand(str(entry.get("value", "")), env)
            continue
        source = entry["valueFrom"]
        value: str | None
        if "secretKeyRef" in source:
            value = _key_ref(lookup, "secrets", source["secretKeyRef"], namespace)
        elif "configMapKeyRef" in source:
            value = _key_ref(lookup, "configmaps", source["configMapKeyRef"], namespace)
        elif "fieldRef" in source:
            value = _field(pod, source["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in source:
            value = _resource(container, source["resourceFieldRef"])
        else:
            raise ConfigError(f"env {name}: unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[name] = value
    return env


@dataclass
class ContainerConfig:
    """The engine-level configuration of one container."""

    entrypoint: list[str] | None
    """None: the image's ENTRYPOINT."""
    cmd: list[str] | None
    """None: the image's CMD."""
    env: dict[str, str]
    user: str | None
    groups: list[str] = field(default_factory=list)
    working_dir: str | None = None
    memory: int | None = None
    nano_cpus: int | None = None
    cpu_shares: int | None = None
    read_only_root: bool = False
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)


def _security(pod: Obj, container: Obj) -> tuple[Obj, Obj]:
    return (pod.get("spec") or {}).get("securityContext") or {}, container.get(
        "securityContext"
    ) or {}


def user_of(pod: Obj, container: Obj, image_user: str) -> tuple[str | None, list[str]]:
    """``uid[:gid]`` for the engine (None: the image's) and the extra groups."""
    pod_ctx, ctx = _security(pod, container)
    uid = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
    gid = ctx.get("runAsGroup", pod_ctx.get("runAsGroup"))
    non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
    if non_root:
        effective = uid if uid is not None else image_user.split(":")[0]
        if effective in (0, "0", "", "root"):
            name = container["name"]
            raise ConfigError(
                f"container's runAsUser breaks non-root policy (pod: {pod['metadata']['name']}, "
                f"container: {name})"
                if uid is not None
                else "container has runAsNonRoot and image will run as root "
                f"(pod: {pod['metadata']['name']}, container: {name})"
            )
    user = None
    if uid is not None:
        user = f"{uid}:{gid}" if gid is not None else str(uid)
    elif gid is not None:
        base = image_user.split(":")[0] or "0"
        user = f"{base}:{gid}"
    groups = [str(g) for g in pod_ctx.get("supplementalGroups") or []]
    if pod_ctx.get("fsGroup") is not None:
        groups.append(str(pod_ctx["fsGroup"]))
    return user, groups


def container_config(
    pod: Obj, container: Obj, lookup: Lookup, image_user: str = ""
) -> ContainerConfig:
    """Everything the engine needs to create ``container`` (raises :class:`ConfigError`)."""
    env = environment(pod, container, lookup)
    command = [expand(str(part), env) for part in container.get("command") or []]
    args = [expand(str(part), env) for part in container.get("args") or []]
    if command:
        entrypoint, cmd = command, args
    else:
        entrypoint, cmd = None, (args or None)
    user, groups = user_of(pod, container, image_user)
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    memory = quantity(limits.get("memory"))
    cpus = quantity(limits.get("cpu"))
    shares = quantity(requests.get("cpu") or limits.get("cpu"))
    _, ctx = _security(pod, container)
    capabilities = ctx.get("capabilities") or {}
    return ContainerConfig(
        entrypoint=entrypoint,
        cmd=cmd,
        env=env,
        user=user,
        groups=groups,
        working_dir=container.get("workingDir"),
        memory=int(memory) if memory else None,
        nano_cpus=int(cpus * 1e9) if cpus else None,
        cpu_shares=max(2, int(shares * 1024)) if shares else None,
        read_only_root=bool(ctx.get("readOnlyRootFilesystem")),
        privileged=bool(ctx.get("privileged")),
        cap_add=list(capabilities.get("add") or []),
        cap_drop=list(capabilities.get("drop") or []),
    )


def projected_files(pod: Obj, volume: Obj, lookup: Lookup) -> list[tuple[str, bytes, int]] | None:
    """``(relative path, content, mode)`` of a ``configMap``/``secret`` volume.

    None when the source is missing and ``optional`` (an empty folder);
    :class:`ConfigError` when it is missing and required (the kubelet's
    ``FailedMount``).
    """
    if "configMap" in volume:
        kind, source, name_key = "configmaps", volume["configMap"], "name"
    else:
        kind, source, name_key = "secrets", volume["secret"], "secretName"
    name = source.get(name_key, "")
    data = _source(lookup, kind, name, pod["metadata"]["namespace"])
    if data is None:
        if source.get("optional"):
            return None
        raise ConfigError(
            f'MountVolume.SetUp failed for volume "{volume["name"]}" : {_SINGULAR[kind]} '
            f'"{name}" not found'
        )
    default_mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    if not items:
        return [(key, value, default_mode) for key, value in sorted(data.items())]
    files = []
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise ConfigError(
                f'MountVolume.SetUp failed for volume "{volume["name"]}" : configmap references '
                f"non-existent config key: {item['key']}"
            )
        mode = int(item.get("mode", default_mode))
        files.append((item.get("path", item["key"]), data[item["key"]], mode))
    return files


def qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = (pod.get("spec") or {}).get("containers") or []
    sides = [(c.get("resources") or {}) for c in containers]
    if not any(s.get("limits") or s.get("requests") for s in sides):
        return "BestEffort"
    for side in sides:
        limits, requests = side.get("limits") or {}, side.get("requests") or {}
        for name in ("cpu", "memory"):
            if name not in limits or quantity(requests.get(name, limits[name])) != quantity(
                limits[name]
            ):
                return "Burstable"
    return "Guaranteed"
