"""Tests for SPEC R5 coverage: the covers-relation, the assignment and shortfalls."""

from __future__ import annotations

import functools
import itertools
import time
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
    shortfall,
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


def test_r5_large_counts_are_fast() -> None:
    start = time.perf_counter()
    licenses = {"core": 10**6, "universal": 3 * 10**6, "door": 10**9}
    devices = {"core": 2 * 10**6 + 1, "universal": 2 * 10**6, "door": 10**9 - 7}
    assert shortfall(ACS, licenses, devices) == {"core": 1}
    assert covered_counts(ACS, licenses, devices) == {
        "core": 2 * 10**6,
        "universal": 2 * 10**6,
        "door": 10**9 - 7,
    }
    assert shortfall(ACS, licenses, devices, Fraction(2)) == {}
    assert time.perf_counter() - start < 1.0


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


@st.composite
def cases(draw: st.DrawFn) -> tuple[ProductSpec, dict[str, int], dict[str, int]]:
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
def test_r5_covers_matches_brute_force(
    case: tuple[ProductSpec, dict[str, int], dict[str, int]],
) -> None:
    spec, licenses, devices = case
    best = brute_max_matching(spec, licenses, devices)
    assert covers(spec, licenses, devices) == (best == sum(devices.values()))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_r5_total_covered_is_max_matching(
    case: tuple[ProductSpec, dict[str, int], dict[str, int]],
) -> None:
    spec, licenses, devices = case
    best = brute_max_matching(spec, licenses, devices)
    covered = assign(spec, licenses, devices)
    assert sum(covered.values()) == best
    assert all(v.denominator == 1 and 0 <= v <= devices[t] for t, v in covered.items())
    assert covered_counts(spec, licenses, devices).total() == best
    assert shortfall(spec, licenses, devices).total() == sum(devices.values()) - best


@settings(max_examples=150, deadline=None)
@given(cases())
def test_r5_hardest_types_first(
    case: tuple[ProductSpec, dict[str, int], dict[str, int]],
) -> None:
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
def test_r5_shortfall_licenses_close_the_gap(
    case: tuple[ProductSpec, dict[str, int], dict[str, int]], multiplier: Fraction
) -> None:
    spec, licenses, devices = case
    missing = shortfall(spec, licenses, devices, multiplier)
    left = uncovered(spec, licenses, devices, multiplier)
    assert set(missing) == set(left)
    for t, n in missing.items():
        assert (n - 1) * multiplier < left[t] <= n * multiplier
    topped_up = {t: licenses[t] + missing.get(t, 0) for t in spec.type_codes}
    assert uncovered(spec, topped_up, devices, multiplier) == {}
