"""Where the core's memory goes: RSS per identifier after a replay and after a snapshot load, by part.

``python -m bench.memory N`` replays `bench.common.dataset(N)` into a `Resolver(track_changes=True)`
(as `bench.snapshot` does; ``--untracked``: without the change set, as `irl replay` and the worker
run), writes its snapshot, then loads it in a fresh interpreter and reports, for both states: RSS
growth per identifier and the bytes held by each part of the state, found by walking the graph from
`Graph`'s attributes (each object counted once, under the first path that reaches it, so a string
shared by several maps is charged to the first; ``sys.getsizeof``; the compiled core's native
objects are walked through ``__mypyc_attrs__``, `_fields`), and those bytes summed by part
(evidence, nodes, union-find, customers, horizon, near-phone index, bounded caches: `groups`).
A table's keys and a `TextTable`'s columns are charged to whoever holds them (``holder/Kind.field``).
The loaded state's RSS is measured as `bench.snapshot.load_timed` does: after the load's freed heap
is given back, as the worker does (``rss_untrimmed_per_identifier``: before).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import BIN, ROOT, dataset
from bench.snapshot import build_state, load_timed, rss
from streams.heap import release_freed

__all__ = ["breakdown", "groups"]

#: Objects shared by every state (small ints, interned names, config): not the state's bytes.
_SKIP = (type, type(None), bool)


#: Per class: the attribute names its instances hold outside a __dict__ (`_fields`).
_CLASS_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(obj: Any) -> list[str]:
    """The attributes `obj` holds: a compiled (mypyc) class's ``__mypyc_attrs__``, ``__slots__``, its __dict__.

    A native class compiled by mypyc has neither ``__slots__`` nor a ``__dict__`` (``vars`` fails on
    it); ``__mypyc_attrs__`` lists the same attributes. A compiled dict subclass (`ColdTable`...)
    keeps its fields in a __dict__ instead of the pure class's slots.
    """
    kind = type(obj)
    names = _CLASS_FIELDS.get(kind)
    if names is None:
        seen: dict[str, None] = {}
        for cls in kind.__mro__:
            if cls is dict or cls is object:
                continue
            for attr in ("__mypyc_attrs__", "__slots__"):
                declared = cls.__dict__.get(attr, ())
                for name in (declared,) if isinstance(declared, str) else declared:
                    if name not in ("__dict__", "__weakref__"):
                        seen[name] = None
        names = _CLASS_FIELDS[kind] = tuple(seen)
    out = [name for name in names if hasattr(obj, name)]
    if hasattr(obj, "__dict__"):
        out.extend(name for name in vars(obj) if name not in names)
    return out


def breakdown(g: Any) -> Counter[str]:
    """Bytes per (path, type) of everything reachable from graph `g`'s attributes, each object once."""
    seen: set[int] = {id(g), id(g.config)}
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    stack: list[tuple[Any, str]] = [
        (getattr(g, name), "g." + name) for name in sorted(_fields(g), reverse=True) if name != "config"
    ]
    while stack:
        obj, path = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP) or (isinstance(obj, int) and -5 <= obj <= 256):
            continue
        seen.add(id(obj))
        kind = type(obj).__name__
        label = f"{path} {kind}"
        sizes[label] += sys.getsizeof(obj)
        counts[label] += 1
        if isinstance(obj, (str, bytes, int, float)):
            continue
        if isinstance(obj, dict):
            for k, v in dict.items(obj):  # the dict's own values (an EvidenceTable's cold rows stay cold)
                stack.append((v, path + "{v}"))
                stack.append((k, path + "{k}"))
            # A dict subclass's own fields (a cold table's columns); a `TextTable`'s, under who holds it.
            head = path.split(" ", 1)[0].split("/", 1)[0] + "/" if kind == "TextTable" else ""
            stack.extend((getattr(obj, name), f"{head}{kind}.{name}") for name in _fields(obj))
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend((item, path + "[]") for item in obj)
        else:
            # A table's keys (`resolver.text_keys`) are charged to the table that holds them.
            head = path.split("/", 1)[0] + "/" if kind.endswith("Keys") or kind == "HexText" else ""
            stack.extend((getattr(obj, name), f"{head}{kind}.{name}") for name in _fields(obj))
    return Counter({f"{k} (n={counts[k]})": v for k, v in sizes.items()})


