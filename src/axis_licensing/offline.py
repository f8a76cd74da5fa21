"""Offline systems: system description files and signed license files (SPEC R12).

An offline system cannot reach the portal. It describes itself in a *system
description file* (:func:`describe_system`), which the user uploads to the
portal. The portal answers with a *license file* (:func:`sign_license_file`),
which the offline system checks with :func:`verify_license_file`.

Both files are canonical JSON: UTF-8 (in fact ASCII), keys sorted, no
whitespace (``sort_keys=True, separators=(",", ":"), ensure_ascii=True``).

- A system description file carries a SHA-256 ``checksum`` over the canonical
  JSON of its other fields. It guards against damage in transit, not against
  forgery: the portal checks what it may claim (R1, R9).
- A license file is ``{"body": {...}, "signature": "..."}``. The signature is
  Ed25519 over the canonical JSON bytes of ``body``, which holds the signer's
  key id, so the key id and every byte that gives the file meaning are signed.
  The verifier rejects any file that is not exactly in canonical form, so no
  byte can change without detection.

Instants are written in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds
always present) and dates as ``YYYY-MM-DD``.

This module does no I/O and reads no clock: the caller passes ``now``. It
imports only the standard library and ``cryptography`` (and the package's own
light modules: errors, counts, checks, enumerations), so a VMS can carry it
without the portal's dependencies (pendulum, attrs, cattrs, orjson, pluggy).
``tests/test_offline_verifier.py`` proves it in a venv holding only
``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, NoReturn, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from axis_licensing._counts import Counts
from axis_licensing._entitlement import Entitlement
from axis_licensing._enums import ProductState
from axis_licensing._time import EARLIEST, LATEST, check_aware
from axis_licensing._validate import (
    MAX_ID,
    MAX_QUANTITY,
    check_counts,
    count_problem,
    text_problem,
)
from axis_licensing.errors import (
    InvalidInput,
    LicenseFileExpired,
    LicenseFileNotYetValid,
    MalformedSystemFile,
    TamperedLicenseFile,
    WrongSystem,
)

__all__ = [
    "CLOCK_SKEW",
    "LICENSE_FILE_FORMAT_VERSION",
    "LICENSE_FILE_FORMAT_VERSIONS",
    "LICENSE_FILE_STATES",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "SYSTEM_FILE_FORMAT_VERSION",
    "Entitlement",
    "PublicKeyLike",
    "SystemDescription",
    "describe_system",
    "generate_signing_key",
    "key_id",
    "load_public_key",
    "load_signing_key",
    "parse_system_file",
    "public_key_pem",
    "sign_license_file",
    "verify_license_file",
]

SYSTEM_FILE_FORMAT_VERSION: Final = 1
"""The ``format_version`` of system description files this module writes and reads."""

LICENSE_FILE_FORMAT_VERSION: Final = 2
"""The ``format_version`` of license files this module writes; it also reads format 1."""

LICENSE_FILE_FORMAT_VERSIONS: Final = frozenset({1, 2})
"""The license file formats this module reads: 1 (no ``state``) and 2 (R12)."""

LICENSE_FILE_STATES: Final = ("licensed", "trial", "grace", "unlicensed")
"""The values of a license file's ``state`` (format 2, R12)."""

MAX_ID_LENGTH: Final = MAX_ID
"""The longest id, in characters (R14)."""

MAX_COUNT: Final = MAX_QUANTITY
"""The largest device count per type (R14)."""

CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far ``now`` may be before a license file's ``issued_at`` (R12)."""

PublicKeyLike: TypeAlias = bytes | str | Ed25519PublicKey
"""A trusted public key: PEM (SubjectPublicKeyInfo) as bytes or str, or a key object."""

