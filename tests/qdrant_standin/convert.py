"""Qdrant REST JSON to ``qdrant_edge`` objects and back.

Only what the stand-in serves is converted: dense vectors (one unnamed or
several named), payloads, point ids (unsigned integers or UUID strings),
filters built from field, id, emptiness, null and nested conditions, and
payload index types. Anything else is refused with a message that says it
is the stand-in that cannot do it.
"""

from __future__ import annotations

import uuid
from typing import Any

import qdrant_edge as qe

from .errors import format_error, unsupported, wrong_input

DISTANCES = {
    "Cosine": qe.Distance.Cosine,
    "Euclid": qe.Distance.Euclid,
    "Dot": qe.Distance.Dot,
    "Manhattan": qe.Distance.Manhattan,
}

PAYLOAD_TYPES = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "geo": qe.PayloadSchemaType.Geo,
    "text": qe.PayloadSchemaType.Text,
    "bool": qe.PayloadSchemaType.Bool,
    "datetime": qe.PayloadSchemaType.Datetime,
    "uuid": qe.PayloadSchemaType.Uuid,
}
_PAYLOAD_TYPE_NAMES = {value: key for key, value in PAYLOAD_TYPES.items()}


def payload_type_name(value: Any) -> str:
    """``keyword`` for ``PayloadSchemaType.Keyword`` (Qdrant's REST spelling)."""
    return _PAYLOAD_TYPE_NAMES.get(value, str(value).rsplit(".", 1)[-1].lower())


# --- ids, vectors, points -----------------------------------------------------


