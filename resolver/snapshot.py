"""Snapshots: the whole core state as one compact binary value, written and loaded whole.

`dump` writes a `resolver.graph.Graph` as bytes and `load` gives back an equal graph: the
same answers and the same future (the same further events and actions give the same
outcomes and the same state records, `resolver.records`, as the original). Records are one
JSON value per key, so the shell can write what changed; a snapshot is everything at once,
laid out to load fast:

* **Columns**, not records: one array per field across all evidence (or nodes, customers),
  read off the objects by `operator.attrgetter` and transposed by `zip` (in C: on a large
  state the cost of a dump is touching each object once, not Python code per object), and
  loaded with a few large decodes in C and one short pass per object.
* **One string table**: every string is written once where it is first needed and columns
  hold its index (0 is None), so a loaded graph shares one string object per identifier.
* **Fixed-width integers**: each integer column is an `array` of unsigned 32-bit items when
  they all fit, else signed 64-bit (little-endian), chosen without a pass over the column.
* **The state's own order**: the graph's dicts (nodes, evidence, customers, union-find sets,
  absorbed ids, remembered events) are written in their insertion order and loaded back in
  it, so no sorting and no walk per customer. Nothing reads the graph's dicts in their
  insertion order for an answer (every answer sorts); the order only makes the bytes
  reproducible (below).

Format, version 4::

    b"IRLSNAP" | version (1 byte) | CRC-32 of the body (4 bytes, little-endian) | body
    body = marshal (version 2) of {section name: int | None | bytes | list[str | None]}

The checksum catches damage in storage or transit; a snapshot is trusted data (the state
the worker wrote itself), since marshal is not made for data from others. Version 2 (which
marked the pieces of evidence that do not answer for their content, ``e.loose``, where 3
writes the content index's exceptions) and version 3 (without the near-phone index, which 4
writes) are read too, more slowly (a digest per piece; the index rebuilt); version 1
(written customer by customer, narrowest integer types) is not: rebuild from records or the log.

The string table (section ``strings``) starts with None, then three runs the loader slices
whole: node keys, evidence ids, the customer ids; then every other string in order of first
use (the remembered event ids are one more run, but for those that are the earliest event
of their evidence: ``h.own`` marks them, and a load reads them off the evidence's text).
The earliest event id and the source id of each piece of evidence are not strings of the
table but UTF-8 texts with their byte lengths (``e.eid``, ``e.src``: version 3 had them as
two more runs), which a load keeps as they are until a piece is read. Sections ``n.*`` are
the nodes (evidence lists, hub signals; sparse: status, shared, split barriers, household
pairs, names, per-person split, near candidates), ``e.*`` the evidence (every field),
``o.*`` the exceptions of the content index (`resolver.evidence.ContentIndex`: each
content, and the id of its piece or None), ``u.*``
the union-find as each set's root and its members in their order (roots, never parent
pointers: see `resolver.unionfind`), ``c.*`` customers, ``a.*``
absorbed ids, ``erased``, ``suppressed`` (sorted: sets have no order of their own), ``h.*``
the duplicate horizon's events and its watermark, and the split counter and merge count;
``l.*`` the operator merges (numbers, then their two evidence ids each, in their order) and
``merge_seq``, ``r.ab`` the dismissed review items (sorted pairs of customer ids), ``nr.*``
the near-phone index (`resolver.near.NearIndex`: bucket names, sizes, keys, in its order). A
snapshot written before operator merges has no ``l.*`` and loads with none.
A load keeps the evidence in columns (`resolver.evidence_table`): a piece becomes an object
when first read, and a dump reads the columns of those never read. Rebuilt on load:
customer by root, and the index of operator merges by evidence. Not kept: memos (profiles,
near links, name classes), which refill on use, and the change set of `resolver.records`: a
loaded graph has nothing to drain, so drain before dumping. A snapshot is taken between steps (no regroup pending).

The bytes are a function of the state and of the order its dicts were filled in, which is a
function of the calls made (the log): the same log gives the same bytes, a load keeps the
order, so ``dump(load(c, dump(g))) == dump(g)`` and a graph and its loaded copy that take
the same steps dump equal bytes. (Two graphs holding equal state built by different
histories, say one restored from records, may dump different bytes that load to equal
answers.) Marshal version 2 writes no object references, so the bytes do not depend on
which equal strings happen to be one object in memory either.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, chain, compress, count, pairwise, repeat
from operator import eq, is_not, itemgetter, ne, not_, sub
from typing import Any, TypeVar, cast, overload

from resolver.config import ResolverConfig
from resolver.customer_table import CustomerColumns, CustomerTable
from resolver.customer_table import field_columns as customer_columns
from resolver.evidence import Content, Evidence
from resolver.evidence_table import EvidenceColumns, EvidenceTable, field_columns, read_texts
from resolver.graph import (
    OK,
    PERSON,
    Graph,
    name_keys,
    name_support,
)
from resolver.horizon import RecentEvents
from resolver.near import NearIndex
from resolver.node_table import NodeColumns, NodeTable
from resolver.node_table import field_columns as node_columns
from resolver.unionfind import DisjointSet

__all__ = ["MAGIC", "VERSION", "SnapshotError", "dump", "load"]

#: The first bytes of every snapshot.
MAGIC = b"IRLSNAP"
#: The format written by `dump`; `load` reads it and `_OLDER`.
VERSION = 4
#: Older formats `load` reads (3: without the near-phone index, rebuilt on load).
_OLDER = (2, 3)

_HEAD = len(MAGIC) + 1 + 4
#: No object references (marshal 3+ adds them by object identity): bytes depend on values only.
_MARSHAL = 2
_SWAP = sys.byteorder != "little"
#: Integer array types tried in turn: unsigned 32-bit, signed 64-bit (each 4 and 8 bytes on every platform we run).
_CODES = ("I", "q")
#: An integer column too wide for 64 bits: marshalled as a list instead.
_WIDE = b"*"
T = TypeVar("T")

_new = object.__new__


class SnapshotError(ValueError):
    """Bytes that are not a snapshot this version reads: rebuild the state from its records or the log."""


# ---------------------------------------------------------------- encoding


def _pack(values: Sequence[int]) -> bytes:
    """An integer column: its array type code, then the items (little-endian).

    Unsigned 32-bit when every item fits (indices, lengths, counts), else signed 64-bit
    (times), else a marshalled list. The first type that takes the column is chosen by
    trying it (a failure stops at the first item that does not fit): no pass to find the
    range first, since on a large state each pass over cold integers costs as much as the
    packing itself.
    """
    for code in _CODES:
        try:
            packed = array(code, values)
        except OverflowError:
            continue
        if _SWAP:
            packed.byteswap()
        return code.encode("ascii") + packed.tobytes()
    return _WIDE + marshal.dumps(list(values), _MARSHAL)


def _unpack(data: bytes) -> list[int]:
    column = _column(data)
    return column if isinstance(column, list) else column.tolist()


def _halves(flat: Sequence[T]) -> Iterator[tuple[T, T]]:
    """Consecutive pairs of `flat` (a, b, c, d -> (a, b), (c, d))."""
    return zip(flat[::2], flat[1::2], strict=True)


def _text(values: Iterable[str]) -> tuple[bytes, bytes]:
    """Strings as one UTF-8 text (lone surrogates kept, as JSON may bring them) and their packed byte lengths."""
    encoded = list(map(str.encode, values, repeat("utf-8"), repeat("surrogatepass")))
    return b"".join(encoded), _pack(list(map(len, encoded)))


def _starts(lengths: Iterable[int]) -> array[int]:
    """Start offsets of consecutive runs of `lengths`, and the end of the last (one more item)."""
    return array("Q", chain((0,), accumulate(lengths)))


def _array(data: bytes) -> array[int]:
    """An integer column as an array (signed 64-bit when too wide for its own code)."""
    column = _column(data)
    return column if isinstance(column, array) else array("q", column)


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

    def refs(self, values: list[str | None] | list[str]) -> bytes:
        """The packed indices of `values`, adding new strings in order of first use."""
        index = self.index
        try:
            return _pack(list(map(index.__getitem__, values)))
        except KeyError:
            pass
        # New strings in order of first use (dict.fromkeys keeps it; None is always known).
        self.run([value for value in dict.fromkeys(values) if value is not None and value not in index])
        return _pack(list(map(index.__getitem__, values)))


def _lengths(groups: Iterable[Sequence[Any] | dict[Any, Any]]) -> bytes:
    return _pack(list(map(len, groups)))


@overload
def _split(flat: list[T], lengths: list[int]) -> list[list[T]]: ...
@overload
def _split(flat: tuple[T, ...], lengths: list[int]) -> list[tuple[T, ...]]: ...
def _split(flat: Sequence[T], lengths: list[int]) -> list[Any]:
    """`flat` cut into consecutive runs of `lengths`, of its own type (C-level slicing, no Python loop)."""
    ends = list(accumulate(lengths))
    return list(map(flat.__getitem__, map(slice, chain((0,), ends), ends)))


def _tuples(flat: Iterable[T], lengths: Iterable[int]) -> list[tuple[T, ...]]:
    """`flat` cut into consecutive tuples of `lengths` (each made by a `zip` over one iterator, in C).

    Faster than slicing for short runs: a zip of k copies of one iterator takes the next k
    items per call, and the lengths pick the zip (the shared empty tuple for 0).
    """
    lengths = lengths if isinstance(lengths, list) else list(lengths)
    items = iter(flat)
    makers: list[Iterator[tuple[T, ...]]] = [repeat(())]
    makers += [zip(*repeat(items, k), strict=True) for k in range(1, max(lengths, default=0) + 1)]
    return list(map(next, map(makers.__getitem__, lengths)))


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
    keys = list(g.nodes)
    cids = list(g.cust)
    out["nodes"], out["evidence"], out["customers"] = len(keys), len(g.evidence), len(cids)
    ev_cols = field_columns(g.evidence)  # a loaded table's cold pieces stay cold
    s.run(keys)
    s.run(list(ev_cols[0]))  # evidence ids
    s.run(cids)
    # Earliest event ids and source ids: one per piece and read only when it is: text, not strings.
    out["e.eid"], out["e.eid.len"] = _text(ev_cols[1])
    out["e.src"], out["e.src.len"] = _text(ev_cols[6])
    _dump_nodes(node_columns(g.nodes), s, out)  # a loaded table's cold nodes stay cold
    _dump_evidence(g, ev_cols, s, out)
    roots, groups = g.uf.groups()
    out["u.root"] = s.refs(roots)
    out["u.len"] = _lengths(groups)
    out["u.key"] = s.refs(list(chain.from_iterable(groups)))
    _dump_customers(customer_columns(g.cust), s, out)  # a loaded table's cold customers stay cold
    out["a.from"] = s.refs(list(g.absorbed))
    out["a.to"] = s.refs(list(g.absorbed.values()))
    out["erased"] = s.refs(sorted(g.erased))
    out["suppressed"] = s.refs(sorted(g.suppressed))
    eids, stamps, vids = g.recent.columns()
    # Whether each remembered event is the earliest of its evidence (read off the columns: nothing thawed).
    eid_of = dict(zip(ev_cols[0], ev_cols[1], strict=True))
    own = list(map(eq, eids, map(eid_of.get, vids)))
    others = list(compress(eids, map(not_, own)))
    out["h.own"] = _pack(_where(own))
    out["h.eid"] = _pack(range(len(s.table), len(s.table) + len(others)))
    s.run(others, referred=False)
    out["h.stamp"] = _pack(stamps)
    out["h.vid"] = s.refs(vids)
    out["h.watermark"] = g.recent.watermark
    out["split_seq"] = g.split_seq
    out["merges"] = g.merges
    out["merge_seq"] = g.merge_seq
    buckets, sizes, near = g.near_index.columns()
    out["nr.b"], out["nr.len"], out["nr.k"] = s.refs(buckets), _pack(sizes), s.refs(near)
    out["l.no"] = _pack(list(g.must))
    out["l.ab"] = s.refs([v for pair in g.must.values() for v in pair])
    dismissed = sorted(g.dismissed)
    out["r.ab"] = s.refs([c for item in dismissed for c in item])
    out["strings"] = s.table
    body = marshal.dumps(out, _MARSHAL)
    return MAGIC + bytes((VERSION,)) + zlib.crc32(body).to_bytes(4, "little") + body


_CONTENT = itemgetter(0, 1, 2, 3, 4)


def _transpose(fields: Callable[[Any], tuple[Any, ...]], objs: list[Any], width: int) -> list[tuple[Any, ...]]:
    """One tuple per field across `objs` (the attribute reads and the transposition run in C)."""
    return list(zip(*map(fields, objs), strict=True)) if objs else [()] * width


def _where(values: Iterable[Any]) -> list[int]:
    """Indices of the truthy items (in C)."""
    return list(compress(count(), values))


def _not_none(values: Iterable[Any]) -> list[int]:
    return _where(map(is_not, values, repeat(None)))


def _dump_nodes(columns: list[Sequence[Any]], s: _Strings, out: dict[str, Any]) -> None:
    held, sig, status, shared, bars, pairs, names, groups, near = columns
    held = [(h,) if h.__class__ is str else h for h in held]  # a node's one piece is its id alone
    out["n.ev.len"] = _lengths(held)
    out["n.ev"] = s.refs(list(chain.from_iterable(held)))
    # 0: no signals kept (None); n + 1: a list of n
    out["n.sig.len"] = _pack([0 if x is None else len(x) + 1 for x in sig])
    out["n.sig"] = s.refs(list(chain.from_iterable(x for x in sig if x)))
    odd = _where(map(ne, status, repeat(OK)))
    out["n.status"] = _pack(odd)
    out["n.status.s"] = s.refs([status[i] for i in odd])
    out["n.shared"] = _pack(_where(shared))
    at = _where(bars)
    out["n.bars"] = _pack(at)
    out["n.bars.len"] = _lengths([bars[i] for i in at])
    out["n.bars.sp"] = _pack([x for i in at for bar in bars[i] for x in bar])
    at = _not_none(pairs)
    out["n.pairs"] = _pack(at)
    out["n.pairs.len"] = _lengths([pairs[i] for i in at])
    out["n.pairs.ec"] = s.refs([x for i in at for pair in pairs[i] for x in pair])
    at = _not_none(names)
    out["n.names"] = _pack(at)
    out["n.names.len"] = _pack([len(names[i]) // 2 for i in at])
    out["n.names.c"] = s.refs([c for i in at for c in name_keys(names[i])])
    out["n.names.n"] = _pack([n for i in at for n in name_support(names[i])])
    at = _not_none(groups)
    out["n.groups"] = _pack(at)
    out["n.groups.len"] = _lengths([groups[i] for i in at])
    out["n.groups.ck"] = s.refs([x for i in at for kv in groups[i].items() for x in kv])
    at = _not_none(near)
    out["n.near"] = _pack(at)
    out["n.near.len"] = _lengths([near[i] for i in at])
    out["n.near.k"] = s.refs([k for i in at for k in near[i]])
    out["n.near.on"] = _pack([int(v) for i in at for v in near[i].values()])


def _dump_evidence(g: Graph, cols: list[Sequence[Any]], s: _Strings, out: dict[str, Any]) -> None:
    _, _, ats, lasts, counts, tps, _, names, keys, rejected, anchors, cut, notes = cols
    out["e.tp"], out["e.name"], out["e.anchor"] = s.refs(list(tps)), s.refs(list(names)), s.refs(list(anchors))
    out["e.at"] = _pack(ats)
    out["e.count"] = _pack(counts)
    # Sparse: a loaded piece seen once shares one int object for first and last seen.
    later = _where(map(ne, lasts, ats))
    out["e.later"] = _pack(later)
    out["e.later.d"] = _pack([lasts[i] - ats[i] for i in later])
    out["e.keys.len"] = _lengths(keys)
    out["e.keys"] = s.refs(list(chain.from_iterable(keys)))
    at = _where(rejected)
    out["e.rejected"] = _pack(at)
    out["e.rejected.len"] = _lengths([rejected[i] for i in at])
    out["e.rejected.s"] = s.refs([x for i in at for x in rejected[i]])
    out["e.cut"] = _pack(_where(cut))
    at = _not_none(notes)
    out["e.note"] = _pack(at)
    out["e.note.s"] = s.refs([notes[i] for i in at])
    # The exceptions of `by_content` (after erasures), in their order; the rest is derived.
    odd = g.by_content.odd
    tps, srcs, names, keys, rejected = _transpose(_CONTENT, list(odd), 5)
    out["o.tp"], out["o.src"], out["o.name"] = s.refs(list(tps)), s.refs(list(srcs)), s.refs(list(names))
    out["o.keys.len"], out["o.keys"] = _lengths(keys), s.refs(list(chain.from_iterable(keys)))
    out["o.rejected.len"], out["o.rejected"] = _lengths(rejected), s.refs(list(chain.from_iterable(rejected)))
    out["o.ev"] = s.refs([None if ev is None else ev.vid for ev in odd.values()])


def _dump_customers(columns: list[Sequence[Any]], s: _Strings, out: dict[str, Any]) -> None:
    roots, first, phones, emails, bars, constrained = columns
    out["c.root"] = s.refs(list(roots))
    out["c.first"] = _pack(first)
    out["c.phones"] = _pack(phones)
    out["c.emails"] = _pack(emails)
    out["c.constrained"] = _pack(_where(constrained))
    barred = _where(bars)
    out["c.bars"] = _pack(barred)
    out["c.bars.len"] = _lengths([bars[i] for i in barred])
    out["c.bars.kv"] = _pack([x for i in barred for kv in bars[i].items() for x in kv])


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
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
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
    if version != VERSION and version not in _OLDER:
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
        #: where each run of the string table starts: node keys, evidence ids, earliest event ids, source ids, customers
        if "e.eid" in sections:
            runs = list(accumulate((1, n, e, c)))
            self.keys, self.vids, self.cids = (self.strings[a:b] for a, b in pairwise(runs))
            self.eid_text = (sections["e.eid"], _starts(_column(sections["e.eid.len"])))
            self.src_text = (sections["e.src"], _starts(_column(sections["e.src.len"])))
        else:  # version 3 and older: earliest event ids and source ids are runs of the string table
            runs = list(accumulate((1, n, e, e, e, c)))
            self.keys, self.vids, eids, srcs, self.cids = (self.strings[a:b] for a, b in pairwise(runs))
            (eid, eid_len), (src, src_len) = _text(eids), _text(srcs)
            self.eid_text, self.src_text = (eid, _starts(_column(eid_len))), (src, _starts(_column(src_len)))
        #: row numbers, one int object each, shared by the cold tables (`resolver.cold.ColdTable`)
        self.rows = list(range(max(n, e, c)))

    def ints(self, name: str) -> list[int]:
        return _unpack(self.p[name])

    def refs(self, name: str) -> array[int]:
        """A column of string references (indices into the string table) as an array."""
        return _array(self.p[name])

    def strs(self, name: str) -> list[Any]:
        return list(self.each(name))

    def each(self, name: str) -> Iterator[Any]:
        """The strings of a column one by one (no list of them: each is touched once, into its container)."""
        return map(self.strings.__getitem__, _column(self.p[name]))

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
        vids = self.strs("h.vid")
        g.recent = RecentEvents.from_columns(horizon, watermark, self._recent_ids(vids), self.ints("h.stamp"), vids)
        # After the remembered events, which read the evidence's rows before any piece is thawed.
        if "e.loose" in self.p:
            self._odd_v2()
        else:
            self._odd()
        g.split_seq = self.p["split_seq"]
        g.merges = self.p["merges"]
        if "l.no" in self.p:  # written before operator merges: none, and nothing dismissed
            g.merge_seq = self.p["merge_seq"]
            ends = self.strs("l.ab")
            for i, number in enumerate(self.ints("l.no")):
                g.add_must(number, ends[2 * i], ends[2 * i + 1])
            ids = self.strs("r.ab")
            g.dismissed = set(zip(ids[::2], ids[1::2], strict=True))
        if "nr.b" in self.p:
            g.near_index = NearIndex.from_columns(self.strs("nr.b"), self.ints("nr.len"), self.strs("nr.k"))
        elif g.near_on:  # version 3 and older: rebuilt
            g.near_index.add_all(k for k in self.keys if k[0] == "p" and PERSON not in k)
        g.dirty.clear()
        return g

    def _recent_ids(self, vids: list[str]) -> list[str]:
        """The remembered event ids: their evidence's own string where ``h.own`` marks it, else the run's."""
        others = self.strs("h.eid")
        own = self.ints("h.own") if "h.own" in self.p else []  # none in version 2
        if not own:
            return others
        # The evidence's own earliest event id, read off its cold row (no piece is thawed yet).
        table = cast("dict[str, Any]", self.g.evidence)
        rows: list[int] = list(map(dict.__getitem__, repeat(table), map(vids.__getitem__, own)))
        shared = iter(read_texts(self.eid_text, rows))
        flags = bytearray(len(vids))
        for i in own:
            flags[i] = 1
        # Each position takes the next id of its source (in C).
        return list(map(next, map((iter(others), shared).__getitem__, flags)))

    def _nodes(self) -> None:
        """The nodes as a `NodeTable` of cold rows: flat columns and sparse maps, no object per node."""
        keys = self.keys
        lengths, codes = self.ints("n.ev.len"), self.ints("n.sig.len")
        if len(lengths) != len(keys) or len(codes) != len(keys):
            raise ValueError("node columns and keys differ in length")
        # 0: no signals kept (None); n + 1: a tuple of n
        sig_lengths = list(map(max, map(sub, codes, repeat(1)), repeat(0)))
        bars = _pairs(self.ints("n.bars.sp"), self.ints("n.bars.len"))
        pairs = _pairs(self.strs("n.pairs.ec"), self.ints("n.pairs.len"))
        # Name support, dense: row r's name keys and counts are those of its run (empty without).
        named, name_lengths, names_has = self.ints("n.names"), [0] * len(keys), bytearray(len(keys))
        for i, length in zip(named, self.ints("n.names.len"), strict=True):
            name_lengths[i], names_has[i] = length, 1
        groups = _pairs(self.strs("n.groups.ck"), self.ints("n.groups.len"))
        lengths_r = self.ints("n.near.len")
        near = list(
            zip(_split(self.strs("n.near.k"), lengths_r), _split(self.ints("n.near.on"), lengths_r), strict=True)
        )
        if len(near) != len(self.ints("n.near")):
            raise ValueError("near candidates and their nodes differ in length")
        cold = NodeColumns(
            strings=self.strings,
            evidence=self.refs("n.ev"),
            ev_starts=_starts(lengths),
            sig=self.refs("n.sig"),
            sig_starts=_starts(sig_lengths),
            sig_none=set(_where(map(not_, codes))),
            status=dict(zip(self.ints("n.status"), self.strs("n.status.s"), strict=True)),
            shared=set(self.ints("n.shared")),
            bars={i: tuple(_halves(b)) for i, b in zip(self.ints("n.bars"), bars, strict=True)},
            pairs={i: list(_halves(p)) for i, p in zip(self.ints("n.pairs"), pairs, strict=True)},
            names_has=bytes(names_has),
            name_starts=_starts(name_lengths),
            name_keys=self.refs("n.names.c"),
            name_counts=_array(self.p["n.names.n"]),
            groups={i: dict(_halves(p)) for i, p in zip(self.ints("n.groups"), groups, strict=True)},
            near={
                i: dict(zip(k, map(bool, on), strict=True))
                for i, (k, on) in zip(self.ints("n.near"), near, strict=True)
            },
        )
        if cold.name_starts[-1] != len(cold.name_keys) or len(cold.name_keys) != len(cold.name_counts):
            raise ValueError("name support and its lengths disagree")
        if cold.ev_starts[-1] != len(cold.evidence) or cold.sig_starts[-1] != len(cold.sig):
            raise ValueError("node lengths and their columns disagree")
        # Row r's key is strings[1 + r] (`NodeColumns.key_of`): the node keys are the table's first run.
        self.g.nodes = NodeTable(keys, cold, self.rows)

    def _evidence(self) -> None:
        """The evidence as an `EvidenceTable` of cold rows: columns, and no object per piece."""
        g = self.g
        ats = _column(self.p["e.at"])
        lasts = array("q", ats)
        for i, delta in zip(self.ints("e.later"), self.ints("e.later.d"), strict=True):
            lasts[i] = ats[i] + delta
        lengths = self.ints("e.keys.len")
        starts = _starts(lengths)
        held = _tuples(self.each("e.rejected.s"), self.ints("e.rejected.len"))
        notes = zip(self.ints("e.note"), self.strs("e.note.s"), strict=True)
        strings = self.strings
        cold = EvidenceColumns(
            strings=strings,
            eid=self.eid_text,
            src=self.src_text,
            at=ats if isinstance(ats, array) else array("q", ats),
            last=lasts,
            count=_array(self.p["e.count"]),
            tp=self.refs("e.tp"),
            name=self.refs("e.name"),
            anchor=self.refs("e.anchor"),
            starts=starts,
            keys=self.refs("e.keys"),
            rejected=dict(zip(self.ints("e.rejected"), held, strict=True)),
            cut=set(self.ints("e.cut")),
            note=dict(notes),
        )
        if len(cold.tp) != len(ats) or len(cold.name) != len(ats) or len(cold.anchor) != len(ats):
            raise ValueError("evidence columns differ in length")
        texts = (cold.eid, cold.src)
        if any(len(t[1]) != len(ats) + 1 or t[1][-1] != len(t[0]) for t in texts):
            raise ValueError("evidence texts and their lengths disagree")
        if starts[-1] != len(cold.keys) or len(starts) != len(ats) + 1:
            raise ValueError("evidence keys and their lengths disagree")
        # The same table for the graph and its content index, which reads it.
        g.evidence = g.by_content.evidence = EvidenceTable(self.vids, cold, self.rows)

    def _odd(self) -> None:
        """The exceptions of the content index (`resolver.evidence.ContentIndex`), in their order."""
        evidence = self.g.evidence
        keys = _tuples(self.each("o.keys"), self.ints("o.keys.len"))
        rejected = _tuples(self.each("o.rejected"), self.ints("o.rejected.len"))
        contents = zip(self.strs("o.tp"), self.strs("o.src"), self.strs("o.name"), keys, rejected, strict=True)
        held = [None if vid is None else evidence[vid] for vid in self.strs("o.ev")]
        self.g.by_content.odd = dict(zip(contents, held, strict=True))

    def _odd_v2(self) -> None:
        """The content index of a version 2 snapshot: every piece but the loose ones answers for its content."""
        index = self.g.by_content
        evs = list(self.g.evidence.values())  # thawed: this older format is read the slow way
        loose = set(self.ints("e.loose"))
        held = {ev.content(): ev for i, ev in enumerate(evs) if i not in loose}
        odd: dict[Content, Evidence | None] = {c: ev for c, ev in held.items() if index.get(c) is not ev}
        for i in sorted(loose):
            content = evs[i].content()
            if content not in held and index.get(content) is not None:
                odd[content] = None
        index.odd = odd

    def _customers(self) -> None:
        """The customers as a `CustomerTable` of cold rows, and the index of customers by root."""
        g, cids = self.g, self.cids
        roots = self.refs("c.root")
        bars = _pairs(self.ints("c.bars.kv"), self.ints("c.bars.len"))
        cold = CustomerColumns(
            strings=self.strings,
            root=roots,
            first=_array(self.p["c.first"]),
            phones=_array(self.p["c.phones"]),
            emails=_array(self.p["c.emails"]),
            bars={i: dict(_halves(b)) for i, b in zip(self.ints("c.bars"), bars, strict=True)},
            constrained=set(self.ints("c.constrained")),
        )
        if not len(roots) == len(cold.first) == len(cold.phones) == len(cold.emails) == len(cids):
            raise ValueError("customer columns differ in length")
        g.cust = CustomerTable(cids, cold, self.rows)
        g.by_root.update(zip(map(self.strings.__getitem__, roots), cids, strict=True))
