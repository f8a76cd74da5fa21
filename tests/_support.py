"""What many test modules share: the instant their clocks start at.

A plain module (tests/ has no package), imported by name.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: Where the ``clock`` fixture and most tests start: 2026-01-01 12:00 UTC.
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
