"""Snapshots: the whole core state as one compact binary value, written and loaded whole.

`dump` writes a `resolver.graph.Graph` as bytes and `load` gives back an equal graph: the
same answers and the same future (the same further events and actions give the same
outcomes and the same state records, `resolver.records`, as the original). Records are one
JSON value per key, so the shell can write what changed; a snapshot is everything at once,
laid out to load fast:

* **Columns**, not records: one array per field across all evidence (or nodes, customers),
  so loading is a few large decodes in C and one short pass per object.
* **One string table**: every string is written once where it is first needed and columns
  hold its index (0 is None), so a loaded graph shares one string object per identifier.
* **Packed integers**: each integer column is an `array` of the narrowest type that holds
  it (1, 2, 4 or 8 bytes, little-endian).
* **Customer order**: nodes are written customer by customer (union-find sets by root,
  members in their own order), evidence by the node it is anchored to, customers by root.
  What one customer holds lies together, so loading reads the table almost in order (on a
  large state, memory latency, not decoding, is what a load costs) and the loaded objects
  of a customer lie together in memory too. Nothing reads the graph's dicts in their
  insertion order (every answer sorts), so this order changes no answer.

Format, version 1::

    b"IRLSNAP" | version (1 byte) | CRC-32 of the body (4 bytes, little-endian) | body
    body = marshal (version 2) of {section name: int | None | bytes | list[str | None]}

The checksum catches damage in storage or transit; a snapshot is trusted data (the state
the worker wrote itself), since marshal is not made for data from others.

The string table (section ``strings``) starts with None, then four runs the loader slices
whole: node keys, evidence ids, the earliest event id and the source id of each piece of
evidence; then every other string in order of first use. Sections ``n.*`` are the nodes
(evidence lists, hub signals; sparse: status, shared, split barriers, household pairs,
names, per-person split, near candidates), ``e.*`` the evidence (every field, and which
piece answers for its content in `Graph.by_content`), ``u.*`` the union-find as each set's
root and its members in their order (roots, never parent pointers: see
`resolver.unionfind`), ``c.*`` customers, ``a.*`` absorbed ids, ``erased``,
``suppressed``, ``h.*`` the duplicate horizon's events and its watermark, and the split
counter and merge count. Rebuilt on load: the content index, the near-phone index and
customer by root. Not kept: memos (profiles, near links, name classes), which refill on
use, and the change set of `resolver.records`: a loaded graph has nothing to drain, so
drain before dumping. A snapshot is taken between steps (no regroup pending).

The bytes are a function of the state: the graph's large dicts (nodes, evidence,
customers, ids) are written in the order above, never in the order they were filled in,
while lists and each node's small dicts keep their own order, which a load keeps too. So
``dump(load(c, dump(g))) == dump(g)``, and a graph and its loaded copy that take the same
steps dump equal bytes. Marshal version 2 writes no object references, so the bytes do not
depend on which equal strings happen to be one object in memory either.

Errors::

    ValueError
     └── SnapshotError   not a snapshot, another format version, or damaged: rebuild the
                         state from its records (`resolver.records`) or from the log
"""

from __future__ import annotations

import gc
import marshal
import sys
import zlib
from array import array
from collections.abc import Collection, Iterable, Sequence
from itertools import accumulate, chain, pairwise
from operator import attrgetter, itemgetter
from typing import Any, TypeVar, overload

from resolver.config import ResolverConfig
from resolver.evidence import Evidence
from resolver.graph import OK, PERSON, Customer, Graph, Node, holder_of, is_person
from resolver.horizon import RecentEvents
from resolver.unionfind import DisjointSet

__all__ = ["MAGIC", "VERSION", "SnapshotError", "dump", "load"]

#: The first bytes of every snapshot.
MAGIC = b"IRLSNAP"
#: The format written by `dump`; `load` reads this version only.
VERSION = 1

_HEAD = len(MAGIC) + 1 + 4
#: No object references (marshal 3+ adds them by object identity): bytes depend on values only.
_MARSHAL = 2
_SWAP = sys.byteorder != "little"
#: Integer array types, narrowest first, with the end of their range.
_UNSIGNED = (("B", 1 << 8), ("H", 1 << 16), ("I", 1 << 32), ("Q", 1 << 64))
_SIGNED = (("b", 1 << 7), ("h", 1 << 15), ("i", 1 << 31), ("q", 1 << 63))
#: An integer column too wide for 64 bits: marshalled as a list instead.
_WIDE = b"*"
#: Recent events in the order `RecentEvents.from_columns` takes: stamp, then id.
_BY_STAMP = itemgetter(1, 0)

