"""Issue 14, item 4: every declared operation is at every edge, checked as the library checks it.

The test enumerates :data:`~axis_licensing.shell.operations.OPERATIONS` and
fails on an operation missing from the library, the CLI or the HTTP API, or
checked differently there: the OpenAPI schema states each bound the library
enforces (id lengths and patterns, integer and count bounds, text lengths),
and a value just past a bound is refused by the CLI and the API with the
library's own error code and ``param`` (SPEC §6.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from axis_licensing import EXAMPLE_CATALOG, InvalidInput, Manager, ManualClock
from axis_licensing._validate import MAX_ID, MAX_QUANTITY
from axis_licensing.cli import OWN_COMMANDS, main, verb_of
from axis_licensing.http import TokenFile, create_app
from axis_licensing.http._api import body_params, body_required, body_type, endpoint
from axis_licensing.http._schema import NEW_ID_PATTERN, REF_PATTERN
from axis_licensing.shell.operations import OPERATIONS, Check, Kind, Operation, Param

TOKENS = """
[[tokens]]
token = "edge-0123456789abcdef"
actor = "alice"
organizations = ["*"]
vendor = true
"""
AUTH = {"Authorization": "Bearer edge-0123456789abcdef"}

#: A value each check accepts, for the parameters a probe does not test.
SAMPLES: dict[Check, str] = {
    Check.ID: "acme",
    Check.NEW_ID: "new-1",
    Check.PRODUCT: "acs-pro",
    Check.KEY: "AAAA-BBBB",
    Check.TEXT: "Acme",
    Check.COUNTS: "core=1",
}


def _bounded(op: Operation) -> list[Param]:
    """The parameters of ``op`` with a bound the library enforces."""
    return [
        p
        for p in op.params
        if (p.check is Check.INT and p.maximum is not None) or p.check is Check.COUNTS
    ]


def _cli_command(op: Operation) -> click.Command:
    names = (
        OWN_COMMANDS[op.name].split()
        if op.name in OWN_COMMANDS
        else [
            *op.path[:-1],
            verb_of(op).name,
        ]
    )
    command: click.Command = main
    for name in names:
        assert isinstance(command, click.Group), (op.name, names)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_is_in_the_library_the_cli_and_the_api(name: str) -> None:
    op = OPERATIONS[name]
    manager = Manager.open("memory://", catalog=EXAMPLE_CATALOG)
    try:
        owner: object = manager
        for part in op.path:
            owner = getattr(owner, part)
        assert callable(owner), name
        app = create_app(manager, tokens=TokenFile.parse(TOKENS))
        paths = app.openapi_schema.to_schema()["paths"]
    finally:
        manager.close()
    at = endpoint(op)
    assert at.method.lower() in paths[at.path], (name, at.path)
    command = _cli_command(op)
    assert command.help, name
    options = {p.name for p in command.params}
    if op.kind is Kind.COMMAND:
        declared = {p.name for p in op.params} & {"actor", "request_id"}
        assert {*declared, "as_json", "db"} <= options, name


def _schema_of(doc: dict[str, Any], op: Operation, p: Param) -> dict[str, Any]:
    """The OpenAPI schema of ``p`` at the endpoint of ``op``: a path or query parameter, or a
    body field."""
    at = endpoint(op)
    spec = doc["paths"][at.path][at.method.lower()]
    wanted = at.query_names.get(p.name, p.name)
    for given in spec.get("parameters", []):
        if given["name"] == wanted:
            schema: dict[str, Any] = given["schema"]
            return schema
    ref = spec["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    field: dict[str, Any] = component["properties"][p.name]
    assert (p.name in component.get("required", [])) == body_required(p), (op.name, p.name)
    return field


@pytest.fixture(scope="module")
def openapi() -> Iterator[dict[str, Any]]:
    manager = Manager.open("memory://", catalog=EXAMPLE_CATALOG)
    yield create_app(manager, tokens=TokenFile.parse(TOKENS)).openapi_schema.to_schema()
    manager.close()


#: The operations whose parameters the API carries in a path, a query or a JSON body.
JSON_OPERATIONS = sorted(n for n in OPERATIONS if n not in ("upload_system_file",))


@pytest.mark.parametrize("name", JSON_OPERATIONS)
def test_the_openapi_schema_states_the_librarys_bounds(name: str, openapi: dict[str, Any]) -> None:
    op = OPERATIONS[name]
    at = endpoint(op)
    carried = [*at.path_params, *(p.name for p in body_params(op, at))]
    if op.kind is Kind.QUERY:
        carried = [p.name for p in op.params]
    if op.name == "vendor.publish_catalog":  # the catalog's own body (ProductBody, ...)
        assert body_type(op, at) is not None
        return
    for p in (op.param(n) for n in carried):
        schema = _schema_of(openapi, op, p)
        if p.check is Check.INT and p.name in ("limit", "offset") and at.page is not None:
            # the API pages: its bounds lie within the library's
            assert p.minimum is not None
            assert p.maximum is not None
            assert p.minimum <= schema["minimum"] <= schema["maximum"] <= p.maximum
        elif p.check is Check.INT:
            assert (schema.get("minimum"), schema.get("maximum")) == (p.minimum, p.maximum), name
        elif p.check is Check.COUNTS:
            counts = schema["additionalProperties"]
            least = 0 if p.allow_zero else 1
            assert (counts["minimum"], counts["maximum"]) == (least, MAX_QUANTITY), name
            assert schema.get("minProperties") == (None if p.allow_empty else 1), name
        elif p.check is Check.NEW_ID:
            refused = "".join(f"(?!{word}$)" for word in p.reserved)  # the account id 'system'
            expected = "^" + refused + NEW_ID_PATTERN[1:]
            assert (schema["maxLength"], schema["pattern"]) == (MAX_ID, expected)
        elif p.check in (Check.ID, Check.PRODUCT):
            assert (schema["maxLength"], schema["pattern"]) == (MAX_ID, REF_PATTERN)
        elif p.check is Check.TEXT:
            assert schema["maxLength"] == p.max_length, (name, p.name)


def _past(p: Param) -> str:
    """A value just past ``p``'s bound, as the CLI and a query string write it."""
    if p.check is Check.COUNTS:
        return f"core={MAX_QUANTITY + 1}"
    assert p.maximum is not None
    return str(p.maximum + 1)


