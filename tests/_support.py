"""What many test modules share: the clocks' start, an authorize plugin, small readers.

A plain module (tests/ has no package), imported by name.
"""

from __future__ import annotations

from datetime import UTC, datetime

from axis_licensing import Allocation, hookimpl

#: Where the ``clock`` fixture and most tests start: 2026-01-01 12:00 UTC.
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def per_period(allocation: Allocation) -> list[tuple[int, dict[str, int]]]:
    """What an allocation moved into each period: (period index, quantities)."""
    return [(p.period.index, dict(p.quantities)) for p in allocation.periods]


#: One question to the authorize hook: (actor, org_id, action, product).
AuthCall = tuple[str, str | None, str, str | None]


class Gate:
    """An ``axis_licensing_authorize`` plugin that records every question.

    It answers ``answer`` (``None``: no opinion), and ``False`` for the actions in ``refuse``.
    """

    def __init__(self, answer: bool | None = None) -> None:
        self.answer = answer
        self.refuse: set[str] = set()
        self.calls: list[AuthCall] = []

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        self.calls.append((actor, org_id, action, product))
        return False if action in self.refuse else self.answer


def pg_schema_exists(url: str) -> bool:
    """Whether the schema a PostgreSQL store URL names (``…?schema=name``) exists on its server."""
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(url.split("?", 1)[0]) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    assert row is not None
    return bool(row[0])
