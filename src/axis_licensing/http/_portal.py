from __future__ import annotations
from typing import Any
from litestar import Request, Response
from axis_licensing.http._problems import problem_response
from axis_licensing.manager import Manager

ROUTES: list[Any] = []


def state(manager: Manager) -> dict[str, Any]:
    return {}


def error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return problem_response(request, exc)
