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

In a locked period the shortfall is the *smallest* set of extra licenses of
the needed types whose capacity ``(1 + growth_rate) × (allocated + extra)``
covers the devices (R5). Coverage with fractional capacities holds exactly
when Hall's condition holds: for every set ``Y`` of license types, the devices
that only ``Y`` can cover fit in ``Y``'s capacity. So the search works on those
few linear constraints (one per set of license types), iterating the total
upward from a lower bound and taking, among the smallest sets, the one with
the most licenses of the narrowest types.

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

__all__ = [
    "assign",
    "covered_counts",
    "covers",
    "hardness_order",
    "narrowness_order",
    "shortfall",
    "smallest_extra",
    "uncovered",
]

_ONE = Fraction(1)


def _coverers(spec: ProductSpec) -> dict[str, int]:
    """How many license types of ``spec`` cover each type (itself included), per type."""
    relation = spec.relation
    return {t: sum(t in covered for covered in relation.values()) for t in spec.type_codes}


def _by_coverers(spec: ProductSpec, sign: int) -> tuple[str, ...]:
    """The type codes of ``spec`` sorted by how many license types cover them, times ``sign``.

    Ties keep catalog order (sorted is stable).
    """
    coverers = _coverers(spec)
    return tuple(sorted(spec.type_codes, key=lambda t: sign * coverers[t]))


@functools.lru_cache(maxsize=256)
def hardness_order(spec: ProductSpec) -> tuple[str, ...]:
    """The device types of ``spec``, hardest to cover first.

    Returns:
        The type codes sorted by how many license types cover them (fewest
        first); ties keep catalog order.
    """
    return _by_coverers(spec, 1)


