"""Audit checks on Kubernetes manifests: NetworkPolicies, credentials in plain env, Secrets.

The checks read Kubernetes objects as plain mappings, so they work on any
source of them: files given with ``--manifests`` (rendered manifests,
``kubectl get ... -o yaml`` output, a Helm template) or, once the Kubernetes
backend can render its manifests in memory, those. The spec's Security
section asks for a NetworkPolicy in front of every database and credentials
in a Secret, never in a container's plain ``env``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alfred_tui.audit.model import CheckResult, Finding
from alfred_tui.audit.profile_checks import WELL_KNOWN_SECRETS, severity
from alfred_tui.config.loader import LoadedProfile
from alfred_tui.config.models import SPEC_DEFAULT_SECRETS, is_secret_key
from alfred_tui.errors import UsageError

WORKLOAD_KINDS = ("StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Pod")


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object and the file it came from."""

    source: str
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        """The object's kind."""
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return str((self.data.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        """``metadata.namespace`` (``default`` when unset)."""
        return str((self.data.get("metadata") or {}).get("namespace") or "default")

    @property
    def label(self) -> str:
        """``Kind/name`` for messages."""
        return f"{self.kind}/{self.name}"


def load_manifests(path: str | Path) -> list[Manifest]:
    """Every object in a YAML file or a folder of them (``kind: List`` unwrapped)."""
    root = Path(path).expanduser()
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    elif root.is_file():
        files = [root]
    else:
        raise UsageError(f"--manifests: {path} is neither a file nor a folder")
    manifests: list[Manifest] = []
    for file in files:
        try:
            documents = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise UsageError(
                f"{file}{line}: not valid YAML ({getattr(exc, 'problem', exc)})"
            ) from None
        except OSError as exc:
            raise UsageError(f"{file}: cannot read ({exc.strerror})") from None
        for document in documents:
            manifests.extend(_unwrap(str(file), document))
    return manifests


def _unwrap(source: str, document: Any) -> Iterable[Manifest]:
    if not isinstance(document, dict):
        return []
    if document.get("kind") == "List" or (
        str(document.get("kind", "")).endswith("List") and "items" in document
    ):
        return [
            Manifest(source, item) for item in document.get("items") or [] if isinstance(item, dict)
        ]
    return [Manifest(source, document)]


def _pod_spec(manifest: Manifest) -> dict[str, Any]:
    spec = manifest.data.get("spec") or {}
    if manifest.kind == "Pod":
        return spec
    return ((spec.get("template") or {}).get("spec")) or {}


def _pod_labels(manifest: Manifest) -> dict[str, str]:
    if manifest.kind == "Pod":
        return (manifest.data.get("metadata") or {}).get("labels") or {}
    template = (manifest.data.get("spec") or {}).get("template") or {}
    return (template.get("metadata") or {}).get("labels") or {}


def _containers(manifest: Manifest) -> list[dict[str, Any]]:
    spec = _pod_spec(manifest)
    return [
        c
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
        if isinstance(c, dict)
    ]


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a label selector picks a pod with ``labels`` (matchLabels and matchExpressions)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and present and labels.get(key) in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _guards_ingress(policy: Manifest) -> bool:
    spec = policy.data.get("spec") or {}
    types = spec.get("policyTypes")
    return "Ingress" in types if types else True  # no policyTypes: Ingress is implied


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    """Objects that run pods."""
    return [m for m in manifests if m.kind in WORKLOAD_KINDS]


def check_network_policies(loaded: LoadedProfile, manifests: list[Manifest]) -> CheckResult:
    """Every workload's pods selected by an Ingress NetworkPolicy in their namespace."""
    policies = [m for m in manifests if m.kind == "NetworkPolicy" and _guards_ingress(m)]
    findings = []
    for workload in workloads(manifests):
        labels = _pod_labels(workload)
        covered = any(
            policy.namespace == workload.namespace
            and _selects((policy.data.get("spec") or {}).get("podSelector"), labels)
            for policy in policies
        )
        if covered:
            continue
        ports = [
            {"protocol": p.get("protocol", "TCP"), "port": p.get("containerPort")}
            for c in _containers(workload)
            for p in c.get("ports") or []
            if isinstance(p, dict) and p.get("containerPort")
        ]
        app = labels.get("app") or workload.name
        fix = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"{app}-network-policy", "namespace": workload.namespace},
            "spec": {
                "podSelector": {"matchLabels": labels or {"app": app}},
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"app": "alfred-platform"}}}],
                        **({"ports": ports} if ports else {}),
                    }
                ],
            },
        }
        findings.append(
            Finding(
                check="k8s-network-policy",
                severity=severity(loaded),
                service=None,
                title=f"{workload.label} in namespace {workload.namespace} has no NetworkPolicy",
                why=(
                    "Without one, every pod in the cluster (any namespace) can open a "
                    "connection to the database; the spec limits it to the platform's pods."
                ),
                fix="Add a NetworkPolicy that admits only the platform's pods on the "
                "database's port (the spec's Network Policies section).",
                fix_yaml=yaml.safe_dump(fix, sort_keys=False, default_flow_style=False),
                where=workload.source,
                source="manifests",
            )
        )
    return CheckResult(
        "k8s-network-policy",
        "Kubernetes NetworkPolicies in front of the databases",
        "failed" if findings else "passed",
        "manifests",
        findings=tuple(findings),
    )


