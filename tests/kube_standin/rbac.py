"""Who may do what: bearer tokens, RBAC rules, and the API's 401 and 403.

The stand-in authenticates the bearer token of each request and authorizes
its verb on its resource as Kubernetes' RBAC authorizer does (rules of
verbs x API groups x resources, cluster-wide or per namespace). Two kinds of
user come built in: the administrator every kubeconfig gets by default, and
:func:`viewer`, Kubernetes' ``view`` ClusterRole (read everything but
Secrets; no exec, no port-forward) bound in some namespaces only. A
``SelfSubjectAccessReview`` answers what ``kubectl auth can-i`` asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType

ANY = "*"


@dataclass(frozen=True)
class Rule:
    """One PolicyRule, bound cluster-wide (``namespaces`` None) or in some namespaces."""

    verbs: frozenset[str]
    resources: frozenset[str]
    """Resource plurals, ``pods/log``-style subresources, or ``*``."""
    groups: frozenset[str] = frozenset({ANY})
    namespaces: frozenset[str] | None = None

    def allows(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        """Whether this rule grants ``verb`` on ``resource`` of ``group`` in ``namespace``."""
        if self.namespaces is not None and (namespace is None or namespace not in self.namespaces):
            return False
        return (
            (ANY in self.verbs or verb in self.verbs)
            and (ANY in self.groups or group in self.groups)
            and (ANY in self.resources or resource in self.resources)
        )


@dataclass(frozen=True)
class User:
    """An authenticated user and the rules bound to it."""

    name: str
    rules: tuple[Rule, ...]

    def can(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        """RBAC's answer (rules only ever add permissions)."""
        return any(rule.allows(verb, group, resource, namespace) for rule in self.rules)


ADMIN = User(
    "kubernetes-admin",
    (Rule(frozenset({ANY}), frozenset({ANY})),),
)

#: What Kubernetes' ``view`` ClusterRole reads (Secrets deliberately absent).
_VIEW_RESOURCES = frozenset(
    {
        "pods",
        "pods/log",
        "pods/status",
        "services",
        "services/status",
        "configmaps",
        "events",
        "persistentvolumeclaims",
        "persistentvolumeclaims/status",
        "namespaces",
        "namespaces/status",
        "statefulsets",
        "statefulsets/status",
        "statefulsets/scale",
        "networkpolicies",
    }
)


def viewer(name: str, namespaces: Iterable[str] | None = None) -> User:
    """The ``view`` ClusterRole, bound to ``name`` in ``namespaces`` (None: everywhere)."""
    where = frozenset(namespaces) if namespaces is not None else None
    return User(
        name,
        (
            Rule(frozenset({"get", "list", "watch"}), _VIEW_RESOURCES, namespaces=where),
            # Reading one's namespace object itself is cluster-scoped in the URL.
            Rule(frozenset({"get"}), frozenset({"namespaces"})),
        ),
    )


def verb_of(method: str, named: bool, watch: bool, subresource: str | None) -> str:
    """The RBAC verb of a request (exec, attach and port-forward are ``create``)."""
    if subresource in ("exec", "attach", "portforward"):
        return "create"
    if method == "GET":
        return "watch" if watch else ("get" if named else "list")
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def forbidden_message(
    user: User,
    verb: str,
    rt: ResourceType,
    subresource: str | None,
    name: str | None,
    namespace: str | None,
) -> str:
    """The API's 403 wording."""
    resource = rt.plural + (f"/{subresource}" if subresource else "")
    subject = f'{rt.qualified} "{name}"' if name else rt.qualified
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" '
        f'in API group "{rt.group}"{where}'
    )


# --- SelfSubjectAccessReview in protobuf (what kubectl auth can-i sends) ---------------------

_PROTOBUF_MAGIC = b"k8s\x00"
_ATTRIBUTES = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
"""``ResourceAttributes`` fields 1-7, in their protobuf numbering."""


def _fields(message: bytes) -> dict[int, list[Any]]:
    """The fields of a protobuf message: varints as ints, length-delimited as bytes."""
    found: dict[int, list[Any]] = {}
    position = 0

    def varint() -> int:
        nonlocal position
        value, shift = 0, 0
        while True:
            byte = message[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while position < len(message):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value: Any = varint()
        elif wire == 2:
            size = varint()
            value = message[position : position + size]
            position += size
        elif wire == 1:
            value, position = message[position : position + 8], position + 8
        elif wire == 5:
            value, position = message[position : position + 4], position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        found.setdefault(number, []).append(value)
    return found


def access_review_from_protobuf(body: bytes) -> dict[str, Any]:
    """A ``SelfSubjectAccessReview`` sent in Kubernetes' protobuf encoding, as JSON would be.

    The envelope (``k8s\\0`` + ``runtime.Unknown``) holds the object in field 2;
    its ``spec`` (2) holds ``resourceAttributes`` (1), whose fields 1-7 are
    namespace, verb, group, version, resource, subresource and name.
    """
    if not body.startswith(_PROTOBUF_MAGIC):
        raise ValueError("not Kubernetes protobuf (no k8s\\0 prefix)")
    raw = _fields(body[len(_PROTOBUF_MAGIC) :]).get(2, [b""])[0]
    spec = _fields(raw).get(2, [b""])[0]
    attributes = _fields(spec).get(1, [b""])[0]
    values = _fields(attributes)
    resource = {
        name: values[number][0].decode()
        for number, name in enumerate(_ATTRIBUTES, 1)
        if number in values
    }
    return {"spec": {"resourceAttributes": resource}}
