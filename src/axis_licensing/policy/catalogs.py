"""Which catalog version the rules use, and which changes a new version may make (R15).

A store keeps every version of its catalog. This module decides, from those
versions alone:

- :func:`version_at`: the version in effect at an instant (version 1 also
  answers every instant before it, since nothing was recorded earlier);
- :func:`catalog_for`: the catalog a command or query applies to one
  organization at a local date. Its products, license types and covers come from
  the version in effect at the instant; each started product's ``growth_rate``,
  ``trial_days`` and ``grace_days`` come from the version in effect when its
  current period opened for it (``w = max(period start, subscription start)``, R3),
  so a period keeps its terms when the vendor publishes later;
- :func:`differences` and :func:`incompatibilities`: what ``CatalogMismatch``
  and ``IncompatibleCatalog`` list.

Nothing here reads a clock or storage: the Manager passes the versions in, with
the first local day from which each is in effect (:class:`Edition`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime

import attrs

from axis_licensing.catalog import Catalog, CatalogVersion, ProductSpec
from axis_licensing.errors import IncompatibleCatalog
from axis_licensing.policy.periods import current_period
from axis_licensing.policy.state import OrgState

__all__ = [
    "PERIOD_TERMS",
    "Edition",
    "catalog_for",
    "check_compatible",
    "differences",
    "incompatibilities",
    "version_at",
]

#: The product fields a period takes from the version in effect when it opens (R15).
PERIOD_TERMS = ("growth_rate", "trial_days", "grace_days")


def version_at(versions: Sequence[CatalogVersion], at: datetime) -> CatalogVersion:
    """The version in effect at ``at``: the last one effective at or before it (R15).

    Args:
        versions: every version, oldest first (at least one).
        at: an aware instant.

    Returns:
        That version; version 1 for an instant before every version.
    """
    chosen = versions[0]
    for version in versions[1:]:
        if version.effective_at > at:
            break
        chosen = version
    return chosen


@attrs.frozen
class Edition:
    """A catalog version as one organization's calendar sees it.

    Attributes:
        version: the version number.
        catalog: the catalog.
        first_day: the first local day that starts with this version in effect
            (``date.min`` for version 1): a period opening on or after it uses its terms.
    """

    version: int
    catalog: Catalog
    first_day: date


def _terms(spec: ProductSpec) -> tuple[object, ...]:
    return tuple(getattr(spec, name) for name in PERIOD_TERMS)


def catalog_for(state: OrgState, day: date, editions: Sequence[Edition]) -> Catalog:
    """The catalog the rules apply to ``state`` at ``day`` (R15).

    Args:
        state: the organization.
        day: the local date of the command or query.
        editions: the versions in effect up to the command's or query's
            instant, oldest first (at least one); the last is in effect at it.

    Returns:
        The last edition's catalog, with each started product's period terms
        (:data:`PERIOD_TERMS`) taken from the edition in effect on the day its
        current period opened for it. The last edition's catalog itself when no
        term differs.
    """
    current = editions[-1].catalog
    if len(editions) == 1 or state.anchor is None:
        return current
    products: list[ProductSpec] = []
    changed = False
    for spec in current.products:
        ledger = state.products.get(spec.code)
        if ledger is None or ledger.started_on is None or day < ledger.started_on:
            products.append(spec)
            continue
        period = current_period(state.anchor, spec, day)
        opens = max(period.start, ledger.started_on)
        source = editions[0]
        for edition in editions[1:]:
            if edition.first_day > opens:
                break
            source = edition
        old = next((p for p in source.catalog.products if p.code == spec.code), None)
        if old is None or _terms(old) == _terms(spec):
            products.append(spec)
            continue
        changed = True
        products.append(
            attrs.evolve(
                spec,
                growth_rate=old.growth_rate,
                trial_days=old.trial_days,
                grace_days=old.grace_days,
            )
        )
    return Catalog(products=products) if changed else current


def _describe(spec: ProductSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "term_years": spec.term_years,
        "growth_rate": spec.growth_rate,
        "trial_days": spec.trial_days,
        "grace_days": spec.grace_days,
    }


def differences(old: Catalog, new: Catalog) -> list[str]:
    """Every difference between two catalogs, one text each, in catalog order.

    Args:
        old: the store's catalog.
        new: the catalog given.

    Returns:
        Texts such as ``"product 'acs-pro': growth_rate 1 -> 1/2"``; empty when equal.
    """
    found: list[str] = []
    for spec, other in _kept_products(old, new, found, "left out"):
        before, after = _describe(spec), _describe(other)
        for name, value in before.items():
            if after[name] != value:
                found.append(f"product {spec.code!r}: {name} {value!s} -> {after[name]!s}")
        if spec.license_types != other.license_types:
            found.append(
                f"product {spec.code!r}: license types {_types_text(spec)} -> {_types_text(other)}"
            )
    old_codes = set(old.product_codes)
    found.extend(f"product {c!r} is added" for c in new.product_codes if c not in old_codes)
    if not found and old != new:
        found.append("the product order differs")
    return found


def _kept_products(
    old: Catalog, new: Catalog, texts: list[str], gone: str
) -> Iterator[tuple[ProductSpec, ProductSpec]]:
    """Each product of ``old`` with its version in ``new``, in ``old``'s order.

    A product ``new`` lacks adds ``"product 'code' is <gone>"`` to ``texts`` instead.
    """
    new_codes = set(new.product_codes)
    for spec in old.products:
        if spec.code in new_codes:
            yield spec, new.product(spec.code)
        else:
            texts.append(f"product {spec.code!r} is {gone}")


def _types_text(spec: ProductSpec) -> str:
    parts = [
        t.code + (f" (covers {', '.join(t.covers)})" if t.covers else "")
        for t in spec.license_types
    ]
    return "[" + ", ".join(parts) + "]"


def incompatibilities(old: Catalog, new: Catalog) -> list[str]:
    """Every reason ``new`` may not follow ``old`` (R15), one text each; empty when it may.

    Refused: removing a product or a license type, changing a product's
    ``term_years``, changing what a license type covers. Adding products and
    types, and changing names, ``growth_rate``, ``trial_days`` and
    ``grace_days``, are allowed.

    Args:
        old: the latest recorded version.
        new: the catalog to publish.

    Returns:
        The reasons, in catalog order.
    """
    reasons: list[str] = []
    for spec, other in _kept_products(old, new, reasons, "removed"):
        if other.term_years != spec.term_years:
            reasons.append(
                f"product {spec.code!r}: term_years changes from {spec.term_years} "
                f"to {other.term_years}"
            )
        for license_type in spec.license_types:
            now = other.relation.get(license_type.code)
            if now is None:
                reasons.append(
                    f"product {spec.code!r}: license type {license_type.code!r} is removed"
                )
            elif now != license_type.covered_types():
                was = ", ".join(sorted(license_type.covers)) or "nothing"
                becomes = ", ".join(sorted(now - {license_type.code})) or "nothing"
                reasons.append(
                    f"product {spec.code!r}: license type {license_type.code!r} covers "
                    f"{becomes} instead of {was}"
                )
    return reasons


def check_compatible(old: Catalog, new: Catalog) -> None:
    """Refuse a catalog that cannot follow ``old`` (R15).

    Args:
        old: the store's latest version.
        new: the catalog to publish.

    Raises:
        IncompatibleCatalog: it removes a product or a license type, changes a
            ``term_years`` or what a license type covers; ``.reasons`` lists all.
    """
    reasons = incompatibilities(old, new)
    if reasons:
        raise IncompatibleCatalog(
            f"the catalog cannot follow the store's: {'; '.join(reasons)}", reasons
        )
