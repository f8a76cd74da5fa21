"""Errors hosts can map (R14, §3) and enumerations that compare as strings.

- Every ``LicensingError`` class has its own stable snake_case ``code``, unique
  across the tree, and appears in the table of docs/errors.md (a meta-test in
  the spirit of datasette's, STYLE.md).
- ``details`` is JSON-ready, ``to_jsonable(error)`` gives code, message and
  details, and errors raised through the public API carry the facts a host
  needs (``param``, ``shortfall``, ids), never another organization's (R1).
"""

from __future__ import annotations

import enum
import json
import pickle
import re
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

import axis_licensing
from axis_licensing import (
    Action,
    AlertKind,
    AlreadyRegistered,
    CatalogError,
    CatalogMismatch,
    IncompatibleCatalog,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    LicenseKind,
    LicensingError,
    Manager,
    NotFound,
    ProductState,
    StoreNotFound,
    UnknownOrganization,
    errors,
    to_json,
    to_jsonable,
)
from axis_licensing._migrate import MigrationError

ROOT = Path(__file__).resolve().parent.parent
ERRORS_PAGE = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
ORG = "acme-secret-org"
OTHER = "rival-org"


def _all_error_classes() -> list[type[LicensingError]]:
    seen: list[type[LicensingError]] = []
    pending: list[type[LicensingError]] = [LicensingError]
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen.append(cls)
            pending.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: c.__name__)


ERROR_CLASSES = _all_error_classes()


def _table_rows() -> dict[str, str]:
    rows = re.findall(r"^\| `([a-z_]+)` \| `([A-Za-z]+)` \|", ERRORS_PAGE, re.MULTILINE)
    return {code: name for code, name in rows}


def test_r14_the_tree_holds_every_class_of_the_errors_module() -> None:
    declared = {
        getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)
    }
    assert declared <= set(ERROR_CLASSES)
    assert MigrationError in ERROR_CLASSES


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_r14_every_error_class_has_its_own_snake_case_code(cls: type[LicensingError]) -> None:
    assert "code" in vars(cls), f"{cls.__name__} inherits its code instead of declaring one"
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code)


def test_r14_codes_are_unique() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(codes) == len(set(codes))


def test_r14_the_docs_table_lists_every_code_with_its_class() -> None:
    rows = _table_rows()
    assert rows == {cls.code: cls.__name__ for cls in ERROR_CLASSES}


def test_r14_every_public_error_is_exported_from_the_package() -> None:
    for cls in ERROR_CLASSES:
        if cls.__module__ == "axis_licensing.errors":
            assert cls.__name__ in axis_licensing.__all__
            assert getattr(axis_licensing, cls.__name__) is cls


def test_r14_to_jsonable_gives_code_message_and_details() -> None:
    error = InsufficientLicenses(
        "the wallet lacks 2 core", {"core": 2, "door": 0}, details={"kind": "subscription"}
    )
    assert to_jsonable(error) == {
        "code": "insufficient_licenses",
        "message": "the wallet lacks 2 core",
        "details": {"kind": "subscription", "shortfall": {"core": 2}},
    }
    assert error.shortfall == {"core": 2}
    assert json.loads(to_json(error)) == to_jsonable(error)


def test_r14_details_are_made_json_ready() -> None:
    error = LicensingError(
        "x",
        details={"on": date(2026, 4, 9), "share": Fraction(72, 73), "state": ProductState.GRACE},
    )
    assert error.details == {"on": "2026-04-09", "share": "72/73", "state": "grace"}
    with pytest.raises(TypeError):
        LicensingError("x", details={"what": object()})


def test_r14_invalid_input_names_its_param() -> None:
    assert InvalidInput("bad", param="period").details == {"param": "period"}
    assert InvalidInput("bad").details == {}


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_r14_errors_survive_pickling_with_their_details(cls: type[LicensingError]) -> None:
    if cls is InsufficientLicenses:
        error: LicensingError = InsufficientLicenses("short", {"core": 1})
    elif cls is CatalogMismatch:
        error = CatalogMismatch("differs", ["product 'x' was removed"])
    elif cls is IncompatibleCatalog:
        error = IncompatibleCatalog("refused", ["a", "b"])
    else:
        error = cls("message")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert to_jsonable(copy) == to_jsonable(error)


