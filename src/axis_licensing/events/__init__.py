"""Events out (SPEC §7): the event values, webhook signing, a safe transport, the retry
schedule, the outbox's storage and the dispatcher.

Everything here is shell, not policy: it does I/O (HTTP, storage) but decides nothing
about licensing. The pure part, when an organization's alerts can next change, is
:mod:`axis_licensing.policy.horizon`.
"""

from __future__ import annotations

from axis_licensing.events import model as _model
from axis_licensing.events.model import *  # noqa: F403 (the event values, by the package's name)

__all__: list[str] = []
__all__ += _model.__all__
