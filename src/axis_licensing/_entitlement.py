"""What a verified license file grants: :class:`Entitlement` (SPEC R12).

A frozen dataclass, not attrs: this module imports the standard library only,
so the offline verifier that a VMS carries needs no package but
``cryptography``. It is pure, like the policy core.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

from axis_licensing._counts import Counts
from axis_licensing._enums import ProductState

__all__ = ["Entitlement"]


@dataclasses.dataclass(frozen=True)
class Entitlement:
    """What a verified license file grants an offline system (R12).

    A frozen dataclass (not attrs), so the verifier needs no third-party
    package but ``cryptography``.

    Attributes:
        org_id: the organization the system belongs to.
        product: the product code.
        system_id: the system the file is for.
        licensed: whether the system is licensed (``system_status(...).licensed``).
        state: the product's state when the file was issued: ``LICENSED``,
            ``TRIAL``, ``GRACE`` or ``UNLICENSED``. A file of format 1, which
            had no state, reads as ``LICENSED`` or ``UNLICENSED`` after
            ``licensed``.
        valid_until: the last valid date, inclusive, in ``timezone``.
        devices: the devices allowed per license type.
        issued_at: the instant of issue, in UTC.
        timezone: the organization's IANA time zone.
    """

    org_id: str
    product: str
    system_id: str
    licensed: bool
    state: ProductState
    valid_until: date
    devices: Counts
    issued_at: datetime
    timezone: str

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "devices",
            self.devices if isinstance(self.devices, Counts) else Counts(self.devices),
        )
        object.__setattr__(self, "state", ProductState(self.state))

    @property
    def may_run(self) -> bool:
        """Whether the software may run: licensed, or inside the trial or grace window (R12).

        The manual's trial exists so the software keeps running while licenses
        are bought; a VMS decides on ``may_run``, not on ``licensed``.
        """
        return self.licensed or self.state in (ProductState.TRIAL, ProductState.GRACE)
