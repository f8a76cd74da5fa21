"""Tests for SPEC R5 coverage: the covers-relation, the assignment and shortfalls."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis_licensing.catalog import EXAMPLE_CATALOG, LicenseType, ProductSpec
from axis_licensing.policy.coverage import (
    assign,
    covered_counts,
    covers,
    hardness_order,
    narrowness_order,
    shortfall,
    smallest_extra,
    uncovered,
)


def make_spec(code: str, *types: LicenseType) -> ProductSpec:
    """A product with these license types (the attrs ``converter=tuple`` confuses mypy)."""
    options: dict[str, Any] = {"license_types": types}
    return ProductSpec(code, code, **options)


ACS = EXAMPLE_CATALOG.product("acs-pro")
ONE_TYPE = ProductSpec("one", "One type")
# a covers b, b covers c: not transitive, so an ``a`` license never covers a ``c`` device.
CHAIN = make_spec(
    "chain", LicenseType("a", covers="b"), LicenseType("b", covers="c"), LicenseType("c")
)


# --- named examples --------------------------------------------------------------------------


def test_r5_locked_required_now_single_type() -> None:
    multiplier = Fraction(2)  # 1 + growth_rate
    assert uncovered(ONE_TYPE, {"core": 10}, {"core": 23}, multiplier) == {"core": Fraction(3)}
    assert shortfall(ONE_TYPE, {"core": 10}, {"core": 23}, multiplier) == {"core": 2}
    assert shortfall(ONE_TYPE, {"core": 10}, {"core": 23}) == {"core": 13}


def test_r5_shortfall_core_and_universal() -> None:
    licenses, devices = {"core": 3}, {"core": 5, "universal": 2}
    assert shortfall(ACS, licenses, devices) == {"core": 2, "universal": 2}
    assert assign(ACS, licenses, devices) == {"core": Fraction(3), "universal": Fraction(0)}
    assert covered_counts(ACS, licenses, devices) == {"core": 3}


def test_r5_universal_covers_core_not_the_reverse() -> None:
    assert covers(ACS, {"universal": 2}, {"core": 2})
    assert covers(ACS, {"universal": 2}, {"core": 1, "universal": 1})
    assert not covers(ACS, {"core": 2}, {"universal": 1})
    assert shortfall(ACS, {"core": 2}, {"universal": 1}) == {"universal": 1}
    assert not covers(ACS, {"universal": 2}, {"door": 1})


def test_r5_relation_is_not_transitive() -> None:
    assert covers(CHAIN, {"a": 1}, {"b": 1})
    assert covers(CHAIN, {"b": 1}, {"c": 1})
    assert not covers(CHAIN, {"a": 1}, {"c": 1})
    assert shortfall(CHAIN, {"a": 1}, {"c": 1}) == {"c": 1}
    assert covered_counts(CHAIN, {"a": 1}, {"c": 1}) == {}


def test_r5_covers_exact() -> None:
    assert covers(ACS, {}, {})
    assert covers(ACS, {"core": 1}, {})
    assert not covers(ACS, {}, {"core": 1})
    assert covers(
        ACS, {"core": 3, "universal": 2, "door": 1}, {"core": 4, "universal": 1, "door": 1}
    )
    assert not covers(
        ACS, {"core": 3, "universal": 2, "door": 1}, {"core": 4, "universal": 2, "door": 1}
    )
    assert covers(ACS, {"core": 3, "universal": 2}, {"core": 3, "universal": 2})
    assert not covers(ACS, {"core": 3, "universal": 2}, {"core": 2, "universal": 3})


def test_r5_reroutes_earlier_coverage() -> None:
    # a covers b, c covers a; order: c (1 coverer), a (tie with b, catalog first), b.
    spec = make_spec(
        "loop", LicenseType("a", covers="b"), LicenseType("b"), LicenseType("c", covers="a")
    )
    assert hardness_order(spec) == ("c", "a", "b")
    # The ``a`` license first covers the ``a`` device; covering ``b`` needs ``c`` to take it over.
    licenses, devices = {"a": 1, "c": 1}, {"a": 1, "b": 1}
    assert assign(spec, licenses, devices) == {"a": Fraction(1), "b": Fraction(1)}
    assert covers(spec, licenses, devices)


def test_r5_hardest_types_get_the_shared_licenses() -> None:
    # universal (1 coverer) is harder than core (2), so the universal license goes to it.
    assert hardness_order(ACS) == ("universal", "door", "core")
    assert shortfall(ACS, {"universal": 1}, {"core": 1, "universal": 1}) == {"core": 1}


def test_r5_hardness_order_ties_by_catalog_order() -> None:
    spec = make_spec("ties", LicenseType("z"), LicenseType("y", covers="z"), LicenseType("x"))
    assert hardness_order(spec) == ("y", "x", "z")
    assert hardness_order(CHAIN) == ("a", "b", "c")


def test_r5_fractional_multiplier_is_exact() -> None:
    multiplier = Fraction(3, 2)
    assert assign(ONE_TYPE, {"core": 3}, {"core": 5}, multiplier) == {"core": Fraction(9, 2)}
    assert uncovered(ONE_TYPE, {"core": 3}, {"core": 5}, multiplier) == {"core": Fraction(1, 2)}
    assert shortfall(ONE_TYPE, {"core": 3}, {"core": 5}, multiplier) == {"core": 1}
    assert shortfall(ONE_TYPE, {"core": 3}, {"core": 4}, multiplier) == {}


def test_r5_large_counts_are_exact() -> None:
    """Counts in the millions and billions are decided in closed form, not unit by unit."""
    licenses = {"core": 10**6, "universal": 3 * 10**6, "door": 10**9}
    devices = {"core": 2 * 10**6 + 1, "universal": 2 * 10**6, "door": 10**9 - 7}
    assert shortfall(ACS, licenses, devices) == {"core": 1}
    assert covered_counts(ACS, licenses, devices) == {
        "core": 2 * 10**6,
        "universal": 2 * 10**6,
        "door": 10**9 - 7,
    }
    assert shortfall(ACS, licenses, devices, Fraction(2)) == {}


@pytest.mark.parametrize(
    ("licenses", "devices"),
    [({"bogus": 1}, {}), ({}, {"bogus": 1}), ({"core": -1}, {}), ({}, {"core": -1})],
)
def test_r5_rejects_unknown_types_and_negative_counts(
    licenses: dict[str, int], devices: dict[str, int]
) -> None:
    with pytest.raises(ValueError):
        assign(ACS, licenses, devices)


def test_r5_rejects_non_positive_multiplier() -> None:
    with pytest.raises(ValueError):
        shortfall(ONE_TYPE, {"core": 1}, {"core": 2}, Fraction(0))


# --- properties against a brute-force oracle -------------------------------------------------


@st.composite
def specs(draw: st.DrawFn) -> ProductSpec:
    codes = [f"t{i}" for i in range(draw(st.integers(2, 4)))]
    types = tuple(
        LicenseType(code, covers=draw(st.lists(st.sampled_from(codes), unique=True)))
        for code in codes
    )
    return make_spec("rand", *types)


#: A product, the licenses an organization holds and its devices.
Case = tuple[ProductSpec, dict[str, int], dict[str, int]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    spec = draw(specs())
    counts = st.fixed_dictionaries({t: st.integers(0, 4) for t in spec.type_codes})
    return spec, draw(counts), draw(counts)


def brute_max_matching(
    spec: ProductSpec, licenses: Mapping[str, int], devices: Mapping[str, int]
) -> int:
    """The most devices coverable, trying every way to spread each type's licenses."""
    relation, codes = spec.relation, spec.type_codes

    @functools.cache
    def best(index: int, left: tuple[int, ...]) -> int:
        if index == len(codes):
            return 0
        targets = [i for i, t in enumerate(codes) if t in relation[codes[index]]]
        result = 0
        ranges = [range(left[i] + 1) for i in targets]
        for used in itertools.product(*ranges):
            if sum(used) > licenses.get(codes[index], 0):
                continue
            rest = list(left)
            for i, n in zip(targets, used, strict=True):
                rest[i] -= n
            result = max(result, sum(used) + best(index + 1, tuple(rest)))
        return result

    return best(0, tuple(devices.get(t, 0) for t in codes))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_r5_covers_matches_brute_force(case: Case) -> None:
    spec, licenses, devices = case
    best = brute_max_matching(*case)
    assert covers(spec, licenses, devices) == (best == sum(devices.values()))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_r5_total_covered_is_max_matching(case: Case) -> None:
    spec, licenses, devices = case
    best = brute_max_matching(*case)
    covered = assign(*case)
    assert sum(covered.values()) == best
    assert all(v.denominator == 1 and 0 <= v <= devices[t] for t, v in covered.items())
    assert covered_counts(spec, licenses, devices).total() == best
    assert shortfall(spec, licenses, devices).total() == sum(devices.values()) - best