T = TypeVar("T")

_new = object.__new__


class SnapshotError(ValueError):
    """Bytes that are not a snapshot this version reads: rebuild the state from its records or the log."""


# ---------------------------------------------------------------- encoding


def _pack(values: Sequence[int]) -> bytes:
    """An integer column: its array type code, then the items (little-endian)."""
    lo, hi = (min(values), max(values)) if values else (0, 0)
    for code, end in _UNSIGNED if lo >= 0 else _SIGNED:
        if hi < end and lo >= -end:
            packed = array(code, values)
            if _SWAP:
                packed.byteswap()
            return code.encode("ascii") + packed.tobytes()
    return _WIDE + marshal.dumps(list(values), _MARSHAL)


def _unpack(data: bytes) -> list[int]:
    column = _column(data)
    return column if isinstance(column, list) else column.tolist()


def _column(data: bytes) -> array[int] | list[int]:
    """An integer column as an array (iterated without a list of ints) or, when too wide, a list."""
    if data[:1] == _WIDE:
        values: list[int] = marshal.loads(data[1:])
        return values
    packed = array(data[:1].decode("ascii"))
    packed.frombytes(memoryview(data)[1:])
    if _SWAP:
        packed.byteswap()
    return packed


class _Strings:
    """The string table of a snapshot being written (index 0 is None)."""

    def __init__(self) -> None:
        self.table: list[str | None] = [None]
        self.index: dict[str | None, int] = {None: 0}

    def run(self, values: list[str], *, referred: bool = True) -> None:
        """Append `values` as they are (repeats included): a run the loader slices whole.

        `referred`: other columns refer to these strings (else they are not indexed, which
        saves a dict entry per string).
        """
        start = len(self.table)
        self.table.extend(values)
        if referred:
            self.index.update(zip(values, range(start, start + len(values)), strict=True))

    def refs(self, values: Iterable[str | None]) -> bytes:
        """The packed indices of `values`, adding new strings in order of first use."""
        values = values if isinstance(values, list) else list(values)
        index = self.index
        try:
            return _pack(list(map(index.__getitem__, values)))
        except KeyError:
            pass
        table = self.table
        for value in dict.fromkeys(values):
            if value not in index:
                index[value] = len(table)
                table.append(value)
        return _pack(list(map(index.__getitem__, values)))


def _lengths(groups: Iterable[Sequence[Any] | dict[Any, Any]]) -> bytes:
    return _pack([len(group) for group in groups])


@overload
def _split(flat: list[T], lengths: list[int]) -> list[list[T]]: ...
@overload
def _split(flat: tuple[T, ...], lengths: list[int]) -> list[tuple[T, ...]]: ...
def _split(flat: Sequence[T], lengths: list[int]) -> list[Any]:
    """`flat` cut into consecutive runs of `lengths`, of its own type (C-level slicing, no Python loop)."""
    ends = list(accumulate(lengths))
    return list(map(flat.__getitem__, map(slice, chain((0,), ends), ends)))


def _pairs(flat: list[T], lengths: list[int]) -> list[list[T]]:
    """`_split` of a column holding two values per item (the lengths count items)."""
    return _split(flat, [2 * n for n in lengths])


# ---------------------------------------------------------------- dump


def dump(g: Graph) -> bytes:
    """The whole core state of `g` as a snapshot (see the module docstring for the format)."""
    collecting = gc.isenabled()
    # Columns of millions of items and no cycles among them: a collection (which the many
    # new lists and tuples would start) could free nothing and would rescan the whole state.
    gc.disable()
    try:
        return _dump(g)
    finally:
        if collecting:
            gc.enable()


