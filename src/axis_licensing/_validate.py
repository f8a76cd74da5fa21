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
    "ID_PATTERN",
    "ID_PUNCTUATION",
    "MAX_ID",
    "MAX_QUANTITY",
    "actor_problem",
    "check_actor",
    "check_counts",
    "check_id",
    "check_int",
    "check_new_id",
    "check_text",
    "count_problem",
    "new_id_problem",
    "param_of",
    "text_problem",
]

#: Ids are at most this many characters (R14).
MAX_ID = 128
#: A quantity is at most this (R14).
MAX_QUANTITY = 1_000_000


#: The punctuation a new id may hold besides letters and digits of any script (R14).
ID_PUNCTUATION = ".-_~:@+"

#: The ``pattern`` of a new id (R14) in JSON Schema's (ECMA-262, ``u`` flag) syntax. The
#: server's check is :func:`new_id_problem`, which also refuses invisible letters.
ID_PATTERN = r"^(?!\.\.?$)[\p{L}\p{N}._~:@+-][\p{L}\p{M}\p{N}._~:@+-]*$"

#: Code points that render as nothing (Unicode's Default_Ignorable_Code_Point, the
#: ones that are letters or marks and so would pass a letter test): Hangul fillers,
#: Khmer inherent vowels, Mongolian and other variation selectors, the grapheme joiner.
_INVISIBLE = frozenset(
    (
        *(0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0),
        *range(0x180B, 0x1810),
        *range(0xFE00, 0xFE10),
        *range(0xE0100, 0xE01F0),
    )
)


def _invisible(ch: str) -> bool:
    """Whether ``ch`` is a format, control, invisible or bidirectional-override character."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") or ord(ch) in _INVISIBLE


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


def new_id_problem(value: object) -> str | None:
    """Why ``value`` may not be a *new* id (R14), or None when it may.

    A new id (an organization, system, hardware serial or request id being
    created) is 1 to 128 characters: letters and digits of any script (with
    their combining marks) and ``. _ - ~ : @ +``, and neither ``.`` nor ``..``.
    So ids travel in URLs and show to people as they are: no ``/``, spaces,
    control, invisible or bidirectional-override characters.
    """
    problem = text_problem(value)
    if problem is not None:
        return problem
    assert isinstance(value, str)
    if value in (".", ".."):
        return f"must not be {value!r}"
    for index, ch in enumerate(value):
        category = unicodedata.category(ch)
        if ch in ID_PUNCTUATION:
            continue
        if _invisible(ch):
            return f"must not contain invisible or control characters (U+{ord(ch):04X})"
        if category[0] in "LN" or (category in ("Mn", "Mc") and index > 0):
            continue
        shown = "a space" if ch.isspace() else repr(ch)
        return f"may hold only letters, digits and . _ - ~ : @ + (found {shown} at {index + 1})"
    return None


def check_new_id(value: object, what: str) -> str:
    """A new id (see :func:`new_id_problem`), where an id is created (R14).

    Ids created before this rule are still accepted where they are referred to
    (:func:`check_id`).

    Raises:
        InvalidInput: otherwise, saying what is wrong with ``what``.
    """
    problem = new_id_problem(value)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}", param=param_of(what))
    assert isinstance(value, str)
    return value


def actor_problem(value: object) -> str | None:
    """Why ``value`` may not be an actor (R14), or None when it may.

    An actor is 1 to 128 printable characters (an e-mail address, a name),
    not blank, without control, invisible or bidirectional-override characters.
    """
    problem = text_problem(value)
    if problem is not None:
        return problem
    assert isinstance(value, str)
    for index, ch in enumerate(value):
        if _invisible(ch) or (not ch.isprintable()):
            return (
                "must not contain control, invisible or bidirectional characters "
                f"(U+{ord(ch):04X} at {index + 1})"
            )
    return None


def check_actor(value: object, what: str = "actor") -> str:
    """An actor (see :func:`actor_problem`) (R14).

    Raises:
        InvalidInput: otherwise.
    """
    problem = actor_problem(value)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}", param=param_of(what))
    assert isinstance(value, str)
    return value


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
