"""The undo log of a memory transaction, shared by its storage, events-out and members parts.

The memory backend runs every transaction under one lock and applies each write
at once; every write here also pushes its undo, run newest first when the
transaction fails, so a failed command leaves nothing behind (R13, R14).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["UndoLog"]


class UndoLog:
    """Undo-logged writes to the dicts of a memory store.

    The host transaction provides ``undo``, the list of callables to run newest
    first when it fails.
    """

    undo: list[Callable[[], None]]

    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """Set ``table[key]``, with its undo."""
        if key in table:
            old = table[key]
            self.undo.append(lambda: table.__setitem__(key, old))
        else:
            self.undo.append(lambda: table.pop(key, None))
        table[key] = value

    def _add(self, table: dict[Any, Any], key: Any, value: Any) -> bool:
        """Set ``table[key]`` unless it is held, with its undo; False if it was held."""
        if key in table:
            return False
        self._set(table, key, value)
        return True

    def _evolve(
        self, table: dict[Any, Any], key: Any, when: Callable[[Any], bool], **changes: Any
    ) -> bool:
        """Change fields of the row ``table[key]`` if ``when(row)``, with its undo.

        Returns:
            False if there is no such row or ``when`` refused it.
        """
        row = table.get(key)
        if row is None or not when(row):
            return False
        self._set(table, key, attrs.evolve(row, **changes))
        return True

    def _drop(self, table: dict[Any, Any], key: Any) -> bool:
        """Remove ``table[key]``, with its undo; False if it was not there."""
        if key not in table:
            return False
        old = table.pop(key)
        self.undo.append(lambda: table.__setitem__(key, old))
        return True