def _dump(g: Graph) -> bytes:
    out: dict[str, Any] = {}
    s = _Strings()
    uf = g.uf
    roots = uf.roots()
    groups = [uf.members(root) for root in roots]
    members = list(chain.from_iterable(groups))
    nodes = g.nodes
    # Every node is in one set and every key of a set is a node: members are written once.
    whole = len(members) == len(nodes) and all(map(nodes.__contains__, members))
    order = members if whole else [k for k in members if k in nodes] + [k for k in nodes if k not in uf]
    evs = _evidence_order(g, order)
    found = [g.cust.get(cid) for cid in map(g.by_root.get, roots) if cid is not None]
    custs = _canonical([c for c in found if c is not None], g.cust.values(), attrgetter("cid"))
    out["nodes"], out["evidence"], out["customers"] = len(order), len(evs), len(custs)
    s.run(order)
    s.run([ev.vid for ev in evs])
    s.run([ev.eid for ev in evs])
    s.run([ev.src for ev in evs], referred=False)
    s.run([c.cid for c in custs])
    _dump_nodes([nodes[k] for k in order], s, out)
    _dump_evidence(g, evs, s, out)
    out["u.root"] = s.refs(roots)
    out["u.len"] = _lengths(groups)
    if not whole:
        out["u.key"] = s.refs(members)
    _dump_customers(custs, s, out)
    absorbed = sorted(g.absorbed.items())
    out["a.from"] = s.refs([a for a, _ in absorbed])
    out["a.to"] = s.refs([b for _, b in absorbed])
    out["erased"] = s.refs(sorted(g.erased))
    out["suppressed"] = s.refs(sorted(g.suppressed))
    recent = sorted(g.recent.items(), key=_BY_STAMP)
    out["h.eid"] = s.refs([e for e, _, _ in recent])
    out["h.stamp"] = _pack([stamp for _, stamp, _ in recent])
    out["h.vid"] = s.refs([v for _, _, v in recent])
    out["h.watermark"] = g.recent.watermark
    out["split_seq"] = g.split_seq
    out["merges"] = g.merges
    out["strings"] = s.table
    body = marshal.dumps(out, _MARSHAL)
    return MAGIC + bytes((VERSION,)) + zlib.crc32(body).to_bytes(4, "little") + body


def _canonical(found: list[T], every: Collection[T], key: Any) -> list[T]:
    """`found` without repeats, then the rest of `every` sorted by `key` (none, when the state is whole)."""
    seen = set(map(id, found))
    if len(seen) != len(found):
        seen, unique = set(), []
        for x in found:
            if id(x) not in seen:
                seen.add(id(x))
                unique.append(x)
        found = unique
    if len(seen) == len(every):
        return found
    return found + sorted((x for x in every if id(x) not in seen), key=key)


def _evidence_order(g: Graph, order: list[str]) -> list[Evidence]:
    """The evidence customer by customer: under the node it is anchored to, in that node's own list order.

    A function of the state (node order, evidence lists, anchors), never of dict order; evidence
    not reached so (none, in a whole state) follows, by id.
    """
    nodes, evidence = g.nodes, g.evidence
    out: list[Evidence] = []
    for key in order:
        # One person's part of a shared phone lists no evidence: the phone's list holds it.
        holder = nodes.get(holder_of(key)) if is_person(key) else nodes[key]
        for vid in () if holder is None else holder.evidence:
            ev = evidence.get(vid)
            if ev is not None and ev.anchor == key:
                out.append(ev)
    return _canonical(out, evidence.values(), attrgetter("vid"))


def _dump_nodes(nodes: list[Node], s: _Strings, out: dict[str, Any]) -> None:
    # One pass over the nodes (on a large state each visit is a cache miss), sparse fields by index.
    held, held_len, sig_flat, sig_len = [], [], [], []
    odd, shared, bars, pairs, names, groups, near = [], [], [], [], [], [], []
    for i, n in enumerate(nodes):
        held.extend(n.evidence)
        held_len.append(len(n.evidence))
        sig = n.sig
        if sig is None:
            sig_len.append(0)  # no signals kept; n + 1: a list of n
        else:
            sig_len.append(len(sig) + 1)
            sig_flat.extend(sig)
        if n.status != OK:
            odd.append((i, n.status))
        if n.shared:
            shared.append(i)
        if n.bars:
            bars.append((i, n.bars))
        if n.pairs is not None:
            pairs.append((i, n.pairs))
        if n.names is not None:
            names.append((i, n.names))
        if n.groups is not None:
            groups.append((i, n.groups))
        if n.near is not None:
            near.append((i, n.near))
    out["n.ev.len"] = _pack(held_len)
    out["n.ev"] = s.refs(held)
    out["n.sig.len"] = _pack(sig_len)
    out["n.sig"] = s.refs(sig_flat)
    out["n.status"] = _pack([i for i, _ in odd])
    out["n.status.s"] = s.refs([x for _, x in odd])
    out["n.shared"] = _pack(shared)
    out["n.bars"] = _pack([i for i, _ in bars])
    out["n.bars.len"] = _lengths([b for _, b in bars])
    out["n.bars.sp"] = _pack([x for _, b in bars for bar in b for x in bar])
    out["n.pairs"] = _pack([i for i, _ in pairs])
    out["n.pairs.len"] = _lengths([p for _, p in pairs])
    out["n.pairs.ec"] = s.refs([x for _, p in pairs for pair in p for x in pair])
    out["n.names"] = _pack([i for i, _ in names])
    out["n.names.len"] = _lengths([m for _, m in names])
    out["n.names.c"] = s.refs([c for _, m in names for c in m])
    out["n.names.n"] = _pack([n for _, m in names for n in m.values()])
    out["n.groups"] = _pack([i for i, _ in groups])
    out["n.groups.len"] = _lengths([m for _, m in groups])
    out["n.groups.ck"] = s.refs([x for _, m in groups for kv in m.items() for x in kv])
    out["n.near"] = _pack([i for i, _ in near])
    out["n.near.len"] = _lengths([m for _, m in near])
    out["n.near.k"] = s.refs([k for _, m in near for k in m])
    out["n.near.on"] = _pack([int(v) for _, m in near for v in m.values()])


