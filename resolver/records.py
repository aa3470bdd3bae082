"""The core state as records ``key -> compact JSON``: what changed since the last drain, and back.

Record keys, by kind:

=========  ======================================================================
``e/<id>``  one piece of evidence (`Evidence.record`)
``h/<eid>`` a remembered event id within the duplicate horizon: ``[at, evidence id]``
``n/<d>``   an identifier node, named by a keyed digest of its key (deletions leave no PII behind)
``c/<id>``  a live customer; ``a/<id>`` an absorbed id -> survivor; ``d/<id>`` an erased id
``s/<d>``   a suppressed (erased) digest; ``m/split``, ``m/merge``, ``m/watermark`` counters
``l/<n>``   operator merge ``n``: ``[evidence id, evidence id]`` kept in one customer
``r/<a>/<b>`` a review item an operator dismissed (two customer ids, or one id twice)
=========  ======================================================================

Digests are keyed (`resolver.digests`). A node record named under another key (an old key
after a rotation, or the unkeyed digest of an earlier version) is renamed when restored: the
next drain deletes the old name and writes the node under the current key's digest. When two
records hold the same node, the one named under the current key is the newer.

`drain` is O(records changed); `restore` rebuilds an equal graph from the union of all
drained records (latest value per key, deletions removed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from resolver.config import ResolverConfig
from resolver.evidence import Evidence
from resolver.graph import OK, PERSON, AccountNode, Customer, Graph, Node, as_line, flat_names, new_node
from resolver.horizon import RecentEvents
from resolver.households import person_split
from resolver.jsontext import loads
from resolver.unionfind import DisjointSet

__all__ = ["StateFormatError", "drain", "restore"]


class StateFormatError(ValueError):
    """State records this version cannot read (written by an older IRL): rebuild the state."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def drain(g: Graph) -> dict[str, str | None]:
    """Records changed since the last drain: key -> compact JSON (None = deleted), sorted by key."""
    out: dict[str, str | None] = {}
    for name in g.retired:
        out[name] = None
    g.retired.clear()
    for kind, keys in g.dirty.items():
        if kind == "h" and len(keys) > _FEW:
            out.update(_remembered(g, keys))
            continue
        for key in keys:
            rec = f"{kind}/{key}"
            name = "n/" + g.digests.digest(key) if kind == "n" else rec
            out[name] = _record(g, rec)
    g.dirty.clear()
    return dict(sorted(out.items()))


#: Remembered event ids a drain reads one by one at most (a stamp is a scan of the horizon's
#: days: `resolver.horizon.RecentEvents.get`); more are read in one pass (`_remembered`).
_FEW = 16


def _remembered(g: Graph, keys: set[str]) -> dict[str, str | None]:
    """The ``h/`` records of `keys`, as `_record` gives them, with every stamp read in one pass."""
    stamps = g.recent.stamps()
    out: dict[str, str | None] = {}
    for key in keys:
        vid = g.recent.vid_of(key)
        out["h/" + key] = None if vid is None else _dumps([stamps[key], vid])
    return out


def _record(g: Graph, rec: str) -> str | None:
    kind, key = rec[0], rec[2:]
    value: Any = None
    if kind == "e":
        ev = g.evidence.get(key)
        value = None if ev is None else ev.record()
    elif kind == "h":
        seen = g.recent.get(key)
        value = None if seen is None else list(seen)
    elif kind == "n":
        node = g.nodes.get(key)
        if node is not None:
            # The root, not the stored parent: `find` compresses paths as a side effect of
            # whatever was looked up, so parent pointers differ between a graph and its
            # restored copy while roots (union by size, ties by key) never do.
            root = g.uf.find(key) if key in g.uf else key
            value = node.record(key, None if root == key else root)
    elif kind == "c":
        cust = g.cust.get(key)
        value = None if cust is None else cust.record()
    elif kind == "a":
        value = g.absorbed.get(key)
    elif kind == "d":
        value = 1 if key in g.erased else None
    elif kind == "s":
        value = 1 if key in g.suppressed else None
    elif kind == "m":
        value = g.split_seq if key == "split" else g.merge_seq if key == "merge" else g.recent.watermark
    elif kind == "l":
        pair = g.must.get(int(key))
        value = None if pair is None else list(pair)
    elif kind == "r":
        a, _, b = key.partition("/")
        value = 1 if (a, b) in g.dismissed else None
    return None if value is None else _dumps(value)