@functools.lru_cache(maxsize=256)
def narrowness_order(spec: ProductSpec) -> tuple[str, ...]:
    """The license types of ``spec``, narrowest first: the tie-break of R5's smallest shortfall.

    Returns:
        The type codes covered by the most license types first; ties keep
        catalog order.
    """
    return _by_coverers(spec, -1)


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
    """The devices left uncovered per type, ``U_t`` of R5; the arguments are :func:`assign`'s.

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
    """The licenses missing per needed type (R5).

    With ``multiplier == 1`` (an unlocked period) this is ``U_t``, the devices
    of type ``t`` left uncovered by the hardest-first assignment. Otherwise (a
    locked period, ``multiplier = 1 + growth_rate``) it is
    :func:`smallest_extra`: the fewest extra licenses of the needed types, not
    the per-type ``ceil(U_t / multiplier)``, which can ask for one too many.

    Args:
        spec: the product.
        licenses: licenses per license type.
        devices: devices per device type.
        multiplier: ``1`` in an unlocked period, ``1 + growth_rate`` in a
            locked one.

    Returns:
        The shortfall per license type; types fully covered do not appear.

    Raises:
        ValueError: as :func:`assign`.
    """
    if multiplier == _ONE:
        left = uncovered(spec, licenses, devices, multiplier)
        return Counts({t: math.ceil(u) for t, u in left.items()})
    return smallest_extra(spec, licenses, devices, multiplier)


def smallest_extra(
    spec: ProductSpec,
    licenses: Mapping[str, int],
    devices: Mapping[str, int],
    multiplier: Fraction = _ONE,
) -> Counts:
    """The smallest set of extra licenses that makes the capacity cover the devices (R5).

    The extra licenses are of the *needed* types: those with devices left
    uncovered by the hardest-first assignment (``U_t > 0``). Smallest means
    fewest licenses in total; among equally small sets the one with the most
    licenses of the narrowest types (:func:`narrowness_order`), compared type
    by type in that order.

    Example (SPEC R5): allocated core 3 + universal 8, devices core 17 +
    universal 19, ``multiplier = 2`` gives ``{universal: 2, core: 5}``.

    The arguments are :func:`assign`'s, ``licenses`` being the allocation.

    Returns:
        The extra licenses per type; empty when the licenses already cover.

    Raises:
        ValueError: as :func:`assign`.
    """
    left = uncovered(spec, licenses, devices, multiplier)
    if not left:
        return Counts()
    return Counts(_smallest_extra(spec, Counts(licenses), Counts(devices), Fraction(multiplier)))


@functools.lru_cache(maxsize=1024)
def _smallest_extra(
    spec: ProductSpec, licenses: Counts, devices: Counts, multiplier: Fraction
) -> tuple[tuple[str, int], ...]:
    left = uncovered(spec, licenses, devices, multiplier)
    needed = tuple(t for t in narrowness_order(spec) if t in left)
    requirements = _requirements(spec, licenses, devices, multiplier, needed)
    # No set of fewer licenses than this can add the missing capacity; the per-type ceilings
    # always cover, so the total lies in [low, high] (at most one more value per needed type).
    low = math.ceil(sum(left.values()) / multiplier)
    high = sum(math.ceil(left[t] / multiplier) for t in needed)
    for total in range(low, high + 1):
        found = _lexicographic_best(requirements, len(needed), total)
        if found is not None:
            return tuple((t, n) for t, n in zip(needed, found, strict=True) if n)
    raise AssertionError("the per-type ceilings always cover")  # pragma: no cover


def _requirements(
    spec: ProductSpec,
    licenses: Counts,
    devices: Counts,
    multiplier: Fraction,
    needed: tuple[str, ...],
) -> tuple[tuple[int, int], ...]:
    """Hall's condition as ``(mask, r)`` pairs: the extra licenses of the needed types in
    ``mask`` (bit ``i`` for ``needed[i]``) must number at least ``r``.

    For every set ``Y`` of license types, the devices that only ``Y`` covers must fit in
    ``multiplier × (allocated(Y) + extra(Y))``. Only the strongest requirement per mask is
    kept, and only positive ones.
    """
    types = spec.type_codes
    relation = spec.relation
    coverers = {d: frozenset(t for t in types if d in relation[t]) for d in types}
    best: dict[int, int] = {}
    for size in range(1, len(types) + 1):
        for chosen in itertools.combinations(types, size):
            group = frozenset(chosen)
            demand = sum(n for d, n in devices.items() if coverers[d] <= group)
            if not demand:
                continue
            have = sum(licenses.get(t, 0) for t in group)
            required = math.ceil(Fraction(demand) / multiplier - have)
            if required <= 0:
                continue
            mask = sum(1 << i for i, t in enumerate(needed) if t in group)
            best[mask] = max(best.get(mask, 0), required)
    return tuple(sorted(best.items()))


def _lexicographic_best(
    requirements: tuple[tuple[int, int], ...], count: int, total: int
) -> tuple[int, ...] | None:
    """The extra counts, ``total`` in all, meeting ``requirements``, lexicographically largest.

    Variables are fixed in order (narrowest type first), each at the largest value that
    leaves the rest solvable. With three or fewer variables left that value is known in
    closed form (see :func:`_largest_first`); with more, values are tried from the largest
    that the requirements allow downward.
    """
    chosen: list[int] = []

    def search(index: int, budget: int) -> bool:  # noqa: PLR0911  backtracking: each prune returns
        remaining = count - index
        if remaining == 0:
            return budget == 0 and all(
                need <= sum(v for i, v in enumerate(chosen) if mask >> i & 1)
                for mask, need in requirements
            )
        # R[S]: the most that the remaining variables in S must still supply together,
        # over the requirements whose remaining variables are exactly S.
        rest: dict[int, int] = {}
        for mask, need in requirements:
            left = need - sum(v for i, v in enumerate(chosen) if mask >> i & 1)
            if left > 0:
                local = mask >> index
                if not local:
                    return False  # only fixed variables could meet it
                rest[local] = max(rest.get(local, 0), left)
        if remaining <= 3:
            value = _largest_first(rest, remaining, budget)
            if value is None:
                return False
            chosen.append(value)
            if search(index + 1, budget - value):
                return True
            chosen.pop()
            return False
        others = max((n for local, n in rest.items() if not local & 1), default=0)
        own = [n for local, n in rest.items() if local & 1]
        floor = max((n for local, n in rest.items() if local == 1), default=0)
        # beyond max(own), extra of this type meets no more: a smaller total would do
        top = min(budget - others, max(own, default=0))
        for value in range(top, floor - 1, -1):
            chosen.append(value)
            if search(index + 1, budget - value):
                return True
            chosen.pop()
        return False

    return tuple(chosen) if search(0, total) else None


def _largest_first(rest: Mapping[int, int], remaining: int, budget: int) -> int | None:
    """The largest first value of at most three variables summing to ``budget`` and meeting
    ``rest`` (``{mask: r}``: the variables in ``mask`` together supply ``r``), or None.

    With variables ``x, y, z`` (bits 1, 2, 4) and ``R_S`` the requirement on the set ``S``
    (0 when absent), ``y`` exists for a given ``x`` exactly when
    ``max(R_x, R_xy + R_xz - budget) <= x <= min(budget - R_yz, budget - R_y - R_z)``, and
    the rest of the conditions do not depend on ``x``: the feasible ``x`` form an interval,
    and the recursion checks the rest. Fewer variables are the same with the others at 0.
    """

    def r(mask: int) -> int:
        return rest.get(mask, 0)

    if remaining == 1:
        return budget
    if remaining == 2:
        x, y = 1, 2
        low, high = r(x), budget - r(y)
    else:
        x, y, z = 1, 2, 4
        low = max(r(x), r(x | y) + r(x | z) - budget)
        high = min(budget - r(y | z), budget - r(y) - r(z))
    return high if high >= low else None


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