def _dump_evidence(g: Graph, evs: list[Evidence], s: _Strings, out: dict[str, Any]) -> None:
    # What answers for its content in `by_content` (an erasure can leave two pieces with one content).
    holders = set(map(id, g.by_content.values()))
    keys: list[str] = []
    tps, names, anchors, ats, counts, keys_len = [], [], [], [], [], []
    later, rejected, cut, noted, loose = [], [], [], [], []
    for i, ev in enumerate(evs):  # one pass: on a large state each visit is a cache miss
        tps.append(ev.tp)
        names.append(ev.name)
        anchors.append(ev.anchor)
        ats.append(ev.at)
        counts.append(ev.count)
        keys.extend(ev.keys)
        keys_len.append(len(ev.keys))
        if ev.last != ev.at:
            later.append((i, ev.last - ev.at))
        if ev.rejected:
            rejected.append((i, ev.rejected))
        if ev.cut:
            cut.append(i)
        if ev.note is not None:
            noted.append((i, ev.note))
        if id(ev) not in holders:
            loose.append(i)
    out["e.tp"], out["e.name"], out["e.anchor"] = s.refs(tps), s.refs(names), s.refs(anchors)
    out["e.at"] = _pack(ats)
    out["e.count"] = _pack(counts)
    # Sparse: a loaded piece seen once shares one int object for first and last seen.
    out["e.later"] = _pack([i for i, _ in later])
    out["e.later.d"] = _pack([d for _, d in later])
    out["e.keys.len"] = _pack(keys_len)
    out["e.keys"] = s.refs(keys)
    out["e.rejected"] = _pack([i for i, _ in rejected])
    out["e.rejected.len"] = _lengths([r for _, r in rejected])
    out["e.rejected.s"] = s.refs([x for _, r in rejected for x in r])
    out["e.cut"] = _pack(cut)
    out["e.note"] = _pack([i for i, _ in noted])
    out["e.note.s"] = s.refs([x for _, x in noted])
    out["e.loose"] = _pack(loose)


def _dump_customers(custs: list[Customer], s: _Strings, out: dict[str, Any]) -> None:
    out["c.root"] = s.refs([c.root for c in custs])
    out["c.first"] = _pack([c.first for c in custs])
    out["c.phones"] = _pack([c.phones for c in custs])
    out["c.emails"] = _pack([c.emails for c in custs])
    out["c.constrained"] = _pack([i for i, c in enumerate(custs) if c.constrained])
    barred = [i for i, c in enumerate(custs) if c.bars]
    out["c.bars"] = _pack(barred)
    out["c.bars.len"] = _lengths([custs[i].bars for i in barred])
    out["c.bars.kv"] = _pack([x for i in barred for kv in custs[i].bars.items() for x in kv])


# ---------------------------------------------------------------- load


