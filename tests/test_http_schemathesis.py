"""schemathesis against the live OpenAPI schema of the service (SPEC §6).

Every operation is called with generated valid and invalid input; then a
state machine follows the links schemathesis infers between operations (an
organization created by one call is used by the next). Every response must
conform to the schema, and none may be a 500; and no request valid by the
schema is refused for its form (SPEC §6.1, :func:`schema_valid_is_accepted`).
The number of examples is bounded so that the whole file runs in about a
minute; ``AXIS_LICENSING_SCHEMATHESIS_EXAMPLES`` raises it for a longer run.
"""

from __future__ import annotations

import inspect
import os
import re
import urllib.parse
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
from axis_licensing._validate import MAX_ID
from axis_licensing.http import TokenFile, create_app
from axis_licensing.http._schema import REF_PATTERN

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


class FreshStore:
    """The service under test, as an ASGI app whose store can be replaced by a fresh one.

    Each stateful scenario starts from the same populated store
    (:meth:`AuthorizedWorkflow.setup`): hypothesis runs a scenario again to
    replay or shrink it, and a scenario that met the organizations an earlier
    one created (a 409 where the first run had a 201, so an empty bundle)
    would draw differently the second time (``FlakyStrategyDefinition``).
    """

    def __init__(self) -> None:
        self.app, self.manager = _app()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def renew(self) -> None:
        """Replace the store (and the app over it) with a freshly populated one."""
        old = self.manager
        self.app, self.manager = _app()
        old.close()


APP = FreshStore()
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
    APP.manager.close()


# schemathesis's own positive check counts every 4xx but a few as a refusal; a state's
# refusals (409, 422, an unknown id's 404) are not the schema's. schema_valid_is_accepted
# below replaces it: a schema-valid request is never refused for its form. Everything
# else is checked: no 500, responses, status codes, content types and headers conform.
EXCLUDED = [positive_data_acceptance]

# Known ids help the generator reach deep code paths, next to its random ones.
_IDS = {"org_id": "acme", "product": "acs-pro", "system_id": "srv-1", "serial": "HW-1"}


def _valid_ref(value: object) -> bool:
    """Whether a generated path id (percent-encoded by then) is valid by the schema."""
    if not isinstance(value, str):
        return False
    text = urllib.parse.unquote(value)
    return 1 <= len(text) <= MAX_ID and re.search(REF_PATTERN, text) is not None


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Swap about half the valid generated ids (those of even length) for the populated ones.

    An id the schema refuses is left alone: it is the point of a negative case.
    """
    if not path_parameters:
        return path_parameters
    return {
        name: _IDS[name]
        if name in _IDS and len(str(value)) % 2 == 0 and _valid_ref(value)
        else value
        for name, value in path_parameters.items()
    }


#: Refusals for what the store holds, not for the request's form: a license type the
#: product does not have, a horizon past the calendar from today, a catalog change
#: that R15 refuses. Each is (param, words of the library's message).
SEMANTIC = (
    ("devices", "license type"),
    ("quantities", "license type"),
    ("preloaded", "license type"),
    ("horizon", "past the calendar"),
    # a webhook URL's host, address and parts are checked when it is saved (SPEC §7)
    ("url", "webhook URL"),
    # a catalog's rules between its fields (R5, R15)
    (None, "covers unknown types"),
    (None, "duplicate license types"),
    (None, "duplicate product codes"),
)

#: JSON Schema counts 3.0 as an integer; SPEC §6.1 does not (docs/service.md says so).
INTEGRAL_FLOAT = re.compile(r"must be an integer, got (float|-?[0-9]+\.0\b)")

REFUSED: list[str] = []


def schema_valid_is_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request valid by the schema is never refused for its form (SPEC §6.1).

    A 400 ``invalid_input`` to a request generated from the schema (positive
    mode) fails, unless the refusal is about the store's data (:data:`SEMANTIC`).
    422s are the state's (a short wallet, a closed window).
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    body = response.json()
    if body.get("code") != "invalid_input":
        return None
    param = body.get("details", {}).get("param")
    if any(param == p and words in body.get("detail", "") for p, words in SEMANTIC):
        return None
    if INTEGRAL_FLOAT.search(body.get("detail", "")):
        return None
    REFUSED.append(f"{case.method} {case.formatted_path}: {body.get('detail')} ({param})")
    raise AssertionError(f"valid by the schema, refused: {body.get('detail')} (param {param})")


#: Examples per operation; CI keeps 25, a longer run sets AXIS_LICENSING_SCHEMATHESIS_EXAMPLES.
EXAMPLES = int(os.environ.get("AXIS_LICENSING_SCHEMATHESIS_EXAMPLES", "25"))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_every_operation_answers_within_its_schema_and_never_500(case: Any) -> None:
    case.call_and_validate(
        headers=AUTH, excluded_checks=EXCLUDED, additional_checks=[schema_valid_is_accepted]
    )


APIWorkflow = schema.as_state_machine()


class AuthorizedWorkflow(APIWorkflow):  # type: ignore[misc,valid-type]
    """The inferred workflow, calling with a bearer token, each scenario on a fresh store."""

    def setup(self) -> None:
        APP.renew()

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