_SYSTEM_FIELDS: Final = frozenset(
    {"format_version", "system_id", "product", "devices", "hardware", "made_at", "checksum"}
)
_LICENSE_FIELDS: Final = frozenset({"body", "signature"})
_BODY_FIELDS_V1: Final = frozenset(
    {
        "format_version",
        "key_id",
        "org_id",
        "product",
        "system_id",
        "issued_at",
        "licensed",
        "devices",
        "valid_until",
        "timezone",
    }
)
_BODY_FIELDS: Final = {1: _BODY_FIELDS_V1, 2: _BODY_FIELDS_V1 | {"state"}}
_INSTANT_RE: Final = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
_DATE_RE: Final = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
_HEX64_RE: Final = re.compile(r"\A[0-9a-f]{64}\Z")
_KEY_ID_RE: Final = re.compile(r"\A[0-9a-f]{16}\Z")


# --------------------------------------------------------------------------- helpers


def _canonical(value: object) -> bytes:
    """The canonical JSON bytes of ``value``."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid id (R14), or ``None`` when it is one."""
    return text_problem(value, max_length=MAX_ID_LENGTH)


def _check_id(name: str, value: object) -> str:
    problem = _id_problem(value)
    if problem is not None:
        raise InvalidInput(f"{name} {problem}", param=name.replace(" ", "_"))
    assert isinstance(value, str)
    return value


def _check_aware(name: str, value: object) -> datetime:
    return check_aware(value, name)


def _count_problem(value: object, *, allow_zero: bool) -> str | None:
    """Why ``value`` is not a valid device count, or ``None`` when it is one."""
    return count_problem(value, allow_zero=allow_zero)


def _check_counts(name: str, value: object) -> dict[str, int]:
    """Validate caller-given counts per license type; zero entries are left out."""
    return check_counts(value, name, allow_zero=True, allow_empty=True).to_dict()


def _format_instant(value: datetime) -> str:
    """``value`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Raises:
        InvalidInput: ``value`` is out of range once converted to UTC.
    """
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(f"{value!r} is out of range in UTC") from exc
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_instant(value: str) -> datetime | None:
    """The UTC instant written by :func:`_format_instant`, or ``None`` if not in that form."""
    if not _INSTANT_RE.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None
    return parsed if _format_instant(parsed) == value else None


def _parse_date(value: str) -> date | None:
    if not _DATE_RE.match(value):
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.isoformat() == value else None


def _load_zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> object:
    """Strict JSON: no duplicate keys, no NaN or Infinity.

    Raises:
        ValueError: when ``text`` is not such JSON.
    """
    try:
        result: object = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    return result


def _bytes_of(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return None


def _field_set_problem(found: Iterable[str], expected: frozenset[str]) -> str | None:
    keys = set(found)
    missing = sorted(expected - keys)
    extra = sorted(keys - expected)
    parts = []
    if missing:
        parts.append(f"missing field(s) {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected field(s) {', '.join(extra)}")
    return "; ".join(parts) or None


def _json_object(
    content: object,
    expected: frozenset[str],
    fail: Callable[[str], Exception],
    not_object: str,
    has: str,
) -> dict[str, Any]:
    """``content`` if it is a JSON object with exactly the ``expected`` fields.

    Raises:
        Exception: ``fail(not_object)``, or ``fail(has + what is missing or unexpected)``.
    """
    if not isinstance(content, dict):
        raise fail(not_object)
    problem = _field_set_problem(content, expected)
    if problem is not None:
        raise fail(has + problem)
    return content


# --------------------------------------------------------------------------- system files


def _to_counts(value: Mapping[str, int]) -> Counts:
    return value if isinstance(value, Counts) else Counts(value)


@dataclasses.dataclass(frozen=True)
class SystemDescription:
    """The content of a system description file (R12).

    Attributes:
        system_id: the system's id.
        product: the product code; the Manager checks it against its catalog.
        devices: the device count per license type, zeros left out.
        hardware: the hardware serials attached to the system, sorted.
        made_at: when the file was made, in UTC.
    """

    system_id: str
    product: str
    devices: Counts
    hardware: tuple[str, ...]
    made_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "devices", _to_counts(self.devices))


