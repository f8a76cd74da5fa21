"""Coverage: decides the covers-relation and the shortfalls of SPEC R5.

The same exact assignment also gives R9's hardware coverage.

Licenses are assigned to devices as a max flow on the graph
source -> license type -> device type -> sink. A license of type ``L`` may
cover one device of any type in ``spec.relation[L]``; the relation is used as
declared, never made transitive. Device types are taken hardest first (fewest
license types cover them, ties in catalog order). For each one, augmenting
paths (shortest first, as in Edmonds-Karp) push as much flow as they can. A
path may reroute devices covered earlier, but never uncovers them. The work
depends on the number of types only, never on the counts, and all arithmetic
is exact (``Fraction``).

Everything here is pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import deque
from collections.abc import Mapping
from fractions import Fraction

from axis_licensing._counts import Counts
from axis_licensing.catalog import ProductSpec

__all__ = ["assign", "covered_counts", "covers", "hardness_order", "shortfall", "uncovered"]

_ONE = Fraction(1)


@functools.lru_cache(maxsize=256)
def hardness_order(spec: ProductSpec) -> tuple[str, ...]:
    """The device types of ``spec``, hardest to cover first.

    Args:
        spec: the product whose license types are ordered.

    Returns:
        The type codes sorted by how many license types cover them (fewest
        first); ties keep catalog order.
    """
    relation = spec.relation
    coverers = {t: sum(t in covered for covered in relation.values()) for t in spec.type_codes}
    return tuple(sorted(spec.type_codes, key=lambda t: coverers[t]))  # sorted is stable


def _check(spec: ProductSpec, licenses: Mapping[str, int], devices: Mapping[str, int]) -> None:
    known = spec.relation.keys()
    for label, counts in (("license", licenses), ("device", devices)):
        unknown = counts.keys() - known
        if unknown:
            raise ValueError(f"{label} types {sorted(unknown)} are not in product {spec.code!r}")
        if isinstance(counts, Counts):
            continue  # never negative
        negative = sorted(k for k, v in counts.items() if v < 0)
        if negative:
            raise ValueError(f"{label} counts cannot be negative: {negative}")


def _own_types_suffice(
    licenses: Mapping[str, int], devices: Mapping[str, int], multiplier: Fraction
) -> bool:
    """True when each device type's own licenses cover it (a type covers itself)."""
    num, den = multiplier.numerator, multiplier.denominator
    return all(licenses.get(t, 0) * num >= n * den for t, n in devices.items())


def _augmenting_path(
    relation: Mapping[str, frozenset[str]],
    supply: Mapping[str, Fraction],
    flow: Mapping[tuple[str, str], Fraction],
    target: str,
) -> list[tuple[str, str]] | None:
    """A shortest residual path from the source to device type ``target``.

    The path is returned as its license -> device steps ``(L, d)``: the first
    license type draws on its spare supply, and each later ``L`` takes over
    from the previous device ``d`` (it has flow on the edge ``(L, d)``).
    """
    # BFS over license types; device types are visited between them.
    came_from: dict[str, tuple[str, str] | None] = {}  # license type -> step that reached it
    queue: deque[str] = deque()
    for license_type, spare in supply.items():
        if spare > 0:
            came_from[license_type] = None
            queue.append(license_type)
    seen_devices: set[str] = set()
    while queue:
        license_type = queue.popleft()
        for device in sorted(relation[license_type]):
            if device in seen_devices:
                continue
            seen_devices.add(device)
            step = (license_type, device)
            if device == target:
                path = [step]
                previous = came_from[license_type]
                while previous is not None:
                    path.append(previous)
                    previous = came_from[previous[0]]
                path.reverse()
                return path
            for other in relation:  # reverse edges: licenses now covering ``device``
                if other not in came_from and flow.get((other, device), 0) > 0:
                    came_from[other] = step
                    queue.append(other)
    return None


def assign(
    spec: ProductSpec,
    licenses: Mapping[str, int],
    devices: Mapping[str, int],
    multiplier: Fraction = _ONE,
) -> dict[str, Fraction]:
    """Cover as many devices as possible, hardest device types first (R5).

    Results are memoised: the same spec, counts and multiplier always give the
    same assignment, and every command asks about the same few again.

    Args:
        spec: the product, giving the covers-relation and catalog order.
        licenses: licenses per license type.
        devices: devices per device type.
        multiplier: how many devices each license counts for (``1 +
            growth_rate`` in a locked period).

    Returns:
        The devices covered per device type, for every type with devices.

    Raises:
        ValueError: on a type not in ``spec``, a negative count or a
            non-positive multiplier.
    """
    _check(spec, licenses, devices)
    if multiplier <= 0:
        raise ValueError(f"the multiplier must be positive, got {multiplier}")
    if _own_types_suffice(licenses, devices, multiplier):
        # every type's own licenses cover it: nothing to route (each type covers itself)
        return {t: Fraction(devices[t]) for t in spec.type_codes if devices.get(t, 0)}
    return dict(_assign(spec, Counts(licenses), Counts(devices), Fraction(multiplier)))