def test_r15_the_catalog_errors_fit_the_tree() -> None:
    assert issubclass(IncompatibleCatalog, InvalidInput)
    assert issubclass(IncompatibleCatalog, CatalogError)
    assert issubclass(IncompatibleCatalog, ValueError)
    assert issubclass(StoreNotFound, NotFound)
    assert issubclass(StoreNotFound, LookupError)
    mismatch = CatalogMismatch("differs", ["growth_rate of 'acs-pro': 1 → 1/2"])
    assert mismatch.differences == ["growth_rate of 'acs-pro': 1 → 1/2"]
    assert mismatch.details == {"differences": ["growth_rate of 'acs-pro': 1 → 1/2"]}
    refused = IncompatibleCatalog("refused", ["removes 'door'", "changes term_years"])
    assert refused.reasons == ["removes 'door'", "changes term_years"]


def _org(manager: Manager, org_id: str) -> None:
    manager.create_organization(org_id, name=org_id, actor="admin")


def test_r14_errors_raised_through_the_api_carry_their_details(manager: Manager) -> None:
    _org(manager, ORG)
    with pytest.raises(InvalidInput) as bad_quantity:
        manager.allocate(ORG, "acs-pro", {"core": 0}, actor="alice")
    assert to_jsonable(bad_quantity.value)["details"] == {"param": "quantities"}
    with pytest.raises(InvalidInput) as bad_period:
        manager.allocate(ORG, "acs-pro", {"core": 1}, period="0", actor="alice")  # type: ignore[arg-type]
    assert bad_period.value.details == {"param": "period"}
    with pytest.raises(InvalidInput) as bad_type:
        manager.allocate(ORG, "acs-pro", {"gate": 1}, actor="alice")
    assert bad_type.value.details == {"param": "quantities"}
    with pytest.raises(UnknownOrganization) as unknown:
        manager.status("nobody", "acs-pro")
    assert unknown.value.details == {"org_id": "nobody"}
    assert unknown.value.code == "unknown_organization"
    manager.start_subscription(ORG, "acs-pro", actor="alice")
    with pytest.raises(InsufficientLicenses) as short:
        manager.allocate(ORG, "acs-pro", {"core": 3}, actor="alice")
    assert to_jsonable(short.value)["details"] == {
        "kind": "subscription",
        "shortfall": {"core": 3},
    }


def test_r1_details_never_name_the_organization_that_holds_a_claim(manager: Manager) -> None:
    _org(manager, ORG)
    _org(manager, OTHER)
    manager.register_system(ORG, "acs-pro", "srv-1", devices={"core": 1}, actor="alice")
    key = manager.vendor.issue_key("acs-pro", quantities={"core": 1})
    manager.redeem_key(ORG, key, actor="alice")
    with pytest.raises(AlreadyRegistered) as taken:
        manager.register_system(OTHER, "acs-pro", "srv-1", actor="bob")
    with pytest.raises(KeyAlreadyRedeemed) as redeemed:
        manager.redeem_key(OTHER, key, actor="bob")
    assert taken.value.details == {"system_id": "srv-1"}
    assert redeemed.value.details == {"key_tail": key.replace("-", "")[-4:]}
    for error in (taken.value, redeemed.value):
        assert ORG not in to_json(error)


@pytest.mark.parametrize("enum_cls", [ProductState, LicenseKind, Action, AlertKind])
def test_r14_enumerations_are_str_enums_of_their_lower_case_names(
    enum_cls: type[enum.StrEnum],
) -> None:
    assert issubclass(enum_cls, enum.StrEnum)
    for member in enum_cls:
        assert member.value == member.name.lower()
        assert member == member.name.lower()
        assert str(member) == member.value
        assert type(to_jsonable(member)) is str
        assert to_json([member]) == f'["{member.value}"]'


def test_r14_product_state_compares_with_its_text() -> None:
    grace: str = ProductState.GRACE  # a str, so it compares with text
    assert grace == "grace"
    assert LicenseKind("hardware") is LicenseKind.HARDWARE
    assert [k.value for k in AlertKind] == [
        "trial_ending",
        "grace_ending",
        "unlicensed",
        "renewal_uncovered",
        "lots_expiring",
        "growth_exceeded",
        "system_unlicensed",
    ]
