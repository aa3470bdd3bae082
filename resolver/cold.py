"""A dict whose loaded values stay in columns until they are first read ("cold" rows).

A snapshot load (`resolver.snapshot`) would otherwise make an object per identifier and per
piece of evidence, of which a worker then reads only those its new events touch. A
`ColdTable` is the graph's dict (key -> object) with the loaded values kept *cold*: the dict
maps their keys to a row number, and the rows live in columns (`Rows`: arrays of integers,
lists of strings shared with the rest of the state), so a cold value costs no object of its
own and a load makes none.

The first read of a cold value (`get`, ``[]``, `pop`, `setdefault`, `values`, `items`) makes
its object and puts it in the dict in its own place (*thawed*): from then on it is an
ordinary entry, and every read gives that one object. So the table behaves as the plain dict
it stands for: the same keys in the same order (a thaw replaces a value in place; adding
and deleting are the dict's own), the same answers. Membership, length, iteration over keys,
adding and deleting need no thaw. `peek` reads a value without thawing it (for read-only
scans), and `split` gives the raw values so a dump can read cold rows off their columns.

The values the dict holds itself are row numbers or objects: read it only through the
methods above (``dict(table)``, ``dict.values(table)`` and co. see row numbers).
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Sequence, ValuesView
from itertools import compress, repeat
from operator import not_
from typing import Any, Protocol, TypeVar, cast, overload

__all__ = ["ColdTable", "Rows", "merge", "peek", "split"]

V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)
T = TypeVar("T")


class Rows(Protocol[V_co]):
    """The columns of a table's cold rows."""

    def make(self, key: str, row: int) -> V_co:
        """A new object holding row `row` (whose key is `key`)."""
        ...


class ColdTable(dict[str, V]):
    """A dict with loaded values cold until first read (see the module docstring)."""

    __slots__ = ("cold",)

    def __init__(self, keys: Sequence[str], cold: Rows[V], rows: Sequence[int] | None = None) -> None:
        """A table of the cold values of `keys`, in order: ``keys[r]`` is row ``r`` of `cold`.

        `rows`: ``range`` as a list of at least ``len(keys)`` ints, to share the int objects
        among tables (each int above 256 is an object of its own).
        """
        super().__init__()
        self.cold = cold
        numbers = range(len(keys)) if rows is None else rows[: len(keys)]
        if len(numbers) != len(keys):
            raise ValueError("fewer rows than keys")
        dict.update(cast("dict[str, Any]", self), zip(keys, numbers, strict=True))

    def _thaw(self, key: str, row: int) -> V:
        value = self.cold.make(key, row)
        dict.__setitem__(self, key, value)
        return value

    def __getitem__(self, key: str) -> V:
        value: Any = dict.__getitem__(self, key)
        return self._thaw(key, value) if value.__class__ is int else cast(V, value)

    @overload
    def get(self, key: str, default: None = None, /) -> V | None: ...
    @overload
    def get(self, key: str, default: V, /) -> V: ...
    @overload
    def get(self, key: str, default: T, /) -> V | T: ...
    def get(self, key: str, default: Any = None, /) -> Any:
        value: Any = dict.get(self, key, default)
        return self._thaw(key, value) if value.__class__ is int else value

    def peek(self, key: str) -> V | None:
        """The value of `key` without thawing it: a cold one as a new object the table does not keep (read only)."""
        value: Any = dict.get(self, key)
        return self.cold.make(key, value) if value.__class__ is int else value

    def row(self, key: str) -> int | None:
        """The row of cold `key` (None when it is thawed or unknown)."""
        value: Any = dict.get(self, key)
        return value if value.__class__ is int else None

    def thaw_all(self) -> None:
        """Thaw every cold value (in place, in order)."""
        for key, value in list(dict.items(cast("dict[str, Any]", self))):
            if value.__class__ is int:
                self._thaw(key, value)

    def values(self) -> ValuesView[V]:  # type: ignore[override]
        self.thaw_all()
        return dict.values(self)

    def items(self) -> ItemsView[str, V]:  # type: ignore[override]
        self.thaw_all()
        return dict.items(self)

    @overload
    def pop(self, key: str, /) -> V: ...
    @overload
    def pop(self, key: str, default: V, /) -> V: ...
    @overload
    def pop(self, key: str, default: T, /) -> V | T: ...
    def pop(self, key: str, *default: Any) -> Any:
        self.get(key)
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: V, /) -> V:
        held = self.get(key)
        if held is None:
            self[key] = held = default
        return held

    def popitem(self) -> tuple[str, V]:
        self.thaw_all()
        return dict.popitem(self)

    def copy(self) -> dict[str, V]:
        self.thaw_all()
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self.thaw_all()
        if isinstance(other, ColdTable):
            other.thaw_all()
        return dict.__eq__(self, other)

    def __reduce__(self) -> Any:
        raise TypeError("a ColdTable is not pickled: write a snapshot (resolver.snapshot)")


def peek(table: dict[str, V], key: str) -> V | None:
    """``table.get(key)``, without thawing a cold value of a `ColdTable` (for read-only scans)."""
    if isinstance(table, ColdTable):
        return cast("V | None", table.peek(key))
    return table.get(key)


def split(table: ColdTable[V]) -> tuple[bytes, list[int], list[V]]:
    """(flags, rows, objects) of the table's values in order: flag 1 for an object, 0 for a cold row."""
    values = list(dict.values(cast("dict[str, Any]", table)))
    flags = bytes(map(isinstance, values, repeat(int)))
    return bytes(map(not_, flags)), list(compress(values, flags)), list(compress(values, map(not_, flags)))


def merge(
    flags: bytes, cold: list[list[Any]], objs: list[Any], fields: Callable[[Any], tuple[Any, ...]]
) -> list[list[Any]]:
    """Columns in table order: cold rows' from `cold`, objects' read by `fields` (`split`'s flags: 1 for an object)."""
    if not objs:
        return cold
    warm = list(zip(*map(fields, objs), strict=True))
    # Each position takes the next value of its source (in C): a cold row's (0) or an object's (1).
    return [list(map(next, map((iter(c), iter(w)).__getitem__, flags))) for c, w in zip(cold, warm, strict=True)]