def describe_system(
    *,
    system_id: str,
    product: str,
    devices: Mapping[str, int],
    hardware: Iterable[str] = (),
    now: datetime,
) -> bytes:
    """Build the system description file of an offline system (R12).

    Args:
        system_id: the system's id.
        product: the product code.
        devices: the device count per license type; zero counts are left out.
        hardware: the serials of the hardware units attached to the system;
            they are written sorted and without duplicates.
        now: the aware instant the file is made at.

    Returns:
        The file: canonical JSON with ``format_version``, ``system_id``,
        ``product``, ``devices``, ``hardware``, ``made_at`` and ``checksum``.

    Raises:
        InvalidInput: ``now`` is naive; an id, license type or serial is empty,
            over 128 characters or holds control characters; a count is not an
            integer from 0 to 1,000,000.
    """
    made_at = _check_aware("now", now)
    content: dict[str, object] = {
        "format_version": SYSTEM_FILE_FORMAT_VERSION,
        "system_id": _check_id("system_id", system_id),
        "product": _check_id("product", product),
        "devices": _check_counts("devices", devices),
        "hardware": _check_serials(hardware),
        "made_at": _format_instant(made_at),
    }
    content["checksum"] = hashlib.sha256(_canonical(content)).hexdigest()
    return _canonical(content)


def _check_serials(hardware: object) -> list[str]:
    if isinstance(hardware, str | bytes | bytearray) or not isinstance(hardware, Iterable):
        raise InvalidInput("hardware must be an iterable of serial strings", param="hardware")
    serials = []
    for serial in hardware:
        problem = _id_problem(serial)
        if problem is not None:  # the argument at fault is ``hardware`` (R14)
            raise InvalidInput(f"hardware serial {problem}", param="hardware")
        serials.append(serial)
    return sorted(set(serials))


