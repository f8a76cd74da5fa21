"""Errors as RFC 9457 problems: one exception handler for the API and the portal (SPEC §6).

A library error keeps its ``code`` and ``details`` (R14); its HTTP status
follows its family. The framework's own errors (a malformed body, a missing
token, a body too large, an unknown route) get codes of their own. Nothing
else escapes: an unexpected error is logged and answered as a bare 500
without a trace.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from axis_licensing import errors
from axis_licensing._convert import to_jsonable

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "error_code",
    "error_details",
    "family_status",
    "problem_of",
    "status_of",
]

log = logging.getLogger("axis_licensing.http")

PROBLEM_JSON = "application/problem+json"

#: The HTTP status of each error family (SPEC §6), most specific first.
_STATUS: tuple[tuple[type[errors.LicensingError], int], ...] = (
    (errors.InvalidInput, 400),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.InsufficientLicenses, 422),
    (errors.OutsideAllocationWindow, 422),
    (errors.StorageError, 503),
    (errors.ConcurrencyConflict, 503),
)

#: Codes of the framework's HTTP errors, by status.
_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


@attrs.frozen
class Problem:
    """An RFC 9457 problem, as every error of the service is answered.

    Attributes:
        type: ``about:blank`` (the code says what happened).
        title: the status's reason phrase.
        status: the HTTP status code.
        detail: a message for people; it may change between versions.
        code: the stable machine-readable code (R14): map it to your own texts.
        details: JSON-ready facts about the error, such as ``param`` or ``shortfall``.
    """

    title: str
    status: int
    detail: str
    code: str
    details: dict[str, Any] = attrs.field(factory=dict)
    type: str = "about:blank"


def error_code(exc: errors.LicensingError) -> str:
    """The stable code of a library error (R14)."""
    return exc.code


def error_details(exc: errors.LicensingError) -> dict[str, Any]:
    """The JSON-ready details of a library error (R14)."""
    return errors.error_jsonable(exc)["details"]  # type: ignore[no-any-return]


def status_of(exc: errors.LicensingError) -> int:
    """The HTTP status of a library error's family (SPEC §6); other conflicts are 409."""
    return family_status(type(exc))


def family_status(error: type[errors.LicensingError]) -> int:
    """The HTTP status of an error class's family (SPEC §6); other conflicts are 409."""
    for cls, status in _STATUS:
        if issubclass(error, cls):
            return status
    return 409


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem_of(exc: BaseException) -> tuple[Problem, dict[str, str]]:
    """The problem that answers ``exc``, and the headers to send with it."""
    headers: dict[str, str] = {}
    if isinstance(exc, errors.LicensingError):
        status = status_of(exc)
        code, detail, details = error_code(exc), str(exc), error_details(exc)
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        code = _HTTP_CODES.get(status, "http_error")
        detail = str(exc.detail)
        details = {}
        if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
            details = {"errors": to_jsonable(exc.extra)}
        headers.update(exc.headers or {})
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="axis-licensing"'
    else:
        log.error("unexpected error", exc_info=exc)
        status, code, detail, details = 500, "internal_error", "internal error", {}
    title = _TITLES.get(status, "Error")
    return Problem(title=title, status=status, detail=detail, code=code, details=details), headers


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Answer ``exc`` as ``application/problem+json`` (the API's one exception handler)."""
    problem, headers = problem_of(exc)
    return Response(
        content=to_jsonable(problem),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )
