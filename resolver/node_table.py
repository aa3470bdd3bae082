"""Identifier nodes by key, where the nodes a snapshot loaded stay in columns until first read.

`NodeTable` is the graph's node dict (key -> `Node`) as a `resolver.cold.TextTable`: a loaded
node is a row of `NodeColumns` until first read, when it becomes the `Node`, `LineNode` or
`AccountNode` a load would have made (`resolver.graph.new_node` picks the class by key; a
touchpoint identity with a split is an `AccountNode`), in its own place.
`statuses` (stats, quarantined keys) and `field_columns` (`resolver.snapshot`) thaw nothing.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from itertools import chain
from operator import add, attrgetter
from typing import Any, cast

from resolver.cold import TextTable, merge, split
from resolver.columns import Sparse
from resolver.graph import OK, SHORT_EVIDENCE, AccountNode, FlatNames, LineNode, Node
from resolver.text_keys import TextKeys

__all__ = ["FIELDS", "NodeColumns", "NodeTable", "field_columns", "statuses"]

#: The fields of a node, in the order `field_columns` gives them.
FIELDS = ("evidence", "sig", "status", "shared", "bars", "pairs", "names", "groups", "near")
_FIELDS = attrgetter(*FIELDS)


class NodeColumns:
    """The fields of the cold nodes by row: flat columns with start offsets, sparse maps for the rare fields.

    Row ``r`` carries the evidence ids that ``evidence[ev_starts[r]:ev_starts[r + 1]]`` refer
    to: a reference below ``vid_base`` is a row of ``vids`` (the evidence table's ids,
    `resolver.text_keys.TextKeys`), one above it ``strings[ref - vid_base]`` (the loaded
    snapshot's string table: an id no piece holds); the hub signals of
    ``sig[sig_starts[r]:sig_starts[r + 1]]`` (None where ``sig_none`` holds the row), and
    where ``names_has[r]``, name support: the name keys of ``name_keys`` and the counts of
    ``name_counts`` over ``name_starts[r]:name_starts[r + 1]``. Household pairs are runs too,
    made a list only when read: ``pairs[r]`` is row r's run k, whose (email, name class)
    pairs are the strings of ``pair_refs[pair_starts[k]:pair_starts[k + 1]]``, two by two;
    so are near candidates (``near``: keys ``near_refs``, whether each is on ``near_on``).
    Rows missing from a sparse map hold the field's none value (`OK`, (), None; not shared).
    """

    __slots__ = (
        "bars", "ev_starts", "evidence", "groups", "name_counts", "name_keys", "name_starts", "names_has",
        "near", "near_on", "near_refs", "near_starts", "pair_refs", "pair_starts", "pairs", "shared", "sig",
        "sig_none", "sig_starts", "status", "strings", "vid_base", "vids",
    )  # fmt: skip

    def __init__(
        self,
        strings: list[Any],
        evidence: array[int],
        ev_starts: array[int],
        sig: array[int],
        sig_starts: array[int],
        sig_none: set[int],
        status: dict[int, str],
        shared: set[int],
        bars: dict[int, tuple[tuple[int, int], ...]],
        pairs: Sparse,
        pair_starts: array[int],
        pair_refs: array[int],
        names_has: bytes,
        name_starts: array[int],
        name_keys: array[int],
        name_counts: array[int],
        groups: dict[int, dict[str, str]],
        near: Sparse,
        near_starts: array[int],
        near_refs: array[int],
        near_on: array[int],
        vids: TextKeys,
    ) -> None:
        self.strings = strings
        self.vids, self.vid_base = vids, len(vids)
        self.evidence, self.ev_starts = evidence, ev_starts
        self.sig, self.sig_starts, self.sig_none = sig, sig_starts, sig_none
        self.status, self.shared, self.bars = status, shared, bars
        self.pairs, self.pair_starts, self.pair_refs = pairs, pair_starts, pair_refs
        self.groups, self.near = groups, near
        self.near_starts, self.near_refs, self.near_on = near_starts, near_refs, near_on
        self.names_has, self.name_starts, self.name_keys, self.name_counts = (
            names_has,
            name_starts,
            name_keys,
            name_counts,
        )

    def _vid(self, ref: int) -> str:
        """The evidence id reference `ref` stands for, as the one string the state holds for it."""
        base = self.vid_base
        return self.vids.held(ref) if ref < base else cast(str, self.strings[ref - base])

    def _vid_texts(self) -> list[str]:
        """Every evidence id of the column, as new strings (for reading, not keeping)."""
        refs, base = self.evidence, self.vid_base
        if not refs or max(refs) < base:
            return self.vids.keys(refs)
        key, strings = self.vids.key, self.strings
        return [key(r) if r < base else strings[r - base] for r in refs]

    def _evidence(self, row: int) -> str | tuple[str, ...] | list[str]:
        held = tuple(map(self._vid, self.evidence[self.ev_starts[row] : self.ev_starts[row + 1]]))
        return _held(held)

    def _sig(self, row: int) -> tuple[str, ...] | None:
        if row in self.sig_none:
            return None
        return tuple(map(self.strings.__getitem__, self.sig[self.sig_starts[row] : self.sig_starts[row + 1]]))

    def _pairs(self, run: int | None) -> list[tuple[str, str]] | None:
        if run is None:
            return None
        flat = list(map(self.strings.__getitem__, self.pair_refs[self.pair_starts[run] : self.pair_starts[run + 1]]))
        return list(zip(flat[::2], flat[1::2], strict=True))

    def _near(self, run: int | None) -> dict[str, bool] | None:
        if run is None:
            return None
        start, end = self.near_starts[run], self.near_starts[run + 1]
        keys = map(self.strings.__getitem__, self.near_refs[start:end])
        return dict(zip(keys, map(bool, self.near_on[start:end]), strict=True))

    def _names(self, row: int) -> FlatNames | None:
        if not self.names_has[row]:
            return None
        start, end = self.name_starts[row], self.name_starts[row + 1]
        keys = map(self.strings.__getitem__, self.name_keys[start:end])
        return tuple(chain.from_iterable(zip(keys, self.name_counts[start:end], strict=True)))

    def make(self, key: str, row: int) -> Node:
        """A new node holding row `row` of key `key`, of the class `resolver.graph.new_node` picks."""
        made: Node
        if key[0] in "pe":
            made = line = LineNode.__new__(LineNode)
            line.shared = row in self.shared
            line.pairs = self._pairs(self.pairs.get(row))
            line.names = self._names(row)
            line.groups = self.groups.get(row)
            line.near = self._near(self.near.get(row))
        elif key[0] == "t" and row in self.groups:
            made = account = AccountNode.__new__(AccountNode)  # a touchpoint identity split between people
            account.groups = self.groups[row]
        else:
            made = Node.__new__(Node)
        made.key = key
        made.status = self.status.get(row, OK)
        made.evidence = self._evidence(row)
        made.sig = self._sig(row)
        made.bars = self.bars.get(row, ())
        return made

    def fields(self, rows: list[int]) -> list[list[Any]]:
        """Every field of `rows` (`FIELDS` order), one list per field, as their nodes would hold them."""
        ends = list(map(add, rows, [1] * len(rows)))
        text = self.strings.__getitem__
        vids, signals = self._vid_texts(), list(map(text, self.sig))
        held = list(map(tuple, map(vids.__getitem__, _spans(self.ev_starts, rows, ends))))
        # `_held`, inline (no call per row): one id alone, a tuple while short, else a list.
        evidence = [h[0] if len(h) == 1 else h if len(h) <= SHORT_EVIDENCE else list(h) for h in held]
        sigs = map(tuple, map(signals.__getitem__, _spans(self.sig_starts, rows, ends)))
        none = self.sig_none
        sig = [None if r in none else s for r, s in zip(rows, sigs, strict=True)]
        return [
            evidence,
            sig,
            [self.status.get(r, OK) for r in rows],
            list(map(self.shared.__contains__, rows)),
            [self.bars.get(r, ()) for r in rows],
            list(map(self._pairs, map(self.pairs.get, rows))),
            list(map(self._names, rows)),
            list(map(self.groups.get, rows)),
            list(map(self._near, map(self.near.get, rows))),
        ]


def _held(vids: tuple[str, ...]) -> str | tuple[str, ...] | list[str]:
    """Evidence ids as a node holds them (`resolver.graph.Node.add_evidence`)."""
    if len(vids) == 1:
        return vids[0]
    return vids if len(vids) <= SHORT_EVIDENCE else list(vids)


def _spans(starts: array[int], rows: list[int], ends: list[int]) -> Iterator[slice]:
    return map(slice, map(starts.__getitem__, rows), map(starts.__getitem__, ends))


class NodeTable(TextTable[Node]):
    """The graph's nodes by key, with loaded nodes cold until first read (`resolver.cold.TextTable`).

    Its loaded keys are the snapshot's strings (`resolver.text_keys.StrKeys`), found by their
    index: no dict entry and no row number per cold node.
    """

    __slots__ = ()

    cold: NodeColumns


def field_columns(nodes: dict[str, Node]) -> list[Sequence[Any]]:
    """One sequence per field of `FIELDS` across all nodes, in the dict's order, without thawing anything."""
    if not isinstance(nodes, NodeTable):
        held = list(nodes.values())
        return list(zip(*map(_FIELDS, held), strict=True)) if held else [()] * len(FIELDS)
    flags, rows, objs = split(nodes)
    return cast("list[Sequence[Any]]", merge(flags, nodes.cold.fields(rows), objs, _FIELDS))


def statuses(nodes: dict[str, Node]) -> Iterator[tuple[str, str, bool]]:
    """(key, status, shared) of every node, in order, without thawing anything."""
    if not isinstance(nodes, NodeTable):
        for key, node in nodes.items():
            yield key, node.status, node.shared
        return
    cold = nodes.cold
    status, shared = cold.status, cold.shared
    flags, rows, objs = split(nodes)
    places = iter(rows), iter(objs)
    for key, flag in zip(nodes.keys(), flags, strict=True):
        value: Any = next(places[flag])
        if flag:
            yield key, value.status, value.shared
        else:
            yield key, status.get(value, OK), value in shared
