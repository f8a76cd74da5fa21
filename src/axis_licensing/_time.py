"""Clocks and the conversions between instants and local dates.

All rules work on calendar dates in the organization's zone (SPEC §1): an
instant's local date is the instant converted to that zone.
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from axis_licensing.errors import InvalidInput

__all__ = [
    "Clock",
    "ManualClock",
    "SystemClock",
    "check_aware",
    "check_zone",
    "from_us",
    "local_date",
    "midnight",
    "to_us",
    "zone",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The instants the library accepts: wide enough for any license, narrow enough that
#: local dates, five-year windows and lot expiries never overflow ``datetime``.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Clock(Protocol):
    """Anything with ``now()`` returning an aware datetime."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests, demos and simulations.

    Raises:
        InvalidInput: a naive datetime.
    """

    def __init__(self, start: datetime) -> None:
        self._now = check_aware(start, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The clock's instant."""
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        """Move to ``instant`` (backwards too).

        Raises:
            InvalidInput: a naive datetime.
        """
        instant = check_aware(instant, "instant")
        with self._lock:
            self._now = instant

    def advance(self, delta: timedelta | None = None, *, days: int = 0) -> datetime:
        """Move forward by ``delta`` and/or ``days``; returns the new instant."""
        step = (delta or timedelta()) + timedelta(days=days)
        with self._lock:
            self._now += step
            return self._now


def check_aware(value: object, what: str) -> datetime:
    """``value`` if it is an aware datetime (a subclass, such as pendulum's, becomes a plain one).

    Raises:
        InvalidInput: not a datetime, or a naive one (R14).
    """
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime, got {type(value).__name__}", param=what)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{what} must be timezone-aware, got the naive datetime {value}", param=what
        )
    if not EARLIEST <= value <= LATEST:
        raise InvalidInput(
            f"{what} is {value.isoformat()}, outside the supported range "
            f"{EARLIEST.date().isoformat()} to {LATEST.date().isoformat()}",
            param=what,
        )
    if type(value) is not datetime:  # a subclass, such as pendulum's DateTime
        value = datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=value.tzinfo,
            fold=value.fold,
        )
    return value


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``.

    Raises:
        InvalidInput: not a string, or not a zone of the tz database: unknown,
            a folder of it (``America``, ``Etc``) or unreadable (R14).
    """
    if not isinstance(name, str):
        raise InvalidInput(f"a time zone must be a string, got {type(name).__name__}")
    return _zone(name)


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # OSError: the name is a folder of the tz database (IsADirectoryError) or unreadable
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}", param="timezone") from exc


#: Names that zoneinfo finds on some hosts but that are no IANA zone: ``localtime`` is
#: the host's own zone, ``posixrules`` a build artefact. A store must mean the same
#: dates on every server and in every verifier (§1, R12).
_HOST_ALIASES = frozenset({"localtime", "posixrules"})


@functools.cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _HOST_ALIASES


def check_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, checked for a new organization (§1, R14).

    Only names of the IANA time zone database are accepted, so that an
    organization's local dates are the same on every host: host aliases such
    as ``localtime`` and the ``posix/`` and ``right/`` variants (the latter
    counts leap seconds) are refused.

    Args:
        name: the zone's name, such as ``Europe/Stockholm``.

    Returns:
        The zone.

    Raises:
        InvalidInput: a name that is not an IANA zone (R14).
    """
    if name not in _iana_names():
        raise InvalidInput(f"unknown time zone {name!r}", param="timezone")
    return zone(name)


def local_date(instant: datetime, timezone: str) -> date:
    """The calendar date of ``instant`` in ``timezone``."""
    return instant.astimezone(zone(timezone)).date()


def midnight(day: date, timezone: str) -> datetime:
    """The instant ``day`` starts in ``timezone``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone(timezone)).astimezone(UTC)


def to_us(instant: datetime) -> int:
    """Whole microseconds since the Unix epoch."""
    return (instant - _EPOCH) // _MICROSECOND


def from_us(micros: int) -> datetime:
    """The UTC instant ``micros`` microseconds after the Unix epoch."""
    return _EPOCH + micros * _MICROSECOND