#: Parts of the state by the first step of their path (`breakdown`): what grows with identifiers,
#: and the parser's and profiles' caches, which are bounded (their share falls at 1M identifiers).
_GROUPS = (
    ("strings (a loaded snapshot's table)", ("EvidenceColumns.strings",)),
    ("evidence ids (a loaded snapshot's text and index)", ("EvidenceTable.ids/",)),
    ("customer ids (a loaded snapshot's text and index)", ("CustomerIds.ids/",)),
    ("duplicate horizon", ("RecentEvents", "g.recent", "ColdEvents")),
    ("evidence", ("ContentIndex", "Evidence.", "EvidenceColumns.", "EvidenceTable.", "g.evidence", "g.by_content")),
    ("nodes", ("g.nodes", "Node.", "LineNode.", "NodeColumns.", "NodeTable.")),
    ("union-find", ("DisjointSet", "g.uf", "ColdSets", "_Parents")),
    ("customers", ("g.cust", "Customer.", "CustomerColumns.", "CustomerTable.", "g.by_root", "g.absorbed", "g.erased")),
    ("near-phone index", ("NearIndex", "g.near_index")),
    ("change set (tracked only)", ("g.dirty", "g.retired")),
    (
        "caches (bounded)",
        ("IdentifierParser", "PhoneNormaliser", "EmailNormaliser", "JunkRules", "g.parser", "g._", "g.profiles"),
    ),
)


def groups(parts: Counter[str]) -> dict[str, float]:
    """`breakdown`'s bytes summed by part of the state (`_GROUPS`; the rest as "other")."""
    out: Counter[str] = Counter()
    for label, size in parts.items():
        path = label.split(" ", 1)[0]
        name = next((n for n, heads in _GROUPS if path.startswith(heads)), "other")
        out[name] += size
    return dict(out.most_common())


def _report(g: Any, growth: int, extra: dict[str, Any], top: int) -> dict[str, Any]:
    nodes = len(g.nodes)
    parts = breakdown(g)
    total = sum(parts.values())
    return {
        **extra,
        "identifiers": nodes,
        "evidence": len(g.evidence),
        "customers": len(g.cust),
        "rss_per_identifier": round(growth / nodes, 1),
        "walked_per_identifier": round(total / nodes, 1),
        "groups_per_identifier": {k: round(v / nodes, 1) for k, v in groups(parts).items()},
        "parts_per_identifier": [(k, round(v / nodes, 1)) for k, v in parts.most_common(top)],
    }


def _build(customers: int, snap: Path, top: int, track: bool, compacted: bool = False) -> dict[str, Any]:
    from resolver import records, snapshot

    gc.collect()
    before = rss()
    resolver, seconds, growth = build_state(dataset(customers), track_changes=track)
    g = resolver._g
    out = _report(g, growth, {"replay_s": round(seconds, 2), "track_changes": track}, top)
    records.drain(g)
    snap.write_bytes(snapshot.dump(g))
    if compacted:
        # The same state compacted in place (`resolver.compaction`), the freed heap given back.
        c0 = time.process_time()
        resolver.compact()
        release_freed()
        extra = {"compact_cpu_s": round(time.process_time() - c0, 2)}
        out["compacted"] = _report(g, rss() - before, extra, top)
    return out


def _load(snap: Path, top: int) -> dict[str, Any]:
    g, m = load_timed(snap)
    extra = {
        "load_s": round(m["load_s"], 2),
        "load_cpu_s": round(m["load_cpu_s"], 2),
        "roundtrip_equal": m["roundtrip_equal"],
        # RSS before the load's freed heap was given back (`streams.heap`), per identifier.
        "rss_untrimmed_per_identifier": round(m["rss_growth_untrimmed"] / len(g.nodes), 1),
    }
    return _report(g, m["rss_growth"], extra, top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="core memory per identifier, by part (after replay and load)")
    parser.add_argument("customers", type=int)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--untracked", action="store_true", help="replay without change tracking (as irl replay)")
    parser.add_argument("--load", type=Path, help="(child) load this snapshot and report")
    parser.add_argument("--compacted", action="store_true", help="also report the built state compacted in place")
    args = parser.parse_args(argv)
    if args.load is not None:
        print(json.dumps(_load(args.load, args.top)))
        return 0
    snap = dataset(args.customers).parent / "state.snap"
    built = _build(args.customers, snap, args.top, not args.untracked, args.compacted)
    proc = subprocess.run(
        [str(BIN / "python"), "-m", "bench.memory", str(args.customers), "--top", str(args.top), "--load", str(snap)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps({"customers": args.customers, "replay": built, "load": loaded}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