def restore(config: ResolverConfig, records: Iterable[tuple[str, str]]) -> Graph:
    """Rebuild a graph from the union of drained records."""
    g = Graph(config)
    parents: list[tuple[str, str]] = []
    customers: list[tuple[str, dict[str, Any]]] = []
    recent: list[tuple[str, int, str]] = []
    watermark: int | None = None
    must: list[tuple[int, str, str]] = []
    #: node key -> whether its record was named under the current key, and that name
    named: dict[str, tuple[bool, str]] = {}
    node_values: dict[str, dict[str, Any]] = {}
    for rec, text in records:
        if text is None:
            continue
        value = loads(text)
        kind, key = rec[0], rec[2:]
        if kind == "e":
            if len(value) != 12:
                raise StateFormatError(
                    "the state holds per-event records of an older IRL; this version keeps distinct evidence: "
                    "rebuild the state from the touchpoint topics (new app id, or delete the state topic)"
                )
            ev = Evidence.from_record(key, value)
            g.evidence[key] = ev
            g.by_content.setdefault(ev.content(), ev)
        elif kind == "h":
            recent.append((key, int(value[0]), str(value[1])))
        elif kind == "n":
            key = value["k"]
            current = rec[2:] == g.digests.digest(key)
            seen = named.get(key)
            if seen is not None:
                if seen[0] and not current:
                    g.retired.add(rec)
                    continue
                g.retired.add(seen[1])
            named[key] = (current, rec)
            node_values[key] = value
        elif kind == "c":
            customers.append((key, value))
        elif kind == "a":
            g.absorbed[key] = value
        elif kind == "d":
            g.erased.add(key)
        elif kind == "s":
            g.suppressed.add(key)
        elif kind == "m":
            if key == "split":
                g.split_seq = int(value)
            elif key == "merge":
                g.merge_seq = int(value)
            else:
                watermark = int(value)
        elif kind == "l":
            must.append((int(key), str(value[0]), str(value[1])))
        elif kind == "r":
            a, _, b = key.partition("/")
            g.dismissed.add((a, b))
    for key, value in node_values.items():
        g.nodes[key] = _node(g, key, value)
        parents.append((key, value.get("p", key)))
    g.recent = RecentEvents.restore(config.duplicate_horizon_ms, watermark, recent)
    for vid in sorted(g.evidence):
        for key in g.evidence[vid].keys:
            g.nodes[key].add_evidence(vid)
        pseudo = g.nodes.get("x:" + vid)
        if pseudo is not None:
            pseudo.add_evidence(vid)
    g.uf = DisjointSet.from_parents(parents)
    if g.near_on:
        for key in sorted(g.nodes):
            if key[0] == "p" and PERSON not in key:
                g.near_index.add(key)
    for cid, value in customers:
        cust = Customer(cid, value["r"], value["f"])
        cust.phones, cust.emails = value["np"], value["ne"]
        for k, v in value.get("b", []):
            cust.bar(int(k), int(v))
        cust.constrained = bool(value.get("k"))
        g.cust[cid] = cust
        g.by_root[cust.root] = cid
    g.merges = len(g.absorbed)
    for number, a, b in sorted(must):
        g.add_must(number, a, b)
    g.dirty.clear()
    for key, (current, rec) in named.items():
        if not current:
            g.retired.add(rec)
            g.mark("n", key)
    return g


def _node(g: Graph, key: str, value: dict[str, Any]) -> Node:
    node = new_node(key)
    node.status = value.get("s", OK)
    node.sig = tuple(value.get("g", ())) if node.status == OK and not key.startswith("x:") else None
    node.bars = tuple((b[0], b[1]) for b in value.get("b", []))
    # The household fields, which only phones and emails hold (`resolver.graph.LineNode`).
    pairs = value.get("h")
    if pairs:
        as_line(node).pairs = [(p[0], g.intern(p[1])) for p in pairs]
    if value.get("sh"):
        as_line(node).shared = True
    named = value.get("nm")
    if named:
        counts = {g.intern(c): int(n) for c, n in named}
        line = as_line(node)
        line.names = flat_names(counts)
        line.groups = person_split(key, counts)
    near = value.get("nr")
    if near:
        as_line(node).near = {k: bool(v) for k, v in near}
    parts = value.get("sp")
    if parts:
        # A touchpoint identity split between people: its split is not derived from the node's own
        # fields (`resolver.households.account_split` reads its evidence), so it is kept.
        account = AccountNode(key)
        account.status, account.sig, account.bars = node.status, node.sig, node.bars
        account.groups = {g.intern(c): part for c, part in parts}
        return account
    return node
