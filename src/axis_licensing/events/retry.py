"""When a failed delivery is tried again (SPEC §7): exponential backoff with jitter.

Pure: the random draw is passed in. The ``n``-th failed attempt (``n`` = 1, 2, …)
waits ``min(CAP, BASE × 2^(n−1))``, jittered to between half and all of it
("equal jitter": never immediately, and dispatchers that failed together spread
out). Retries go on for :data:`WINDOW` (three days) from the start of the
delivery's window (the event's creation, or a redelivery by hand); a retry that
would fall after the window's end is moved to the end itself, so the last try
happens three days in, and a failure at or after the end is final.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = ["BASE", "CAP", "WINDOW", "retry_at"]

_US = 1_000_000

#: The wait after the first failed attempt, before jitter.
BASE = timedelta(seconds=10)
#: The longest wait between two attempts, before jitter.
CAP = timedelta(hours=6)
#: How long a delivery is retried, from the start of its window.
WINDOW = timedelta(days=3)

_BASE_US = BASE // timedelta(microseconds=1)
_CAP_US = CAP // timedelta(microseconds=1)
_WINDOW_US = WINDOW // timedelta(microseconds=1)


def retry_at(window_start_us: int, attempts: int, now_us: int, draw: float) -> int | None:
    """When to try again after the ``attempts``-th attempt failed at ``now_us``.

    Args:
        window_start_us: the start of the retry window (the event's creation,
            or the last redelivery by hand), in microseconds since the epoch.
        attempts: how many attempts were made, this failed one included (≥ 1).
        now_us: when this attempt failed.
        draw: a random number in ``[0, 1)``, from the caller's random source.

    Returns:
        The instant of the next attempt in microseconds, or None when the window
        is over and the delivery has failed for good.

    Raises:
        ValueError: ``attempts`` below 1 or ``draw`` outside ``[0, 1)``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    if not 0.0 <= draw < 1.0:
        raise ValueError(f"draw must be in [0, 1), got {draw}")
    end = window_start_us + _WINDOW_US
    if now_us >= end:
        return None
    # 2^(n-1) grows past CAP long before an int could be too large: cap the exponent
    delay = min(_CAP_US, _BASE_US << min(attempts - 1, 40))
    half = delay // 2
    wait = half + int(draw * (delay - half))
    return min(now_us + wait, end)
