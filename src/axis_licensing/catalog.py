"""The vendor's catalog: products, their terms and license types (SPEC §1).

A catalog is plain data, given to the Manager at open. It validates itself on
construction, so every later rule can trust it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from fractions import Fraction
from typing import TypeVar

import attrs

from axis_licensing._validate import check_id, check_int, check_text
from axis_licensing.errors import InvalidInput, UnknownProduct

__all__ = [
    "EXAMPLE_CATALOG",
    "MAX_GROWTH_DENOMINATOR",
    "MAX_GROWTH_RATE",
    "MAX_TERM_YEARS",
    "MAX_WINDOW_DAYS",
    "Catalog",
    "CatalogVersion",
    "LicenseType",
    "ProductSpec",
]


#: Bounds of a product's terms (R2, R3), so every date a rule computes from them
#: fits the calendar: ``term_years`` in 1..10, ``trial_days`` and ``grace_days``
#: in 0..366, ``growth_rate`` in 0..100 with a denominator of at most 1,000,000.
MAX_TERM_YEARS = 10
MAX_WINDOW_DAYS = 366
MAX_GROWTH_RATE = Fraction(100)
MAX_GROWTH_DENOMINATOR = 1_000_000

_FRACTION_TEXT = re.compile(r"\s*[+-]?\d{1,30}(?:/\d{1,30}|\.\d{1,30})?\s*")


def _to_tuple(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable) or isinstance(value, bytes | Mapping):
        raise InvalidInput(
            f"covers must be a license type code or codes, got {value!r}", param="covers"
        )
    return tuple(value)


@attrs.frozen
class LicenseType:
    """A kind of license, such as ``core``; it covers itself and the types in ``covers`` (R5).

    The relation is exactly what is declared: it is not made transitive.

    Raises:
        InvalidInput: a code (its own or in ``covers``) that is not a valid id (R14).
    """

    code: str
    covers: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)

    def __attrs_post_init__(self) -> None:
        check_id(self.code, "code (of a license type)")
        for covered in self.covers:
            check_id(covered, f"covers (of license type {self.code!r})")

    def covered_types(self) -> frozenset[str]:
        """The device types a license of this type can stand in for, itself included."""
        return frozenset((self.code, *self.covers))


_Item = TypeVar("_Item")


def _tuple_of(
    value: Iterable[_Item], cls: type[_Item], param: str, hint: str = ""
) -> tuple[_Item, ...]:
    """``value`` as a tuple of ``cls`` objects; ``hint`` is said after a wrong item.

    Raises:
        InvalidInput: ``value`` is not a list, or holds something else.
    """
    if not isinstance(value, Iterable) or isinstance(value, str | bytes | Mapping):
        raise InvalidInput(f"{param} must be a list of {cls.__name__}, got {value!r}", param=param)
    items = tuple(value)
    for item in items:
        if not isinstance(item, cls):
            raise InvalidInput(
                f"{param} must hold {cls.__name__} objects, got {type(item).__name__} "
                f"({item!r}){hint.format(item=item)}",
                param=param,
            )
    return items


def _license_types(value: Iterable[LicenseType]) -> tuple[LicenseType, ...]:
    return _tuple_of(value, LicenseType, "license_types", "; write LicenseType({item!r})")


def _to_fraction(value: Fraction | int | float | str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Fraction | int | float | str):
        raise InvalidInput(f"growth_rate must be a fraction, got {value!r}", param="growth_rate")
    if isinstance(value, float):
        value = repr(value)  # 0.3 means 3/10, not the binary float just below it
    if isinstance(value, str) and not _FRACTION_TEXT.fullmatch(value):
        # no exponents: Fraction("1e999999999") would take minutes to build
        raise InvalidInput(
            f"growth_rate must be a fraction such as '1/2' or '0.5', got {value!r}",
            param="growth_rate",
        )
    try:
        return Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise InvalidInput(
            f"growth_rate must be a fraction, got {value!r}", param="growth_rate"
        ) from exc


@attrs.frozen
class ProductSpec:
    """A product of the catalog.

    Attributes:
        code: the product code, such as ``acs-pro``.
        name: a display name.
        term_years: the subscription period length in years (R2).
        growth_rate: the allowed growth in a locked period, 1 = 100 % (R5).
        trial_days: the trial window of the first period (R3).
        grace_days: the grace window after each renewal (R3).
        license_types: the license types, in catalog order (ties in R5 go by it).

    Bounds, so that every date the rules compute stays in the calendar:
    ``term_years`` is an integer from 1 to 10 (:data:`MAX_TERM_YEARS`);
    ``trial_days`` and ``grace_days`` are integers from 0 to 366
    (:data:`MAX_WINDOW_DAYS`); ``growth_rate`` is from 0 to 100, with a
    denominator of at most 1,000,000.

    Raises:
        InvalidInput: a code or name that is not valid text, a term, window or
            growth rate outside its bounds or of the wrong type, license types
            that are not :class:`LicenseType` objects, no or duplicate type
            codes, or a ``covers`` naming an unknown type (R14).
    """

    code: str
    name: str
    term_years: int = 1
    growth_rate: Fraction = attrs.field(default=Fraction(1), converter=_to_fraction)
    trial_days: int = 30
    grace_days: int = 30
    license_types: tuple[LicenseType, ...] = attrs.field(
        default=(LicenseType("core"),), converter=_license_types
    )

    def __attrs_post_init__(self) -> None:
        check_id(self.code, "code (of a product)")
        check_text(self.name, f"name (of product {self.code!r})", max_length=200)
        check_int(
            self.term_years,
            f"term_years (of product {self.code!r})",
            minimum=1,
            maximum=MAX_TERM_YEARS,
        )
        if self.growth_rate < 0:
            raise InvalidInput(
                f"product {self.code!r}: growth_rate cannot be negative", param="growth_rate"
            )
        if self.growth_rate > MAX_GROWTH_RATE:
            raise InvalidInput(
                f"product {self.code!r}: growth_rate must be at most {MAX_GROWTH_RATE}",
                param="growth_rate",
            )
        if self.growth_rate.denominator > MAX_GROWTH_DENOMINATOR:
            raise InvalidInput(
                f"product {self.code!r}: growth_rate's denominator must be at most "
                f"{MAX_GROWTH_DENOMINATOR:,}",
                param="growth_rate",
            )
        for label, days in (("trial_days", self.trial_days), ("grace_days", self.grace_days)):
            check_int(
                days, f"{label} (of product {self.code!r})", minimum=0, maximum=MAX_WINDOW_DAYS
            )
        codes = [t.code for t in self.license_types]
        if not codes:
            raise InvalidInput(f"product {self.code!r} has no license types")
        if len(set(codes)) != len(codes):
            raise InvalidInput(f"product {self.code!r} has duplicate license types")
        for license_type in self.license_types:
            unknown = set(license_type.covers) - set(codes)
            if unknown:
                raise InvalidInput(
                    f"product {self.code!r}: type {license_type.code!r} covers unknown "
                    f"types {sorted(unknown)}"
                )

    @functools.cached_property
    def type_codes(self) -> tuple[str, ...]:
        """The license type codes, in catalog order."""
        return tuple(t.code for t in self.license_types)

    @functools.cached_property
    def growth_multiplier(self) -> Fraction:
        """How many devices a license counts for in a locked period: ``1 + growth_rate`` (R5)."""
        return 1 + self.growth_rate

    @functools.cached_property
    def relation(self) -> Mapping[str, frozenset[str]]:
        """``{license_type: the device types it covers}``, each type covering itself (R5)."""
        return {t.code: t.covered_types() for t in self.license_types}


def _products(value: Iterable[ProductSpec]) -> tuple[ProductSpec, ...]:
    return _tuple_of(value, ProductSpec, "products")


@attrs.frozen
class Catalog:
    """The vendor's products, by code.

    Raises:
        InvalidInput: ``products`` is not a list of :class:`ProductSpec`, or
            two products share a code.
    """

    products: tuple[ProductSpec, ...] = attrs.field(converter=_products)

    def __attrs_post_init__(self) -> None:
        codes = [p.code for p in self.products]
        if len(set(codes)) != len(codes):
            raise InvalidInput("the catalog has duplicate product codes")

    def product(self, code: str) -> ProductSpec:
        """The product with this code.

        Raises:
            InvalidInput: ``code`` is not a string.
            UnknownProduct: when the catalog has no such product.
        """
        if not isinstance(code, str):
            raise InvalidInput(
                f"a product code must be a string, got {type(code).__name__}", param="product"
            )
        spec = self._by_code.get(code)
        if spec is None:
            raise UnknownProduct(f"unknown product {code!r}", details={"product": code})
        return spec

    @functools.cached_property
    def _by_code(self) -> dict[str, ProductSpec]:
        return {spec.code: spec for spec in self.products}

    @functools.cached_property
    def product_codes(self) -> tuple[str, ...]:
        """The product codes, in catalog order."""
        return tuple(p.code for p in self.products)


@attrs.frozen
class CatalogVersion:
    """One recorded version of the store's catalog (R15).

    Attributes:
        version: 1, 2, … in the order they were recorded.
        effective_at: the instant it took effect (version 1 also answers
            every instant before it: nothing was recorded earlier).
        catalog: the catalog.
    """

    version: int
    effective_at: datetime
    catalog: Catalog


EXAMPLE_CATALOG = Catalog(
    products=[
        ProductSpec(
            "acs-pro",
            "AXIS Camera Station Pro",
            license_types=[
                LicenseType("core"),
                LicenseType("universal", covers=("core",)),
                LicenseType("door"),
            ],
        )
    ]
)