PROBES = sorted(
    (name, p.name)
    for name, op in OPERATIONS.items()
    if name not in OWN_COMMANDS
    for p in _bounded(op)
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("edges") / "store.db"
    clock = ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    with Manager.open(f"sqlite:///{path}", catalog=EXAMPLE_CATALOG, clock=clock) as manager:
        manager.create_organization("acme", name="Acme", actor="setup")
    return str(path)


def _cli_args(op: Operation, bad: Param) -> list[str]:
    """The CLI arguments of ``op`` with ``bad`` just past its bound, the rest acceptable."""
    verb = verb_of(op)
    args = [*op.path[:-1], verb.name]
    for p in op.params:
        value = _past(p) if p is bad else SAMPLES.get(p.check)
        if p.name in verb.arguments:
            args.append(value or "x")
        elif p is bad or (p.required and p.name not in ("actor",)):
            args.extend(["--" + p.name.replace("_", "-"), value or "x"])
    return args


@pytest.mark.parametrize(("name", "param"), PROBES)
def test_the_cli_and_the_api_refuse_what_the_library_refuses(
    name: str, param: str, store: str, tmp_path: Path
) -> None:
    op = OPERATIONS[name]
    bad = op.param(param)
    with Manager.open(f"sqlite:///{store}") as manager:
        values: dict[str, object] = {
            p.name: {"core": MAX_QUANTITY + 1}
            if p is bad and p.check is Check.COUNTS
            else (p.maximum + 1 if p is bad and p.maximum is not None else None)
            for p in op.params
            if p.required or p is bad
        }
        for p in op.params:
            if p.required and p is not bad:
                values[p.name] = (
                    {"core": 1} if p.check is Check.COUNTS else SAMPLES.get(p.check, "x")
                )
        with pytest.raises(InvalidInput) as refused:
            manager.execute(name, **values)
        assert refused.value.details["param"] == param
        runner = CliRunner(env={"AXIS_LICENSING_DB": store, "AXIS_LICENSING_ACTOR": "alice"})
        result = runner.invoke(main, [*_cli_args(op, bad), "--json"])
        assert result.exit_code == 2, result.output
        error = json.loads(result.stderr)
        assert (error["code"], error["details"].get("param")) == (refused.value.code, param)
        client = TestClient(create_app(manager, tokens=TokenFile.parse(TOKENS)))
        at = endpoint(op)
        path = at.path.format(**{n: SAMPLES[op.param(n).check] for n in at.path_params})
        if at.method == "GET":
            response = client.get(path, params={bad.name: _past(bad)}, headers=AUTH)
        else:
            body = {p.name: values[p.name] for p in body_params(op, at) if p.name in values}
            response = client.request(at.method, path, json=body, headers=AUTH)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == refused.value.code
