"""The columns a snapshot (`resolver.snapshot`) writes for the nodes, the evidence and the customers.

Each function takes the table's fields as columns (`resolver.node_table.field_columns` and
the like: a loaded table's cold rows read off their columns, nothing thawed) and adds its
sections to `out`, strings through the snapshot's `resolver.string_table.StringTable`. The
format is described in `resolver.snapshot`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain, count, repeat
from operator import is_, is_not, itemgetter, ne, sub
from typing import Any

from resolver import columns as col
from resolver.graph import OK, Graph, name_keys, name_support
from resolver.string_table import StringTable, encoded, key_index_of, vid_refs

__all__ = ["dump_customers", "dump_evidence", "dump_nodes"]

_CONTENT = itemgetter(0, 1, 2, 3, 4)


def _transpose(fields: Callable[[Any], tuple[Any, ...]], objs: list[Any], width: int) -> list[tuple[Any, ...]]:
    """One tuple per field across `objs` (the attribute reads and the transposition run in C)."""
    return list(zip(*map(fields, objs), strict=True)) if objs else [()] * width


def dump_nodes(columns: list[Sequence[Any]], s: StringTable, out: dict[str, Any], row_of: dict[str, int]) -> None:
    held, sig, status, shared, bars, pairs, names, groups, near = columns
    held = [(h,) if h.__class__ is str else h for h in held]  # a node's one piece is its id alone
    out["n.ev.at"] = col.offsets(map(len, held))
    out["n.ev"] = vid_refs(list(chain.from_iterable(held)), row_of, s)
    out["n.sig.at"] = col.offsets([0 if x is None else len(x) for x in sig])
    out["n.sig.none"] = col.pack(col.where(map(is_, sig, repeat(None))))  # no signals kept
    out["n.sig"] = s.refs(list(chain.from_iterable(x for x in sig if x)))
    odd = col.where(map(ne, status, repeat(OK)))
    out["n.status"] = col.pack(odd)
    out["n.status.s"] = s.refs([status[i] for i in odd])
    out["n.shared"] = col.pack(col.where(shared))
    at = col.where(bars)
    out["n.bars"] = col.pack(at)
    out["n.bars.len"] = col.lengths([bars[i] for i in at])
    out["n.bars.sp"] = col.pack([x for i in at for bar in bars[i] for x in bar])
    at = col.not_none(pairs)
    out["n.pairs"] = col.pack(at)
    out["n.pairs.len"] = col.lengths([pairs[i] for i in at])
    out["n.pairs.ec"] = s.refs([x for i in at for pair in pairs[i] for x in pair])
    at = col.not_none(names)
    out["n.names.has"] = bytes(map(is_not, names, repeat(None)))
    out["n.names.at"] = col.offsets([0 if x is None else len(x) // 2 for x in names])
    out["n.names.c"] = s.refs([c for i in at for c in name_keys(names[i])])
    out["n.names.n"] = col.pack([n for i in at for n in name_support(names[i])])
    at = col.not_none(groups)
    out["n.groups"] = col.pack(at)
    out["n.groups.len"] = col.lengths([groups[i] for i in at])
    out["n.groups.ck"] = s.refs([x for i in at for kv in groups[i].items() for x in kv])
    at = col.not_none(near)
    out["n.near"] = col.pack(at)
    out["n.near.len"] = col.lengths([near[i] for i in at])
    out["n.near.k"] = s.refs([k for i in at for k in near[i]])
    out["n.near.on"] = col.pack([int(v) for i in at for v in near[i].values()])


def dump_evidence(
    g: Graph, cols: list[Sequence[Any]], s: StringTable, out: dict[str, Any], row_of: dict[str, int]
) -> None:
    _, _, ats, lasts, counts, tps, _, names, keys, rejected, anchors, cut, notes = cols
    # Touchpoints as codes into their few distinct strings (in order of first use, as the table adds them).
    distinct = list(dict.fromkeys(tps))
    code = dict(zip(distinct, count()))
    out["e.tp.c"], out["e.tp"] = s.refs(distinct), col.pack_codes(list(map(code.__getitem__, tps)))
    out["e.name"], out["e.anchor"] = s.refs(list(names)), s.refs(list(anchors))
    # First seen as offsets from the earliest (32-bit while the state spans under 49 days of event time).
    base = min(ats, default=0)
    out["e.at0"], out["e.at"] = base, col.pack(list(map(sub, ats, repeat(base))))
    out["e.count"] = col.pack(counts)
    # Sparse: a loaded piece seen once shares one int object for first and last seen.
    later = col.where(map(ne, lasts, ats))
    out["e.later"] = col.pack(later)
    out["e.later.d"] = col.pack([lasts[i] - ats[i] for i in later])
    out["e.keys.at"] = col.offsets(map(len, keys))
    out["e.keys"] = s.refs(list(chain.from_iterable(keys)))
    at = col.where(rejected)
    out["e.rejected"] = col.pack(at)
    out["e.rejected.len"] = col.lengths([rejected[i] for i in at])
    out["e.rejected.s"] = s.refs([x for i in at for x in rejected[i]])
    out["e.cut"] = col.pack(col.where(cut))
    at = col.not_none(notes)
    out["e.note"] = col.pack(at)
    out["e.note.s"] = s.refs([notes[i] for i in at])
    # The exceptions of `by_content` (after erasures), in their order; the rest is derived.
    odd = g.by_content.odd
    tps, srcs, names, keys, rejected = _transpose(_CONTENT, list(odd), 5)
    out["o.tp"], out["o.src"], out["o.name"] = s.refs(list(tps)), s.refs(list(srcs)), s.refs(list(names))
    out["o.keys.len"], out["o.keys"] = col.lengths(keys), s.refs(list(chain.from_iterable(keys)))
    out["o.rejected.len"], out["o.rejected"] = col.lengths(rejected), s.refs(list(chain.from_iterable(rejected)))
    out["o.ev"] = vid_refs([None if ev is None else ev.vid for ev in odd.values()], row_of, s)


def dump_customers(columns: list[Sequence[Any]], s: StringTable, out: dict[str, Any]) -> None:
    roots, first, phones, emails, bars, constrained = columns
    out["c.root"] = s.refs(list(roots))
    key_index_of("c.root", encoded(list(roots)), out)  # the index of customers by root, kept cold
    out["c.first"] = col.pack(first)
    out["c.phones"] = col.pack(phones)
    out["c.emails"] = col.pack(emails)
    out["c.constrained"] = col.pack(col.where(constrained))
    barred = col.where(bars)
    out["c.bars"] = col.pack(barred)
    out["c.bars.len"] = col.lengths([bars[i] for i in barred])
    out["c.bars.kv"] = col.pack([x for i in barred for kv in bars[i].items() for x in kv])
