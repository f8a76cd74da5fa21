"""``Counts``: the one immutable mapping of license type to count used everywhere.

Zero entries are left out, so ``Counts() == {}`` means "none" (SPEC §3).
Counts compare equal to plain dicts with the same non-zero items.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import overload

__all__ = ["Counts"]


class Counts(Mapping[str, int]):
    """An immutable, hashable ``{license_type: count}`` mapping without zero entries.

    Counts are never negative: subtraction that would go below zero raises
    ``ValueError`` (use :meth:`minus_clipped` for a floor at zero).
    """

    __slots__ = ("_hash", "_items")

    _items: dict[str, int]
    _hash: int | None

    def __init__(self, items: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        if type(items) is Counts:
            self._items = items._items
            self._hash = items._hash
            return
        self._hash = None
        if not items and isinstance(items, dict | tuple | list):  # none: the most common Counts
            self._items = {}
            return
        if isinstance(items, dict):
            pairs: Iterable[tuple[str, int]] = items.items()
        elif isinstance(items, tuple | list):
            pairs = items
        else:
            pairs = items.items() if isinstance(items, Mapping) else items
        data: dict[str, int] = {}
        for key, value in pairs:
            if value < 0:
                raise ValueError(f"a count cannot be negative: {key}={value}")
            if value:
                data[key] = data.get(key, 0) + value
        self._items = dict(sorted(data.items())) if len(data) > 1 else data

    @classmethod
    def _of(cls, data: dict[str, int]) -> Counts:
        """Counts from a dict the caller owns: zeros dropped, negatives refused."""
        clean: dict[str, int] = {}
        for key, value in sorted(data.items()):
            if value < 0:
                raise ValueError(f"a count cannot be negative: {key}={value}")
            if value:
                clean[key] = value
        made = object.__new__(cls)
        made._items = clean
        made._hash = None
        return made

    def __getitem__(self, key: str) -> int:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def keys(self) -> KeysView[str]:
        return self._items.keys()

    def items(self) -> ItemsView[str, int]:
        return self._items.items()

    def values(self) -> ValuesView[int]:
        return self._items.values()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Counts):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == {k: v for k, v in other.items() if v != 0}
        return NotImplemented

    def __repr__(self) -> str:
        return f"Counts({self._items!r})"

    def __bool__(self) -> bool:
        return bool(self._items)

    def __add__(self, other: Mapping[str, int]) -> Counts:
        if not other:
            return self
        if not self._items and type(other) is Counts:
            return other
        merged = dict(self._items)
        for key, value in other.items():
            merged[key] = merged.get(key, 0) + value
        return Counts._of(merged)

    def __sub__(self, other: Mapping[str, int]) -> Counts:
        if not other:
            return self
        merged = dict(self._items)
        for key, value in other.items():
            merged[key] = merged.get(key, 0) - value
        return Counts._of(merged)

    def minus_clipped(self, other: Mapping[str, int]) -> Counts:
        """Subtract per type, flooring each count at zero."""
        return Counts({k: max(0, v - other.get(k, 0)) for k, v in self._items.items()})

    @overload
    def total(self) -> int: ...
    @overload
    def total(self, types: Iterable[str]) -> int: ...
    def total(self, types: Iterable[str] | None = None) -> int:
        """The sum of the counts, over ``types`` if given."""
        if types is None:
            return sum(self._items.values())
        return sum(self._items.get(t, 0) for t in types)

    def covers_each(self, other: Mapping[str, int]) -> bool:
        """True when every count of ``other`` is at most this one's, type by type."""
        return all(self._items.get(k, 0) >= v for k, v in other.items())

    def to_dict(self) -> dict[str, int]:
        """A plain ``dict`` copy, for JSON and callers who want one."""
        return dict(self._items)