def parse_system_file(data: bytes | bytearray | memoryview) -> SystemDescription:
    """Read and fully validate a system description file (R12).

    The file must be exactly in canonical form, with every field present, of
    the right type and valid, and with a matching checksum. Whether the product
    and license types exist is for the Manager to check against its catalog.

    Args:
        data: the file's bytes, as :func:`describe_system` made them.

    Returns:
        The system's description.

    Raises:
        MalformedSystemFile: the message names the problem: not bytes, not
            UTF-8 JSON, not an object, not canonical, missing or unexpected
            fields, an unknown format version, a field of the wrong type, an
            invalid id or count, duplicate serials or a bad checksum.
    """
    raw = _bytes_of(data)
    if raw is None:
        raise MalformedSystemFile(f"a system file must be bytes, got {type(data).__name__}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedSystemFile(f"the system file is not UTF-8: {exc.reason}") from exc
    try:
        content = _loads(text)
    except ValueError as exc:
        raise MalformedSystemFile(f"the system file is not valid JSON: {exc}") from exc
    content = _json_object(
        content,
        _SYSTEM_FIELDS,
        MalformedSystemFile,
        "the system file must hold a JSON object",
        "the system file has ",
    )
    version = content["format_version"]
    if type(version) is not int or version != SYSTEM_FILE_FORMAT_VERSION:
        raise MalformedSystemFile(
            f"unsupported system file format_version {version!r}; "
            f"expected {SYSTEM_FILE_FORMAT_VERSION}"
        )
    for name in ("system_id", "product"):
        problem = _id_problem(content[name])
        if problem is not None:
            raise MalformedSystemFile(f"the system file's {name} {problem}")
    devices = _parse_file_counts(content["devices"], MalformedSystemFile, "the system file's")
    hardware = _parse_serials(content["hardware"])
    made_at_text = content["made_at"]
    made_at = _parse_instant(made_at_text) if isinstance(made_at_text, str) else None
    if made_at is None:
        raise MalformedSystemFile(
            f"the system file's made_at must be a UTC instant like "
            f"2026-03-10T12:00:00.000000Z, got {made_at_text!r}"
        )
    checksum = content.pop("checksum")
    if not isinstance(checksum, str) or not _HEX64_RE.match(checksum):
        raise MalformedSystemFile(
            "the system file's checksum must be 64 lowercase hexadecimal digits"
        )
    if hashlib.sha256(_canonical(content)).hexdigest() != checksum:
        raise MalformedSystemFile(
            "the system file's checksum does not match its content: the file was changed"
        )
    content["checksum"] = checksum
    if _canonical(content) != raw:
        raise MalformedSystemFile(
            "the system file is not in canonical form (sorted keys, no whitespace, ASCII)"
        )
    return SystemDescription(
        system_id=content["system_id"],
        product=content["product"],
        devices=Counts(devices),
        hardware=hardware,
        made_at=made_at,
    )


def _parse_serials(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise MalformedSystemFile("the system file's hardware must be a list of serials")
    seen: set[str] = set()
    for serial in value:
        problem = _id_problem(serial)
        if problem is not None:
            raise MalformedSystemFile(f"the system file's hardware serial {problem}")
        assert isinstance(serial, str)
        if serial in seen:
            raise MalformedSystemFile(
                f"the system file lists the hardware serial {serial!r} more than once"
            )
        seen.add(serial)
    return tuple(sorted(seen))


def _parse_file_counts(value: object, error: type[Exception], where: str) -> dict[str, int]:
    """Counts read from a file: an object of license type to a count from 1 to 1,000,000."""
    if not isinstance(value, dict):
        raise error(f"{where} devices must be an object of license type to count")
    for license_type, count in value.items():
        problem = _id_problem(license_type)
        if problem is not None:
            raise error(f"{where} devices: license type {problem}")
        problem = _count_problem(count, allow_zero=False)
        if problem is not None:
            raise error(f"{where} devices[{license_type!r}] {problem}")
    return dict(value)


# --------------------------------------------------------------------------- keys


def generate_signing_key() -> bytes:
    """Generate a new Ed25519 signing key.

    Returns:
        The private key as unencrypted PKCS8 PEM.
    """
    return Ed25519PrivateKey.generate().private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def load_signing_key(key: bytes | str | Ed25519PrivateKey) -> Ed25519PrivateKey:
    """Load an Ed25519 private key.

    Args:
        key: unencrypted PEM (as :func:`generate_signing_key` gives), or a key object.

    Returns:
        The key object.

    Raises:
        InvalidInput: ``key`` is not an unencrypted Ed25519 private key.
    """
    private: Ed25519PrivateKey = _load_pem(
        key,
        Ed25519PrivateKey,
        lambda pem: serialization.load_pem_private_key(pem, password=None),
        "signing key",
        "an unencrypted PEM private key",
    )
    return private


def load_public_key(key: PublicKeyLike) -> Ed25519PublicKey:
    """Load an Ed25519 public key.

    Args:
        key: SubjectPublicKeyInfo PEM (as :func:`public_key_pem` gives), or a key object.

    Returns:
        The key object.

    Raises:
        InvalidInput: ``key`` is not an Ed25519 public key.
    """
    public: Ed25519PublicKey = _load_pem(
        key, Ed25519PublicKey, serialization.load_pem_public_key, "public key", "a PEM public key"
    )
    return public


def _load_pem(key: object, cls: type, load: Callable[[bytes], object], what: str, pem: str) -> Any:
    """``key`` itself if it is a ``cls``, else the ``cls`` its PEM text holds.

    Raises:
        InvalidInput: ``key`` is neither, or its PEM holds another kind of key.
    """
    if isinstance(key, cls):
        return key
    if isinstance(key, str):
        key = key.encode("utf-8", "replace")
    if not isinstance(key, bytes):
        raise InvalidInput(
            f"a {what} must be PEM bytes or str or an {cls.__name__}, got {type(key).__name__}"
        )
    try:
        loaded = load(key)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(f"the {what} is not {pem}") from exc
    if not isinstance(loaded, cls):
        raise InvalidInput(f"the {what} must be an Ed25519 key, got {type(loaded).__name__}")
    return loaded


def public_key_pem(private: Ed25519PrivateKey) -> bytes:
    """The public half of a signing key.

    Args:
        private: the signing key.

    Returns:
        The public key as SubjectPublicKeyInfo PEM.

    Raises:
        InvalidInput: ``private`` is not an Ed25519 private key.
    """
    if not isinstance(private, Ed25519PrivateKey):
        raise InvalidInput(
            f"public_key_pem needs an Ed25519PrivateKey, got {type(private).__name__}"
        )
    return private.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def key_id(public: Ed25519PublicKey) -> str:
    """The id of a public key, written into license files for key rotation.

    Args:
        public: the public key.

    Returns:
        The first 16 hex digits of the SHA-256 of the raw 32-byte public key.

    Raises:
        InvalidInput: ``public`` is not an Ed25519 public key.
    """
    if not isinstance(public, Ed25519PublicKey):
        raise InvalidInput(f"key_id needs an Ed25519PublicKey, got {type(public).__name__}")
    raw = public.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return hashlib.sha256(raw).hexdigest()[:16]


# --------------------------------------------------------------------------- license files


def sign_license_file(
    *,
    signing_key: Ed25519PrivateKey | bytes | str,
    org_id: str,
    product: str,
    system_id: str,
    issued_at: datetime,
    licensed: bool,
    devices: Mapping[str, int],
    valid_until: date,
    timezone: str,
    state: str | None = None,
) -> bytes:
    """Build and sign a license file for an offline system (R12).

    Args:
        signing_key: the Ed25519 signing key, as a key object or PEM.
        org_id: the organization the system belongs to.
        product: the product code.
        system_id: the system the file is for.
        issued_at: the aware instant of issue; written in UTC with microseconds.
        licensed: whether the system is licensed.
        devices: the devices allowed per license type; zero counts are left out.
        valid_until: the last valid date, inclusive, in ``timezone``.
        timezone: the organization's IANA time zone.
        state: the product's state, one of :data:`LICENSE_FILE_STATES` (a
            ``ProductState`` is a str); None writes ``licensed`` or
            ``unlicensed`` after ``licensed``.

    Returns:
        The file: canonical JSON ``{"body": {...}, "signature": "..."}``, where
        the signature is base64 Ed25519 over the canonical JSON of ``body``.

    Raises:
        InvalidInput: a bad signing key, a naive ``issued_at``, an invalid id,
            license type or count, ``licensed`` not a bool, ``valid_until`` not
            a date, an unknown time zone, or a ``state`` not in
            :data:`LICENSE_FILE_STATES`.
    """
    private = load_signing_key(signing_key)
    licensed = _check_bool("licensed", licensed)
    if state is None:
        state = "licensed" if licensed else "unlicensed"
    if not isinstance(state, str) or str(state) not in LICENSE_FILE_STATES:
        raise InvalidInput(
            f"state must be one of {', '.join(LICENSE_FILE_STATES)}, got {state!r}",
            param="state",
        )
    body: dict[str, object] = {
        "format_version": LICENSE_FILE_FORMAT_VERSION,
        "key_id": key_id(private.public_key()),
        "org_id": _check_id("org_id", org_id),
        "product": _check_id("product", product),
        "system_id": _check_id("system_id", system_id),
        "issued_at": _format_instant(_check_aware("issued_at", issued_at)),
        "licensed": licensed,
        "state": str(state),
        "devices": _check_counts("devices", devices),
        "valid_until": _check_date("valid_until", valid_until).isoformat(),
        "timezone": _check_zone(timezone),
    }
    signature = private.sign(_canonical(body))
    return _canonical({"body": body, "signature": base64.b64encode(signature).decode("ascii")})


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _check_date(name: str, value: object) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a date, got {type(value).__name__}")
    return date(value.year, value.month, value.day)


def _check_zone(value: object) -> str:
    if not isinstance(value, str) or _load_zone(value) is None:
        raise InvalidInput(f"timezone must be an IANA time zone name, got {value!r}")
    return value


def _trusted_key_map(
    trusted_keys: PublicKeyLike | Iterable[PublicKeyLike] | Mapping[str, PublicKeyLike],
) -> dict[str, Ed25519PublicKey]:
    try:
        return _trusted_keys(trusted_keys)
    except InvalidInput as exc:  # the argument at fault is ``trusted_keys`` (R14)
        raise InvalidInput(exc.message, param="trusted_keys") from None


def _trusted_keys(
    trusted_keys: PublicKeyLike | Iterable[PublicKeyLike] | Mapping[str, PublicKeyLike],
) -> dict[str, Ed25519PublicKey]:
    if isinstance(trusted_keys, bytes | str | Ed25519PublicKey):
        given: Iterable[PublicKeyLike] = (trusted_keys,)
    elif isinstance(trusted_keys, Mapping):
        given = trusted_keys.values()
    elif isinstance(trusted_keys, Iterable):
        given = trusted_keys
    else:
        raise InvalidInput("trusted_keys must be public keys (PEM bytes, str or key objects)")
    keys = {key_id(public): public for public in map(load_public_key, given)}
    if isinstance(trusted_keys, Mapping):
        for name, value in trusted_keys.items():
            actual = key_id(load_public_key(value))
            if name != actual:
                raise InvalidInput(f"trusted_keys maps {name!r} to a key whose id is {actual!r}")
    if not keys:
        raise InvalidInput("trusted_keys is empty: no license file could be trusted")
    return keys


def _tampered(problem: str) -> TamperedLicenseFile:
    return TamperedLicenseFile(f"the license file cannot be trusted: {problem}")


def verify_license_file(
    data: bytes | bytearray | memoryview,
    *,
    trusted_keys: PublicKeyLike | Iterable[PublicKeyLike] | Mapping[str, PublicKeyLike],
    system_id: str,
    now: datetime,
) -> Entitlement:
    """Check a license file on the offline system it was issued for (R12).

    The checks run in this order: the input; the file's form (exactly
    canonical, every field present and of the right type); its key id; its
    signature; its content; its system; ``issued_at``; ``valid_until``.

    Args:
        data: the license file's bytes.
        trusted_keys: the public keys to trust: PEM bytes or str (as
            :func:`public_key_pem` and ``Manager.public_key`` give), key
            objects, or a mapping of key id to one of those.
        system_id: the id of the system checking the file.
        now: the aware current instant.

    Returns:
        What the file grants, with ``issued_at`` in UTC.

    Raises:
        InvalidInput: ``now`` is naive or out of range, ``system_id`` is not a valid id,
            ``data`` is not bytes, or ``trusted_keys`` is empty or holds
            something that is not an Ed25519 public key (or a mapping key that
            is not that key's id).
        TamperedLicenseFile: the file is not exactly in canonical form, has
            missing, extra or mistyped fields, names a key id not trusted, has
            a bad signature, or holds invalid content (such as an ``issued_at``
            outside the years 1900 to 9000).
        WrongSystem: the file was issued for another system.
        LicenseFileNotYetValid: ``now`` is more than 5 minutes before
            ``issued_at``, which suggests a clock set back.
        LicenseFileExpired: the local date of ``now`` in the file's time zone
            is after ``valid_until``.
    """
    now = _check_aware("now", now)
    expected_system = _check_id("system_id", system_id)
    raw = _bytes_of(data)
    if raw is None:
        raise InvalidInput(f"a license file must be bytes, got {type(data).__name__}", param="data")
    keys = _trusted_key_map(trusted_keys)

    body, signature = _parse_license_form(raw)

    public = keys.get(body["key_id"])
    if public is None:
        raise _tampered(f"it was signed with the unknown key id {body['key_id']!r}")
    try:
        public.verify(signature, _canonical(body))
    except InvalidSignature:
        raise _tampered("its signature does not match its content") from None

    entitlement = _parse_license_body(body)

    if entitlement.system_id != expected_system:
        raise WrongSystem(
            f"the license file was issued for system {entitlement.system_id!r}, "
            f"not for {expected_system!r}",
            details={"system_id": expected_system},
        )
    if now < entitlement.issued_at and entitlement.issued_at - now > CLOCK_SKEW:
        raise LicenseFileNotYetValid(
            f"the license file was issued at {body['issued_at']}, more than 5 minutes "
            f"after now ({_format_instant(now)}): is the clock set back?",
            details={"issued_at": body["issued_at"]},
        )
    zone = _load_zone(entitlement.timezone)
    assert zone is not None  # checked by _parse_license_body
    try:
        today = now.astimezone(zone).date()
    except OverflowError as exc:
        raise InvalidInput(
            f"now {now!r} is out of range in {entitlement.timezone}", param="now"
        ) from exc
    if today > entitlement.valid_until:
        raise LicenseFileExpired(
            f"the license file was valid until {entitlement.valid_until.isoformat()} "
            f"and today is {today.isoformat()} in {entitlement.timezone}",
            details={"valid_until": entitlement.valid_until, "today": today},
        )
    return entitlement


def _parse_license_form(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The body and signature of a license file in exactly canonical form.

    Raises:
        TamperedLicenseFile: the file is not canonical JSON of the expected shape.
    """
    try:
        content = _loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _tampered(f"it is not ASCII JSON ({exc})") from None
    if _canonical(content) != raw:
        raise _tampered("it is not in canonical form")
    content = _json_object(
        content, _LICENSE_FIELDS, _tampered, "it is not a JSON object", "it has "
    )
    body = content["body"]
    if not isinstance(body, dict):
        raise _tampered("its body is not a JSON object")
    version = body.get("format_version")
    if type(version) is not int or version not in LICENSE_FILE_FORMAT_VERSIONS:
        raise _tampered(
            f"unsupported format_version {version!r}; expected one of "
            f"{', '.join(map(str, sorted(LICENSE_FILE_FORMAT_VERSIONS)))}"
        )
    problem = _field_set_problem(body, _BODY_FIELDS[version])
    if problem is not None:
        raise _tampered(f"its body has {problem}")
    if not isinstance(body["key_id"], str) or not _KEY_ID_RE.match(body["key_id"]):
        raise _tampered("its key_id is not 16 lowercase hexadecimal digits")
    encoded = content["signature"]
    if not isinstance(encoded, str):
        raise _tampered("its signature is not a string")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _tampered("its signature is not base64") from None
    if len(signature) != 64 or base64.b64encode(signature).decode("ascii") != encoded:
        raise _tampered("its signature is not a canonical base64 Ed25519 signature")
    return body, signature


def _parse_license_body(body: dict[str, Any]) -> Entitlement:
    """The entitlement of a signed body, every field checked.

    Raises:
        TamperedLicenseFile: a field has the wrong type or an invalid value.
    """
    for name in ("org_id", "product", "system_id"):
        problem = _id_problem(body[name])
        if problem is not None:
            raise _tampered(f"its {name} {problem}")
    licensed = body["licensed"]
    if not isinstance(licensed, bool):
        raise _tampered("its licensed field is not a boolean")
    state = body.get("state", "licensed" if licensed else "unlicensed")  # format 1 had none
    if not isinstance(state, str) or state not in LICENSE_FILE_STATES:
        raise _tampered(f"its state {state!r} is not one of {', '.join(LICENSE_FILE_STATES)}")
    devices = _parse_file_counts(body["devices"], TamperedLicenseFile, "the license file's")
    issued_at_text = body["issued_at"]
    issued_at = _parse_instant(issued_at_text) if isinstance(issued_at_text, str) else None
    if issued_at is None:
        raise _tampered(f"its issued_at {issued_at_text!r} is not a UTC instant")
    if not EARLIEST <= issued_at <= LATEST:
        raise _tampered(
            f"its issued_at {issued_at_text} is outside the supported range "
            f"{EARLIEST.date().isoformat()} to {LATEST.date().isoformat()}"
        )
    valid_until_text = body["valid_until"]
    valid_until = _parse_date(valid_until_text) if isinstance(valid_until_text, str) else None
    if valid_until is None:
        raise _tampered(f"its valid_until {valid_until_text!r} is not a date")
    zone_name = body["timezone"]
    if not isinstance(zone_name, str) or _load_zone(zone_name) is None:
        raise _tampered(f"its timezone {zone_name!r} is not a known IANA time zone")
    return Entitlement(
        org_id=body["org_id"],
        product=body["product"],
        system_id=body["system_id"],
        licensed=licensed,
        state=ProductState(state),
        valid_until=valid_until,
        devices=Counts(devices),
        issued_at=issued_at,
        timezone=zone_name,
    )
