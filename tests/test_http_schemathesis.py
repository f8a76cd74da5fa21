"""schemathesis against the live OpenAPI schema of the service (SPEC §6).

Every operation is called with generated valid and invalid input; then a
state machine follows the links schemathesis infers between operations (an
organization created by one call is used by the next). Every response must
conform to the schema, and none may be a 500. The number of examples is
bounded so that the whole file runs in about a minute.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("schemathesis", reason="the test extra is not installed")
pytest.importorskip("litestar", reason="the server extra is not installed")

import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock
from axis_licensing.http import TokenFile, create_app

TOKEN = "fuzz-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKENS = f"""
[[tokens]]
token = "{TOKEN}"
actor = "fuzzer"
organizations = ["*"]
vendor = true
"""


def _app() -> tuple[Litestar, Manager]:
    manager = Manager.open(
        "memory://",
        catalog=EXAMPLE_CATALOG,
        clock=ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC)),
    )
    # a populated organization, so that generated calls reach past "unknown organization"
    manager.create_organization("acme", name="Acme", actor="setup")
    manager.register_system("acme", "acs-pro", "srv-1", devices={"core": 2}, actor="setup")
    manager.start_subscription("acme", "acs-pro", actor="setup")
    key = manager.vendor.issue_key("acs-pro", quantities={"core": 50, "door": 5})
    manager.redeem_key("acme", key, actor="setup")
    manager.vendor.ship_hardware("HW-1", "acs-pro", {"door": 2})
    manager.register_hardware("acme", "srv-1", "HW-1", actor="setup")
    return create_app(manager, tokens=TokenFile.parse(TOKENS)), manager


APP, MANAGER = _app()
# The token is sent by the test itself; generating Authorization headers of its own would
# only test that a wrong token is 401, which test_http_api.py does.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"with-security-parameters": False},
        "phases": {"stateful": {"max-steps": 8}},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _close() -> Iterator[None]:
    yield
    MANAGER.close()


# The schema types ids as strings and counts as integers; the library's own checks (R14:
# at most 128 characters, no control characters, counts up to 1,000,000, a real time
# zone) answer 400 to some schema-valid values, as they must. Everything else is checked:
# no 500, responses, status codes, content types and headers conform to the schema.
EXCLUDED = [positive_data_acceptance]

# Known ids help the generator reach deep code paths, next to its random ones.
_IDS = {"org_id": "acme", "product": "acs-pro", "system_id": "srv-1", "serial": "HW-1"}


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Swap about half the valid generated ids (those of even length) for the populated ones.

    An id over the schema's maxLength is left alone: it is the point of a negative case.
    """
    if not path_parameters:
        return path_parameters
    return {
        name: _IDS[name]
        if name in _IDS and len(str(value)) % 2 == 0 and len(str(value)) <= 1024
        else value
        for name, value in path_parameters.items()
    }


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_within_its_schema_and_never_500(case: Any) -> None:
    case.call_and_validate(headers=AUTH, excluded_checks=EXCLUDED)


APIWorkflow = schema.as_state_machine()


class AuthorizedWorkflow(APIWorkflow):  # type: ignore[misc,valid-type]
    """The inferred workflow, calling with a bearer token."""

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"headers": AUTH}

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=EXCLUDED,
            transport_kwargs=kwargs,
        )


TestStatefulWorkflow = AuthorizedWorkflow.TestCase
TestStatefulWorkflow.settings = settings(
    max_examples=15,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def test_the_workflow_follows_links_from_a_created_organization() -> None:
    rules = [
        name
        for name, value in inspect.getmembers(AuthorizedWorkflow)
        if hasattr(value, "hypothesis_stateful_rule")
    ]
    created = [n for n in rules if n.startswith("POST_v1_organizations___201")]
    listed = [n for n in rules if n.startswith("GET_v1_organizations___200")]
    assert len(created) >= 10, rules
    assert len(listed) >= 10, rules