@settings(max_examples=150, deadline=None)
@given(cases())
def test_r5_hardest_types_first(case: Case) -> None:
    spec, licenses, devices = case
    order = hardness_order(spec)
    covered = assign(spec, licenses, devices)
    hardest = order[0]
    alone = brute_max_matching(spec, licenses, {hardest: devices[hardest]})
    assert covered.get(hardest, 0) == alone
    # More generally, every prefix of the order is covered as much as possible.
    for k in range(1, len(order) + 1):
        prefix = {t: devices[t] for t in order[:k]}
        assert sum(covered.get(t, 0) for t in order[:k]) == brute_max_matching(
            spec, licenses, prefix
        )


@settings(max_examples=100, deadline=None)
@given(cases(), st.sampled_from([Fraction(1), Fraction(3, 2), Fraction(2), Fraction(7, 3)]))
def test_r5_shortfall_licenses_close_the_gap(case: Case, multiplier: Fraction) -> None:
    spec, licenses, devices = case
    missing = shortfall(spec, licenses, devices, multiplier)
    left = uncovered(spec, licenses, devices, multiplier)
    assert set(missing) <= set(left)  # needed types only (R5)
    if multiplier == 1:
        assert missing == {t: int(u) for t, u in left.items()}
    assert missing.total() <= sum(math.ceil(u / multiplier) for u in left.values())
    topped_up = {t: licenses[t] + missing.get(t, 0) for t in spec.type_codes}
    assert uncovered(spec, topped_up, devices, multiplier) == {}


