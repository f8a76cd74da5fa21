"""A JSON Schema for every event type, generated from the fact classes (SPEC §7).

:func:`events_schema` walks the attrs fields of each
:data:`~axis_licensing.policy.facts.FACT_TYPES` class and maps their annotations
to JSON Schema (draft 2020-12) the way the one converter writes them: dates as
``YYYY-MM-DD`` strings, counts as objects of integers, fractions as ``"n/d"``
strings, enumerations as their values, attrs values as objects. Each event type
gets its envelope (``id``, ``type``, ``org_id``, ``seq``, ``at``, ``data``) in
``$defs``, and the document accepts any one of them.

``python -m axis_licensing.events.schema`` prints it; ``docs/events.schema.json``
is that output, and a test keeps the two equal.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import attrs

from axis_licensing._counts import Counts
from axis_licensing.events.model import event_type
from axis_licensing.policy.facts import FACT_TYPES

__all__ = ["data_schema", "events_schema", "main"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema(tp: Any) -> dict[str, Any]:  # noqa: PLR0911, PLR0912 - one answer per kind of type
    """The JSON Schema of values of annotation ``tp`` as the converter writes them."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [_schema(arg) for arg in typing.get_args(tp)]
        return {"anyOf": options}
    if tp is type(None):
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is str:
        return {"type": "string"}
    if tp is Any:
        return {}
    if tp is date:
        return {"type": "string", "format": "date"}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    if tp is Fraction:
        return {"type": "string", "pattern": r"^-?\d+(/\d+)?$"}
    if tp is Counts:
        return {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    if origin in (list, tuple) or origin is typing.Sequence:
        (item,) = typing.get_args(tp)[:1]
        return {"type": "array", "items": _schema(item)}
    if origin in (dict, Mapping) or origin is typing.Mapping:
        _, value = typing.get_args(tp)
        return {"type": "object", "additionalProperties": _schema(value)}
    if isinstance(tp, type) and attrs.has(tp):
        return _object(tp)
    raise TypeError(f"no JSON Schema for {tp!r}")  # a new field type: teach it here


def _object(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    return {
        "type": "object",
        "properties": {f.name: _schema(hints[f.name]) for f in fields},
        "required": [f.name for f in fields],
        "additionalProperties": False,
    }


def data_schema(cls: type[Any]) -> dict[str, Any]:
    """The schema of an event's ``data`` for the fact class ``cls``.

    Raises:
        TypeError: a field's type has no mapping (add one to this module).
    """
    schema = _object(cls)
    schema["description"] = (cls.__doc__ or "").strip().splitlines()[0]
    return schema


def _envelope(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"},
            "type": {"const": type_},
            "org_id": {"type": "string", "minLength": 1},
            "seq": {"type": "integer", "minimum": 1},
            "at": {"type": "string", "format": "date-time"},
            "data": data,
        },
        "required": ["id", "type", "org_id", "seq", "at", "data"],
        "additionalProperties": False,
    }


def events_schema() -> dict[str, Any]:
    """The JSON Schema of every event (SPEC §7): one ``$defs`` entry per event type.

    Raises:
        TypeError: a fact field's type has no mapping.
    """
    defs = {
        event_type(action): _envelope(event_type(action), data_schema(cls))
        for action, cls in sorted(FACT_TYPES.items())
    }
    return {
        "$schema": _DIALECT,
        "$id": "https://axis-licensing.example/events.schema.json",
        "title": "axis-licensing events (SPEC §7)",
        "description": "An event: its envelope, and the data of its type.",
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in sorted(defs)],
        "$defs": dict(sorted(defs.items())),
    }


def main() -> None:
    """Print :func:`events_schema` as indented JSON (``docs/events.schema.json``)."""
    print(json.dumps(events_schema(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