def check_plain_env(loaded: LoadedProfile, manifests: list[Manifest]) -> CheckResult:
    """Credentials written as plain ``env`` values or ConfigMap data instead of a Secret."""
    findings = []
    for workload in workloads(manifests):
        for container in _containers(workload):
            for entry in container.get("env") or []:
                if not isinstance(entry, dict) or "value" not in entry:
                    continue
                name = str(entry.get("name", ""))
                if not is_secret_key(name) or not entry.get("value"):
                    continue
                key = name.lower().replace("_", "-")
                fix = {
                    "name": name,
                    "valueFrom": {"secretKeyRef": {"name": "database-credentials", "key": key}},
                }
                findings.append(
                    Finding(
                        check="k8s-plain-env",
                        severity=severity(loaded),
                        service=None,
                        title=f"{workload.label} container {container.get('name', '?')} has "
                        f"{name} as a plain env value",
                        why=(
                            "Plain env values are stored unencrypted in the object, shown by "
                            "'kubectl describe' and 'kubectl get -o yaml' to anyone who may read "
                            "the workload, and usually committed to git with the manifests."
                        ),
                        fix="Keep the value in a Secret and reference it with secretKeyRef.",
                        fix_yaml=yaml.safe_dump([fix], sort_keys=False, default_flow_style=False),
                        where=workload.source,
                        source="manifests",
                    )
                )
    for config_map in (m for m in manifests if m.kind == "ConfigMap"):
        for key in config_map.data.get("data") or {}:
            if is_secret_key(str(key)):
                findings.append(
                    Finding(
                        check="k8s-plain-env",
                        severity=severity(loaded),
                        title=f"{config_map.label} holds {key}, a credential, in a ConfigMap",
                        why="ConfigMaps are not meant for secrets: readable by more roles, "
                        "never encrypted at rest.",
                        fix="Move it to a Secret.",
                        where=config_map.source,
                        source="manifests",
                    )
                )
    return CheckResult(
        "k8s-plain-env",
        "Kubernetes credentials in Secrets, not plain env",
        "failed" if findings else "passed",
        "manifests",
        findings=tuple(findings),
    )


def check_secret_values(loaded: LoadedProfile, manifests: list[Manifest]) -> CheckResult:
    """Secrets whose values are the spec's defaults (its example Secret ships them)."""
    findings = []
    for secret in (m for m in manifests if m.kind == "Secret"):
        values: dict[str, str] = {}
        for key, value in (secret.data.get("data") or {}).items():
            try:
                values[key] = base64.b64decode(str(value), validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                continue
        for key, value in (secret.data.get("stringData") or {}).items():
            values[key] = str(value)
        for key, value in values.items():
            if value.lower() in WELL_KNOWN_SECRETS and key.lower() not in ("db-user", "username"):
                what = (
                    "the spec's default" if value in SPEC_DEFAULT_SECRETS else "a well-known value"
                )
                findings.append(
                    Finding(
                        check="default-secret",
                        severity=severity(loaded),
                        title=f"{secret.label} key {key} is {what}",
                        why="The spec's example Secret is public; its values protect nothing.",
                        fix=f"Create the Secret from real values: kubectl create secret generic "
                        f'{secret.name} --from-literal={key}="$(openssl rand -base64 32)"',
                        where=secret.source,
                        source="manifests",
                    )
                )
    return CheckResult(
        "k8s-secret-values",
        "Kubernetes Secrets not left at the spec's example values",
        "failed" if findings else "passed",
        "manifests",
        findings=tuple(findings),
    )


MANIFEST_CHECKS = (check_network_policies, check_plain_env, check_secret_values)
MANIFEST_TITLES = {
    "k8s-network-policy": "Kubernetes NetworkPolicies in front of the databases",
    "k8s-plain-env": "Kubernetes credentials in Secrets, not plain env",
    "k8s-secret-values": "Kubernetes Secrets not left at the spec's example values",
}
