"""The one cattrs converter: values to and from JSON (STYLE.md).

It serves stored states, idempotent results, the CLI's ``--json`` output and
:func:`axis_licensing.to_json`. Dates and instants are ISO 8601 strings,
fractions are ``"n/d"`` strings, enumerations are their values and counts are
plain objects.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from fractions import Fraction
from typing import Any, TypeVar

import cattrs
import orjson
from cattrs.preconf.json import make_converter

from axis_licensing._counts import Counts
from axis_licensing.errors import LicensingError, error_jsonable

__all__ = [
    "converter",
    "dumps",
    "dumps_data",
    "dumps_fast",
    "fingerprint",
    "loads",
    "loads_data",
    "to_jsonable",
]

T = TypeVar("T")

converter: cattrs.Converter = make_converter()


def _structure_date(value: Any, _: type) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return date.fromisoformat(value)


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


converter.register_unstructure_hook(Fraction, str)
converter.register_structure_hook(Fraction, lambda value, _: Fraction(value))
converter.register_unstructure_hook(Counts, Counts.to_dict)
converter.register_structure_hook(Counts, lambda value, _: Counts(value))
converter.register_unstructure_hook(date, date.isoformat)
converter.register_structure_hook(date, _structure_date)
converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_structure_hook(datetime, _structure_datetime)
converter.register_unstructure_hook(frozenset, sorted)
# StrEnum members are strs: without this hook they would pass through as members (R14, §3).
converter.register_unstructure_hook(enum.StrEnum, lambda member: member.value)
converter.register_structure_hook(type(None), lambda value, _: None)
# bytes (a signed license file, as an upload's remembered result) are base64 text
converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
converter.register_structure_hook(bytes, lambda value, _: base64.b64decode(value))


def to_jsonable(value: object) -> Any:
    """``value`` (any public value, or a list or dict of them) as JSON-ready data.

    A library error becomes ``{"code", "message", "details"}`` (R14).

    Args:
        value: a public value, an error, or a list, tuple or mapping of them.

    Returns:
        Data made of dicts, lists, strings, numbers, booleans and None.
    """
    if isinstance(value, LicensingError):
        return error_jsonable(value)
    if isinstance(value, Mapping) and not isinstance(value, Counts):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "__attrs_attrs__"):
        return [to_jsonable(v) for v in value]
    return converter.unstructure(value)


_SORTED = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps(value: object) -> str:
    """Compact, key-sorted JSON text for ``value``."""
    return _SORTED.encode(to_jsonable(value))


def dumps_data(data: Any) -> str:
    """Compact, key-sorted JSON text for data that is already JSON-ready.

    The same text as :func:`dumps` gives, made by orjson: this runs for every activity.
    """
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


def dumps_fast(value: object) -> str:
    """Compact JSON text for an attrs value, in field order: for storage, where speed counts.

    orjson writes the same text as ``json.dumps(..., separators=(",", ":"),
    ensure_ascii=False)``, several times faster; every command stores a state.
    """
    return orjson.dumps(converter.unstructure(value), option=orjson.OPT_NON_STR_KEYS).decode()


def loads(text: str | bytes, cls: type[T]) -> T:
    """The value of type ``cls`` stored as JSON ``text``."""
    return converter.structure(orjson.loads(text), cls)


def loads_data(text: str | bytes) -> Any:
    """The JSON-ready data stored as JSON ``text`` (the inverse of :func:`dumps_data`)."""
    return json.loads(text)


def fingerprint(action: str, args: Mapping[str, Any]) -> str:
    """The idempotency fingerprint of a command: ``action`` with its checked arguments (R13).

    A SHA-256 of the converter's form of both. Stored with each remembered
    ``request_id``; the text must never change, or retries of requests stored
    earlier would raise IdempotencyConflict instead of replaying.

    Args:
        action: the command's name, such as ``"allocate"`` or ``"vendor.issue_key"``.
        args: its arguments after checking.

    Returns:
        The hex digest.
    """
    text = json.dumps(
        {"action": action, "args": converter.unstructure(dict(args))},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()
