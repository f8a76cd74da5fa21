"""Input checks of every public entry point (R14).

Each check returns the clean value or raises an :class:`InvalidInput` whose
message says what was wrong. Nothing is applied before every check passed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from axis_licensing._counts import Counts
from axis_licensing.errors import InvalidInput

__all__ = [
    "MAX_ID",
    "MAX_QUANTITY",
    "check_counts",
    "check_id",
    "check_int",
    "check_text",
    "count_problem",
    "param_of",
    "text_problem",
]

#: Ids are at most this many characters (R14).
MAX_ID = 128
#: A quantity is at most this (R14).
MAX_QUANTITY = 1_000_000


def param_of(what: str) -> str:
    """The argument name that ``what`` (a check's label, such as ``"devices: license type"``)
    starts with: the ``param`` of an :class:`InvalidInput`'s details (R14)."""
    return re.split(r"[:\[ ]", what, maxsplit=1)[0]


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def text_problem(value: object, *, max_length: int = MAX_ID) -> str | None:
    """Why ``value`` is not valid text for an id or name (R14), or None when it is.

    Valid: a string, not empty or blank, at most ``max_length`` characters,
    without control characters.
    """
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters, got {len(value)}"
    if not value.isprintable() and _has_control(value):
        return "must not contain control characters"
    if not value.strip():
        return "must not be empty (only spaces)"
    return None


def check_text(value: object, what: str, *, max_length: int = MAX_ID) -> str:
    """``value`` if it is valid text (see :func:`text_problem`).

    Raises:
        InvalidInput: otherwise, saying what is wrong with ``what``.
    """
    problem = text_problem(value, max_length=max_length)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}", param=param_of(what))
    assert isinstance(value, str)
    return value


def check_id(value: object, what: str) -> str:
    """An id: non-empty, at most 128 characters, no control characters (R14).

    Raises:
        InvalidInput: otherwise.
    """
    return check_text(value, what, max_length=MAX_ID)


def check_int(
    value: object, what: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer (not a bool) within the bounds given.

    Raises:
        InvalidInput: otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, got {value!r}", param=param_of(what))
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{what} must be at least {minimum}, got {value}", param=param_of(what))
    if maximum is not None and value > maximum:
        raise InvalidInput(f"{what} must be at most {maximum}, got {value}", param=param_of(what))
    return value


def count_problem(value: object, *, allow_zero: bool) -> str | None:
    """Why ``value`` is not a valid count (R14), or None when it is one.

    Valid: an integer (not a bool), positive (or ``>= 0`` with ``allow_zero``),
    at most 1,000,000.
    """
    if type(value) is not int:
        return f"must be an integer, got {type(value).__name__}"
    if value < 0 or (value == 0 and not allow_zero):
        kind = "a non-negative" if allow_zero else "a positive"
        return f"must be {kind} integer, got {value}"
    if value > MAX_QUANTITY:
        return f"must be at most {MAX_QUANTITY:,}, got {value}"
    return None


def check_counts(value: object, what: str, *, allow_zero: bool, allow_empty: bool) -> Counts:
    """A mapping of license type to count: positive integers (or ``>= 0`` with ``allow_zero``)
    up to 1,000,000, keyed by ids (R14).

    Raises:
        InvalidInput: otherwise.
    """
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{what} must be a mapping of license type to count, got {type(value).__name__}",
            param=param_of(what),
        )
    items: dict[str, int] = {}
    for key, count in value.items():
        license_type = check_id(key, f"{what}: license type")
        problem = count_problem(count, allow_zero=allow_zero)
        if problem is not None:
            raise InvalidInput(f"{what}[{license_type!r}] {problem}", param=param_of(what))
        items[license_type] = count
    counts = Counts(items)
    if not counts and not allow_empty:
        raise InvalidInput(f"{what} must name at least one license type", param=param_of(what))
    return counts
