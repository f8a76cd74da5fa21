"""License key format: generation, normalisation and checking (SPEC R10).

A key is 24 Crockford base32 symbols (alphabet ``0123456789ABCDEFGHJKMNPQRSTVWXYZ``):
22 random data symbols (110 random bits) followed by 2 check symbols. It is shown
in four dash-separated groups of six, 27 characters in all, e.g.
``A3C5HR-4RBV67-YR21HA-QGSH2Q``.

The check: read the 24 symbols as one base-32 number ``N`` (first symbol most
significant). The two check symbols hold the value ``c`` in ``0..1020`` that makes
``N ≡ 0 (mod 1021)``; 1021 is prime, larger than 32 and smaller than ``32**2``, so
``c`` fits in two symbols. Why this catches the typos R10 names, at any position
(check symbols included):

* substituting one symbol changes ``N`` by ``d * 32**i`` with ``0 < |d| < 32``.
  The prime 1021 divides neither ``d`` nor ``32**i``, so the change is not
  ``≡ 0 (mod 1021)`` and the check fails;
* swapping two different neighbouring symbols ``a``, ``b`` changes ``N`` by
  ``(a - b) * (32 - 1) * 32**i`` with ``0 < |a - b| < 32``. The prime 1021 divides
  none of ``a - b``, ``31`` and ``32**i``, so again the check fails.

A check value of 1021 to 1023 is rejected too, so each data part has exactly one
valid key and the normalized key is canonical (its hash identifies it).

Before checking, input is normalised: ASCII letters are upper-cased, whitespace and
dashes are dropped, and the look-alikes I and L become 1 and O becomes 0.
Storage keeps only :func:`key_hash`; messages show at most :func:`key_tail`.
"""

from __future__ import annotations

import hashlib
import secrets

from axis_licensing.errors import InvalidInput, KeyTypo

__all__ = [
    "ALPHABET",
    "CHECK_MODULUS",
    "CHECK_SYMBOLS",
    "DATA_SYMBOLS",
    "FORMATTED_LENGTH",
    "GROUP_SIZE",
    "KEY_SYMBOLS",
    "RANDOM_BITS",
    "RANDOM_BYTES",
    "TAIL_SYMBOLS",
    "format_key",
    "generate_key",
    "key_hash",
    "key_tail",
    "normalize_key",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: digits and upper-case letters without I, L, O and U."""

DATA_SYMBOLS = 22
"""Random symbols in a key."""

CHECK_SYMBOLS = 2
"""Check symbols at the end of a key."""

KEY_SYMBOLS = DATA_SYMBOLS + CHECK_SYMBOLS
"""Symbols in a normalized key (24)."""

RANDOM_BITS = 5 * DATA_SYMBOLS
"""Random bits carried by a key (110)."""

RANDOM_BYTES = (RANDOM_BITS + 7) // 8
"""Length of the ``random_bytes`` that :func:`generate_key` takes (14)."""

CHECK_MODULUS = 1021
"""The prime modulus of the check: a valid key, read in base 32, is a multiple of it."""

GROUP_SIZE = 6
"""Symbols per dash-separated group of a formatted key."""

FORMATTED_LENGTH = KEY_SYMBOLS + KEY_SYMBOLS // GROUP_SIZE - 1
"""Characters in a formatted key, dashes included (27)."""

TAIL_SYMBOLS = 4
"""Symbols of a key that history and messages may show."""

MAX_INPUT_LENGTH = 200
"""Longest text :func:`normalize_key` looks at."""

_HASH_PREFIX = b"axis-licensing/key/v1:"
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_LOOK_ALIKES = {"I": "1", "L": "1", "O": "0"}
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_MISTYPED = "license key looks mistyped"

# The data symbols are shifted up by two symbols before the check value is added.
_CHECK_SHIFT: int = len(ALPHABET) ** CHECK_SYMBOLS

assert CHECK_MODULUS < _CHECK_SHIFT
assert FORMATTED_LENGTH <= 40
assert RANDOM_BITS >= 100


def _number(symbols: str) -> int:
    """Read a string of alphabet symbols as a base-32 number."""
    value = 0
    for symbol in symbols:
        value = value * len(ALPHABET) + _VALUES[symbol]
    return value


def _symbols(value: int, count: int) -> str:
    """Write ``value`` (``0 <= value < 32**count``) as ``count`` alphabet symbols."""
    out = []
    for _ in range(count):
        value, digit = divmod(value, len(ALPHABET))
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def _check_value(data: int) -> int:
    """The check value ``c`` in ``0..CHECK_MODULUS-1`` that makes the key a multiple."""
    return (-data * _CHECK_SHIFT) % CHECK_MODULUS


def _passes_check(symbols: str) -> bool:
    """Whether a string of ``KEY_SYMBOLS`` alphabet symbols carries a valid check."""
    check = _number(symbols[DATA_SYMBOLS:])
    return check < CHECK_MODULUS and _number(symbols) % CHECK_MODULUS == 0


def _is_normalized(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == KEY_SYMBOLS
        and all(symbol in _VALUES for symbol in value)
        and _passes_check(value)
    )


def _require_normalized(value: object) -> str:
    if not _is_normalized(value):
        raise InvalidInput(
            f"expected a normalized license key ({KEY_SYMBOLS} symbols of {ALPHABET}, "
            "no dashes, valid check); pass it through normalize_key first"
        )
    assert isinstance(value, str)
    return value


def generate_key(random_bytes: bytes | None = None) -> str:
    """Make a new license key.

    Args:
        random_bytes: exactly ``RANDOM_BYTES`` (14) bytes to draw the key from; the
            lowest two bits are not used. When ``None``, :func:`secrets.token_bytes`
            supplies them. Pass bytes only to make tests deterministic.

    Returns:
        The formatted key, e.g. ``A3C5HR-4RBV67-YR21HA-QGSH2Q`` (``FORMATTED_LENGTH``
        characters).

    Raises:
        InvalidInput: ``random_bytes`` is not ``bytes`` of length ``RANDOM_BYTES``.
    """
    if random_bytes is None:
        random_bytes = secrets.token_bytes(RANDOM_BYTES)
    elif not isinstance(random_bytes, bytes) or len(random_bytes) != RANDOM_BYTES:
        raise InvalidInput(f"random_bytes must be exactly {RANDOM_BYTES} bytes")
    data = int.from_bytes(random_bytes, "big") >> (8 * RANDOM_BYTES - RANDOM_BITS)
    symbols = _symbols(data, DATA_SYMBOLS) + _symbols(_check_value(data), CHECK_SYMBOLS)
    return format_key(symbols)


def normalize_key(text: object) -> str:
    """Normalise and check a key as the user typed or pasted it.

    Letters are upper-cased, whitespace and dashes dropped, I and L read as 1 and
    O as 0. The result must be ``KEY_SYMBOLS`` alphabet symbols with a valid check.

    Args:
        text: the key as entered.

    Returns:
        The canonical key: ``KEY_SYMBOLS`` upper-case symbols without dashes.

    Raises:
        InvalidInput: ``text`` is not a string, is empty (or only spaces and dashes),
            or is longer than 200 characters.
        KeyTypo: a character is not used in keys, the number of symbols is wrong,
            or the check symbols do not match. The message says the key looks
            mistyped and shows at most its last 4 symbols.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"license key must be a string, not {type(text).__name__}", param="key")
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidInput(
            f"license key is too long ({len(text)} characters, at most {MAX_INPUT_LENGTH})",
            param="key",
        )
    symbols: list[str] = []
    for char in text:
        if char.isspace() or char in _DASHES:
            continue
        symbol = char.upper() if char.isascii() else char
        symbol = _LOOK_ALIKES.get(symbol, symbol)
        if symbol not in _VALUES:
            raise KeyTypo(
                f"{_MISTYPED}: it contains {char!r}, which is not used in license keys", param="key"
            )
        symbols.append(symbol)
    if not symbols:
        raise InvalidInput("license key is empty", param="key")
    if len(symbols) != KEY_SYMBOLS:
        raise KeyTypo(
            f"{_MISTYPED}: it has {len(symbols)} symbols, a license key has {KEY_SYMBOLS}",
            param="key",
        )
    normalized = "".join(symbols)
    if not _passes_check(normalized):
        raise KeyTypo(
            f"{_MISTYPED}: the key ending {key_tail(normalized)} fails its check "
            "(a symbol is wrong or two are swapped)",
            param="key",
        )
    return normalized


