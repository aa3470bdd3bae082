"""A deterministic disjoint-set forest over string keys, with member lists.

Union by size (ties: the smaller key stays root), path halving in `find`. Member lists make
"all identifiers of a customer" O(size) without a scan; a singleton set keeps its one key
instead of a list (most sets are singletons: a list each would cost 64 bytes). The root chosen never depends on
timing, only on the sequence of calls, so the same calls give the same forest.
Persistence stores each key's root at the time of writing (never the in-memory parent, which
depends on the history of `find` calls); a root written earlier is still an ancestor, so
`from_parents` rebuilds the same roots.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, MutableMapping
from itertools import chain, compress, repeat
from operator import eq, itemgetter, not_
from typing import Any, cast

from resolver.cold import TextTable, split
from resolver.text_keys import Keys

__all__ = ["ColdSets", "DisjointSet"]


class DisjointSet:
    """Disjoint sets of string keys. Unknown keys must be `add`-ed before use."""

    __slots__ = ("_members", "_parent")

    def __init__(self) -> None:
        self._parent: MutableMapping[str, str] = {}
        #: root -> its members in order: a list, or the root itself when it is alone
        self._members: MutableMapping[str, list[str] | str] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._parent

    def __len__(self) -> int:
        return len(self._parent)

    def add(self, key: str) -> None:
        """Add `key` as a singleton (no-op when present)."""
        if key not in self._parent:
            self._parent[key] = key
            self._members[key] = key

    def find(self, key: str) -> str:
        parent = self._parent
        p = parent[key]
        while p != key:
            gp = parent[p]
            parent[key] = gp
            key, p = p, gp
        return key

    def roots_of(self, keys: Iterable[str]) -> list[str]:
        """The distinct roots of `keys` in the order first reached (`find` on each, inlined)."""
        parent = self._parent
        out: list[str] = []
        for key in keys:
            p = parent[key]
            while p != key:
                gp = parent[p]
                parent[key] = gp
                key, p = p, gp
            if key not in out:
                out.append(key)
        return out

    def union(self, a: str, b: str) -> tuple[str, str | None]:
        """Join the sets of `a` and `b`. Returns (root, absorbed root or None if already one)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra, None
        members = self._members
        ma, mb = members[ra], members[rb]
        na = 1 if isinstance(ma, str) else len(ma)
        nb = 1 if isinstance(mb, str) else len(mb)
        if na < nb or (na == nb and rb < ra):
            ra, rb, ma, mb = rb, ra, mb, ma
        self._parent[rb] = ra
        if isinstance(ma, str):
            # Two singletons (the larger set first: `mb` is one too): a list of exactly two,
            # 72 bytes, where a list of one and an append would take 120.
            members[ra] = [ma, cast(str, mb)]
        elif isinstance(mb, str):
            ma.append(mb)
        else:
            ma.extend(mb)
        del members[rb]
        return ra, rb

    def members(self, root: str) -> list[str]:
        """Keys in the set whose root is `root` (root must be a root). Read only: a singleton's is a new list."""
        held = self._members[root]
        return [held] if isinstance(held, str) else held

    def roots(self) -> list[str]:
        return sorted(self._members)

    def groups(self) -> tuple[list[str], list[list[str]]]:
        """Each set's root and its member list, in the forest's own order (a function of its calls).

        A loaded forest's cold sets are read off their columns (nothing thawed).
        """
        held = self._members
        if isinstance(held, TextTable):
            flags, rows, objs = split(held)
            cold: list[Any] = list(map(held.cold.make, held.ids.keys(rows), rows))
            places = iter(cold), iter(objs)
            values: list[Any] = list(map(next, map(places.__getitem__, flags)))
            return held.keys(), [[m] if isinstance(m, str) else m for m in values]
        return list(held), [[m] if isinstance(m, str) else m for m in held.values()]

    def reset(self, keys: Iterable[str]) -> None:
        """Make every key in `keys` a singleton. `keys` must be a union of whole sets."""
        for key in keys:
            self._parent[key] = key
            self._members[key] = key

    def remove(self, keys: Iterable[str]) -> None:
        """Forget `keys`. They must form whole sets, or be `reset` singletons."""
        for key in keys:
            self._parent.pop(key, None)
            self._members.pop(key, None)

    @classmethod
    def from_groups(cls, roots: list[str], members: list[list[str]]) -> DisjointSet:
        """Rebuild from each set's root and its member list, kept as given (it becomes the set's own).

        Unlike `from_parents`, the order of each member list is kept, so a rebuilt forest
        lists members exactly as the original did (snapshots, `resolver.snapshot`).
        """
        ds = cls()
        owners = chain.from_iterable(map(repeat, roots, map(len, members)))
        ds._parent = dict(zip(chain.from_iterable(members), owners, strict=True))
        ds._members = dict(zip(roots, members, strict=True))
        # Singletons keep their one key (as `_held`), set in C: a loaded forest has many.
        ones = list(map(eq, map(len, members), repeat(1)))
        ds._members.update(zip(compress(roots, ones), map(itemgetter(0), compress(members, ones)), strict=True))
        return ds

    @classmethod
    def from_sets(cls, roots: list[str], many: bytes, sets: list[list[str]]) -> DisjointSet:
        """Rebuild from each set's root, a flag per set (1: more than one member) and the member lists of those flagged.

        As `from_groups`, but a singleton comes as its root alone (no list made and dropped).
        """
        ds = cls()
        singles = list(compress(roots, map(not_, many)))
        # Each set takes the next of its source (in C): a singleton's root, or its list.
        sources: tuple[Iterator[Any], Iterator[Any]] = (iter(singles), iter(sets))
        ds._members = dict(zip(roots, map(next, map(sources.__getitem__, many)), strict=True))
        ds._parent = dict(zip(singles, singles, strict=True))
        owners = chain.from_iterable(map(repeat, compress(roots, many), map(len, sets)))
        ds._parent.update(zip(chain.from_iterable(sets), owners, strict=True))
        return ds

    @classmethod
    def from_columns(cls, keys: Keys, root_of: array[int], roots: Keys, sets: ColdSets) -> DisjointSet:
        """A loaded forest kept cold: no dict entry per key or set until one is read (`resolver.cold.TextTable`).

        `keys`: every key (row ``r``); `root_of`: row ``r``'s root, as a reference into
        ``sets.strings``; `roots`: each set's root, in the forest's order (row ``s``), and `sets`
        their members. A key's parent is its root until read; then it is an ordinary entry.
        """
        ds = cls()
        ds._parent = TextTable(keys, _Parents(sets.strings, root_of))
        ds._members = TextTable(roots, sets)
        return ds

    @classmethod
    def from_parents(cls, parents: Iterable[tuple[str, str]]) -> DisjointSet:
        """Rebuild from (key, parent) pairs whose parents are ancestors of their keys."""
        ds = cls()
        ds._parent = dict(parents)
        members: dict[str, list[str]] = {}
        for key in sorted(ds._parent):
            members.setdefault(ds.find(key), []).append(key)
        ds._members = {root: _held(held) for root, held in members.items()}
        return ds


