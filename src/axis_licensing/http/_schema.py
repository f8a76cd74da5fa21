"""OpenAPI schemas for the library's two scalar-like types: ``Counts`` and ``Fraction``.

Everything else (attrs classes, enums, dates) Litestar derives from the types
on its own; these two it cannot see into.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from axis_licensing._counts import Counts

__all__ = ["ValueSchemas", "type_encoders"]


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
