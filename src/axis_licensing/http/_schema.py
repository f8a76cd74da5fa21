"""OpenAPI schemas that state the server's real limits (SPEC §6, §6.1).

Two kinds of schema live here:

* the library's scalar-like types, ``Counts`` and ``Fraction``, which Litestar
  cannot see into (:class:`ValueSchemas`);
* the request bodies (:class:`BodySchemas`). A body's fields are decoded as
  they came (no coercion: ``"3"`` stays a string) and checked by the library
  itself, so the API accepts exactly what the library accepts and answers
  with its message, code and ``param``. The schema of each field is declared
  beside it (:func:`spec`), from the same constants the library checks with
  (``MAX_ID``, ``MAX_QUANTITY``, ...), and ``tests/test_http_edges.py`` probes
  the server at every bound the schema states.

The id patterns are the part of R14's rule that every validator reads alike:
JSON Schema's ``pattern`` is ECMA-262 while Python's ``re`` (schemathesis,
hypothesis) knows no ``\\p{L}``, so a new id's pattern is its ASCII subset,
and the description says that letters and digits of every script are
accepted too. So a request valid by the schema is always accepted.
"""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, TypeVar

import attrs
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from axis_licensing._counts import Counts
from axis_licensing._validate import ID_PUNCTUATION, MAX_ID, MAX_QUANTITY

__all__ = [
    "BODY_TYPES",
    "NEW_ID_PATTERN",
    "REF_PATTERN",
    "BodySchemas",
    "ValueSchemas",
    "body",
    "counts_schema",
    "extra",
    "id_schema",
    "new_id_schema",
    "spec",
    "text_schema",
    "type_encoders",
]

T = TypeVar("T")

#: The attrs metadata keys of a body field's schema, or of what to add to the generated one.
_SCHEMA = "axis_licensing.openapi"
_EXTRA = "axis_licensing.openapi.extra"

#: The body classes whose schema :class:`BodySchemas` writes.
BODY_TYPES: set[type] = set()

#: A new id (R14), ASCII part: ``. _ - ~ : @ +``, letters and digits, not ``.`` or ``..``.
NEW_ID_PATTERN = r"^(?!\.\.?$)[A-Za-z0-9" + ID_PUNCTUATION.replace("-", "") + "-" + r"]+$"

#: Text the library takes as an id it refers to, or a name (R14): no control characters,
#: not only spaces. Read alike by ECMA-262 and Python's ``re``.
REF_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f\s][^\x00-\x1f\x7f-\x9f]*$"

_NEW_ID_TEXT = (
    "A new id (R14): 1 to 128 letters and digits of any script (with their combining "
    "marks) and . _ - ~ : @ +, neither '.' nor '..'. The pattern states the ASCII part, "
    "which every JSON Schema validator reads alike; the server accepts the rest of the rule too."
)


def new_id_schema(description: str, reserved: Iterable[str] = ()) -> Schema:
    """The schema of a new id (organization, system, serial, request id) (R14).

    Args:
        description: what the id names.
        reserved: ids the server refuses although the rule takes them (SPEC §6.1).
    """
    refused = "".join(f"(?!{re.escape(word)}$)" for word in reserved)
    return Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=MAX_ID,
        pattern="^" + refused + NEW_ID_PATTERN[1:],
        description=f"{description}. {_NEW_ID_TEXT}",
    )


def id_schema(description: str) -> Schema:
    """The schema of an id a request refers to (R14: ids created before the rule stay valid)."""
    return text_schema(description, MAX_ID)


def text_schema(description: str, max_length: int) -> Schema:
    """Text: 1 to ``max_length`` characters, no control characters, not only spaces (R14)."""
    return Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=max_length,
        pattern=REF_PATTERN,
        description=description,
    )


def counts_schema(description: str, *, allow_zero: bool, allow_empty: bool) -> Schema:
    """Counts per license type, as the library's ``check_counts`` takes them (R14)."""
    return Schema(
        type=OpenAPIType.OBJECT,
        additional_properties=Schema(
            type=OpenAPIType.INTEGER, minimum=0 if allow_zero else 1, maximum=MAX_QUANTITY
        ),
        property_names=Schema(
            type=OpenAPIType.STRING, min_length=1, max_length=MAX_ID, pattern=REF_PATTERN
        ),
        min_properties=None if allow_empty else 1,
        description=description,
        examples=[{"core": 3}],
    )


def spec(schema: Schema, **kwargs: Any) -> Any:
    """An attrs field of a request body whose schema is ``schema``.

    The field takes the JSON value as it came; the library checks it.
    ``kwargs`` go to :func:`attrs.field` (a ``default``).
    """
    return attrs.field(metadata={_SCHEMA: schema}, **kwargs)


def extra(**schema: Any) -> Any:
    """An attrs field of a request body whose generated schema gets ``schema``'s attributes."""
    return attrs.field(metadata={_EXTRA: schema})


def body(cls: type[T]) -> type[T]:
    """Mark an attrs class as a request body: :class:`BodySchemas` writes its schema."""
    BODY_TYPES.add(cls)
    return cls


def body_fields(cls: type) -> tuple[dict[str, Any], set[str]]:
    """A body class's field types (resolved) and the names of its required fields."""
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    return (
        {f.name: hints[f.name] for f in fields},
        {f.name for f in fields if f.default is attrs.NOTHING},
    )


class BodySchemas(OpenAPISchemaPlugin):
    """Request bodies: the declared schema of each field, ``additionalProperties: false``."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        """The classes marked with :func:`body`."""
        return value in BODY_TYPES

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        """The component schema of a body class."""
        cls = field_definition.type_
        hints, required = body_fields(cls)
        schema: Schema = schema_creator.create_component_schema(
            field_definition,
            required=sorted(required),
            property_fields={
                name: FieldDefinition.from_kwarg(hint, name) for name, hint in hints.items()
            },
        )
        properties = dict(schema.properties or {})
        for field in attrs.fields(cls):
            for name, value in field.metadata.get(_EXTRA, {}).items():
                generated = properties[field.name]
                assert isinstance(generated, Schema)
                setattr(generated, name, value)
            declared = field.metadata.get(_SCHEMA)
            if declared is None:
                continue
            own = copy.deepcopy(declared)
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            if default is not attrs.NOTHING:
                own.default = default
            properties[field.name] = own
        schema.properties = properties
        schema.additional_properties = False
        schema.description = (cls.__doc__ or "").strip().splitlines()[0] or None
        return schema


class ValueSchemas(OpenAPISchemaPlugin):
    """``Counts`` as an object of positive integers; ``Fraction`` as an ``"n/d"`` string."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        """Counts and Fraction."""
        return value is Counts or value is Fraction

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        """The schema of ``Counts`` or ``Fraction``."""
        if field_definition.annotation is Fraction:
            return Schema(
                type=OpenAPIType.STRING,
                pattern=r"^-?[0-9]+(/[0-9]+)?$",
                description="An exact fraction, as 'n/d'",
                examples=["1/3"],
            )
        return Schema(
            type=OpenAPIType.OBJECT,
            additional_properties=Schema(type=OpenAPIType.INTEGER, minimum=1),
            description="Counts per license type; zero entries are left out",
            examples=[{"core": 3, "universal": 1}],
        )


def type_encoders() -> dict[Any, Any]:
    """How the response encoder writes ``Counts`` and ``Fraction`` (as the converter does)."""
    return {Counts: Counts.to_dict, Fraction: str}
