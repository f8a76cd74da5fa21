"""An offline system: describe -> upload -> verify (R12).

The offline system writes a system description file; someone carries it to
the portal, which answers with a signed license file; the offline system
checks that file with the portal's public key, without any network::

    python examples/offline_system.py
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from axis_licensing import (
    EXAMPLE_CATALOG,
    LicenseFileExpired,
    Manager,
    ManualClock,
    TamperedLicenseFile,
    offline,
)

PRODUCT = "acs-pro"


def main() -> None:
    """Register an offline system from its file and verify the license file it gets back."""
    clock = ManualClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as portal:
        portal.vendor.ship_hardware("AX-0001", PRODUCT, preloaded={"door": 4})
        portal.create_organization("acme", name="Acme AB", actor="ann")
        portal.start_subscription("acme", PRODUCT, actor="ann")
        key = portal.vendor.issue_key(PRODUCT, quantities={"core": 8})
        portal.redeem_key("acme", key, actor="ann")
        trusted = [portal.public_key]  # shipped with the VMS; keep old keys to rotate

        # On the offline system: describe it (no portal, no network).
        description = offline.describe_system(
            system_id="vms-7",
            product=PRODUCT,
            devices={"core": 8, "door": 4},
            hardware=["AX-0001"],
            now=clock.now(),
        )

        # At the portal: upload it. The system and its unit are registered in one step.
        license_file = portal.upload_system_file("acme", description, actor="ann")
        print(f"trial license file: {_verify(license_file, trusted, clock.now())}")

        portal.allocate_need("acme", PRODUCT, actor="ann")
        license_file = portal.upload_system_file("acme", description, actor="ann")

    # Back on the offline system: verify it with the trusted public keys.
    entitlement = offline.verify_license_file(
        license_file, trusted_keys=trusted, system_id="vms-7", now=clock.now()
    )
    print(f"licensed={entitlement.licensed} devices={dict(entitlement.devices)}")
    print(f"valid until {entitlement.valid_until} ({entitlement.timezone})")

    forged = license_file.replace(b'"core":8', b'"core":9')
    try:
        offline.verify_license_file(
            forged, trusted_keys=trusted, system_id="vms-7", now=clock.now()
        )
    except TamperedLicenseFile as exc:
        print(f"forged file refused: {exc}")
    later = clock.now() + timedelta(days=400)
    try:
        offline.verify_license_file(
            license_file, trusted_keys=trusted, system_id="vms-7", now=later
        )
    except LicenseFileExpired as exc:
        print(f"a year later: {exc}")


def _verify(data: bytes, trusted: list[bytes], now: datetime) -> str:
    grant = offline.verify_license_file(data, trusted_keys=trusted, system_id="vms-7", now=now)
    # A VMS decides on may_run: licensed, or inside the trial or grace window (R12).
    return f"{grant.state}, may run={grant.may_run}, valid until {grant.valid_until.isoformat()}"


if __name__ == "__main__":
    main()
