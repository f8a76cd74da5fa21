"""Test vectors for offline license file verifiers (R12): a generator and a checker.

``docs/offline-vectors/`` holds public keys, license files (good, tampered,
expired, for another system, not yet valid, of format 1) and ``index.json``,
which gives, for each case, the file, the trusted keys, the system id, the
instant ``now`` and the expected verdict: the entitlement, or the error's
``code``. A verifier written in C++, C# or Java can be checked against them.

Everything is deterministic: the keys come from fixed seeds and Ed25519
signatures are deterministic, so generating twice gives the same bytes.
``tests/test_offline_verifier.py`` regenerates them and compares byte for byte.

Run it as a script:

    python tests/offline_vectors.py generate docs/offline-vectors   # write the vectors
    python tests/offline_vectors.py check docs/offline-vectors      # verify every case

This module imports only the standard library, ``cryptography`` and
``axis_licensing.offline``, so it runs in a venv that holds nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from axis_licensing import offline
from axis_licensing.errors import LicensingError

INDEX = "index.json"
ISSUED_AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
KEYS = {"key-1.pem": b"axis-licensing offline test vectors: key 1", "key-2.pem": b"key 2"}


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _signing_key(name: str) -> Ed25519PrivateKey:
    seed = hashlib.sha256(b"axis-licensing offline test vectors: " + KEYS[name]).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _resign(name: str, body: dict[str, Any]) -> bytes:
    signature = _signing_key(name).sign(_canonical(body))
    return _canonical({"body": body, "signature": base64.b64encode(signature).decode()})


def _sign(name: str = "key-1.pem", **overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "org_id": "acme",
        "product": "acs-pro",
        "system_id": "vms-7",
        "issued_at": ISSUED_AT,
        "licensed": True,
        "state": "licensed",
        "devices": {"core": 8, "door": 4},
        "valid_until": date(2027, 1, 31),
        "timezone": "UTC",
    }
    arguments.update(overrides)
    return offline.sign_license_file(signing_key=_signing_key(name), **arguments)


def _body(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(data)["body"]
    return body


def _files() -> dict[str, bytes]:
    """Every license file of the vectors, by file name."""
    licensed = _sign()
    format_1 = _body(licensed)
    del format_1["state"]
    format_1["format_version"] = 1
    forged = _body(licensed)
    forged["devices"] = {"core": 80, "door": 4}
    content = json.loads(licensed)
    signature = bytearray(base64.b64decode(content["signature"]))
    signature[0] ^= 1
    bad_signature = _canonical(
        {"body": content["body"], "signature": base64.b64encode(bytes(signature)).decode()}
    )
    year_1 = _body(licensed)
    year_1["issued_at"] = "0001-01-01T00:00:00.000000Z"
    return {
        "licensed.json": licensed,
        "trial.json": _sign(
            licensed=False, state="trial", devices={"core": 8}, valid_until=date(2026, 4, 8)
        ),
        "grace.json": _sign(
            licensed=False, state="grace", devices={"core": 8}, valid_until=date(2026, 4, 8)
        ),
        "unlicensed.json": _sign(
            licensed=False, state="unlicensed", devices={}, valid_until=date(2026, 3, 10)
        ),
        "hardware-only.json": _sign(
            state="unlicensed", devices={"door": 2}, valid_until=date(2026, 4, 9)
        ),
        "stockholm.json": _sign(timezone="Europe/Stockholm", valid_until=date(2026, 4, 8)),
        "format-1.json": _resign("key-1.pem", format_1),
        "rotated-key.json": _sign("key-2.pem"),
        "tampered-devices.json": _canonical({"body": forged, "signature": content["signature"]}),
        "tampered-whitespace.json": licensed.replace(b'"body":{', b'"body": {'),
        "tampered-signature.json": bad_signature,
        "tampered-year-1.json": _resign("key-1.pem", year_1),
    }


def _cases() -> list[dict[str, Any]]:
    one, both = ["key-1.pem"], ["key-1.pem", "key-2.pem"]
    day = timedelta(days=1)
    skew = timedelta(minutes=5)
    tick = timedelta(microseconds=1)
    cases: list[tuple[str, str, list[str], str, datetime, str | None]] = [
        ("licensed", "licensed.json", one, "vms-7", ISSUED_AT + day, None),
        ("licensed, its last day", "licensed.json", one, "vms-7",
         datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), None),
        ("expired", "licensed.json", one, "vms-7", datetime(2027, 2, 1, tzinfo=UTC),
         "license_file_expired"),
        ("wrong system", "licensed.json", one, "vms-8", ISSUED_AT, "wrong_system"),
        ("not yet valid", "licensed.json", one, "vms-7", ISSUED_AT - skew - tick,
         "license_file_not_yet_valid"),
        ("clock 5 minutes behind", "licensed.json", one, "vms-7", ISSUED_AT - skew, None),
        ("trial: may run, not licensed", "trial.json", one, "vms-7", ISSUED_AT, None),
        ("trial, its last day", "trial.json", one, "vms-7",
         datetime(2026, 4, 8, 23, 0, tzinfo=UTC), None),
        ("trial ended (day e)", "trial.json", one, "vms-7", datetime(2026, 4, 9, tzinfo=UTC),
         "license_file_expired"),
        ("grace: may run, not licensed", "grace.json", one, "vms-7", ISSUED_AT, None),
        ("unlicensed: may not run", "unlicensed.json", one, "vms-7", ISSUED_AT, None),
        ("licensed by its hardware alone", "hardware-only.json", one, "vms-7", ISSUED_AT, None),
        ("dates judged in the file's zone: 23:30 local", "stockholm.json", one, "vms-7",
         datetime(2026, 4, 8, 21, 30, tzinfo=UTC), None),
        ("dates judged in the file's zone: 00:30 local the next day", "stockholm.json", one,
         "vms-7", datetime(2026, 4, 8, 22, 30, tzinfo=UTC), "license_file_expired"),
        ("format 1 (no state) still verifies", "format-1.json", one, "vms-7", ISSUED_AT, None),
        ("signed by a key not trusted", "rotated-key.json", one, "vms-7", ISSUED_AT,
         "tampered_license_file"),
        ("a rotated key, both trusted", "rotated-key.json", both, "vms-7", ISSUED_AT, None),
        ("devices changed after signing", "tampered-devices.json", one, "vms-7", ISSUED_AT,
         "tampered_license_file"),
        ("one space added: not canonical", "tampered-whitespace.json", one, "vms-7", ISSUED_AT,
         "tampered_license_file"),
        ("one signature bit flipped", "tampered-signature.json", one, "vms-7", ISSUED_AT,
         "tampered_license_file"),
        ("signed, but issued in year 1", "tampered-year-1.json", one, "vms-7", ISSUED_AT,
         "tampered_license_file"),
    ]  # fmt: skip
    files = _files()
    result = []
    for name, file, keys, system_id, now, error in cases:
        case: dict[str, Any] = {
            "name": name,
            "file": file,
            "trusted_keys": keys,
            "system_id": system_id,
            "now": _instant(now),
        }
        if error is None:
            case["expected"] = {"verdict": "ok", "entitlement": _expected(files[file])}
        else:
            case["expected"] = {"verdict": "error", "code": error}
        result.append(case)
    return result


def _expected(data: bytes) -> dict[str, Any]:
    """What a verifier must return for a good file: its body's facts, plus ``may_run``."""
    body = _body(data)
    state = body.get("state", "licensed" if body["licensed"] else "unlicensed")
    return {
        "org_id": body["org_id"],
        "product": body["product"],
        "system_id": body["system_id"],
        "licensed": body["licensed"],
        "state": state,
        "may_run": body["licensed"] or state in ("trial", "grace"),
        "valid_until": body["valid_until"],
        "devices": body["devices"],
        "issued_at": body["issued_at"],
        "timezone": body["timezone"],
    }


