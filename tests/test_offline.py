"""Offline systems: system description files and signed license files (SPEC R12, R14)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from axis_licensing import LicenseFileExpired, LicenseFileNotYetValid, TamperedLicenseFile, offline
from axis_licensing._counts import Counts
from axis_licensing.errors import InvalidInput, MalformedSystemFile, WrongSystem
from axis_licensing.model import Entitlement, ProductState
from axis_licensing.offline import SystemDescription

NOW = datetime(2026, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)
ISSUED_AT = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@pytest.fixture(scope="module")
def signing_key() -> Ed25519PrivateKey:
    return offline.load_signing_key(offline.generate_signing_key())


@pytest.fixture(scope="module")
def public_pem(signing_key: Ed25519PrivateKey) -> bytes:
    return offline.public_key_pem(signing_key)


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def sign(signing_key: Ed25519PrivateKey | bytes, **overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "org_id": "org-1",
        "product": "acs-pro",
        "system_id": "sys-1",
        "issued_at": ISSUED_AT,
        "licensed": True,
        "devices": {"core": 5, "door": 2},
        "valid_until": date(2026, 4, 9),
        "timezone": "UTC",
    }
    arguments.update(overrides)
    return offline.sign_license_file(signing_key=signing_key, **arguments)


def resign(signing_key: Ed25519PrivateKey, body: dict[str, Any]) -> bytes:
    """A canonical license file with ``body`` exactly as given, properly signed."""
    signature = base64.b64encode(signing_key.sign(canonical(body))).decode()
    return canonical({"body": body, "signature": signature})


def system_file(**overrides: Any) -> bytes:
    """A canonical system file with a correct checksum, built by hand."""
    content: dict[str, Any] = {
        "format_version": 1,
        "system_id": "sys-1",
        "product": "acs-pro",
        "devices": {"core": 5},
        "hardware": ["HW-1"],
        "made_at": "2026-03-10T12:00:00.123456Z",
    }
    content.update(overrides)
    content["checksum"] = hashlib.sha256(canonical(content)).hexdigest()
    return canonical(content)


def bit_flips(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    for position in range(len(data)):
        for bit in range(8):
            changed = bytearray(data)
            changed[position] ^= 1 << bit
            yield position, bit, bytes(changed)


# --------------------------------------------------------------------------- system files


def test_r12_describe_system_writes_exact_canonical_bytes() -> None:
    data = offline.describe_system(
        system_id="sys-1",
        product="acs-pro",
        devices={"door": 2, "core": 5, "universal": 0},
        hardware=["HW-2", "HW-1", "HW-2"],
        now=datetime(2026, 3, 10, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
    )
    rest = (
        b'{"devices":{"core":5,"door":2},"format_version":1,"hardware":["HW-1","HW-2"],'
        b'"made_at":"2026-03-10T12:00:00.123456Z","product":"acs-pro","system_id":"sys-1"}'
    )
    checksum = hashlib.sha256(rest).hexdigest()
    assert data == (
        b'{"checksum":"' + checksum.encode() + b'","devices":{"core":5,"door":2},'
        b'"format_version":1,"hardware":["HW-1","HW-2"],'
        b'"made_at":"2026-03-10T12:00:00.123456Z","product":"acs-pro","system_id":"sys-1"}'
    )


def test_r12_describe_parse_round_trip() -> None:
    data = offline.describe_system(
        system_id="sys-1",
        product="acs-pro",
        devices={"core": 5, "door": 0, "universal": 1_000_000},
        hardware=("HW-9", "HW-1"),
        now=NOW,
    )
    parsed = offline.parse_system_file(data)
    assert parsed == SystemDescription(
        system_id="sys-1",
        product="acs-pro",
        devices=Counts({"core": 5, "universal": 1_000_000}),
        hardware=("HW-1", "HW-9"),
        made_at=NOW,
    )
    assert parsed.made_at.tzinfo is UTC
    assert parsed.devices == {"core": 5, "universal": 1_000_000}


def test_r12_describe_parse_round_trip_non_ascii_ids() -> None:
    data = offline.describe_system(
        system_id="système-é" + "x" * 119, product="acs", devices={}, now=NOW
    )
    assert data.isascii()
    parsed = offline.parse_system_file(data)
    assert parsed.system_id == "système-é" + "x" * 119
    assert parsed.devices == Counts()
    assert parsed.hardware == ()


_ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=128
).filter(str.strip)


@settings(max_examples=50, deadline=None)
@given(
    system_id=_ids,
    product=_ids,
    devices=st.dictionaries(_ids, st.integers(0, 1_000_000), max_size=4),
    hardware=st.lists(_ids, max_size=4),
    now=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(8999, 12, 31), timezones=st.just(UTC)
    ),
)
def test_r12_describe_parse_round_trip_property(
    system_id: str,
    product: str,
    devices: dict[str, int],
    hardware: list[str],
    now: datetime,
) -> None:
    data = offline.describe_system(
        system_id=system_id, product=product, devices=devices, hardware=hardware, now=now
    )
    assert offline.parse_system_file(data) == SystemDescription(
        system_id=system_id,
        product=product,
        devices=Counts({t: n for t, n in devices.items() if n}),
        hardware=tuple(sorted(set(hardware))),
        made_at=now,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"now": datetime(2026, 3, 10, 12)}, "now must be timezone-aware"),
        ({"now": date(2026, 3, 10)}, "now must be a datetime, got date"),
        ({"system_id": ""}, "system_id must not be empty"),
        ({"system_id": "x" * 129}, "system_id must be at most 128 characters, got 129"),
        ({"system_id": "sys\n1"}, "system_id must not contain control characters"),
        ({"system_id": 7}, "system_id must be a string, got int"),
        ({"product": "acs\x00"}, "product must not contain control characters"),
        ({"devices": {"core": True}}, r"devices\['core'\] must be an integer, got bool"),
        ({"devices": {"core": 1.0}}, r"devices\['core'\] must be an integer, got float"),
        ({"devices": {"core": -1}}, r"devices\['core'\] must be a non-negative integer, got -1"),
        (
            {"devices": {"core": 1_000_001}},
            r"devices\['core'\] must be at most 1,000,000, got 1000001",
        ),
        ({"devices": {"": 1}}, "devices: license type must not be empty"),
        ({"devices": [("core", 1)]}, "devices must be a mapping"),
        ({"hardware": "HW-1"}, "hardware must be an iterable of serial strings"),
        ({"hardware": ["HW-1", ""]}, "hardware serial must not be empty"),
    ],
)
def test_r12_r14_describe_system_rejects_invalid_input(
    overrides: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "system_id": "sys-1",
        "product": "acs-pro",
        "devices": {"core": 1},
        "hardware": (),
        "now": NOW,
    }
    arguments.update(overrides)
    with pytest.raises(InvalidInput, match=message) as info:
        offline.describe_system(**arguments)
    assert type(info.value) is InvalidInput


def test_r12_hand_built_system_file_parses() -> None:
    assert offline.parse_system_file(system_file()) == SystemDescription(
        system_id="sys-1",
        product="acs-pro",
        devices=Counts({"core": 5}),
        hardware=("HW-1",),
        made_at=NOW,
    )


def _without(field: str) -> bytes:
    content = json.loads(system_file())
    del content[field]
    return canonical(content)


def _with_extra() -> bytes:
    content = json.loads(system_file())
    content["extra"] = 1
    return canonical(content)


def _changed_value() -> bytes:
    data = system_file()
    assert data.count(b'"sys-1"') == 1
    return data.replace(b'"sys-1"', b'"sys-2"')


def _pretty() -> bytes:
    return json.dumps(json.loads(system_file()), sort_keys=True, indent=2).encode()


def _duplicate_key() -> bytes:
    data = system_file()
    return data[:-1] + b',"product":"acs-pro"}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param("{}", "a system file must be bytes, got str", id="str"),
        pytest.param(None, "a system file must be bytes, got NoneType", id="none"),
        pytest.param(b"\xff\xfe{}", "the system file is not UTF-8", id="not-utf8"),
        pytest.param(b"", "the system file is not valid JSON", id="empty"),
        pytest.param(b"not json", "the system file is not valid JSON", id="not-json"),
        pytest.param(b'{"a":NaN}', "the system file is not valid JSON", id="nan"),
        pytest.param(b"[1,2]", "the system file must hold a JSON object", id="array"),
        pytest.param(b"[" * 100_000, "the system file is not valid JSON", id="deep"),
        pytest.param(
            _duplicate_key(),
            "the system file is not valid JSON: duplicate key 'product'",
            id="duplicate-key",
        ),
        pytest.param(
            _without("made_at"), "the system file has missing field.s. made_at", id="missing"
        ),
        pytest.param(
            _without("checksum"), "the system file has missing field.s. checksum", id="no-sum"
        ),
        pytest.param(
            _with_extra(), "the system file has unexpected field.s. extra", id="extra-field"
        ),
        pytest.param(
            system_file().replace(b'"checksum":"', b'"checksum":"0'),
            "the system file's checksum must be 64 lowercase hexadecimal digits",
            id="checksum-long",
        ),
        pytest.param(
            _changed_value(),
            "the system file's checksum does not match its content: the file was changed",
            id="changed-byte",
        ),
        pytest.param(_pretty(), "the system file is not in canonical form", id="not-canonical"),
        pytest.param(
            system_file() + b"\n", "the system file is not in canonical form", id="newline"
        ),
    ],
)
def test_r12_parse_system_file_rejects_malformed_files(data: Any, message: str) -> None:
    with pytest.raises(MalformedSystemFile, match=message):
        offline.parse_system_file(data)


#: A system file with one field changed, and the problem it must be refused with.
BAD_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "version-2": ({"format_version": 2}, "unsupported system file format_version 2; expected 1"),
    "version-str": (
        {"format_version": "1"},
        "unsupported system file format_version '1'; expected 1",
    ),
    "version-bool": (
        {"format_version": True},
        "unsupported system file format_version True; expected 1",
    ),
    "id": ({"system_id": ""}, "the system file's system_id must not be empty"),
    "product-list": ({"product": ["acs"]}, "the system file's product must be a string, got list"),
    "long-id": (
        {"system_id": "s" * 129},
        "the system file's system_id must be at most 128 characters",
    ),
    "devices-list": ({"devices": []}, "the system file's devices must be an object"),
    "zero-count": (
        {"devices": {"core": 0}},
        r"the system file's devices\['core'\] must be a positive integer, got 0",
    ),
    "bool-count": (
        {"devices": {"core": True}},
        r"the system file's devices\['core'\] must be an integer, got bool",
    ),
    "float-count": (
        {"devices": {"core": 2.5}},
        r"the system file's devices\['core'\] must be an integer, got float",
    ),
    "big-count": (
        {"devices": {"core": 1_000_001}},
        r"the system file's devices\['core'\] must be at most 1,000,000",
    ),
    "bad-type": (
        {"devices": {"\t": 1}},
        "the system file's devices: license type must not contain control characters",
    ),
    "hardware-str": ({"hardware": "HW-1"}, "the system file's hardware must be a list of serials"),
    "serial-int": (
        {"hardware": ["HW-1", 2]},
        "the system file's hardware serial must be a string, got int",
    ),
    "duplicate-serial": (
        {"hardware": ["HW-1", "HW-1"]},
        "the system file lists the hardware serial 'HW-1' more than once",
    ),
    "made-at-no-micros": (
        {"made_at": "2026-03-10T12:00:00Z"},
        "the system file's made_at must be a UTC instant",
    ),
    "made-at-bad-day": (
        {"made_at": "2026-02-30T12:00:00.000000Z"},
        "the system file's made_at must be a UTC instant",
    ),
    "made-at-int": ({"made_at": 0}, "the system file's made_at must be a UTC instant"),
}


@pytest.mark.parametrize(("changes", "message"), BAD_FIELDS.values(), ids=list(BAD_FIELDS))
def test_r12_parse_system_file_rejects_a_bad_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedSystemFile, match=message):
        offline.parse_system_file(system_file(**changes))


def test_r12_parse_system_file_rejects_upper_case_checksum() -> None:
    data = system_file()
    checksum = json.loads(data)["checksum"]
    assert checksum != checksum.upper()
    with pytest.raises(MalformedSystemFile, match="64 lowercase hexadecimal digits"):
        offline.parse_system_file(data.replace(checksum.encode(), checksum.upper().encode()))


def test_r12_every_changed_bit_of_a_system_file_is_detected() -> None:
    data = offline.describe_system(
        system_id="système-1",
        product="acs-pro",
        devices={"core": 5, "door": 12},
        hardware=["HW-1", "HW-2"],
        now=NOW,
    )
    offline.parse_system_file(data)
    for position, bit, changed in bit_flips(data):
        try:
            offline.parse_system_file(changed)
        except MalformedSystemFile:
            continue
        pytest.fail(f"accepted a flip of bit {bit} at byte {position}")


def test_r12_malformed_system_file_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        offline.parse_system_file(b"{}")


# --------------------------------------------------------------------------- keys


def test_r12_signing_key_helpers() -> None:
    pem = offline.generate_signing_key()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    private = offline.load_signing_key(pem)
    assert offline.load_signing_key(pem.decode()).private_bytes_raw() == (
        private.private_bytes_raw()
    )
    assert offline.load_signing_key(private) is private
    public_pem = offline.public_key_pem(private)
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    public = offline.load_public_key(public_pem)
    assert public.public_bytes_raw() == private.public_key().public_bytes_raw()
    assert offline.load_public_key(public_pem.decode()).public_bytes_raw() == (
        public.public_bytes_raw()
    )
    assert offline.key_id(public) == hashlib.sha256(public.public_bytes_raw()).hexdigest()[:16]
    assert offline.key_id(public) != offline.key_id(Ed25519PrivateKey.generate().public_key())


def test_r12_load_signing_key_rejects_other_keys() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidInput, match="the signing key must be an Ed25519 key"):
        offline.load_signing_key(ec_pem)
    with pytest.raises(InvalidInput, match="not an unencrypted PEM private key"):
        offline.load_signing_key(b"garbage")
    encrypted = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(InvalidInput, match="not an unencrypted PEM private key"):
        offline.load_signing_key(encrypted)
    with pytest.raises(InvalidInput, match="got int"):
        offline.load_signing_key(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not a PEM public key"):
        offline.load_public_key(b"garbage")
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    ec_public_pem = ec_public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidInput, match="the public key must be an Ed25519 key"):
        offline.load_public_key(ec_public_pem)


# --------------------------------------------------------------------------- license files


def test_r12_sign_verify_round_trip(signing_key: Ed25519PrivateKey, public_pem: bytes) -> None:
    data = sign(signing_key)
    entitlement = offline.verify_license_file(
        data, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
    )
    assert entitlement == Entitlement(
        org_id="org-1",
        product="acs-pro",
        system_id="sys-1",
        licensed=True,
        state=ProductState.LICENSED,
        valid_until=date(2026, 4, 9),
        devices=Counts({"core": 5, "door": 2}),
        issued_at=ISSUED_AT,
        timezone="UTC",
    )
    assert entitlement.issued_at.tzinfo is UTC
    assert entitlement.may_run


def test_r12_license_file_layout(signing_key: Ed25519PrivateKey) -> None:
    issued = datetime(2026, 3, 10, 8, 30, 15, 250000, tzinfo=timezone(timedelta(hours=-4)))
    data = sign(
        signing_key,
        issued_at=issued,
        devices={"core": 5, "door": 0},
        timezone="America/New_York",
        licensed=False,
    )
    key_id = offline.key_id(signing_key.public_key())
    body = {
        "devices": {"core": 5},
        "format_version": 2,
        "issued_at": "2026-03-10T12:30:15.250000Z",
        "key_id": key_id,
        "licensed": False,
        "org_id": "org-1",
        "product": "acs-pro",
        "state": "unlicensed",
        "system_id": "sys-1",
        "timezone": "America/New_York",
        "valid_until": "2026-04-09",
    }
    content = json.loads(data)
    assert content == {"body": body, "signature": content["signature"]}
    assert data == canonical(content)
    signing_key.public_key().verify(base64.b64decode(content["signature"]), canonical(body))
    entitlement = offline.verify_license_file(
        data, trusted_keys=signing_key.public_key(), system_id="sys-1", now=issued
    )
    assert entitlement.issued_at == issued
    assert entitlement.licensed is False
    assert entitlement.devices == Counts({"core": 5})


def test_r12_verify_accepts_every_trusted_key_form(
    signing_key: Ed25519PrivateKey, public_pem: bytes, other_key: Ed25519PrivateKey
) -> None:
    data = sign(signing_key)
    public = signing_key.public_key()
    forms: list[Any] = [
        public_pem,
        public_pem.decode(),
        public,
        [public_pem],
        (offline.public_key_pem(other_key), public_pem.decode()),
        {offline.key_id(public): public_pem},
        iter([public]),
    ]
    for trusted in forms:
        entitlement = offline.verify_license_file(
            data, trusted_keys=trusted, system_id="sys-1", now=ISSUED_AT
        )
        assert entitlement.org_id == "org-1"


def test_r12_verify_rejects_bad_trusted_keys(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key)
    with pytest.raises(InvalidInput, match="trusted_keys is empty"):
        offline.verify_license_file(data, trusted_keys=[], system_id="sys-1", now=ISSUED_AT)
    with pytest.raises(InvalidInput, match="trusted_keys maps 'abc' to a key whose id is"):
        offline.verify_license_file(
            data, trusted_keys={"abc": public_pem}, system_id="sys-1", now=ISSUED_AT
        )
    with pytest.raises(InvalidInput, match="not a PEM public key"):
        offline.verify_license_file(data, trusted_keys=[b"nope"], system_id="sys-1", now=ISSUED_AT)
    with pytest.raises(InvalidInput, match="not a PEM public key"):
        offline.verify_license_file(
            data,
            trusted_keys=[offline.generate_signing_key()],
            system_id="sys-1",
            now=ISSUED_AT,
        )
    with pytest.raises(InvalidInput, match="a public key must be PEM bytes or str"):
        offline.verify_license_file(
            data,
            trusted_keys=[signing_key],  # type: ignore[list-item]
            system_id="sys-1",
            now=ISSUED_AT,
        )


def test_r12_key_rotation(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    trusted = [public_pem, offline.public_key_pem(other_key)]
    old = sign(signing_key)
    new = sign(other_key, org_id="org-2")
    assert json.loads(old)["body"]["key_id"] != json.loads(new)["body"]["key_id"]
    old_entitlement = offline.verify_license_file(
        old, trusted_keys=trusted, system_id="sys-1", now=ISSUED_AT
    )
    new_entitlement = offline.verify_license_file(
        new, trusted_keys=trusted, system_id="sys-1", now=ISSUED_AT
    )
    assert (old_entitlement.org_id, new_entitlement.org_id) == ("org-1", "org-2")


def test_r12_every_changed_bit_of_a_license_file_is_rejected(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key, org_id="organisation-é", timezone="America/New_York")
    offline.verify_license_file(data, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT)
    for position, bit, changed in bit_flips(data):
        try:
            offline.verify_license_file(
                changed, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
            )
        except TamperedLicenseFile:
            continue
        pytest.fail(f"accepted a flip of bit {bit} at byte {position}")


def test_r12_unused_base64_bits_of_the_signature_are_rejected(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key)
    content = json.loads(data)
    encoded = content["signature"]
    assert encoded.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = encoded[-3]
    # 64 bytes use only the top 2 bits of the last base64 digit: the same bytes, other text.
    twin = encoded[:-3] + alphabet[alphabet.index(last) ^ 1] + "=="
    assert base64.b64decode(twin) == base64.b64decode(encoded)
    forged = canonical({"body": content["body"], "signature": twin})
    with pytest.raises(TamperedLicenseFile, match="not a canonical base64 Ed25519 signature"):
        offline.verify_license_file(
            forged, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


def _reordered(data: bytes) -> bytes:
    content = json.loads(data)
    return json.dumps(
        {"signature": content["signature"], "body": content["body"]}, separators=(",", ":")
    ).encode()


def _escaped(data: bytes) -> bytes:
    assert data.count(b'"org-1"') == 1
    return data.replace(b'"org-1"', b'"\\u006frg-1"')


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(lambda d: json.dumps(json.loads(d), indent=2).encode(), id="pretty"),
        pytest.param(lambda d: json.dumps(json.loads(d), sort_keys=True).encode(), id="spaces"),
        pytest.param(_reordered, id="reordered"),
        pytest.param(_escaped, id="escaped"),
        pytest.param(lambda d: d + b"\n", id="newline"),
        pytest.param(lambda d: b" " + d, id="leading-space"),
        pytest.param(lambda d: b"\xef\xbb\xbf" + d, id="bom"),
        pytest.param(lambda d: d.decode().encode("utf-16"), id="utf-16"),
        pytest.param(
            lambda d: d[:-1] + b',"body":' + canonical(json.loads(d)["body"]) + b"}",
            id="duplicate-key",
        ),
    ],
)
def test_r12_non_canonical_license_file_is_rejected(
    signing_key: Ed25519PrivateKey, public_pem: bytes, rewrite: Any
) -> None:
    data = sign(signing_key)
    changed = rewrite(data)
    assert changed != data
    with pytest.raises(TamperedLicenseFile, match="the license file cannot be trusted"):
        offline.verify_license_file(
            changed, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


def test_r12_unknown_signer_is_rejected(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(other_key)
    unknown = offline.key_id(other_key.public_key())
    with pytest.raises(TamperedLicenseFile, match=f"unknown key id '{unknown}'"):
        offline.verify_license_file(
            data, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


def test_r12_trusted_key_id_with_another_signature_is_rejected(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    body = json.loads(sign(signing_key))["body"]
    body["devices"] = {"core": 500}
    forged = resign(other_key, body)
    with pytest.raises(TamperedLicenseFile, match="its signature does not match its content"):
        offline.verify_license_file(
            forged, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "its timezone 'Mars/Olympus' is not a known IANA"),
        ("valid_until", "2026-4-9", "its valid_until '2026-4-9' is not a date"),
        ("valid_until", 20260409, "its valid_until 20260409 is not a date"),
        ("issued_at", "2026-03-10T12:00:00+00:00", "its issued_at .* is not a UTC instant"),
        ("licensed", 1, "its licensed field is not a boolean"),
        ("org_id", "", "its org_id must not be empty"),
        ("devices", {"core": 0}, r"devices\['core'\] must be a positive integer"),
        ("devices", {"core": "5"}, r"devices\['core'\] must be an integer, got str"),
        ("format_version", 3, "unsupported format_version 3; expected one of 1, 2"),
        ("format_version", True, "unsupported format_version True; expected one of 1, 2"),
        ("state", "not_started", "its state 'not_started' is not one of licensed, trial"),
        ("state", None, "its state None is not one of"),
        ("issued_at", "0001-01-01T00:00:00.000000Z", "its issued_at .* outside the supported"),
        ("issued_at", "9999-12-31T23:59:59.999999Z", "its issued_at .* outside the supported"),
        ("key_id", "ABC", "its key_id is not 16 lowercase hexadecimal digits"),
    ],
)
def test_r12_signed_but_invalid_content_is_rejected(
    signing_key: Ed25519PrivateKey, public_pem: bytes, field: str, value: Any, message: str
) -> None:
    body = json.loads(sign(signing_key))["body"]
    body[field] = value
    data = resign(signing_key, body)
    with pytest.raises(TamperedLicenseFile, match=message):
        offline.verify_license_file(
            data, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1], "it is not a JSON object"),
        ({"body": {}}, "it has missing field.s. signature"),
        ({"body": {}, "signature": "", "x": 1}, "it has unexpected field.s. x"),
        ({"body": [], "signature": ""}, "its body is not a JSON object"),
        ({"body": {"format_version": 1}, "signature": ""}, "its body has missing field.s. "),
    ],
)
def test_r12_license_file_of_the_wrong_shape_is_rejected(
    public_pem: bytes, content: object, message: str
) -> None:
    with pytest.raises(TamperedLicenseFile, match=message):
        offline.verify_license_file(
            canonical(content), trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


def test_r12_license_file_signature_must_be_base64(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    content = json.loads(sign(signing_key))
    for signature, message in [
        (5, "its signature is not a string"),
        ("!!!!", "its signature is not base64"),
        (base64.b64encode(b"short").decode(), "not a canonical base64 Ed25519 signature"),
    ]:
        content["signature"] = signature
        with pytest.raises(TamperedLicenseFile, match=message):
            offline.verify_license_file(
                canonical(content), trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
            )


def test_r12_wrong_system(signing_key: Ed25519PrivateKey, public_pem: bytes) -> None:
    data = sign(signing_key)
    with pytest.raises(
        WrongSystem, match="the license file was issued for system 'sys-1', not for 'sys-2'"
    ):
        offline.verify_license_file(
            data, trusted_keys=[public_pem], system_id="sys-2", now=ISSUED_AT
        )


def test_r12_tampering_is_reported_before_wrong_system(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    with pytest.raises(TamperedLicenseFile):
        offline.verify_license_file(
            sign(other_key), trusted_keys=[public_pem], system_id="sys-2", now=ISSUED_AT
        )


def test_r12_wrong_system_is_reported_before_dates(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key)
    for now in (ISSUED_AT - timedelta(days=1), ISSUED_AT + timedelta(days=400)):
        with pytest.raises(WrongSystem):
            offline.verify_license_file(data, trusted_keys=[public_pem], system_id="sys-2", now=now)


def test_r12_valid_until_is_judged_in_the_file_time_zone(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key, valid_until=date(2026, 3, 10), timezone="America/New_York")

    def verify(now: datetime) -> Entitlement:
        return offline.verify_license_file(
            data, trusted_keys=[public_pem], system_id="sys-1", now=now
        )

    # New York is on EDT (UTC-4) from 2026-03-08: 2026-03-11 03:59:59.999999Z is 23:59 on the 10th.
    last_instant = datetime(2026, 3, 11, 3, 59, 59, 999999, tzinfo=UTC)
    assert verify(last_instant).valid_until == date(2026, 3, 10)
    assert verify(ISSUED_AT).valid_until == date(2026, 3, 10)
    with pytest.raises(
        LicenseFileExpired,
        match="valid until 2026-03-10 and today is 2026-03-11 in America/New_York",
    ):
        verify(last_instant + timedelta(microseconds=1))
    with pytest.raises(LicenseFileExpired):
        verify(datetime(2027, 1, 1, tzinfo=UTC))


def test_r12_valid_until_in_utc_zone_expires_at_utc_midnight(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key, valid_until=date(2026, 3, 10), timezone="UTC")
    instant = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    with pytest.raises(LicenseFileExpired):
        offline.verify_license_file(data, trusted_keys=[public_pem], system_id="sys-1", now=instant)
    new_york = offline.verify_license_file(
        data,
        trusted_keys=[public_pem],
        system_id="sys-1",
        now=datetime(2026, 3, 10, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert new_york.valid_until == date(2026, 3, 10)


def test_r12_not_yet_valid_more_than_five_minutes_before_issue(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key)

    def verify(now: datetime) -> Entitlement:
        return offline.verify_license_file(
            data, trusted_keys=[public_pem], system_id="sys-1", now=now
        )

    edge = ISSUED_AT - timedelta(minutes=5)
    assert verify(edge).issued_at == ISSUED_AT
    assert verify(edge.astimezone(timezone(timedelta(hours=9)))).issued_at == ISSUED_AT
    with pytest.raises(
        LicenseFileNotYetValid,
        match=r"issued at 2026-03-10T12:00:00.000000Z, more than 5 minutes after now "
        r"\(2026-03-10T11:54:59.000000Z\): is the clock set back\?",
    ):
        verify(edge - timedelta(seconds=1))
    with pytest.raises(LicenseFileNotYetValid):
        verify(edge - timedelta(microseconds=1))


@pytest.mark.parametrize(
    "naive",
    [datetime(2026, 3, 10, 12), datetime(2026, 3, 10, 12, tzinfo=UTC).replace(tzinfo=None)],
)
def test_r12_r14_naive_datetimes_are_rejected(
    signing_key: Ed25519PrivateKey, public_pem: bytes, naive: datetime
) -> None:
    with pytest.raises(InvalidInput, match="now must be timezone-aware"):
        offline.describe_system(system_id="s", product="p", devices={}, now=naive)
    with pytest.raises(InvalidInput, match="issued_at must be timezone-aware"):
        sign(signing_key, issued_at=naive)
    with pytest.raises(InvalidInput, match="now must be timezone-aware") as info:
        # The naive clock is reported even for a file that is itself bad.
        offline.verify_license_file(b"junk", trusted_keys=[public_pem], system_id="s", now=naive)
    assert not isinstance(info.value, TamperedLicenseFile)


def test_r12_r14_verify_rejects_invalid_arguments(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    data = sign(signing_key)
    with pytest.raises(InvalidInput, match="system_id must not be empty"):
        offline.verify_license_file(data, trusted_keys=[public_pem], system_id="", now=ISSUED_AT)
    with pytest.raises(InvalidInput, match="a license file must be bytes, got str"):
        offline.verify_license_file(
            data.decode(),  # type: ignore[arg-type]
            trusted_keys=[public_pem],
            system_id="sys-1",
            now=ISSUED_AT,
        )
    entitlement = offline.verify_license_file(
        bytearray(data), trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
    )
    assert entitlement.system_id == "sys-1"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone must be an IANA time zone name"),
        ({"timezone": ""}, "timezone must be an IANA time zone name"),
        ({"timezone": "../../etc/passwd"}, "timezone must be an IANA time zone name"),
        ({"valid_until": datetime(2026, 4, 9, tzinfo=UTC)}, "valid_until must be a date"),
        ({"valid_until": "2026-04-09"}, "valid_until must be a date, got str"),
        ({"licensed": 1}, "licensed must be a bool, got int"),
        ({"org_id": "o" * 129}, "org_id must be at most 128 characters"),
        ({"devices": {"core": -1}}, r"devices\['core'\] must be a non-negative integer"),
        ({"devices": {"core": 1_000_001}}, r"devices\['core'\] must be at most 1,000,000"),
    ],
)
def test_r12_r14_sign_license_file_rejects_invalid_input(
    signing_key: Ed25519PrivateKey, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        sign(signing_key, **overrides)


def test_r12_sign_accepts_pem_signing_key(public_pem: bytes) -> None:
    pem = offline.generate_signing_key()
    data = sign(pem)
    public = offline.load_signing_key(pem).public_key()
    assert isinstance(public, Ed25519PublicKey)
    entitlement = offline.verify_license_file(
        data, trusted_keys=[public], system_id="sys-1", now=ISSUED_AT
    )
    assert entitlement.devices == {"core": 5, "door": 2}
    with pytest.raises(TamperedLicenseFile, match="unknown key id"):
        offline.verify_license_file(
            data, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


def test_r12_a_file_of_format_1_still_verifies(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    """Files issued before ``state`` existed read as licensed or unlicensed (R12)."""
    for licensed, state in ((True, ProductState.LICENSED), (False, ProductState.UNLICENSED)):
        body = json.loads(sign(signing_key, licensed=licensed))["body"]
        del body["state"]
        body["format_version"] = 1
        entitlement = offline.verify_license_file(
            resign(signing_key, body), trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )
        assert (entitlement.licensed, entitlement.state) == (licensed, state)
        assert entitlement.may_run is licensed
    body = json.loads(sign(signing_key))["body"]
    body["format_version"] = 1  # format 1 with a state field: not a format 1 file
    with pytest.raises(TamperedLicenseFile, match=r"unexpected field\(s\) state"):
        offline.verify_license_file(
            resign(signing_key, body), trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
        )


@pytest.mark.parametrize(
    ("licensed", "state", "may_run"),
    [
        (False, "trial", True),
        (False, "grace", True),
        (False, "unlicensed", False),
        (True, "unlicensed", True),  # its hardware alone licenses it
        (True, "licensed", True),
    ],
)
def test_r12_may_run_is_licensed_or_inside_a_window(
    signing_key: Ed25519PrivateKey, public_pem: bytes, licensed: bool, state: str, may_run: bool
) -> None:
    data = sign(signing_key, licensed=licensed, state=state)
    entitlement = offline.verify_license_file(
        data, trusted_keys=[public_pem], system_id="sys-1", now=ISSUED_AT
    )
    assert (entitlement.licensed, entitlement.state, entitlement.may_run) == (
        licensed,
        state,
        may_run,
    )


def test_r12_sign_refuses_an_unknown_state(signing_key: Ed25519PrivateKey) -> None:
    with pytest.raises(InvalidInput, match="state must be one of") as raised:
        sign(signing_key, state="not_started")
    assert raised.value.details == {"param": "state"}


def test_r12_a_signed_file_issued_in_year_1_is_tampered_not_an_overflow(
    signing_key: Ed25519PrivateKey, public_pem: bytes
) -> None:
    """Issue 10 item 7: date arithmetic on a signed year-1 ``issued_at`` never overflows."""
    body = json.loads(sign(signing_key))["body"]
    body["issued_at"] = "0001-01-01T00:00:00.000000Z"
    data = resign(signing_key, body)
    for now in (ISSUED_AT, datetime(1900, 1, 1, 0, 4, tzinfo=UTC)):
        with pytest.raises(TamperedLicenseFile, match="outside the supported range"):
            offline.verify_license_file(data, trusted_keys=[public_pem], system_id="sys-1", now=now)