def load(config: ResolverConfig, data: bytes, *, track_changes: bool = True) -> Graph:
    """The graph a snapshot holds, with `config` (the one it was written with: it is not stored).

    Raises:
        SnapshotError: `data` is not a snapshot, is of another format version, or is damaged.
    """
    body = _body(data)
    try:
        sections = marshal.loads(body)
    except (EOFError, ValueError, TypeError) as exc:
        raise SnapshotError("the snapshot is damaged (cannot decode it): rebuild the state") from exc
    if not isinstance(sections, dict):
        raise SnapshotError("the snapshot is damaged (no sections): rebuild the state")
    collecting = gc.isenabled()
    # Millions of new objects and no garbage: a collection during the load would only rescan them.
    gc.disable()
    try:
        return _Loader(config, sections, track_changes).graph()
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise SnapshotError(f"the snapshot is damaged ({type(exc).__name__}: {exc}): rebuild the state") from exc
    finally:
        if gc.get_freeze_count() == 0:
            # Move what was just made straight to the oldest generation (O(1)): the state lives
            # as long as the process, and a young collection would otherwise traverse all of it
            # at the next allocation (a quarter of the load's time again, measured).
            gc.freeze()
            gc.unfreeze()
        if collecting:
            gc.enable()


def _body(data: bytes) -> memoryview:
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise SnapshotError("not an IRL snapshot (wrong magic bytes)")
    if len(view) < _HEAD:
        raise SnapshotError("the snapshot is truncated: rebuild the state")
    version = view[len(MAGIC)]
    if version != VERSION:
        raise SnapshotError(
            f"snapshot format version {version}, this IRL reads version {VERSION}: "
            "rebuild the state from its records or the log (or load it with a matching IRL)"
        )
    body = view[_HEAD:]
    if zlib.crc32(body) != int.from_bytes(view[len(MAGIC) + 1 : _HEAD], "little"):
        raise SnapshotError("the snapshot is damaged (checksum mismatch): rebuild the state")
    return body