def generate() -> dict[str, bytes]:
    """Every file of ``docs/offline-vectors/``, by name: keys, license files and the index."""
    out: dict[str, bytes] = {}
    for name in KEYS:
        out[name] = (
            _signing_key(name)
            .public_key()
            .public_bytes(
                encoding=serialization.Encoding.PEM,
                format=serialization.PublicFormat.SubjectPublicKeyInfo,
            )
        )
    out.update(_files())
    index = {
        "about": (
            "Test vectors for axis-licensing license file verifiers (SPEC R12). For each "
            "case, verify 'file' with the public keys 'trusted_keys' (PEM files here), as "
            "the system 'system_id', at the instant 'now'; the verdict must be 'expected': "
            "the entitlement, or an error whose code is given. Regenerate with "
            "'python tests/offline_vectors.py generate docs/offline-vectors'."
        ),
        "cases": _cases(),
    }
    out[INDEX] = (json.dumps(index, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()
    return out


def _entitlement_json(entitlement: offline.Entitlement) -> dict[str, Any]:
    return {
        "org_id": entitlement.org_id,
        "product": entitlement.product,
        "system_id": entitlement.system_id,
        "licensed": entitlement.licensed,
        "state": str(entitlement.state),
        "may_run": entitlement.may_run,
        "valid_until": entitlement.valid_until.isoformat(),
        "devices": dict(entitlement.devices),
        "issued_at": _instant(entitlement.issued_at),
        "timezone": entitlement.timezone,
    }


def check(folder: Path) -> list[str]:
    """Verify every case of ``folder/index.json`` with :mod:`axis_licensing.offline`.

    Returns:
        One line per case that did not get its expected verdict (empty when all pass).
    """
    index = json.loads((folder / INDEX).read_text(encoding="ascii"))
    failures = []
    for case in index["cases"]:
        keys = [(folder / name).read_bytes() for name in case["trusted_keys"]]
        now = datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
        try:
            entitlement = offline.verify_license_file(
                (folder / case["file"]).read_bytes(),
                trusted_keys=keys,
                system_id=case["system_id"],
                now=now,
            )
        except LicensingError as error:
            got: dict[str, Any] = {"verdict": "error", "code": error.code}
        else:
            got = {"verdict": "ok", "entitlement": _entitlement_json(entitlement)}
        if got != case["expected"]:
            failures.append(f"{case['name']}: expected {case['expected']}, got {got}")
    return failures


def main(argv: list[str]) -> int:
    """``generate FOLDER`` writes the vectors; ``check FOLDER`` verifies them."""
    if len(argv) != 2 or argv[0] not in ("generate", "check"):
        print("usage: offline_vectors.py generate|check FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    if argv[0] == "generate":
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in generate().items():
            (folder / name).write_bytes(data)
        return 0
    failures = check(folder)
    for line in failures:
        print(line)
    cases = len(json.loads((folder / INDEX).read_text(encoding="ascii"))["cases"])
    print(f"{cases - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
