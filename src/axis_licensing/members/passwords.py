"""Passwords: Argon2id through ``argon2-cffi`` (SPEC §8).

- :func:`hash_password` makes an encoded Argon2id hash (salt and parameters inside);
- :func:`verify_password` checks a password against one, in constant time (argon2's
  own comparison), and says whether the hash should be remade with the current
  parameters (:func:`needs_rehash`);
- :func:`verify_unknown` does the same work against a fixed dummy hash, so that
  checking the password of an account that does not exist costs what a wrong
  password costs: the answer and its timing never reveal whether an account exists.

Passwords are never logged, stored or put in an error message; errors here say
only what was wrong with the *shape* of the input.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from axis_licensing.errors import InvalidInput

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "check_password_text",
    "hash_password",
    "hasher",
    "needs_rehash",
    "verify_password",
    "verify_unknown",
]

#: The shortest password accepted at creation, in characters.
MIN_PASSWORD = 8
#: The longest password accepted, in characters (hashing cost stays bounded).
MAX_PASSWORD = 1024


@functools.cache
def hasher() -> PasswordHasher:
    """The Argon2id hasher with argon2-cffi's current default parameters (RFC 9106, low memory)."""
    return PasswordHasher()


_DUMMIES: dict[tuple[int, ...], str] = {}


def _dummy_hash() -> str:
    """A hash of a random password with the current parameters, for :func:`verify_unknown`.

    Made once per process and set of parameters, so it always costs what a
    stored hash with the current parameters costs.
    """
    import secrets

    current = hasher()
    key = (
        current.time_cost,
        current.memory_cost,
        current.parallelism,
        current.hash_len,
        current.salt_len,
    )
    found = _DUMMIES.get(key)
    if found is None:
        found = _DUMMIES[key] = current.hash(secrets.token_urlsafe(24))
    return found


def check_password_text(password: object, *, param: str = "password") -> str:
    """``password`` if it is a password of an acceptable length.

    Args:
        password: the candidate.
        param: the argument's name, for the error.

    Returns:
        The password.

    Raises:
        InvalidInput: not text, shorter than :data:`MIN_PASSWORD` or longer than
            :data:`MAX_PASSWORD` characters, or holding a NUL character. The
            message never holds the password.
    """
    if not isinstance(password, str):
        raise InvalidInput("a password must be text", param=param)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters", param=param
        )
    if "\x00" in password:
        raise InvalidInput("a password must not contain a NUL character", param=param)
    return password


def hash_password(password: str) -> str:
    """The encoded Argon2id hash of ``password`` (with its own random salt).

    Args:
        password: a checked password (:func:`check_password_text`).

    Returns:
        The PHC-encoded hash (``$argon2id$v=19$m=…``).
    """
    return hasher().hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches ``encoded``, compared in constant time by argon2.

    Args:
        encoded: a stored hash.
        password: the password given.

    Returns:
        True on a match; False on a mismatch or an unreadable hash.
    """
    try:
        return hasher().verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_unknown(password: str) -> bool:
    """Do the work of :func:`verify_password` for an account that does not exist.

    Verifies ``password`` against a dummy hash made with the same parameters,
    so that the time taken matches a wrong password's. Always False.

    Args:
        password: the password given.

    Returns:
        False.
    """
    verify_password(_dummy_hash(), password)
    return False


def needs_rehash(encoded: str) -> bool:
    """Whether ``encoded`` was made with other parameters than the current ones.

    Args:
        encoded: a stored hash that just verified.

    Returns:
        True when it should be replaced by :func:`hash_password` of the same password.
    """
    try:
        return hasher().check_needs_rehash(encoded)
    except (InvalidHashError, ValueError):
        return True
