"""Field ownership: who set which field, as server-side apply tracks it (``managedFields``).

Every write records, per field manager and operation (``Apply`` or
``Update``), the fields it set, at the granularity Kubernetes uses: leaves
of maps, list items by their merge key (``containers[name="redis"]``), and
lists without a key as one field. An apply that would change a field another
manager owns is a conflict (409, the API's wording), unless it is forced,
which takes the field over; an update takes over the fields it changed.
Ownership is shown as ``managedFields`` with ``fieldsV1``, as the API does.
"""

from __future__ import annotations

import json
from typing import Any

from .patching import _item_key, _list_key

Path = tuple[tuple[str, str], ...]
Owner = tuple[str, str]
"""(field manager, ``Apply`` or ``Update``)."""

_TOP_LEVEL_SKIPPED = {"apiVersion", "kind", "status"}
_METADATA_OWNED = {"labels", "annotations", "finalizers", "ownerReferences"}


def owned_part(obj: dict[str, Any]) -> dict[str, Any]:
    """The part of an object whose fields have owners (not status, not server metadata)."""
    part = {k: v for k, v in obj.items() if k not in _TOP_LEVEL_SKIPPED and k != "metadata"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k in _METADATA_OWNED}
    if meta:
        part["metadata"] = meta
    return part


def fields_of(obj: Any, field: str = "") -> set[Path]:
    """Every owned field of ``obj`` (see the module docstring)."""
    found: set[Path] = set()

    def walk(node: Any, prefix: Path, name: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                if not key.startswith("$"):
                    walk(value, (*prefix, ("f", key)), key)
        elif isinstance(node, list) and node and _list_key(name, node) is not None:
            merge_key = _list_key(name, node)
            assert merge_key is not None
            for item in node:
                ident = json.dumps({merge_key: _item_key(item, merge_key)}, sort_keys=True)
                walk(item, (*prefix, ("k", ident)), "")
        else:
            found.add(prefix)

    walk(obj, (), field)
    return found


def value_at(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj``, or a marker when absent."""
    node = obj
    for kind, step in path:
        if kind == "f":
            if not isinstance(node, dict) or step not in node:
                return _ABSENT
            node = node[step]
        else:
            wanted = json.loads(step)
            (key, value), *_ = wanted.items()
            items = node if isinstance(node, list) else []
            node = next((i for i in items if _item_key(i, key) == value), _ABSENT)
            if node is _ABSENT:
                return _ABSENT
    return node


_ABSENT = object()


def describe(path: Path) -> str:
    """``.spec.template.spec.containers[name="redis"].image``, as conflicts name fields."""
    text = ""
    for kind, step in path:
        if kind == "f":
            text += f".{step}"
        else:
            (key, value), *_ = json.loads(step).items()
            text += f"[{key}={json.dumps(value)}]"
    return text


def fields_v1(paths: set[Path]) -> dict[str, Any]:
    """The ``fieldsV1`` tree of a set of fields."""
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for kind, step in path:
            node = node.setdefault(f"{kind}:{step}", {})
            if kind == "k":
                node.setdefault(".", {})
    return tree


class Conflict(Exception):
    """An apply would change fields other managers own."""

    def __init__(self, conflicts: list[tuple[Owner, Path]], api_version: str) -> None:
        self.conflicts = conflicts
        self.api_version = api_version
        managers = sorted({owner[0] for owner, _ in conflicts})
        count = len(conflicts)
        plural = "conflict" if count == 1 else "conflicts"
        if len(managers) == 1 and count == 1:
            (_, path), *_ = conflicts
            text = (
                f'Apply failed with 1 conflict: conflict with "{managers[0]}" using '
                f"{api_version}: {describe(path)}"
            )
        else:
            lines = "".join(f"\n- {describe(path)}" for _, path in conflicts)
            who = ", ".join(f'"{m}"' for m in managers)
            text = f"Apply failed with {count} {plural}: conflicts with {who}:{lines}"
        super().__init__(text)

    def causes(self) -> list[dict[str, str]]:
        """The ``details.causes`` of the 409."""
        return [
            {
                "reason": "FieldManagerConflict",
                "message": f'conflict with "{owner[0]}" using {self.api_version}',
                "field": describe(path),
            }
            for owner, path in self.conflicts
        ]


class Ownership:
    """The owners of one object's fields."""

    def __init__(self) -> None:
        self.owners: dict[Owner, set[Path]] = {}

    def created(self, owner: Owner, obj: dict[str, Any]) -> None:
        """The creator owns everything it set."""
        self.owners = {owner: fields_of(owned_part(obj))}

    def updated(self, owner: Owner, old: dict[str, Any], new: dict[str, Any]) -> None:
        """An update (PUT, PATCH, a subresource) takes over the fields it changed."""
        before, after = owned_part(old), owned_part(new)
        now = fields_of(after)
        changed = {p for p in now | fields_of(before) if value_at(before, p) != value_at(after, p)}
        for paths in self.owners.values():
            paths.difference_update(changed)
            paths.intersection_update(now)
        self.owners.setdefault(owner, set()).update(changed & now)
        self._drop_empty()

    def applied(
        self,
        owner: Owner,
        config: dict[str, Any],
        live: dict[str, Any],
        merged: dict[str, Any],
        force: bool,
        api_version: str,
    ) -> None:
        """An apply: conflicts unless forced; then the applier owns exactly what it applied."""
        wanted = fields_of(owned_part(config))
        before, after = owned_part(live), owned_part(merged)
        conflicts = [
            (other, path)
            for other, paths in sorted(self.owners.items())
            if other != owner
            for path in sorted(paths & wanted)
            if value_at(before, path) != value_at(after, path)
        ]
        if conflicts and not force:
            raise Conflict(conflicts, api_version)
        now = fields_of(after)
        taken = {(other, path) for other, path in conflicts}  # forced: they change hands
        for other, paths in self.owners.items():
            paths.difference_update({path for o, path in taken if o == other})
            paths.intersection_update(now)
        self.owners[owner] = wanted & now
        self._drop_empty()

    def snapshot(self) -> dict[Owner, frozenset[Path]]:
        """The owners as they are (to tell whether a write changed them)."""
        return {owner: frozenset(paths) for owner, paths in self.owners.items()}

    def _drop_empty(self) -> None:
        self.owners = {o: p for o, p in self.owners.items() if p}

    def managed_fields(self, api_version: str, times: dict[Owner, str]) -> list[dict[str, Any]]:
        """The object's ``metadata.managedFields``."""
        return [
            {
                "manager": manager,
                "operation": operation,
                "apiVersion": api_version,
                "time": times.get((manager, operation), ""),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(paths),
            }
            for (manager, operation), paths in self.owners.items()
        ]
