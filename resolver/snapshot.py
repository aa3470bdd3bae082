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
  they all fit, else signed 64-bit (little-endian), chosen without a pass over the column
  (`resolver.columns`). Runs (a node's evidence, a piece's keys, its texts) are written as
  their start offsets, which a load takes as they are; flags as bytes, one per item.
* **The state's own order**: the graph's dicts (nodes, evidence, customers, union-find sets,
  absorbed ids, remembered events) are written in their insertion order and loaded back in
  it, so no sorting and no walk per customer. Nothing reads the graph's dicts in their
  insertion order for an answer (every answer sorts); the order only makes the bytes
  reproducible (below).

Format, version 8::

    b"IRLSNAP" | version (1 byte) | CRC-32 of the body (4 bytes, little-endian) | body
    body = marshal (version 2) of {section name: int | None | bytes | list[str | None]}

The checksum catches damage in storage or transit; a snapshot is trusted data (the state
the worker wrote itself), since marshal is not made for data from others. Version 8 is
version 7 with the remembered event ids one text with a hash index (``h.eid``, ``.at``,
``.h``, ``.o``; 7: strings of the table, those that are their evidence's earliest not written
but flagged, ``h.own``, ``h.row``), no bucket names in the near-phone index (``nr.first``:
whether each bucket is of its keys' first halves, ``nr.at``: start offsets of its keys,
``nr.h``, ``nr.o``: the CRC-32 index of the names; 7: ``nr.b``, ``nr.len``), first seen as
offsets from ``e.at0``, the touchpoints as codes into ``e.tp.c``, and any text of ids that
are one prefix and fixed-width lowercase hex digits each (``e.vid``, ``c.id``, ``e.eid``,
``h.eid``) as the bytes of the digits with the prefix in ``.hex`` and no ``.at``
(`resolver.text_keys.hex_form`); version 7 is read as it is (its horizon and near-phone
index loaded as dicts, as 7 did). Version 7 is
version 6 with the evidence and customer ids out of the string table (below); version 6 is
read as it is, the ids' runs of its string table made `resolver.text_keys.TextKeys` at load
(a hash and a sort per id: slower). Version 6 is version 5 whose per-person splits
(``n.groups``) may hold touchpoint identities too (an
account split between people, `resolver.households.account_split`); version 5 is read as it
is (it holds none), and an IRL that reads version 5 refuses version 6 rather than drop the
splits. Version 2 (which
marked the pieces of evidence that do not answer for their content, ``e.loose``, where 3
writes the content index's exceptions) and version 3 (without the near-phone index, which 4
writes) are read too, more slowly (a digest per piece; the index rebuilt), and so is version
4 (run lengths, ``.len``, where 5 writes start offsets, ``.at``; every set's members where 5
writes a singleton as its root alone; the remembered events of ``h.own`` as their positions,
the evidence rows looked up); version 1 (written customer by customer, narrowest integer
types) is not: rebuild from records or the log.