class _Loader:
    """Builds a graph from decoded sections (one use)."""

    def __init__(self, config: ResolverConfig, sections: dict[str, Any], track_changes: bool) -> None:
        self.p = sections
        self.g = Graph(config, track_changes=track_changes)
        self.strings: list[Any] = sections["strings"]
        n, e, c = sections["nodes"], sections["evidence"], sections["customers"]
        runs = list(accumulate((1, n, e, e, e, c)))
        self.keys, self.vids, self.eids, self.srcs, self.cids = (self.strings[a:b] for a, b in pairwise(runs))

    def ints(self, name: str) -> list[int]:
        return _unpack(self.p[name])

    def strs(self, name: str) -> list[Any]:
        return list(map(self.strings.__getitem__, _column(self.p[name])))

    def graph(self) -> Graph:
        g = self.g
        self._nodes()
        self._evidence()
        members = self.strs("u.key") if "u.key" in self.p else self.keys
        g.uf = DisjointSet.from_groups(self.strs("u.root"), _split(members, self.ints("u.len")))
        self._customers()
        g.absorbed = dict(zip(self.strs("a.from"), self.strs("a.to"), strict=True))
        g.erased = set(self.strs("erased"))
        g.suppressed = set(self.strs("suppressed"))
        horizon, watermark = g.config.duplicate_horizon_ms, self.p["h.watermark"]
        g.recent = RecentEvents.from_columns(
            horizon, watermark, self.strs("h.eid"), self.ints("h.stamp"), self.strs("h.vid")
        )
        g.split_seq = self.p["split_seq"]
        g.merges = self.p["merges"]
        if g.near_on:
            g.near_index.add_all(k for k in self.keys if k[0] == "p" and PERSON not in k)
        g.dirty.clear()
        return g

    def _nodes(self) -> None:
        lists = _split(self.strs("n.ev"), self.ints("n.ev.len"))
        codes = self.ints("n.sig.len")
        held = _split(self.strs("n.sig"), [c - 1 if c else 0 for c in codes])
        sigs = [sig if c else None for sig, c in zip(held, codes, strict=True)]
        nodes = self.g.nodes

        def node(key: str, evidence: list[str], sig: list[str] | None) -> Node:
            # Every slot and the dict entry in one call: one visit per node, not three.
            made: Node = _new(Node)
            made.status = OK
            made.evidence = evidence
            made.sig = sig
            made.pairs = None
            made.shared = False
            made.bars = ()
            made.names = None
            made.groups = None
            made.near = None
            nodes[key] = made
            return made

        made = list(map(node, self.keys, lists, sigs))
        for i, status in zip(self.ints("n.status"), self.strs("n.status.s"), strict=True):
            made[i].status = status
        for i in self.ints("n.shared"):
            made[i].shared = True
        for i, bars in zip(self.ints("n.bars"), _pairs(self.ints("n.bars.sp"), self.ints("n.bars.len")), strict=True):
            made[i].bars = tuple(zip(bars[::2], bars[1::2], strict=True))
        parts = _pairs(self.strs("n.pairs.ec"), self.ints("n.pairs.len"))
        for i, part in zip(self.ints("n.pairs"), parts, strict=True):
            made[i].pairs = list(zip(part[::2], part[1::2], strict=True))
        lengths = self.ints("n.names.len")
        names = zip(_split(self.strs("n.names.c"), lengths), _split(self.ints("n.names.n"), lengths), strict=True)
        for i, (classes, counts) in zip(self.ints("n.names"), names, strict=True):
            made[i].names = dict(zip(classes, counts, strict=True))
        parts = _pairs(self.strs("n.groups.ck"), self.ints("n.groups.len"))
        for i, part in zip(self.ints("n.groups"), parts, strict=True):
            made[i].groups = dict(zip(part[::2], part[1::2], strict=True))
        lengths = self.ints("n.near.len")
        near = zip(_split(self.strs("n.near.k"), lengths), _split(self.ints("n.near.on"), lengths), strict=True)
        for i, (others, used) in zip(self.ints("n.near"), near, strict=True):
            made[i].near = dict(zip(others, map(bool, used), strict=True))

    def _evidence(self) -> None:
        g = self.g
        srcs = self.srcs
        ats = self.ints("e.at")
        lasts = list(ats)
        for i, delta in zip(self.ints("e.later"), self.ints("e.later.d"), strict=True):
            lasts[i] = ats[i] + delta
        keys = _split(tuple(self.strs("e.keys")), self.ints("e.keys.len"))
        rejected: list[tuple[str, ...]] = [()] * len(ats)
        held = _split(self.strs("e.rejected.s"), self.ints("e.rejected.len"))
        for i, values in zip(self.ints("e.rejected"), held, strict=True):
            rejected[i] = tuple(values)
        evidence, by_content = g.evidence, g.by_content

        def piece(
            vid: str,
            eid: str,
            at: int,
            last: int,
            count: int,
            tp: str,
            src: str,
            name: str | None,
            keys: tuple[str, ...],
            rejected: tuple[str, ...],
            anchor: str,
        ) -> Evidence:
            # Every slot and both dict entries in one call: one visit per piece, not four.
            ev: Evidence = _new(Evidence)
            ev.vid = vid
            ev.eid = eid
            ev.at = at
            ev.last = last
            ev.count = count
            ev.tp = tp
            ev.src = src
            ev.name = name
            ev.keys = keys
            ev.rejected = rejected
            ev.anchor = anchor
            ev.cut = False
            ev.note = None
            evidence[vid] = ev
            by_content[tp, src, name, keys, rejected] = ev
            return ev

        column = self.strings.__getitem__
        tps, names, anchors = (map(column, _column(self.p[f])) for f in ("e.tp", "e.name", "e.anchor"))
        columns = (ats, lasts, self.ints("e.count"), tps, srcs, names, keys, rejected, anchors)
        evs = list(map(piece, self.vids, self.eids, *columns))
        for i in self.ints("e.cut"):
            evs[i].cut = True
        for i, note in zip(self.ints("e.note"), self.strs("e.note.s"), strict=True):
            evs[i].note = note
        loose = set(self.ints("e.loose"))
        if loose:
            # Pieces that do not answer for their content (rare: after some erasures).
            g.by_content = {ev.content(): ev for i, ev in enumerate(evs) if i not in loose}

    def _customers(self) -> None:
        g = self.g
        cust, by_root = g.cust, g.by_root

        def customer(cid: str, root: str, first: int, phones: int, emails: int) -> Customer:
            made: Customer = _new(Customer)
            made.cid = cid
            made.root = root
            made.first = first
            made.phones = phones
            made.emails = emails
            made.bars = {}
            made.constrained = False
            cust[cid] = made
            by_root[root] = cid
            return made

        columns = (self.ints("c.first"), self.ints("c.phones"), self.ints("c.emails"))
        custs = list(map(customer, self.cids, self.strs("c.root"), *columns))
        for i in self.ints("c.constrained"):
            custs[i].constrained = True
        for i, part in zip(self.ints("c.bars"), _pairs(self.ints("c.bars.kv"), self.ints("c.bars.len")), strict=True):
            custs[i].bars = dict(zip(part[::2], part[1::2], strict=True))
