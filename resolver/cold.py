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

from collections.abc import Callable, ItemsView, Iterator, Mapping, MutableMapping, Sequence, ValuesView
from itertools import compress, count, repeat
from operator import eq, ne, not_
from typing import Any, Protocol, TypeVar, cast, overload

from resolver.text_keys import Keys

__all__ = ["ColdTable", "Rows", "TextTable", "merge", "peek", "split"]

V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)
T = TypeVar("T")


def _mapping(table: dict[str, Any]) -> MutableMapping[str, Any]:
    """`table` (a `ColdTable` or `TextTable`, in its own methods) typed as a mapping, not a dict.

    Compiled (mypyc, docs/architecture.md "The compiled core"), any value typed as a dict or a dict
    subclass has ``in``, ``len``, ``.get`` and ``del`` done by CPython's dict functions, which never
    call these classes' overrides; a mapping's go through them (as in pure Python, where this is a
    no-op).
    """
    return cast("MutableMapping[str, Any]", table)


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
        _mapping(self).get(key)
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: V, /) -> V:
        held: V | None = _mapping(self).get(key)
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

    def split(self) -> tuple[bytes, list[int], list[V]]:
        """(flags, rows, objects) of the values in order: flag 1 for an object, 0 for a cold row."""
        values = list(dict.values(cast("dict[str, Any]", self)))
        flags = bytes(map(isinstance, values, repeat(int)))
        return bytes(map(not_, flags)), list(compress(values, flags)), list(compress(values, map(not_, flags)))


def peek(table: Mapping[str, V], key: str) -> V | None:
    """``table.get(key)``, without thawing a cold value of a `ColdTable` or `TextTable` (for read-only scans)."""
    if isinstance(table, (ColdTable, TextTable)):
        return cast("V | None", table.peek(key))
    return table.get(key)


def split(table: ColdTable[V] | TextTable[V]) -> tuple[bytes, list[int], list[V]]:
    """(flags, rows, objects) of the table's values in order: flag 1 for an object, 0 for a cold row."""
    return table.split()


def merge(
    flags: bytes, cold: list[list[Any]], objs: list[Any], fields: Callable[[Any], tuple[Any, ...]]
) -> list[list[Any]]:
    """Columns in table order: cold rows' from `cold`, objects' read by `fields` (`split`'s flags: 1 for an object)."""
    if not objs:
        return cold
    warm = list(zip(*map(fields, objs), strict=True))
    # Each position takes the next value of its source (in C): a cold row's (0) or an object's (1).
    return [list(map(next, map((iter(c), iter(w)).__getitem__, flags))) for c, w in zip(cold, warm, strict=True)]


#: A value no table holds (a dict's own `get` default).
_NONE: Any = object()
#: Keys a `TextTable` remembers as found in no cold row, at most (then forgotten at once).
_MISSES = 1024