The string table (section ``strings``) starts with None, then a run the loader slices
whole, the node keys (version 6 and older: three runs, node keys, evidence ids, customer
ids); then every other string in order of first
use (version 7: the remembered event ids are one more run, but for those that are the
earliest event of their evidence: ``h.own`` flags them, ``h.row`` gives their evidence's
rows, and a load reads them off the evidence's text; version 8 writes them as a text with
its index, which a load keeps: `resolver.horizon.ColdEvents`). The earliest event id and the source id of each piece
of evidence are not strings of the table but UTF-8 texts with their start offsets
(``e.eid``, ``e.src``: version 3 had them as two more runs), which a load keeps as they are
until a piece is read. So are the evidence ids and the customer ids (``e.vid``, ``c.id``,
and ``.at``), with their hash index (``.h``: the CRC-32 of each id sorted, ``.o``: the rows in
that order), which a load keeps as `resolver.text_keys.TextKeys`: a loaded piece's or
customer's id is no string until read (the node keys, strings of the table, have such an
index too: ``n.key.h``, ``n.key.o``), and the index of customers by root maps a loaded
root to its customer's row (`resolver.customer_table.CustomerIds`). A customer id named
elsewhere (absorbed into, erased, dismissed) is a string of the table.
The columns that name evidence ids (``n.ev``, ``h.vid``, ``l.ab``, ``o.ev``) hold the row of
the piece, or the number of pieces plus a string reference for an id no piece holds (None:
0). Sections ``n.*`` are the nodes (evidence lists, hub signals; sparse:
status, shared, split barriers, household pairs, per-person split, near candidates; dense:
name support), ``e.*`` the evidence (every field), ``o.*`` the exceptions of the content
index (`resolver.evidence.ContentIndex`: each content, and the id of its piece or None),
``u.*`` the union-find as each set's root, a flag for the sets of more than one member and
their members in their order (roots, never parent pointers: see `resolver.unionfind`), the
roots' hash index (``u.root.h``, ``u.root.o``) and, when the forest's keys are the node keys
(as the core keeps them), each node's root (``u.of``): a load then keeps the forest cold
(`resolver.unionfind.DisjointSet.from_columns`),
``c.*`` customers, ``a.*`` absorbed ids, ``erased``, ``suppressed`` (sorted: sets have no
order of their own), ``h.*`` the duplicate horizon's events and its watermark, and the split
counter and merge count; ``l.*`` the operator merges (numbers, then their two evidence ids
each, in their order) and ``merge_seq``, ``r.ab`` the dismissed review items (sorted pairs
of customer ids), ``nr.*`` the near-phone index (`resolver.near.NearIndex`: its buckets in
its order, kept cold by a load: `resolver.near.BucketKeys`). A snapshot written before
operator merges has no ``l.*`` and loads with none.
A load keeps the evidence in columns (`resolver.evidence_table`): a piece becomes an object
when first read, and a dump reads the columns of those never read. Rebuilt on load:
customer by root (cold: the roots' hash index ``c.root.h``, ``c.root.o``), and the index
of operator merges by evidence. Not kept: memos (profiles,
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
import zlib
from array import array
from collections.abc import Iterator, Mapping
from itertools import accumulate, chain, compress, count, pairwise, repeat
from operator import eq, gt, itemgetter, not_, sub
from typing import Any, cast

from resolver import columns as col
from resolver.cold import ColdTable, TextTable
from resolver.config import ResolverConfig
from resolver.customer_table import CustomerColumns, CustomerIds, CustomerTable
from resolver.customer_table import field_columns as customer_columns
from resolver.evidence import Content, Evidence
from resolver.evidence_table import EvidenceColumns, EvidenceTable, Text, field_columns, read_texts
from resolver.graph import (
    PERSON,
    Graph,
)
from resolver.horizon import ColdEvents, RecentEvents
from resolver.near import BucketKeys, NearIndex
from resolver.node_table import NodeColumns, NodeTable
from resolver.node_table import field_columns as node_columns
from resolver.snapshot_columns import dump_customers, dump_evidence, dump_nodes
from resolver.string_table import (
    StringTable,
    encoded,
    key_index_of,
    key_text,
    loaded_key_index,
    loaded_key_text,
    text_of,
    vid_refs,
)
from resolver.text_keys import HexKeys, HexText, Keys, RefKeys, StrKeys, TextKeys
from resolver.unionfind import ColdSets, DisjointSet

__all__ = ["MAGIC", "VERSION", "SnapshotError", "dump", "graph_of", "load", "sections_of"]

#: The first bytes of every snapshot.
MAGIC = b"IRLSNAP"
#: The format written by `dump`; `load` reads it and `_OLDER`.
VERSION = 8
#: Older formats `load` reads (7: remembered event ids as strings of the table; 6: evidence ids as
#: strings of the table; 5: no touchpoint identity split; 4: run lengths where 5 writes start
#: offsets; 3: without the near-phone index).
_OLDER = (2, 3, 4, 5, 6, 7)

_HEAD = len(MAGIC) + 1 + 4

_new = object.__new__


class SnapshotError(ValueError):
    """Bytes that are not a snapshot this version reads: rebuild the state from its records or the log."""


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
    body = marshal.dumps(sections_of(g), col.MARSHAL)
    return MAGIC + bytes((VERSION,)) + zlib.crc32(body).to_bytes(4, "little") + body


def sections_of(g: Graph) -> dict[str, Any]:
    """The sections a snapshot of `g` encodes (bytes, ints, strs and the string table's list), not encoded.

    `graph_of` makes them a graph as `load` would (`resolver.compaction`: a state made cold in place).
    """
    out: dict[str, Any] = {}
    s = StringTable()
    keys = list(g.nodes)
    cids = list(g.cust)
    out["nodes"], out["evidence"], out["customers"] = len(keys), len(g.evidence), len(cids)
    ev_cols = field_columns(g.evidence)  # a loaded table's cold pieces stay cold
    vids = list(ev_cols[0])
    s.run(keys)
    # The node keys' hash index (`resolver.text_keys.StrKeys`): the keys are the table's first run.
    # A loaded table whose keys are still those it loaded (none added or deleted: after a restart,
    # most of the time) gives its keys' index and text as loaded, the same bytes without a pass.
    if not loaded_key_index("n.key", _loaded(g.nodes), out):
        key_index_of("n.key", encoded(keys), out)
    if not loaded_key_text("c.id", _loaded(g.cust), out):
        key_text("c.id", cids, out)
    # Evidence ids: one text and its hash index (`resolver.text_keys`), not strings of the table;
    # other columns refer to them by row (`resolver.string_table.vid_refs`).
    if not loaded_key_text("e.vid", _loaded(g.evidence), out):
        key_text("e.vid", vids, out)
    row_of = dict(zip(vids, count()))
    # Earliest event ids and source ids: one per piece and read only when it is: text, not strings.
    text_of("e.eid", list(ev_cols[1]), out)  # as hex digits' bytes when they are (`text_of`)
    out["e.src"], sizes = col.text(ev_cols[6])
    out["e.src.at"] = col.offsets(sizes)
    dump_nodes(node_columns(g.nodes), s, out, row_of)  # a loaded table's cold nodes stay cold
    dump_evidence(g, ev_cols, s, out, row_of)
    roots, groups = g.uf.groups()
    out["u.root"] = s.refs(roots)
    key_index_of("u.root", encoded(roots), out)
    # Each node's root, so that a load keeps the forest cold (when its keys are the node keys, as
    # the core keeps them: `Graph.ensure_pseudo` and the linking add a node and its key together).
    # (each member -> its root's reference: the roots are strings of the table already)
    root_refs = col.unpack(out["u.root"])
    owner = dict(
        zip(chain.from_iterable(groups), chain.from_iterable(map(repeat, root_refs, map(len, groups))), strict=True)
    )
    if len(owner) == len(keys):
        of: list[int | None] = list(map(owner.get, keys))
        if not of.count(None):
            out["u.of"] = col.pack(cast("list[int]", of))
    # Sets of more than one member (a flag per set), their sizes and members; a singleton is its root.
    many = bytes(map(gt, map(len, groups), repeat(1)))
    groups = list(compress(groups, many))
    out["u.many"], out["u.len"] = many, col.lengths(groups)
    out["u.key"] = s.refs(list(chain.from_iterable(groups)))
    dump_customers(customer_columns(g.cust), s, out)  # a loaded table's cold customers stay cold
    out["a.from"] = s.refs(list(g.absorbed))
    out["a.to"] = s.refs(list(g.absorbed.values()))
    out["erased"] = s.refs(sorted(g.erased))
    out["suppressed"] = s.refs(sorted(g.suppressed))
    eids, stamps, recent_vids = g.recent.columns()
    # The remembered event ids: one text with its hash index, which a load keeps (`resolver.horizon.ColdEvents`).
    key_text("h.eid", eids, out)
    out["h.stamp"] = col.pack(stamps)
    out["h.vid"] = vid_refs(recent_vids, row_of, s)
    out["h.watermark"] = g.recent.watermark
    out["split_seq"] = g.split_seq
    out["merges"] = g.merges
    out["merge_seq"] = g.merge_seq
    buckets, sizes, near = g.near_index.columns()
    # No bucket names: a name is a function of a key of its bucket and of its half (`resolver.near.BucketKeys`).
    out["nr.first"] = bytes(map(eq, map(itemgetter(-1), buckets), repeat("<")))
    out["nr.at"], out["nr.k"] = col.offsets(map(max, sizes, repeat(1))), s.refs(near)
    key_index_of("nr", encoded(buckets), out)
    out["l.no"] = col.pack(list(g.must))
    out["l.ab"] = vid_refs([v for pair in g.must.values() for v in pair], row_of, s)
    dismissed = sorted(g.dismissed)
    out["r.ab"] = s.refs([c for item in dismissed for c in item])
    out["strings"] = s.table
    return out


def _loaded(table: Mapping[str, Any]) -> Keys | None:
    """A loaded table's keys when they are still its keys (`resolver.cold.TextTable.loaded_keys`), else None."""
    return table.loaded_keys() if isinstance(table, TextTable) else None


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
    return graph_of(config, sections, track_changes=track_changes)


def graph_of(config: ResolverConfig, sections: dict[str, Any], *, track_changes: bool = True) -> Graph:
    """The graph of decoded snapshot `sections` (`load`'s, or `sections_of`'s without encoding them).

    Raises:
        SnapshotError: the sections are damaged.
    """
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
        #: the earliest event ids and the source ids of the evidence (`resolver.evidence_table.Text`)
        self.eid_text: Text | HexText
        self.src_text: Text
        #: where the evidence ids' run of the string table starts (version 6 and older), else None
        self.vid_run: int | None = 1 + n
        #: where each run of the string table starts: node keys, evidence ids, earliest event ids, source ids, customers
        if "e.vid" in sections:  # version 7: evidence and customer ids are texts of their own, with their index
            self.keys = self.strings[1 : 1 + n]
            self.vids, self.cids = self.key_text("e.vid"), self.key_text("c.id")
            self.vid_run = None
        elif "e.eid" in sections:
            runs = list(accumulate((1, n, e, c)))
            keys, vids, cids = (self.strings[a:b] for a, b in pairwise(runs))
            self.keys, self.vids, self.cids = keys, TextKeys.build(vids), TextKeys.build(cids)
        else:  # version 3 and older: earliest event ids and source ids are runs of the string table
            runs = list(accumulate((1, n, e, e, e, c)))
            keys, vids, eids, srcs, cids = (self.strings[a:b] for a, b in pairwise(runs))
            self.keys, self.vids, self.cids = keys, TextKeys.build(vids), TextKeys.build(cids)
            (eid, eid_sizes), (src, src_sizes) = col.text(eids), col.text(srcs)
            self.eid_text, self.src_text = (eid, col.starts(eid_sizes)), (src, col.starts(src_sizes))
        if "e.eid.hex" in sections:  # version 8: the earliest event ids as hex digits' bytes
            self.eid_text = HexText(sections["e.eid.hex"], sections["e.eid"], e)
            self.src_text = (sections["e.src"], self.starts("e.src"))
        elif "e.eid" in sections:
            self.eid_text = (sections["e.eid"], self.starts("e.eid"))
            self.src_text = (sections["e.src"], self.starts("e.src"))
        if "n.key.h" in sections:
            self.node_keys = StrKeys(self.strings, 1, self.refs("n.key.h"), self.refs("n.key.o"))
        else:
            self.node_keys = StrKeys.build(self.strings, 1, n)
        if len(self.vids) != e or len(self.cids) != c or len(self.node_keys) != n:
            raise ValueError("evidence or customer ids and their counts differ")

    def key_text(self, name: str) -> TextKeys:
        """Keys written as a text with its index (`resolver.string_table.key_text`)."""
        if name + ".hex" in self.p:  # version 8: hex digits' bytes
            hashes = self.refs(name + ".h")
            return HexKeys(HexText(self.p[name + ".hex"], self.p[name], len(hashes)), hashes, self.refs(name + ".o"))
        return TextKeys(self.p[name], self.starts(name), self.refs(name + ".h"), self.refs(name + ".o"))

    def ints(self, name: str) -> list[int]:
        return col.unpack(self.p[name])

    def refs(self, name: str) -> array[int]:
        """A column of string references (indices into the string table) as an array."""
        return col.as_array(self.p[name])

    def starts(self, name: str) -> array[int]:
        """The start offsets of the runs of `name`: ``name.at`` as written (version 5), or from ``name.len``."""
        if name + ".at" in self.p:
            return self.refs(name + ".at")
        return col.starts(col.column(self.p[name + ".len"]))

    def strs(self, name: str) -> list[Any]:
        return list(self.each(name))

    def vid_refs(self, name: str) -> array[int]:
        """A column of evidence id references (`resolver.string_table.vid_refs`: a row, or past the rows a string)."""
        refs = self.refs(name)
        start = self.vid_run
        if start is None:
            return refs
        # Version 6 and older: string references, those into the evidence ids' run made rows.
        e = len(self.vids)
        end = start + e
        return array("q", [r - start if start <= r < end else e + r for r in refs])

    def vid_strs(self, name: str) -> list[Any]:
        """The evidence ids (or None) of a column of them, as new strings."""
        if self.vid_run is not None:
            return self.strs(name)
        refs, e, strings = self.refs(name), len(self.vids), self.strings
        # One string per piece, however many remembered events name it (as the table's one string was).
        if not refs or max(refs) < e:  # every id a piece's (the usual case): in C
            rows = list(dict.fromkeys(refs))
            return list(map(dict(zip(rows, self.vids.keys(rows), strict=True)).__getitem__, refs))
        rows = list(dict.fromkeys(r for r in refs if r < e))
        made: dict[int, Any] = dict(zip(rows, self.vids.keys(rows), strict=True))
        return [made[r] if r < e else strings[r - e] for r in refs]

    def each(self, name: str) -> Iterator[Any]:
        """The strings of a column one by one (no list of them: each is touched once, into its container)."""
        return map(self.strings.__getitem__, col.column(self.p[name]))

    def graph(self) -> Graph:
        g = self.g
        self._nodes()
        self._evidence()
        if "u.of" in self.p:  # version 7, the forest's keys the node keys: kept cold
            g.uf = self._cold_forest()
        elif "u.many" in self.p:  # version 5: singletons written as their root alone
            sets = col.split(self.strs("u.key"), self.ints("u.len"))
            g.uf = DisjointSet.from_sets(self.strs("u.root"), self.p["u.many"], sets)
        else:
            members = self.strs("u.key") if "u.key" in self.p else self.keys
            g.uf = DisjointSet.from_groups(self.strs("u.root"), col.split(members, self.ints("u.len")))
        self._customers()
        g.absorbed = dict(zip(self.strs("a.from"), self.strs("a.to"), strict=True))
        g.erased = set(self.strs("erased"))
        g.suppressed = set(self.strs("suppressed"))
        horizon, watermark = g.config.duplicate_horizon_ms, self.p["h.watermark"]
        stamps = col.as_array(self.p["h.stamp"])
        if "h.eid.h" in self.p:  # version 8: kept cold
            cold = ColdEvents(self.key_text("h.eid"), stamps, self.vid_refs("h.vid"), self.vids, self.strings)
            g.recent = RecentEvents.from_cold(horizon, watermark, cold)
        else:
            vids = self.vid_strs("h.vid")
            g.recent = RecentEvents.from_columns(horizon, watermark, self._recent_ids(vids), stamps, vids)
        # After the remembered events, which read the evidence's rows before any piece is thawed.
        if "e.loose" in self.p:
            self._odd_v2()
        else:
            self._odd()
        g.split_seq = self.p["split_seq"]
        g.merges = self.p["merges"]
        if "l.no" in self.p:  # written before operator merges: none, and nothing dismissed
            g.merge_seq = self.p["merge_seq"]
            ends = self.vid_strs("l.ab")
            for i, number in enumerate(self.ints("l.no")):
                g.add_must(number, ends[2 * i], ends[2 * i + 1])
            ids = self.strs("r.ab")
            g.dismissed = set(zip(ids[::2], ids[1::2], strict=True))
        if "nr.h" in self.p:  # version 8: kept cold
            first, starts, near = self.p["nr.first"], self.refs("nr.at"), self.refs("nr.k")
            g.near_index = NearIndex.from_cold(
                BucketKeys(self.strings, first, starts, near, self.refs("nr.h"), self.refs("nr.o"))
            )
        elif "nr.b" in self.p:
            g.near_index = NearIndex.from_columns(self.strs("nr.b"), self.ints("nr.len"), self.strs("nr.k"))
        elif g.near_on:  # version 3 and older: rebuilt
            g.near_index.add_all(k for k in self.keys if k[0] == "p" and PERSON not in k)
        g.dirty.clear()
        return g

    def _cold_forest(self) -> DisjointSet:
        """The union-find as cold tables over the node keys and the roots (`DisjointSet.from_columns`)."""
        many: bytes = self.p["u.many"]
        lens = iter(self.ints("u.len"))
        sizes = list(map(next, map((repeat(0), lens).__getitem__, many)))  # a singleton's run is empty
        sets = ColdSets(self.strings, many, col.starts(sizes), self.refs("u.key"))
        roots = RefKeys(self.strings, self.refs("u.root"), self.refs("u.root.h"), self.refs("u.root.o"))
        root_of = self.refs("u.of")
        if len(root_of) != len(self.keys) or len(roots) != len(many):
            raise ValueError("the forest's roots, its sets and the nodes differ in length")
        return DisjointSet.from_columns(self.node_keys, root_of, roots, sets)

    def _recent_ids(self, vids: list[str]) -> list[str]:
        """The remembered event ids: their evidence's own string where ``h.own`` marks it, else the run's."""
        others = self.strs("h.eid")
        flags: bytes | bytearray
        if "h.row" in self.p:  # version 5: a flag per event, and the evidence rows of those flagged
            flags, rows = self.p["h.own"], self.ints("h.row")
        else:
            own = self.ints("h.own") if "h.own" in self.p else []  # none in version 2
            if not own:
                return others
            rows = cast("list[int]", list(map(self.vids.row, map(vids.__getitem__, own))))
            flags = bytearray(len(vids))
            for i in own:
                flags[i] = 1
        # The evidence's own earliest event id, read off its cold row (no piece is thawed yet).
        shared = iter(read_texts(self.eid_text, rows))
        # Each position takes the next id of its source (in C).
        return list(map(next, map((iter(others), shared).__getitem__, flags)))

    def _nodes(self) -> None:
        """The nodes as a `NodeTable` of cold rows: flat columns and sparse maps, no object per node."""
        keys = self.keys
        ev_starts = self.starts("n.ev")
        if "n.sig.at" in self.p:  # version 5
            sig_starts, sig_none = self.refs("n.sig.at"), set(self.ints("n.sig.none"))
        else:  # 0: no signals kept (None); n + 1: a tuple of n
            codes = self.ints("n.sig.len")
            sig_starts = col.starts(map(max, map(sub, codes, repeat(1)), repeat(0)))
            sig_none = set(col.where(map(not_, codes)))
        if len(ev_starts) != len(keys) + 1 or len(sig_starts) != len(keys) + 1:
            raise ValueError("node columns and keys differ in length")
        bars = col.pairs(self.ints("n.bars.sp"), self.ints("n.bars.len"))
        # Name support, dense: row r's name keys and counts are those of its run (empty without).
        if "n.names.has" in self.p:  # version 5
            names_has, name_starts = self.p["n.names.has"], self.refs("n.names.at")
        else:
            named, name_lengths, has = self.ints("n.names"), [0] * len(keys), bytearray(len(keys))
            for i, length in zip(named, self.ints("n.names.len"), strict=True):
                name_lengths[i], has[i] = length, 1
            names_has, name_starts = bytes(has), col.starts(name_lengths)
        if len(names_has) != len(keys) or len(name_starts) != len(keys) + 1:
            raise ValueError("name support and the nodes differ in length")
        groups = col.pairs(self.strs("n.groups.ck"), self.ints("n.groups.len"))
        cold = NodeColumns(
            strings=self.strings,
            evidence=self.vid_refs("n.ev"),
            ev_starts=ev_starts,
            sig=self.refs("n.sig"),
            sig_starts=sig_starts,
            sig_none=sig_none,
            status=dict(zip(self.ints("n.status"), self.strs("n.status.s"), strict=True)),
            shared=set(self.ints("n.shared")),
            bars={i: tuple(col.halves(b)) for i, b in zip(self.ints("n.bars"), bars, strict=True)},
            pairs=col.Sparse(self.refs("n.pairs")),
            pair_starts=col.starts(2 * n for n in col.column(self.p["n.pairs.len"])),
            pair_refs=self.refs("n.pairs.ec"),
            names_has=names_has,
            name_starts=name_starts,
            name_keys=self.refs("n.names.c"),
            name_counts=col.narrow(col.as_array(self.p["n.names.n"])),
            groups={i: dict(col.halves(p)) for i, p in zip(self.ints("n.groups"), groups, strict=True)},
            near=col.Sparse(self.refs("n.near")),
            near_starts=col.starts(col.column(self.p["n.near.len"])),
            near_refs=self.refs("n.near.k"),
            near_on=self.refs("n.near.on"),
            vids=self.vids,
        )
        if cold.name_starts[-1] != len(cold.name_keys) or len(cold.name_keys) != len(cold.name_counts):
            raise ValueError("name support and its lengths disagree")
        if cold.ev_starts[-1] != len(cold.evidence) or cold.sig_starts[-1] != len(cold.sig):
            raise ValueError("node lengths and their columns disagree")
        if len(cold.pair_starts) != len(cold.pairs) + 1 or cold.pair_starts[-1] != len(cold.pair_refs):
            raise ValueError("household pairs and their lengths disagree")
        if len(cold.near_starts) != len(cold.near) + 1 or cold.near_starts[-1] != len(cold.near_refs):
            raise ValueError("near candidates and their lengths disagree")
        if len(cold.near_on) != len(cold.near_refs):
            raise ValueError("near candidates and their flags disagree")
        # Row r's key is strings[1 + r] (`StrKeys`): the node keys are the table's first run.
        self.g.nodes = NodeTable(self.node_keys, cold)

    def _evidence(self) -> None:
        """The evidence as an `EvidenceTable` of cold rows: columns, and no object per piece."""
        g = self.g
        ats = col.as_array(self.p["e.at"])  # version 8: offsets from ``e.at0``
        starts = self.starts("e.keys")
        held = col.tuples(self.each("e.rejected.s"), self.ints("e.rejected.len"))
        notes = zip(self.ints("e.note"), self.strs("e.note.s"), strict=True)
        strings = self.strings
        cold = EvidenceColumns(
            strings=strings,
            eid=self.eid_text,
            src=self.src_text,
            at=ats,
            at0=self.p.get("e.at0", 0),
            later=self.refs("e.later"),
            later_d=col.as_array(self.p["e.later.d"]),
            count=col.narrow(col.as_array(self.p["e.count"])),
            tp=self._touchpoints(),
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
        texts = (cold.src,) if isinstance(cold.eid, HexText) else (cold.eid, cold.src)
        if any(len(t[1]) != len(ats) + 1 or t[1][-1] != len(t[0]) for t in texts):
            raise ValueError("evidence texts and their lengths disagree")
        if isinstance(cold.eid, HexText) and len(cold.eid) != len(ats):
            raise ValueError("evidence texts and their lengths disagree")
        if starts[-1] != len(cold.keys) or len(starts) != len(ats) + 1:
            raise ValueError("evidence keys and their lengths disagree")
        # The same table for the graph and its content index, which reads it.
        g.evidence = g.by_content.evidence = EvidenceTable(self.vids, cold)

    def _touchpoints(self) -> tuple[list[Any], array[int]]:
        """The evidence's touchpoints: (their distinct strings, each piece's code), as `EvidenceColumns` keeps them."""
        if "e.tp.c" in self.p:  # version 8
            return list(map(self.strings.__getitem__, self.refs("e.tp.c"))), col.as_array(self.p["e.tp"])
        refs = self.refs("e.tp")
        distinct = list(dict.fromkeys(refs))
        codes = array("B" if len(distinct) <= 256 else "I", map(dict(zip(distinct, count())).__getitem__, refs))
        return list(map(self.strings.__getitem__, distinct)), codes

    def _odd(self) -> None:
        """The exceptions of the content index (`resolver.evidence.ContentIndex`), in their order."""
        evidence = self.g.evidence
        keys = col.tuples(self.each("o.keys"), self.ints("o.keys.len"))
        rejected = col.tuples(self.each("o.rejected"), self.ints("o.rejected.len"))
        contents = zip(self.strs("o.tp"), self.strs("o.src"), self.strs("o.name"), keys, rejected, strict=True)
        held = [None if vid is None else evidence[vid] for vid in self.vid_strs("o.ev")]
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
        bars = col.pairs(self.ints("c.bars.kv"), self.ints("c.bars.len"))
        cold = CustomerColumns(
            strings=self.strings,
            root=roots,
            first=col.based(col.as_array(self.p["c.first"])),
            phones=col.narrow(col.as_array(self.p["c.phones"])),
            emails=col.narrow(col.as_array(self.p["c.emails"])),
            bars={i: dict(col.halves(b)) for i, b in zip(self.ints("c.bars"), bars, strict=True)},
            constrained=set(self.ints("c.constrained")),
        )
        if not len(roots) == len(cold.first) == len(cold.phones) == len(cold.emails) == len(cids):
            raise ValueError("customer columns differ in length")
        g.cust = CustomerTable(cids, cold)
        # Root -> the customer's id, made when read (`CustomerIds`): by the roots' index, or by row.
        if "c.root.h" in self.p:
            index = RefKeys(self.strings, roots, self.refs("c.root.h"), self.refs("c.root.o"))
            g.by_root = TextTable(index, CustomerIds(cids))
        else:
            rows = list(range(len(cids)))
            g.by_root = ColdTable(list(map(self.strings.__getitem__, roots)), CustomerIds(cids), rows)
