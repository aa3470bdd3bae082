"""Snapshots: any state, dumped and loaded, gives the same answers and the same future.

The loaded copy is compared with the original on everything a caller can ask (customers,
profiles, explanations, lookups, why and why-not, events), on every state record, and then
both take the same further events and operator actions: the outcomes, the drained records
and the snapshots that follow must stay equal.
"""

from __future__ import annotations

import marshal
import struct
import zlib
from array import array
from collections.abc import Callable, Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver import columns as col
from resolver import records
from resolver.config import ResolverConfig
from resolver.evidence import Evidence
from resolver.graph import AccountNode, Customer, Graph, LineNode, Node
from resolver.horizon import DAY_MS
from resolver.interaction import Interaction
from resolver.near import _bucket
from resolver.resolver import Resolver
from resolver.snapshot import MAGIC, VERSION, SnapshotError, dump, load

T0 = 1_700_000_000_000
# Two phones one digit apart (near links), a landline, and others.
PHONES = ["98450 71623", "98450 71629", "97318 62045", "98862 71453", "022 2345 6789"]
EMAILS = ["ravi@x.in", "priya@y.in", "anil@z.in", None]
NAMES = ["Ravi Kumar", "Priya Kumar", "Anil Shah", "Ravi", "R Kumar", None]
# A small duplicate horizon, so that remembered event ids also expire.
CONFIG = ResolverConfig(hub_threshold=2, max_phones=2, max_emails=2, duplicate_horizon_ms=DAY_MS)

Op = tuple[str, Any]


@st.composite
def operations(draw: st.DrawFn, prefix: str, max_size: int = 25) -> list[Op]:
    """Events (new, and repeats of earlier ones) mixed with split, block, erase, merge and dismiss."""
    ops: list[Op] = []
    for i in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(["event"] * 6 + ["split", "block", "erase", "again", "merge", "merge", "dismiss"]))
        if kind != "event":
            ops.append((kind, draw(st.integers(0, 1000))))
            continue
        tp = draw(st.sampled_from(["WEB", "KIOSK", "WHATSAPP"]))
        phone = draw(st.none() | st.sampled_from(PHONES))
        src = (
            "91" + (phone or PHONES[0]).replace(" ", "")
            if tp == "WHATSAPP"
            else f"{tp.lower()}-{draw(st.integers(0, 6))}"
        )
        at = T0 + draw(st.integers(0, 60)) * 3_600_000  # about two and a half days
        ops.append(
            (
                "event",
                Interaction(
                    f"{prefix}-{i:02d}",
                    tp,
                    at,
                    src,
                    "visit",
                    phone=phone,
                    email=draw(st.sampled_from(EMAILS)),
                    name=draw(st.sampled_from(NAMES)),
                ),
            )
        )
    return ops


def run(r: Resolver, ops: list[Op], seen: list[Interaction], *, drain: bool = True) -> list[object]:
    """Apply `ops` to `r`; the outcome of each (repeats pick from `seen`, which grows).

    With ``drain`` each outcome is followed by the change set it drained; without, the change
    set accumulates (a caller drains it at the end).
    """
    out: list[object] = []
    for kind, arg in ops:
        customers = r.customer_ids()
        if kind == "event":
            out.append(r.apply(arg))
            seen.append(arg)
        elif kind == "again":
            out.append(r.apply(seen[arg % len(seen)]) if seen else None)
        elif not customers:
            out.append(None)
        else:
            cid = customers[arg % len(customers)]
            explanation = r.explain(cid)
            other = customers[(arg // 7) % len(customers)]
            if kind == "erase":
                out.append(r.erase(cid))
            elif kind == "merge":
                out.append(r.merge(cid, other))
            elif kind == "dismiss":
                out.append(r.dismiss(cid, other))
            elif kind == "block" and explanation.nodes:
                out.append(r.block(explanation.nodes[arg % len(explanation.nodes)]["id"]))
            elif kind == "split" and explanation.nodes:
                targets = [n["id"] for n in explanation.nodes] + list(explanation.events)
                out.append(r.split(cid, targets[arg % len(targets)]))
        if drain:
            out.append(r.drain_changes())
    return out


def loaded(r: Resolver, data: bytes | None = None) -> Resolver:
    return Resolver.from_snapshot(r.config, r.snapshot() if data is None else data)


def every_record(g: Graph) -> dict[str, str | None]:
    """Every state record of `g` (`resolver.records`), whether it changed or not."""
    every: dict[str, Iterable[str]] = {
        "e": g.evidence,
        "h": [eid for eid, _, _ in g.recent.items()],
        "n": g.nodes,
        "c": g.cust,
        "a": g.absorbed,
        "d": g.erased,
        "s": g.suppressed,
        "m": ("split", "merge", "watermark"),
        "l": [str(n) for n in g.must],
        "r": [f"{a}/{b}" for a, b in g.dismissed],
    }
    for kind, keys in every.items():
        g.dirty.setdefault(kind, set()).update(keys)
    return records.drain(g)


def answers(r: Resolver) -> list[object]:
    """Everything a caller can ask, in a fixed order."""
    out: list[object] = [r.customer_ids(), r.event_ids(), r.quarantined(), r.stats(), r.merges]
    for cid in r.customer_ids():
        out += [r.profile(cid, memo=False), r.profile(cid), r.explain(cid).to_dict()]
    out += [(e, r.customer_of_event(e)) for e in r.event_ids()]
    g = r._g
    out += [(c, r.current_id(c)) for c in sorted({*g.absorbed, *g.erased})]
    out += [sorted(g.must.items()), sorted((v, sorted(ns)) for v, ns in g.must_of.items()), g.merge_seq]
    out += [sorted(r.dismissed()), sorted((p for chunk in r.review_scan(7) for p in chunk), key=repr)]
    ids = r.customer_ids()
    out += [r.merge_refusal(a, b) for a in ids[:4] for b in ids[:4]]
    out += [r.lookup(p, "phone").to_dict() for p in PHONES]
    out += [r.lookup(e, "email").to_dict() for e in EMAILS if e is not None]
    refs = [*PHONES[:3], *(e for e in EMAILS if e is not None)]
    for a in refs:
        for b in refs:
            if a < b:
                out += [r.why(a, b), r.why_not(a, b)]
    out.append(sorted((v, ev.record()) for v, ev in g.evidence.items()))
    out.append(sorted((repr(c), v.vid) for c, v in g.by_content.items()))
    return out


def consistent(g: Graph) -> list[object]:
    """What breaks the index of customers by root: stale roots, customers without their root."""
    bad: list[object] = []
    for root, cid in g.by_root.items():
        cust = g.cust.get(cid)
        if cust is None or cust.root != root or g.uf.find(root) != root:
            bad.append(("stale root", root, cid))
    bad += [("customer without its root", cid) for cid, c in g.cust.items() if g.by_root.get(c.root) != cid]
    return bad


def assert_same(a: Resolver, b: Resolver) -> None:
    assert answers(a) == answers(b)
    assert every_record(a._g) == every_record(b._g)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations("ev"), operations("late", max_size=12))
def test_a_loaded_snapshot_gives_the_same_answers_and_the_same_future(before: list[Op], after: list[Op]) -> None:
    original = Resolver(CONFIG, track_changes=True)
    seen: list[Interaction] = []
    run(original, before, seen)
    original.drain_changes()
    data = dump(original._g)
    copy = loaded(original, data)
    assert copy.drain_changes() == {}
    assert_same(original, copy)
    # The same future: equal outcomes and equal drained records, step by step.
    assert run(original, after, list(seen)) == run(copy, after, list(seen))
    assert_same(original, copy)
    assert dump(original._g) == dump(copy._g)
    assert consistent(original._g) == []  # no stale customer index left behind (test_reresolution_ids)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations("ev", max_size=35))
def test_snapshot_bytes_are_deterministic(ops: list[Op]) -> None:
    r = Resolver(CONFIG)
    run(r, ops, [])
    data = dump(r._g)
    assert dump(r._g) == data
    again = load(CONFIG, data)
    assert dump(again) == data
    assert dump(load(CONFIG, dump(again))) == data


def _rich() -> Resolver:
    """A state with every kind of node and evidence field set (checked below)."""
    r = Resolver(CONFIG)
    ev = 0

    def add(tp: str, src: str, phone: str | None, email: str | None, name: str | None, hours: int = 0) -> None:
        nonlocal ev
        ev += 1
        r.apply(Interaction(f"e{ev:03d}", tp, T0 + hours * 3_600_000 + ev, src, "visit", phone, email, name))

    # A near phone (one digit off) with the same full name and email.
    add("WEB", "w-1", "98450 71623", "ravi@x.in", "Ravi Kumar")
    add("KIOSK", "k-1", "98450 71629", "ravi@x.in", "Ravi Kumar")
    add("KIOSK", "k-1", "98450 71629", "ravi@x.in", "Ravi Kumar", hours=1)  # a repeat: counts only
    # A household phone: two people with different names and emails, each seen twice.
    add("WEB", "w-2", "97318 62045", "priya@y.in", "Priya Kumar")
    add("KIOSK", "k-2", "97318 62045", None, "Priya Kumar")
    add("WEB", "w-3", "97318 62045", "anil@z.in", "Anil Shah")
    add("KIOSK", "k-3", "97318 62045", None, "Anil Shah")
    # A hub: one kiosk id seen with many people.
    for i, name in enumerate(["Meera Iyer", "John Das", "Sara Khan", "Om Rao"]):
        add("KIOSK", "k-hub", f"9{i}000 1111{i}", None, name)
    add("WHATSAPP", "12", None, None, "Nobody")  # nothing linkable: its own x: node
    add("WEB", "w-5", "bad phone", "not-an-email", "Someone")  # rejected values
    add("WEB", "w-7", "98862 71400", "someone@q.in", "Someone")
    add("KIOSK", "k-7", "98862 71400", "someone@q.in", "Someone")
    r.erase(r.customer_of_event("e015") or "")
    add("WEB", "w-6", "98862 71453", "sunita@q.in", "Sunita")
    add("KIOSK", "k-6", "98862 71453", "sunita2@q.in", "Sunita", hours=30)  # the first ids leave the horizon
    r.split(r.customer_of_event("e017") or "", "98862 71453")
    # Two customers that one later event joins: the younger is absorbed.
    add("WEB", "w-8", None, "kiran@q.in", "Kiran Rao", hours=31)
    add("KIOSK", "k-8", "97777 12345", None, "Kiran Rao", hours=31)
    add("WEB", "w-8", "97777 12345", "kiran@q.in", "Kiran Rao", hours=32)
    return r


def test_a_rich_state_round_trips_every_field() -> None:
    r = _rich()
    g = r._g
    nodes = list(g.nodes.values())
    assert any(n.status != "ok" for n in nodes)
    assert any(n.near for n in nodes) and any(n.names for n in nodes) and any(n.pairs for n in nodes)
    assert any(n.groups for n in nodes) and any(n.bars for n in nodes) and any(n.sig is None for n in nodes)
    assert any(k.startswith("x:") for k in g.nodes) and any("#" in k for k in g.nodes)
    assert any(ev.rejected for ev in g.evidence.values()) and any(ev.count > 1 for ev in g.evidence.values())
    assert any(ev.last != ev.at for ev in g.evidence.values())
    assert any(c.bars for c in g.cust.values()) and g.split_seq and g.erased and g.suppressed and g.absorbed
    assert g.recent.watermark is not None and 0 < len(g.recent) < r.stats()["events"]
    r.drain_changes()
    copy = loaded(r)
    assert_same(r, copy)
    # Lists keep their order (dicts need not: nothing reads them in insertion order).
    assert {k: n.evidence for k, n in g.nodes.items()} == {k: n.evidence for k, n in copy._g.nodes.items()}
    assert {k: g.uf.members(g.uf.find(k)) for k in g.nodes} == {
        k: copy._g.uf.members(copy._g.uf.find(k)) for k in copy._g.nodes
    }
    late = [("event", Interaction("z1", "WEB", T0 + 40 * 3_600_000, "w-9", "visit", "98450 71623", None, "Ravi"))]
    assert run(r, [*late, ("split", 3), ("block", 5), ("erase", 1)], []) == run(
        copy, [*late, ("split", 3), ("block", 5), ("erase", 1)], []
    )
    assert dump(r._g) == dump(copy._g)


def test_nodes_and_sets_that_do_not_match_round_trip_too() -> None:
    """Every node is in the union-find and back; a snapshot does not rely on it."""
    r = _rich()
    g = r._g
    g.nodes["t:WEB:orphan"] = Node()
    g.uf.add("t:WEB:ghost")
    again = load(CONFIG, dump(g))
    assert set(again.nodes) == set(g.nodes) and "t:WEB:ghost" in again.uf and "t:WEB:orphan" not in again.uf
    assert {k: again.uf.find(k) for k in g.nodes if k in g.uf} == {k: g.uf.find(k) for k in g.nodes if k in g.uf}
    assert dump(again) == dump(g)


def test_evidence_that_does_not_answer_for_its_content_round_trips() -> None:
    """After some erasures two pieces can share a content, or one can have none in `by_content`."""
    r = _rich()
    g = r._g
    first, second = list(g.evidence.values())[:2]
    twin = Evidence("v" + "0" * 20, "twin", first.at, first.tp, first.src, first.name, first.keys, first.rejected)
    twin.anchor = first.anchor
    g.evidence[twin.vid] = twin
    del g.by_content[second.content()]
    again = load(CONFIG, dump(g))
    assert {c: ev.vid for c, ev in again.by_content.items()} == {c: ev.vid for c, ev in g.by_content.items()}
    assert dump(again) == dump(g)


#: A version 4 snapshot of `_rich()`'s state (drained). The version 4 writer wrote it (commit 8763c7d), and
#: `_as_version_4` agreed with it byte for byte; since two people on one kiosk id link per person
#: (`resolver.households.account_split`), which left two empty person nodes in that state, it is
#: `_as_version_4`'s bytes of the state.
RICH_V4 = Path(__file__).parent.parent / "fixtures" / "snapshot" / "rich-v4.bin"


def _sections(data: bytes) -> dict[str, Any]:
    sections: dict[str, Any] = marshal.loads(data[len(MAGIC) + 5 :])
    return sections


def _snapshot(version: int, sections: dict[str, Any]) -> bytes:
    body = marshal.dumps(sections, 2)
    return MAGIC + bytes((version,)) + zlib.crc32(body).to_bytes(4, "little") + body


#: A version 6 snapshot of `_rich()`'s state (drained), as the version 6 writer wrote it (commit 4b4d604).
RICH_V6 = Path(__file__).parent.parent / "fixtures" / "snapshot" / "rich-v6.bin"

#: The sections of format 6 and 7 that hold references into the string table.
_STRING_REFS = (
    "e.tp", "e.name", "e.anchor", "e.keys", "e.rejected.s", "e.note.s", "o.tp", "o.src", "o.name", "o.keys",
    "o.rejected", "n.sig", "n.status.s", "n.pairs.ec", "n.names.c", "n.groups.ck", "n.near.k", "u.root", "u.key",
    "c.root", "a.from", "a.to", "erased", "suppressed", "h.eid", "nr.b", "nr.k", "r.ab",
)  # fmt: skip
#: The sections of format 7 that refer to evidence ids (a row, or past the rows a string).
_VID_REFS = ("n.ev", "h.vid", "l.ab", "o.ev")


#: A version 7 snapshot of `_rich()`'s state (drained), as the version 7 writer wrote it (commit 301e361).
RICH_V7 = Path(__file__).parent.parent / "fixtures" / "snapshot" / "rich-v7.bin"
#: The sections of format 7 written before the duplicate horizon's that refer to strings of the table.
_BEFORE_HORIZON = tuple(n for n in _STRING_REFS if n.startswith(("e.", "o.", "n.", "u.", "c.", "a.", "erased", "supp")))


def _as_version_7(data: bytes) -> bytes:
    """A format 8 snapshot as format 7 wrote it: first seen whole (8: offsets from ``e.at0``); the
    remembered event ids strings of the table (8: one text with its hash index), those that are their
    evidence's earliest event id flagged (``h.own``, ``h.row``) and not written, the others a run of the
    table where the horizon is written (after the strings of every section before it); the near-phone
    index's bucket names strings of the table after those (8: none, ``nr.first`` and an index)."""
    assert data[len(MAGIC)] == VERSION == 8
    p = _sections(data)
    e = p["evidence"]
    # Ids of hex digits as their bytes (``.hex``, the prefix): 7 wrote them as text with offsets.
    for name, count in (("e.vid", e), ("c.id", p["customers"]), ("e.eid", e), ("h.eid", len(col.unpack(p["h.vid"])))):
        if name + ".hex" in p:
            prefix, blob = p.pop(name + ".hex"), p[name]
            width = len(blob) // count
            texts = [(prefix + blob[i * width : i * width + width].hex()).encode() for i in range(count)]
            p[name], p[name + ".at"] = b"".join(texts), col.offsets(map(len, texts))
    touchpoints = col.unpack(p.pop("e.tp.c"))  # 8: codes into the distinct touchpoints; 7: a reference each
    p["e.tp"] = col.pack([touchpoints[c] for c in col.unpack(p["e.tp"])])
    base = p.pop("e.at0")  # first seen as offsets from the earliest: 7 wrote them whole
    p["e.at"] = col.pack([base + at for at in col.unpack(p["e.at"])])
    blob, at = p.pop("h.eid"), col.unpack(p.pop("h.eid.at"))
    del p["h.eid.h"], p["h.eid.o"]
    eids = [blob[a:b].decode("utf-8", "surrogatepass") for a, b in pairwise(at)]
    etext, estarts = p["e.eid"], col.unpack(p["e.eid.at"])
    rows = [r if r < e else e for r in col.unpack(p["h.vid"])]
    own = bytes(r < e and etext[estarts[r] : estarts[r + 1]].decode() == x for x, r in zip(eids, rows, strict=True))
    others = [x for x, flag in zip(eids, own, strict=True) if not flag]
    start = 1 + max([p["nodes"], *(r for name in _BEFORE_HORIZON for r in col.unpack(p[name]))])

    def shift(names: Iterable[str], start: int, by: int) -> None:
        for name in names:
            if name in _VID_REFS:
                p[name] = col.pack([r if r < e or r - e < start else r + by for r in col.unpack(p[name])])
            else:
                p[name] = col.pack([r if r < start else r + by for r in col.unpack(p[name])])

    shift([n for n in (*_STRING_REFS, *_VID_REFS) if n not in ("h.eid", "nr.b")], start, len(others))
    p["strings"] = [*p["strings"][:start], *others, *p["strings"][start:]]
    p["h.own"], p["h.row"] = own, col.pack([r for r, flag in zip(rows, own, strict=True) if flag])
    p["h.eid"] = col.pack(range(start, start + len(others)))
    # The near-phone index's bucket names, strings of the table again (after the horizon's, before its keys').
    strings, first = p["strings"], p.pop("nr.first")
    at = col.unpack(p.pop("nr.at"))
    del p["nr.h"], p["nr.o"]
    near = col.unpack(p["nr.k"])
    names = [_bucket(strings[near[a]], bool(f)) for a, f in zip(at, first, strict=False)]
    refs = [*col.unpack(p["h.eid"]), *(r - e for r in col.unpack(p["h.vid"]) if r >= e)]
    start = 1 + max([start - 1, *refs])
    shift(("nr.k", "l.ab", "r.ab"), start, len(names))
    p["strings"] = [*strings[:start], *names, *strings[start:]]
    p["nr.b"] = col.pack(range(start, start + len(names)))
    p["nr.len"] = col.pack([0 if b - a == 1 else b - a for a, b in pairwise(at)])
    return _snapshot(7, p)


def _as_version_6(data: bytes) -> bytes:
    """A format 7 snapshot as format 6 wrote it (a format 8 one is made format 7 first): the evidence ids
    and the customer ids two runs of the string table after the node keys (7: texts of their own with
    their hash index), the columns naming evidence ids string references, a customer id named elsewhere
    (absorbed, erased) its run's, and no hash index of the node keys."""
    if data[len(MAGIC)] == 8:
        data = _as_version_7(data)
    assert data[len(MAGIC)] == 7
    p = _sections(data)
    n, e = p["nodes"], p["evidence"]

    def text(name: str) -> list[str]:
        blob, at = p.pop(name), col.unpack(p.pop(name + ".at"))
        del p[name + ".h"], p[name + ".o"]
        return [blob[a:b].decode("utf-8", "surrogatepass") for a, b in pairwise(at)]

    vids, cids = text("e.vid"), text("c.id")
    del p["n.key.h"], p["n.key.o"], p["u.root.h"], p["u.root.o"], p["c.root.h"], p["c.root.o"]
    p.pop("u.of", None)
    cid_row = {cid: i for i, cid in enumerate(cids)}
    unindexed = set(col.unpack(p["h.eid"]))  # a run written as it is (6 did not look them up either)
    index: dict[int, int] = {}
    kept: list[str] = []
    for at, value in enumerate(p["strings"][1 + n :], start=1 + n):
        if at not in unindexed and value in cid_row:
            index[at] = 1 + n + e + cid_row[value]
        else:
            index[at] = 1 + n + e + len(cids) + len(kept)
            kept.append(value)

    def moved(ref: int) -> int:
        return ref if ref < 1 + n else index[ref]

    for name in _STRING_REFS:
        p[name] = col.pack([moved(r) for r in col.unpack(p[name])])
    for name in _VID_REFS:
        p[name] = col.pack([1 + n + r if r < e else moved(r - e) for r in col.unpack(p[name])])
    p["strings"] = [*p["strings"][: 1 + n], *vids, *cids, *kept]
    return _snapshot(6, p)


def _as_version_4(data: bytes) -> bytes:
    """A format 6 snapshot as format 4 wrote it: run lengths where 5 and 6 write start offsets, every set's
    members (5 writes a singleton as its root alone), ``h.own`` as positions (5: a flag per event and
    the evidence rows of those flagged), sparse name support (5: dense offsets and flags). (6 is 5 with
    touchpoint identities among the per-person splits, which a state of 4 never held.) A format 7 or 8
    snapshot is made format 6 first."""
    if data[len(MAGIC)] in (7, 8):
        data = _as_version_6(data)
    assert data[len(MAGIC)] == 6
    p = _sections(data)

    def sizes(name: str) -> list[int]:
        return [b - a for a, b in pairwise(col.unpack(p.pop(name + ".at")))]

    for name in ("e.eid", "e.src", "n.ev", "e.keys"):
        p[name + ".len"] = col.pack(sizes(name))
    none = set(col.unpack(p.pop("n.sig.none")))
    p["n.sig.len"] = col.pack([0 if i in none else n + 1 for i, n in enumerate(sizes("n.sig"))])
    names, has = sizes("n.names"), p.pop("n.names.has")
    named = [i for i, flag in enumerate(has) if flag]
    p["n.names"], p["n.names.len"] = col.pack(named), col.pack([names[i] for i in named])
    set_sizes, keys = iter(col.unpack(p["u.len"])), iter(col.unpack(p["u.key"]))
    every: list[list[int]] = []
    for root, many in zip(col.unpack(p["u.root"]), p.pop("u.many"), strict=True):
        every.append([next(keys) for _ in range(next(set_sizes))] if many else [root])
    p["u.len"], p["u.key"] = col.pack([len(m) for m in every]), col.pack([k for m in every for k in m])
    own = p.pop("h.own")
    del p["h.row"]
    p["h.own"] = col.pack([i for i, flag in enumerate(own) if flag])
    return _snapshot(4, p)


#: What each old-format test runs on the state written in that format and on the one it came from.
FUTURE: list[Op] = [("again", 3), ("split", 2), ("erase", 5), ("again", 1), ("merge", 9)]


def assert_same_answers_and_future(r: Resolver, old: Resolver) -> None:
    """``old`` (loaded from an older format) answers as ``r`` does, now and after the same `FUTURE`."""
    assert_same(r, old)
    assert run(r, FUTURE, []) == run(old, FUTURE, [])
    assert_same(r, old)


#: The formats whose writer's bytes are kept (tests/fixtures/snapshot) with the test's own writer of each.
RECORDED = [(4, RICH_V4, _as_version_4), (6, RICH_V6, _as_version_6), (7, RICH_V7, _as_version_7)]


@pytest.mark.parametrize(("version", "recorded", "writer"), RECORDED, ids=[f"v{v}" for v, _, _ in RECORDED])
def test_a_recorded_old_snapshot_still_loads(version: int, recorded: Path, writer: Callable[[bytes], bytes]) -> None:
    """Formats 4 (run lengths, every set's members), 6 (evidence ids as strings of the table) and 7
    (remembered event ids as strings of the table): the bytes their writer wrote load to the same
    answers and future."""
    r = _rich()
    r.drain_changes()
    data = recorded.read_bytes()
    # The test's own writer of the format agrees with the real one.
    assert _sections(writer(dump(r._g))) == _sections(data)
    old = loaded(r, data)
    assert_same_answers_and_future(r, old)
    assert dump(old._g) == dump(r._g)


@pytest.mark.parametrize("writer", [w for _, _, w in RECORDED], ids=[f"v{v}" for v, _, _ in RECORDED])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations("ev"), operations("late", max_size=12))
def test_any_state_in_an_old_format_loads_the_same(
    writer: Callable[[bytes], bytes], before: list[Op], after: list[Op]
) -> None:
    original = Resolver(CONFIG, track_changes=True)
    seen: list[Interaction] = []
    run(original, before, seen)
    original.drain_changes()
    copy = loaded(original, writer(dump(original._g)))
    assert_same(original, copy)
    assert run(original, after, list(seen)) == run(copy, after, list(seen))
    assert_same(original, copy)
    assert dump(original._g) == dump(copy._g)


def _as_version_2(data: bytes) -> bytes:
    """A format 4 snapshot as format 2 wrote it: ``e.loose`` (pieces not answering for their content), no ``o.*``."""
    sections = _sections(data)
    g = load(CONFIG, data)
    holders = {id(ev) for _, ev in g.by_content.items()}
    loose = [i for i, ev in enumerate(g.evidence.values()) if id(ev) not in holders]
    sections = {k: v for k, v in sections.items() if not k.startswith(("o.", "nr.")) and k != "h.own"}
    sections["e.loose"] = b"I" + array("I", loose).tobytes()
    # Every remembered event id in a run of its own (format 2 shared none with the evidence).
    eids, _, _ = g.recent.columns()
    start = len(sections["strings"])
    sections["strings"] = sections["strings"] + eids
    sections["h.eid"] = b"I" + struct.pack(f"<{len(eids)}I", *range(start, start + len(eids)))  # little-endian
    body = marshal.dumps(sections, 2)
    return MAGIC + bytes((2,)) + zlib.crc32(body).to_bytes(4, "little") + body


def test_a_version_2_snapshot_still_loads() -> None:
    """Format 2 (before the content index kept only its exceptions) loads to the same answers and future."""
    r = _rich()
    g = r._g
    first, second = list(g.evidence.values())[:2]
    twin = Evidence("v" + "0" * 20, "twin", first.at, first.tp, first.src, first.name, first.keys, first.rejected)
    g.evidence[twin.vid] = twin
    del g.by_content[second.content()]
    r.drain_changes()
    assert VERSION == 8 and g.by_content.odd
    old = loaded(r, _as_version_2(_as_version_4(dump(g))))
    assert_same_answers_and_future(r, old)
    assert dump(load(CONFIG, dump(old._g))) == dump(old._g)


def test_remembered_event_ids_are_one_text_that_a_load_keeps_cold() -> None:
    """The remembered event ids are one text with a hash index (``h.eid``): a load makes no string of them,
    and finds, forgets and expires them as the graph that wrote them does."""
    r = _rich()
    r.apply(Interaction("zz", "WEB", T0 + 33 * 3_600_000, "w-8", "visit", None, "kiran@q.in", "Kiran Rao"))  # a repeat
    r.drain_changes()
    g = r._g
    data = dump(g)
    again = load(CONFIG, data)
    eids, _, _ = g.recent.columns()
    sections = _sections(data)
    assert sections["h.eid"] == "".join(eids).encode() and len(eids) > 1
    cold = again.recent._cold
    assert cold is not None and cold.live == len(eids) and not again.recent._ids
    assert again.recent.columns() == g.recent.columns() and again.recent.items() == g.recent.items()
    assert all(again.recent.get(x) == g.recent.get(x) for x in [*eids, "nope"])
    assert "zz" in again.recent and "nope" not in again.recent
    again.recent.forget(["zz"])
    g.recent.forget(["zz"])
    assert "zz" not in again.recent and again.recent.columns() == g.recent.columns()
    # An event far later expires every loaded one, in order.
    expired = [x for x in eids if x != "zz"]
    assert again.recent.advance(T0 + 40 * DAY_MS) == g.recent.advance(T0 + 40 * DAY_MS) == expired
    assert len(again.recent) == len(g.recent) == 0


def test_an_empty_graph_round_trips() -> None:
    g = Graph(CONFIG)
    again = load(CONFIG, dump(g))
    assert again.nodes == {} and again.evidence == {} and again.cust == {} and again.recent.watermark is None
    assert dump(again) == dump(g)


def test_load_keeps_track_changes_as_asked() -> None:
    r = _rich()
    data = dump(r._g)
    assert load(CONFIG, data).track and not load(CONFIG, data, track_changes=False).track


def test_snapshot_is_smaller_than_its_records() -> None:
    r = _rich()
    state = every_record(r._g)
    assert len(dump(r._g)) < sum(len(k) + len(v or "") for k, v in state.items())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: b"NOTASNAP" + d[8:], "not an IRL snapshot"),
        (lambda d: d[: len(MAGIC)] + bytes((VERSION + 1,)) + d[len(MAGIC) + 1 :], "format version"),
        (lambda d: d[: len(MAGIC) + 3], "truncated"),
        (lambda d: d[:-10], "damaged"),
        (lambda d: d[:40] + bytes((d[40] ^ 0xFF,)) + d[41:], "damaged"),
        (lambda d: b"", "not an IRL snapshot"),
    ],
)
def test_a_wrong_or_damaged_snapshot_is_refused_clearly(damage: Any, message: str) -> None:
    data = dump(_rich()._g)
    with pytest.raises(SnapshotError, match=message):
        load(CONFIG, damage(data))
    assert issubclass(SnapshotError, ValueError)


def _fields(cls: Any, *made: object) -> set[str]:
    """The attributes of `cls`: its `__slots__` (or, for `made` instances, their `vars`); compiled (mypyc),
    a native class has neither and lists every attribute, inherited ones too, in `__mypyc_attrs__`."""
    native: tuple[str, ...] | None = getattr(cls, "__mypyc_attrs__", None)
    if native is not None:
        return set(native)
    return set().union(*map(vars, made)) if made else set(cls.__slots__)


def test_the_snapshot_covers_every_field_of_the_state() -> None:
    """When the state gains a field, the snapshot must learn it (and this list with it)."""
    # `key` is the node's key in the nodes dict (written as such, set again on load)
    assert _fields(Node) | _fields(LineNode) | _fields(AccountNode) == {
        "bars", "evidence", "groups", "key", "names", "near", "pairs", "shared", "sig", "status"
    }  # fmt: skip
    assert _fields(Evidence) == {
        "anchor", "at", "count", "cut", "eid", "keys", "last", "name", "note", "rejected", "src", "tp", "vid"
    }  # fmt: skip
    assert _fields(Customer) == {"bars", "cid", "constrained", "emails", "first", "phones", "root"}
    stored = {
        "evidence", "nodes", "uf", "cust", "absorbed", "erased", "suppressed", "split_seq", "merges", "recent",
        "must", "merge_seq", "dismissed",
    }  # fmt: skip
    rebuilt = {"by_content", "by_root", "near_index", "must_of"}
    given_or_memo = {
        "config", "parser", "signals", "near_on", "household_on", "track", "dirty", "regroup", "profiles", "shown",
        "near_memo", "_names", "_classes", "_name_values", "digests", "retired",
    }  # fmt: skip
    assert _fields(Graph, Graph(CONFIG)) == stored | rebuilt | given_or_memo


def test_a_load_keeps_the_order_of_the_state_it_was_written_from() -> None:
    """Format 2 writes the graph's dicts in their own order; a load keeps it (so later dumps agree)."""
    r = _rich()
    g = r._g
    again = load(CONFIG, dump(g))
    assert list(again.nodes) == list(g.nodes)
    assert list(again.evidence) == list(g.evidence)
    assert list(again.cust) == list(g.cust)
    assert list(again.absorbed.items()) == list(g.absorbed.items())
    assert again.uf.groups() == g.uf.groups()
    assert again.recent.columns() == g.recent.columns()
    assert again.near_index.columns() == g.near_index.columns()


def _account_split_state() -> Resolver:
    """A web account split between its holder and the recipient of an order (`account_split`), then more."""
    r = Resolver(CONFIG)
    events = [
        ("a1", "WEB", "u-priya", "98716 16828", "priya.arun@gmail.com", "Priya A"),
        ("a2", "WEB", "u-priya", "98716 16828", "priya.arun@gmail.com", "Priya A"),
        ("a3", "WEB", "u-priya", "65652 94130", "priya.arun@gmail.com", "K. Arun"),
        ("a4", "KIOSK", "kv-1", "65652 94130", None, "Arun K"),
        ("a5", "WEB", "u-priya", None, None, None),
    ]
    for i, (eid, tp, src, phone, email, name) in enumerate(events):
        r.apply(Interaction(eid, tp, T0 + i * 60_000, src, "order", phone, email, name))
    return r


def test_an_account_split_round_trips_and_a_version_5_snapshot_still_loads() -> None:
    """Format 6 carries a touchpoint identity's split; a format 5 snapshot (none) loads to the same answers."""
    r = _account_split_state()
    g = r._g
    assert any(n.groups for k, n in g.nodes.items() if k.startswith("t:"))
    r.drain_changes()
    copy = loaded(r)
    assert_same(r, copy)
    later: list[Op] = [
        ("event", Interaction("a6", "WEB", T0 + 10 * 60_000, "u-priya", "order", "65652 94130", None, "Arun")),
        ("split", 2),
        ("erase", 1),
    ]
    assert run(r, later, []) == run(copy, later, [])
    assert dump(r._g) == dump(copy._g)
    # A restore from the state records gives the same answers too.
    again = _account_split_state()
    assert answers(
        Resolver.restore(CONFIG, [(k, v) for k, v in every_record(again._g).items() if v is not None])
    ) == answers(again)
    # Format 5 is 6 without account splits: a state without one, written as 5, loads the same.
    plain = _rich()
    plain.drain_changes()
    data = _as_version_6(dump(plain._g))
    assert_same(plain, loaded(plain, _snapshot(5, _sections(data))))


def test_a_version_3_snapshot_still_loads() -> None:
    """Format 3 (before the near-phone index was written) loads, the index rebuilt, to the same answers and future."""
    r = _rich()
    r.drain_changes()
    data = _as_version_4(dump(r._g))
    old = loaded(r, _snapshot(3, {k: v for k, v in _sections(data).items() if not k.startswith("nr.")}))
    assert old._g.near_index.columns()[0] and sorted(old._g.near_index.columns()[2]) == sorted(
        r._g.near_index.columns()[2]
    )
    assert_same_answers_and_future(r, old)


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ([], b"I"),
        ([0, 2**32 - 1], b"I"),
        ([2**32], b"q"),
        ([-1, 5], b"q"),
        ([1_700_000_000_000], b"q"),
        ([2**63], b"*"),
    ],
)
def test_integer_columns_take_the_first_width_that_holds_them(values: list[int], code: bytes) -> None:
    packed = col.pack(values)
    assert packed[:1] == code
    assert col.unpack(packed) == values


def test_snapshot_files_a_killed_worker_left_are_removed(tmp_path: Path) -> None:
    """A snapshot file holds the whole state, an erased person's included: none outlives its use (issue 17)."""
    from streams.snapshots import BackgroundSnapshot

    folder = tmp_path / "snapshots"
    folder.mkdir()
    (folder / "snapshot-41.bin").write_bytes(b"old state")
    (folder / "snapshot-42.tmp").write_bytes(b"half written")
    snapshots = BackgroundSnapshot(folder)
    assert snapshots.remove_stale() == 2
    assert list(folder.iterdir()) == []