def point_id(value: Any) -> int | uuid.UUID:
    """A REST point id: an unsigned integer or a UUID string."""
    if isinstance(value, bool):
        raise format_error(f"point id must be an unsigned integer or a UUID, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise format_error(f"point id must be an unsigned integer or a UUID, not {value}")
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            raise format_error(
                f"Unable to parse UUID: {value}; point ids are unsigned integers or UUIDs"
            ) from None
    raise format_error(f"point id must be an unsigned integer or a UUID, not {value!r}")


def id_json(value: Any) -> int | str:
    """A point id as Qdrant writes it in JSON."""
    return value if isinstance(value, int) else str(value)


def _dense(value: Any, where: str) -> list[float]:
    if not isinstance(value, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        if isinstance(value, dict) and ("indices" in value or "text" in value):
            raise unsupported(f"{where}: sparse and inference vectors")
        raise format_error(f"{where}: expected a list of numbers")
    return [float(x) for x in value]


def vector(value: Any, vector_sizes: dict[str, int], where: str = "vector") -> Any:
    """A point's vector(s), checked against the collection's vector sizes."""
    if isinstance(value, dict):
        named = {}
        for name, item in value.items():
            if name not in vector_sizes:
                raise format_error(f"{where}: Not existing vector name error: {name}")
            named[name] = _dense(item, f"{where}.{name}")
            _check_size(named[name], vector_sizes[name])
        return named
    dense = _dense(value, where)
    if "" not in vector_sizes:
        names = ", ".join(sorted(vector_sizes))
        raise format_error(f"{where}: this collection has named vectors ({names}); name one")
    _check_size(dense, vector_sizes[""])
    return dense


def _check_size(values: list[float], expected: int) -> None:
    if len(values) != expected:
        raise wrong_input(f"Vector dimension error: expected dim: {expected}, got {len(values)}")


def points(body: dict[str, Any], vector_sizes: dict[str, int]) -> list[qe.Point]:
    """The points of an upsert body: ``{"points": [...]}`` or ``{"batch": {...}}``."""
    if "points" in body:
        items = body["points"]
        if not isinstance(items, list):
            raise format_error("points: expected a list")
        result = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or "id" not in item:
                raise format_error(f"points[{index}]: expected an object with an id")
            result.append(
                qe.Point(
                    id=point_id(item["id"]),
                    vector=vector(item.get("vector"), vector_sizes, f"points[{index}].vector"),
                    payload=_payload(item.get("payload"), f"points[{index}].payload"),
                )
            )
        return result
    batch = body.get("batch")
    if not isinstance(batch, dict):
        raise format_error("expected `points` or `batch`")
    ids = batch.get("ids") or []
    vectors = batch.get("vectors")
    payloads = batch.get("payloads") or [None] * len(ids)
    if isinstance(vectors, dict):
        rows = [{name: column[i] for name, column in vectors.items()} for i in range(len(ids))]
    elif isinstance(vectors, list):
        rows = vectors
    else:
        raise format_error("batch.vectors: expected a list or an object of lists")
    if not (len(ids) == len(rows) == len(payloads)):
        raise format_error("batch: ids, vectors and payloads must have the same length")
    return [
        qe.Point(
            id=point_id(ids[i]),
            vector=vector(rows[i], vector_sizes, f"batch.vectors[{i}]"),
            payload=_payload(payloads[i], f"batch.payloads[{i}]"),
        )
        for i in range(len(ids))
    ]


def _payload(value: Any, where: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise format_error(f"{where}: expected an object")


def vector_json(value: Any) -> Any:
    """A stored vector as Qdrant writes it: a list for the unnamed vector, else by name."""
    if isinstance(value, dict) and set(value) == {""}:
        return value[""]
    return value


def record_json(record: Any) -> dict[str, Any]:
    """A ``Record`` as Qdrant's REST ``Record``."""
    return {
        "id": id_json(record.id),
        "payload": record.payload,
        "vector": vector_json(record.vector),
        "shard_key": None,
        "order_value": record.order_value,
    }


def scored_json(point: Any) -> dict[str, Any]:
    """A ``ScoredPoint`` as Qdrant's REST ``ScoredPoint``."""
    return {
        "id": id_json(point.id),
        "version": point.version,
        "score": point.score,
        "payload": point.payload,
        "vector": vector_json(point.vector),
        "shard_key": None,
        "order_value": point.order_value,
    }


def with_payload(value: Any, default: bool) -> Any:
    """``with_payload``: true/false, a list of keys, or ``{"include"|"exclude": [...]}``."""
    if value is None:
        return default
    if isinstance(value, bool | list):
        return value
    if isinstance(value, dict) and "include" in value:
        return qe.PayloadSelector.Include(list(value["include"]))
    if isinstance(value, dict) and "exclude" in value:
        return qe.PayloadSelector.Exclude(list(value["exclude"]))
    raise format_error(f"with_payload: unexpected {value!r}")


def with_vector(value: Any, default: bool) -> Any:
    """``with_vector``: true/false or a list of vector names."""
    if value is None:
        return default
    if isinstance(value, bool | list):
        return value
    raise format_error(f"with_vector: unexpected {value!r}")


# --- filters -------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def filter_(value: Any) -> qe.Filter | None:
    """A REST ``Filter`` (``must``/``should``/``must_not``/``min_should``)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise format_error("filter: expected an object")
    min_should = None
    if value.get("min_should") is not None:
        spec = value["min_should"]
        min_should = qe.MinShould(
            conditions=[condition(c) for c in _as_list(spec.get("conditions"))],
            min_count=int(spec.get("min_count", 1)),
        )
    return qe.Filter(
        must=[condition(c) for c in _as_list(value.get("must"))] or None,
        should=[condition(c) for c in _as_list(value.get("should"))] or None,
        must_not=[condition(c) for c in _as_list(value.get("must_not"))] or None,
        min_should=min_should,
    )


def condition(value: Any) -> Any:
    """One condition of a filter."""
    if not isinstance(value, dict):
        raise format_error("filter condition: expected an object")
    if "key" in value:
        return _field_condition(value)
    if "has_id" in value:
        return qe.HasIdCondition({point_id(item) for item in value["has_id"]})
    if "is_empty" in value:
        return qe.IsEmptyCondition(value["is_empty"]["key"])
    if "is_null" in value:
        return qe.IsNullCondition(value["is_null"]["key"])
    if "nested" in value:
        nested = value["nested"]
        return qe.NestedCondition(nested["key"], filter_(nested["filter"]))
    if "filter" in value:
        return filter_(value["filter"])
    if {"must", "should", "must_not", "min_should"} & set(value):
        return filter_(value)
    raise unsupported(f"filter condition {sorted(value)}")


def _field_condition(value: dict[str, Any]) -> qe.FieldCondition:
    key = value["key"]
    match = value.get("match")
    converted_match = None
    if match is not None:
        if "value" in match:
            converted_match = qe.MatchValue(match["value"])
        elif "any" in match:
            converted_match = qe.MatchAny(list(match["any"]))
        elif "except" in match:
            converted_match = qe.MatchExcept(list(match["except"]))
        elif "text" in match:
            converted_match = qe.MatchText(match["text"])
        else:
            raise unsupported(f"match {sorted(match)}")
    converted_range = None
    if value.get("range") is not None:
        bounds = value["range"]
        if any(isinstance(v, str) for v in bounds.values()):
            raise unsupported("datetime ranges")
        converted_range = qe.RangeFloat(
            gte=bounds.get("gte"), gt=bounds.get("gt"), lte=bounds.get("lte"), lt=bounds.get("lt")
        )
    if any(value.get(k) is not None for k in ("geo_bounding_box", "geo_radius", "geo_polygon")):
        raise unsupported("geo conditions")
    values_count = None
    if value.get("values_count") is not None:
        counts = value["values_count"]
        values_count = qe.ValuesCount(
            lt=counts.get("lt"), gt=counts.get("gt"), lte=counts.get("lte"), gte=counts.get("gte")
        )
    return qe.FieldCondition(
        key=key,
        match=converted_match,
        range=converted_range,
        values_count=values_count,
        is_empty=value.get("is_empty"),
        is_null=value.get("is_null"),
    )


# --- collection configuration ---------------------------------------------------


def payload_schema_type(value: Any) -> Any:
    """``field_schema`` of a payload index: ``"keyword"`` or ``{"type": "keyword", ...}``."""
    name = value.get("type") if isinstance(value, dict) else value
    if name not in PAYLOAD_TYPES:
        raise format_error(f"field_schema: unknown type {name!r}")
    return PAYLOAD_TYPES[name]