class TextTable(dict[str, V]):
    """A `ColdTable` whose loaded keys need no dict entry: rows of `resolver.text_keys.Keys`, found by their index.

    The dict itself holds only objects: the loaded values thawed so far and the keys added since
    the load. ``state`` says of each loaded row whether it is cold (0), thawed into the dict (1)
    or gone (2: deleted; a key added again is a new key). The order is that of the plain dict it
    stands for: the loaded rows not gone, in row order (a thaw keeps a key's place), then the keys
    added since, in the order added (a key deleted and added again is last). A thawed key is the
    one string ``ids.held`` gives for its row. `len`, membership, adding and deleting need no
    thaw; reads thaw as a `ColdTable`'s do, and `values`, `items` and `keys` give lists in order.
    """

    __slots__ = ("_cold", "_misses", "cold", "ids", "state")

    def __init__(self, ids: Keys, cold: Rows[V]) -> None:
        super().__init__()
        self.ids, self.cold = ids, cold
        self.state = bytearray(len(ids))
        #: how many rows are cold
        self._cold = len(ids)
        #: keys lately found no cold row (a new key is looked up, then added: one search, not two).
        #: Never stale: a row that is not cold never becomes cold again.
        self._misses: set[str] = set()

    def _row(self, key: object) -> int | None:
        """The row of `key` when it is cold (None when thawed, gone or unknown)."""
        if not self._cold or key.__class__ is not str or key in self._misses:
            return None
        row = self.ids.row(key)
        if row is not None and not self.state[row]:
            return row
        misses = self._misses
        if len(misses) >= _MISSES:
            misses.clear()
        misses.add(key)
        return None

    def _thaw(self, row: int) -> V:
        key = self.ids.held(row)
        value = self.cold.make(key, row)
        self.state[row] = 1
        self._cold -= 1
        dict.__setitem__(self, key, value)
        return value

    def __getitem__(self, key: str) -> V:
        value: Any = dict.get(self, key, _NONE)
        if value is _NONE:
            row = self._row(key)
            if row is None:
                raise KeyError(key)
            return self._thaw(row)
        return cast(V, value)

    @overload
    def get(self, key: str, default: None = None, /) -> V | None: ...
    @overload
    def get(self, key: str, default: V, /) -> V: ...
    @overload
    def get(self, key: str, default: T, /) -> V | T: ...
    def get(self, key: str, default: Any = None, /) -> Any:
        value: Any = dict.get(self, key, _NONE)
        if value is _NONE:
            row = self._row(key)
            return default if row is None else self._thaw(row)
        return value

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._row(key) is not None

    def __len__(self) -> int:
        return dict.__len__(self) + self._cold

    def __bool__(self) -> bool:
        return len(_mapping(self)) > 0

    def __setitem__(self, key: str, value: V) -> None:
        if not dict.__contains__(self, key):
            row = self._row(key)
            if row is not None:  # a cold value replaced: in its place
                self.state[row] = 1
                self._cold -= 1
                key = self.ids.held(row)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        if dict.__contains__(self, key):
            row = self.ids.row(key)
            if row is not None and self.state[row] == 1:
                self.state[row] = 2
            dict.__delitem__(self, key)
            return
        row = self._row(key)
        if row is None:
            raise KeyError(key)
        self.state[row] = 2
        self._cold -= 1

    def peek(self, key: str) -> V | None:
        """The value of `key` without thawing it: a cold one as a new object the table does not keep (read only)."""
        value: Any = dict.get(self, key, _NONE)
        if value is _NONE:
            row = self._row(key)
            return None if row is None else self.cold.make(key, row)
        return cast(V, value)

    def row(self, key: str) -> int | None:
        """The row of cold `key` (None when it is thawed, gone or unknown)."""
        return self._row(key)

    def loaded_keys(self) -> Keys | None:
        """The loaded keys when they are still exactly the table's keys, in order (none added or
        deleted since the load; thawing changes nothing), else None: a dump copies their text and
        index as they are (`resolver.string_table.loaded_key_text`)."""
        state = self.state
        if 2 in state or dict.__len__(self) != state.count(1):
            return None
        return self.ids

    def _live(self) -> list[int]:
        """The loaded rows not gone, in order."""
        return list(compress(count(), map(ne, self.state, repeat(2))))

    def _added(self) -> list[str]:
        """The keys added since the load, in order (the dict's keys that are not thawed rows)."""
        thawed = set(map(self.ids.held, compress(count(), map(eq, self.state, repeat(1)))))
        return [key for key in dict.__iter__(self) if key not in thawed]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:  # type: ignore[override]
        """The keys in order (new strings for the cold rows: for reading, not keeping)."""
        return [*self.ids.keys(self._live()), *self._added()]

    def thaw_all(self) -> None:
        """Thaw every cold value (in row order)."""
        for row in list(compress(count(), map(not_, self.state))):
            self._thaw(row)

    def values(self) -> list[V]:  # type: ignore[override]
        self.thaw_all()
        keys = [*map(self.ids.held, self._live()), *self._added()]
        return list(map(dict.__getitem__, repeat(self), keys))

    def items(self) -> list[tuple[str, V]]:  # type: ignore[override]
        self.thaw_all()
        keys = [*map(self.ids.held, self._live()), *self._added()]
        return list(zip(keys, map(dict.__getitem__, repeat(self), keys), strict=True))

    def split(self) -> tuple[bytes, list[int], list[V]]:
        """(flags, rows, objects) of the values in order: flag 1 for an object, 0 for a cold row."""
        live = self._live()
        flags = bytes(map(self.state.__getitem__, live))  # 0 cold, 1 thawed (an object)
        thawed = map(self.ids.held, compress(live, flags))
        added = self._added()
        objs = [*map(dict.__getitem__, repeat(self), thawed), *map(dict.__getitem__, repeat(self), added)]
        return flags + b"\x01" * len(added), list(compress(live, map(not_, flags))), objs

    @overload
    def pop(self, key: str, /) -> V: ...
    @overload
    def pop(self, key: str, default: V, /) -> V: ...
    @overload
    def pop(self, key: str, default: T, /) -> V | T: ...
    def pop(self, key: str, *default: Any) -> Any:
        table = _mapping(self)
        value = table.get(key, _NONE)
        if value is _NONE:
            if default:
                return default[0]
            raise KeyError(key)
        del table[key]
        return value

    def setdefault(self, key: str, default: V, /) -> V:
        held = _mapping(self).get(key, _NONE)
        if held is _NONE:
            self[key] = held = default
        return cast(V, held)

    def popitem(self) -> tuple[str, V]:
        keys = self.keys()
        if not keys:
            raise KeyError("popitem(): the table is empty")
        return keys[-1], self.pop(keys[-1])

    def clear(self) -> None:
        dict.clear(self)
        self.state = bytearray(b"\x02" * len(self.ids))
        self._cold = 0

    def update(self, *others: Any, **named: V) -> None:
        for key, value in dict(*others, **named).items():
            self[key] = value

    def copy(self) -> dict[str, V]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TextTable):
            other = dict(other.items())
        return isinstance(other, dict) and dict(self.items()) == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(_mapping(self))} keys, {self._cold} cold>"

    def __reduce__(self) -> Any:
        raise TypeError("a TextTable is not pickled: write a snapshot (resolver.snapshot)")