@functools.lru_cache(maxsize=4096)
def _assign(
    spec: ProductSpec, licenses: Counts, devices: Counts, multiplier: Fraction
) -> tuple[tuple[str, Fraction], ...]:
    relation = spec.relation
    supply = {t: Fraction(n) * multiplier for t, n in licenses.items() if n}
    flow: dict[tuple[str, str], Fraction] = {}
    covered: dict[str, Fraction] = {}
    for target in hardness_order(spec):
        need = Fraction(devices.get(target, 0))
        if not need:
            continue
        got = Fraction(0)
        while got < need:
            path = _augmenting_path(relation, supply, flow, target)
            if path is None:
                break
            first = path[0][0]
            amount = min(need - got, supply[first])
            for (_, device), (license_type, _) in itertools.pairwise(path):
                amount = min(amount, flow[(license_type, device)])
            supply[first] -= amount
            for index, (license_type, device) in enumerate(path):
                flow[(license_type, device)] = flow.get((license_type, device), 0) + amount
                if index + 1 < len(path):  # the next license type hands ``device`` over
                    handover = (path[index + 1][0], device)
                    flow[handover] -= amount
            got += amount
        covered[target] = got
    return tuple((t, covered[t]) for t in spec.type_codes if t in covered)


def uncovered(
    spec: ProductSpec,
    licenses: Mapping[str, int],
    devices: Mapping[str, int],
    multiplier: Fraction = _ONE,
) -> dict[str, Fraction]:
    """The devices left uncovered per type, ``U_t`` of R5.

    Args:
        spec: the product.
        licenses: licenses per license type.
        devices: devices per device type.
        multiplier: how many devices each license counts for.

    Returns:
        ``{t: devices_t - covered_t}`` for the types with a positive remainder.

    Raises:
        ValueError: as :func:`assign`.
    """
    if _own_types_suffice(licenses, devices, multiplier):
        _check(spec, licenses, devices)
        return {}
    covered = assign(spec, licenses, devices, multiplier)
    left = {t: n - covered[t] for t, n in devices.items() if n}
    return {t: u for t, u in left.items() if u > 0}


def covers(spec: ProductSpec, licenses: Mapping[str, int], devices: Mapping[str, int]) -> bool:
    """``covers(allocated, devices)`` of R5: every device gets a license.

    Args:
        spec: the product.
        licenses: licenses per license type.
        devices: devices per device type.

    Returns:
        True when the licenses can be assigned so that every device is covered.

    Raises:
        ValueError: on a type not in ``spec`` or a negative count.
    """
    return not uncovered(spec, licenses, devices)


def shortfall(
    spec: ProductSpec,
    licenses: Mapping[str, int],
    devices: Mapping[str, int],
    multiplier: Fraction = _ONE,
) -> Counts:
    """The licenses missing per needed type, ``ceil(U_t / multiplier)`` (R5).

    Args:
        spec: the product.
        licenses: licenses per license type.
        devices: devices per device type.
        multiplier: ``1`` in an unlocked period, ``1 + growth_rate`` in a
            locked one.

    Returns:
        The shortfall per device type; types fully covered do not appear.

    Raises:
        ValueError: as :func:`assign`.
    """
    left = uncovered(spec, licenses, devices, multiplier)
    return Counts({t: math.ceil(u / multiplier) for t, u in left.items()})


def covered_counts(
    spec: ProductSpec, licenses: Mapping[str, int], devices: Mapping[str, int]
) -> Counts:
    """The devices covered per type, one device per license (R9 hardware coverage).

    Args:
        spec: the product.
        licenses: licenses per license type.
        devices: devices per device type.

    Returns:
        The integer number of covered devices per device type.

    Raises:
        ValueError: on a type not in ``spec`` or a negative count.
    """
    # Integer capacities give an integer flow, so every value is whole.
    return Counts({t: int(n) for t, n in assign(spec, licenses, devices).items()})