# --- R5's smallest shortfall in a locked period ----------------------------------------------


def test_r5_locked_smallest_shortfall_spec_example_universal_spare_covers_core() -> None:
    """SPEC R5: allocated core 3 + universal 8, devices core 17 + universal 19, growth 1."""
    allocated, devices = {"core": 3, "universal": 8}, {"core": 17, "universal": 19}
    assert uncovered(ACS, allocated, devices, Fraction(2)) == {
        "core": Fraction(11),
        "universal": Fraction(3),
    }
    # per type, ceil(11/2) + ceil(3/2) = 6 + 2; the spare universal place saves a core license
    assert shortfall(ACS, allocated, devices, Fraction(2)) == {"universal": 2, "core": 5}
    assert not covers(ACS, {"core": 3 + 4, "universal": 8 + 2}, {"core": 34, "universal": 38})


def test_r5_locked_smallest_shortfall_prefers_the_narrowest_types() -> None:
    # c covers a and b; a and b (each covered by two types) are narrower than c.
    spec = make_spec("abc", LicenseType("a"), LicenseType("b"), LicenseType("c", covers=("a", "b")))
    assert narrowness_order(spec) == ("a", "b", "c")
    # One device of each type uncovered: 2 extra licenses suffice (a c license covers c and one
    # of a, b); {a: 1, c: 1} and {b: 1, c: 1} and {c: 2} all do, the narrowest wins.
    assert shortfall(spec, {}, {"a": 1, "b": 1, "c": 1}, Fraction(2)) == {"a": 1, "c": 1}


def test_r5_locked_smallest_shortfall_single_type_is_the_ceiling() -> None:
    assert shortfall(ONE_TYPE, {"core": 10}, {"core": 23}, Fraction(2)) == {"core": 2}
    assert shortfall(ONE_TYPE, {"core": 10}, {"core": 20}, Fraction(2)) == {}


def test_r5_locked_smallest_shortfall_on_large_counts() -> None:
    spec = make_spec(
        "big",
        LicenseType("core"),
        LicenseType("door"),
        LicenseType("universal", covers=("core", "door")),
        LicenseType("lpr", covers=("core",)),
    )
    for extra in range(20):
        allocated = {"core": 3_001 + extra, "door": 999, "universal": 4_000, "lpr": 17}
        devices = {"core": 90_000, "door": 31_111 + extra, "universal": 9_999, "lpr": 5_003}
        missing = shortfall(spec, allocated, devices, Fraction(3, 2))
        topped = {t: allocated[t] + missing.get(t, 0) for t in spec.type_codes}
        assert uncovered(spec, topped, devices, Fraction(3, 2)) == {}


def _exhaustive_smallest(
    spec: ProductSpec, licenses: Mapping[str, int], devices: Mapping[str, int], m: Fraction
) -> dict[str, int]:
    """Every set of extra licenses of the needed types, smallest totals first, checked with
    the flow; among the covering sets of the smallest total, the tie-break of R5."""
    left = uncovered(spec, licenses, devices, m)
    needed = [t for t in spec.type_codes if t in left]
    narrow = narrowness_order(spec)
    for total in range(sum(math.ceil(u / m) for u in left.values()) + 1):
        covering = []
        for counts in itertools.product(range(total + 1), repeat=len(needed)):
            if sum(counts) != total:
                continue
            extra = dict(zip(needed, counts, strict=True))
            topped = {
                t: licenses.get(t, 0) + extra[t] if t in extra else licenses.get(t, 0)
                for t in spec.type_codes
            }
            if not uncovered(spec, topped, devices, m):
                covering.append(extra)
        if covering:
            best = max(covering, key=lambda e: tuple(e.get(t, 0) for t in narrow))
            return {t: n for t, n in best.items() if n}
    raise AssertionError("the per-type ceilings always cover")


@settings(max_examples=120, deadline=None)
@given(cases(), st.sampled_from([Fraction(3, 2), Fraction(2), Fraction(7, 3), Fraction(5, 4)]))
def test_r5_locked_smallest_shortfall_matches_an_exhaustive_search(
    case: Case, multiplier: Fraction
) -> None:
    """No smaller set of extra licenses covers, and the tie-break is honoured (R5)."""
    spec, licenses, devices = case
    devices = {t: 2 * n + (n % 3) for t, n in devices.items()}  # more devices than licenses
    found = smallest_extra(spec, licenses, devices, multiplier)
    assert found == _exhaustive_smallest(spec, licenses, devices, multiplier)
    assert shortfall(spec, licenses, devices, multiplier) == found