class _Parents:
    """The cold values of a loaded forest's parents: row ``r``'s root, ``strings[root_of[r]]``."""

    __slots__ = ("root_of", "strings")

    def __init__(self, strings: list[Any], root_of: array[int]) -> None:
        self.strings, self.root_of = strings, root_of

    def make(self, key: str, row: int) -> str:
        root: str = self.strings[self.root_of[row]]
        return root


class ColdSets:
    """The cold values of a loaded forest's member lists: set ``s``'s members, or its root alone.

    Set ``s`` has more than one member when ``many[s]``: then its members are the strings of
    ``refs[starts[s]:starts[s + 1]]`` (``starts`` over every set, a singleton's run empty).
    """

    __slots__ = ("many", "refs", "starts", "strings")

    def __init__(self, strings: list[Any], many: bytes, starts: array[int], refs: array[int]) -> None:
        if len(starts) != len(many) + 1 or (starts and starts[-1] != len(refs)):
            raise ValueError("sets and their members differ in length")
        self.strings, self.many, self.starts, self.refs = strings, many, starts, refs

    def make(self, root: str, row: int) -> list[str] | str:
        """Set `row`'s members as the forest keeps them: a new list, or `root` alone."""
        if not self.many[row]:
            return root
        return list(map(self.strings.__getitem__, self.refs[self.starts[row] : self.starts[row + 1]]))


def _held(members: list[str]) -> list[str] | str:
    """A set's members as `DisjointSet` keeps them: the one key of a singleton, else the list."""
    return members[0] if len(members) == 1 else members