def format_key(normalized: str) -> str:
    """Show a normalized key in dash-separated groups of ``GROUP_SIZE`` symbols.

    Args:
        normalized: a key as returned by :func:`normalize_key`.

    Returns:
        The key as ``FORMATTED_LENGTH`` characters, e.g. ``A3C5HR-4RBV67-YR21HA-QGSH2Q``.

    Raises:
        InvalidInput: ``normalized`` is not a normalized key.
    """
    key = _require_normalized(normalized)
    return "-".join(key[i : i + GROUP_SIZE] for i in range(0, KEY_SYMBOLS, GROUP_SIZE))


def key_hash(normalized: str) -> str:
    """The stored identity of a key: domain-separated SHA-256, in hex.

    Args:
        normalized: a key as returned by :func:`normalize_key`.

    Returns:
        64 lower-case hex digits.

    Raises:
        InvalidInput: ``normalized`` is not a normalized key.
    """
    key = _require_normalized(normalized)
    return hashlib.sha256(_HASH_PREFIX + key.encode("ascii")).hexdigest()


def key_tail(normalized: str) -> str:
    """The last ``TAIL_SYMBOLS`` symbols of a key: all that history and messages show.

    Args:
        normalized: ``KEY_SYMBOLS`` alphabet symbols, such as a key returned by
            :func:`normalize_key`. The check is not required, so a mistyped key
            can be named too.

    Returns:
        The last 4 symbols.

    Raises:
        InvalidInput: ``normalized`` is not ``KEY_SYMBOLS`` alphabet symbols.
    """
    if (
        not isinstance(normalized, str)
        or len(normalized) != KEY_SYMBOLS
        or not all(symbol in _VALUES for symbol in normalized)
    ):
        raise InvalidInput(
            f"expected a normalized license key ({KEY_SYMBOLS} symbols of {ALPHABET})"
        )
    return normalized[-TAIL_SYMBOLS:]
