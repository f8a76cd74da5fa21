"""R14's id rule (SPEC 2026-12-05): where an id is created it holds only letters and digits
of any script and ``. _ - ~ : @ +``, is not ``.`` or ``..``, and has no invisible or
bidirectional characters; actors are printable text without those."""

from __future__ import annotations

import pytest

from axis_licensing import InvalidInput, LicenseKind, Manager
from axis_licensing._validate import ID_PATTERN, actor_problem, new_id_problem

BAD_IDS = [
    "a/b",
    ".",
    "..",
    "a b",
    "tab\there",
    "zero\u200bwidth",
    "rtl\u202eoverride",
    "filler\u3164",
    "\u0301mark-first",
    "",
    "x" * 129,
    "semi;colon",
    "percent%2F",
]
GOOD_IDS = ["acme", "café", "東京-1", "org@x.com", "a+b~c:d_e.f", "a..b", "e\u0301", "x" * 128]


@pytest.mark.parametrize("value", BAD_IDS)
def test_r14_new_id_refused(value: str) -> None:
    assert new_id_problem(value) is not None


@pytest.mark.parametrize("value", GOOD_IDS)
def test_r14_new_id_accepted(value: str) -> None:
    assert new_id_problem(value) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("alice@example.com", True),
        ("Alice Smith", True),
        ("Åsa Öberg", True),
        ("a\u202eb", False),
        ("\u200b", False),
        ("a\tb", False),
        ("   ", False),
        ("", False),
        ("x" * 129, False),
    ],
)
def test_r14_actor_rule(value: str, ok: bool) -> None:
    assert (actor_problem(value) is None) is ok


def test_r14_id_pattern_names_the_punctuation() -> None:
    assert ID_PATTERN.startswith("^(?!")
    for ch in "._~:@+-":
        assert ch in ID_PATTERN


@pytest.mark.parametrize("value", ["a/b", "..", "rtl\u202eacme", "two words"])
def test_r14_creation_sites_refuse_bad_ids(manager: Manager, value: str) -> None:
    with pytest.raises(InvalidInput) as org_error:
        manager.create_organization(value, name="X", actor="alice")
    assert org_error.value.details["param"] == "org_id"
    manager.create_organization("acme", name="Acme", actor="alice")
    with pytest.raises(InvalidInput) as system_error:
        manager.register_system("acme", "acs-pro", value, actor="alice")
    assert system_error.value.details["param"] == "system_id"
    with pytest.raises(InvalidInput) as serial_error:
        manager.vendor.ship_hardware(value, "acs-pro", preloaded={"core": 1})
    assert serial_error.value.details["param"] == "serial"
    with pytest.raises(InvalidInput) as request_error:
        manager.start_subscription("acme", "acs-pro", actor="alice", request_id=value)
    assert request_error.value.details["param"] == "request_id"
    with pytest.raises(InvalidInput) as actor_error:
        manager.start_subscription("acme", "acs-pro", actor="eve\u202e")
    assert actor_error.value.details["param"] == "actor"
    # nothing was applied by the refused commands
    assert [a.action for a in manager.history("acme")] == ["organization_created"]
    assert [o.org_id for o in manager.organizations()] == ["acme"]


def test_r14_unicode_ids_and_actors_accepted(manager: Manager) -> None:
    manager.create_organization("東京-1", name="Tokyo", actor="Åsa Öberg")
    manager.register_system(
        "東京-1", "acs-pro", "café@srv+1", devices={"core": 1}, actor="Åsa Öberg"
    )
    key = manager.vendor.issue_key("acs-pro", LicenseKind.SUBSCRIPTION, {"core": 1})
    manager.redeem_key("東京-1", key, actor="Åsa Öberg", request_id="req:1~a")
    assert manager.system_status("東京-1", "café@srv+1").devices == {"core": 1}
    assert [a.actor for a in manager.history("東京-1")] == ["Åsa Öberg"] * 3
