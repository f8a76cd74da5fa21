"""The vendor's catalog: products, their terms and license types (SPEC §1).

A catalog is plain data, given to the Manager at open. It validates itself on
construction, so every later rule can trust it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from fractions import Fraction

import attrs

from axis_licensing.errors import InvalidInput, UnknownProduct

__all__ = ["EXAMPLE_CATALOG", "Catalog", "CatalogVersion", "LicenseType", "ProductSpec"]


def _to_tuple(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class LicenseType:
    """A kind of license, such as ``core``; it covers itself and the types in ``covers`` (R5).

    The relation is exactly what is declared: it is not made transitive.
    """

    code: str
    covers: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)

    def covered_types(self) -> frozenset[str]:
        """The device types a license of this type can stand in for, itself included."""
        return frozenset((self.code, *self.covers))


def _license_types(value: Iterable[LicenseType]) -> tuple[LicenseType, ...]:
    return tuple(value)


def _to_fraction(value: Fraction | int | float | str) -> Fraction:
    if isinstance(value, float):
        value = repr(value)  # 0.3 means 3/10, not the binary float just below it
    try:
        return Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise InvalidInput(f"growth_rate must be a fraction, got {value!r}") from exc


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

    Raises:
        InvalidInput: on a non-positive term or window, a negative growth rate,
            duplicate type codes or a ``covers`` naming an unknown type.
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
        if not isinstance(self.term_years, int) or self.term_years < 1:
            raise InvalidInput(f"product {self.code!r}: term_years must be a positive integer")
        if self.growth_rate < 0:
            raise InvalidInput(f"product {self.code!r}: growth_rate cannot be negative")
        for label, days in (("trial_days", self.trial_days), ("grace_days", self.grace_days)):
            if not isinstance(days, int) or days < 0:
                raise InvalidInput(f"product {self.code!r}: {label} must be an integer >= 0")
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
    return tuple(value)


@attrs.frozen
class Catalog:
    """The vendor's products, by code.

    Raises:
        InvalidInput: when two products share a code.
    """

    products: tuple[ProductSpec, ...] = attrs.field(converter=_products)

    def __attrs_post_init__(self) -> None:
        codes = [p.code for p in self.products]
        if len(set(codes)) != len(codes):
            raise InvalidInput("the catalog has duplicate product codes")

    def product(self, code: str) -> ProductSpec:
        """The product with this code.

        Raises:
            UnknownProduct: when the catalog has no such product.
        """
        spec = self._by_code.get(code)
        if spec is None:
            raise UnknownProduct(f"unknown product {code!r}", details={"product": code})
        return spec

    @functools.cached_property
    def _by_code(self) -> dict[str, ProductSpec]:
        return {spec.code: spec for spec in self.products}

    @property
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
