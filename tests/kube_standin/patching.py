"""Patch semantics of the Kubernetes API, as far as the stand-in needs them.

- JSON merge patch (RFC 7386): maps merge, ``null`` deletes, lists replace.
- Strategic merge patch: like a merge patch, but the lists Kubernetes marks
  with a merge key (containers by ``name``, ports by ``containerPort``...)
  merge item by item; the ``$setElementOrder``/``$retainKeys`` directives
  kubectl sends are accepted and ignored, ``$patch: delete`` removes an item.
- JSON patch (RFC 6902) through the ``jsonpatch`` package kmock depends on.
- Server-side apply, simplified: the applied configuration is merged
  strategically over the live object, and fields this field manager applied
  last time but no longer applies are removed. Field ownership across
  managers (conflicts, shared ownership) is not modelled.
"""

from __future__ import annotations

import copy
from typing import Any

#: List fields that merge by a key in a strategic merge patch (the common ones).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeClaimTemplates": "metadata.name",
    "imagePullSecrets": "name",
    "conditions": "type",
    "tolerations": "key",
}
#: ``ports`` merge by ``containerPort`` in containers and by ``port`` in Services.
PORT_KEYS = ("containerPort", "port")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _item_key(item: Any, key: str) -> Any:
    node = item
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _list_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        for key in PORT_KEYS:
            if all(isinstance(i, dict) and key in i for i in items):
                return key
        return None
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """A strategic merge patch of ``patch`` onto ``target``."""
    if isinstance(patch, list):
        key = _list_key(field, patch)
        if key is None or not isinstance(target, list):
            return [strategic_merge(None, item) for item in patch]
        result = copy.deepcopy(target)
        for item in patch:
            item_key = _item_key(item, key)
            directive = item.get("$patch") if isinstance(item, dict) else None
            index = next(
                (i for i, existing in enumerate(result) if _item_key(existing, key) == item_key),
                None,
            )
            if directive == "delete":
                if index is not None:
                    del result[index]
            elif index is None:
                result.append(strategic_merge(None, item))
            else:
                result[index] = strategic_merge(result[index], item)
        return result
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $setElementOrder/..., $retainKeys, $deleteFromPrimitiveList/...
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge(result.get(key), value, key)
    return result


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch."""
    import jsonpatch

    return jsonpatch.apply_patch(target, operations)


def remove_unapplied(live: Any, previous: Any, current: Any, field: str = "") -> Any:
    """``live`` without the fields that ``previous`` applied and ``current`` no longer does."""
    if isinstance(live, dict) and isinstance(previous, dict):
        current = current if isinstance(current, dict) else {}
        result = dict(live)
        for key, value in previous.items():
            if key not in result or key.startswith("$"):
                continue
            if key not in current:
                del result[key]
            else:
                result[key] = remove_unapplied(result[key], value, current[key], key)
        return result
    if isinstance(live, list) and isinstance(previous, list):
        key = _list_key(field, previous)
        if key is None:
            return live
        current_keys = {
            _item_key(item, key) for item in (current if isinstance(current, list) else [])
        }
        gone = {_item_key(item, key) for item in previous} - current_keys
        return [
            remove_unapplied(item, _match(previous, key, item), _match(current, key, item), field)
            for item in live
            if _item_key(item, key) not in gone
        ]
    return live


def _match(items: Any, key: str, item: Any) -> Any:
    if not isinstance(items, list):
        return None
    wanted = _item_key(item, key)
    return next((i for i in items if _item_key(i, key) == wanted), None)


def server_side_apply(live: dict[str, Any] | None, previous: Any, applied: dict[str, Any]) -> Any:
    """The object after applying ``applied`` for a manager that last applied ``previous``."""
    base = remove_unapplied(live or {}, previous or {}, applied)
    return strategic_merge(base, applied)
