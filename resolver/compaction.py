"""Compaction: a built state made as compact as a loaded one, in place, at a bounded cost per event.

A snapshot load keeps the evidence, nodes, customers and union-find *cold* (`resolver.cold`):
columns, no object or dict entry per row. Building the state from events (and thawing a loaded
row on its first read) makes them *hot*: an object and a dict entry each, about five times the
bytes. `compact` freezes the whole state back into the cold form a load of its snapshot would
have: it takes the snapshot's sections (`resolver.snapshot.sections_of`, without encoding them),
lets go of the hot tables, and makes the graph's stored and rebuilt fields those of
`resolver.snapshot.graph_of` over the sections. The `Graph` object stays the same (the parser,
the change set not yet drained, the effects being watched and whoever holds the graph keep
it), and its memos (profiles, near-phone pairs, names) start empty, as after a load. So a
compacted state gives the same answers and the same future as the state it was, and the same
snapshot bytes: a snapshot loads to the same answers and future (`tests/unit/test_snapshot.py`),
and `tests/unit/test_compaction.py` checks it for compactions at any points.

A compaction costs a dump and a load of the whole state, O(state). `Cadence` keeps it O(1) per
row made hot, amortised: it compacts once the hot rows reach a fraction (`growth`) of the cold
ones (and at least `floor`). A growing state is compacted at geometric sizes (the total work is
at most (1 + 1/growth) times one compaction of the final state); events that touch only rows
already hot never compact.

Memory given back: a compaction frees the hot state's objects, but the allocator gives memory
back to the system only where nothing lives any more. CPython's pymalloc keeps each 1-MiB arena
that holds one live object, and the objects a replay makes lie in every arena, so a compaction
keeps no hot object alive (the string table's strings are decoded anew, the parser's caches and
the process's memos are emptied, `clear_memos`), and with glibc's malloc for Python objects
(``PYTHONMALLOC=malloc``), which frees by pages, `malloc_trim` after it gives the freed pages back.
"""

from __future__ import annotations

import gc
import marshal
from collections.abc import Mapping
from typing import cast

from resolver import changelog, display_name, effect_codec, names, snapshot, summary
from resolver import columns as col
from resolver.graph import Graph

__all__ = ["DEFAULT_GROWTH", "Cadence", "clear_memos", "compact", "hot_rows"]

#: The growth measured and suggested (``IRL_COMPACT_GROWTH=0.5``; the worker's default is 0, never;
#: `bench.snapshot compacted` uses this): compact once the hot rows reach this many times the cold ones.
DEFAULT_GROWTH = 0.5

#: The graph's fields a snapshot holds or a load rebuilds (`tests/unit/test_snapshot.py` names
#: them: "stored" and "rebuilt"), and its memos, which a load leaves empty.
_STATE = (
    "evidence", "by_content", "nodes", "uf", "cust", "by_root", "absorbed", "erased", "suppressed", "recent",
    "split_seq", "merges", "must", "must_of", "merge_seq", "dismissed", "near_index",
)  # fmt: skip
_MEMOS = ("profiles", "near_memo", "_names", "_classes", "_name_values")


def compact(g: Graph) -> None:
    """Make `g`'s state cold in place, as a load of its snapshot would have it (see the module docstring).

    Call it between steps (never inside one: ``g.regroup`` must be empty). Answers, the future
    and snapshot bytes are unchanged; the change set not yet drained and the effects' watch are
    kept. The process's bounded memos are emptied (`clear_memos`). O(state): call it at a `Cadence`.

    No object of the hot state outlives it: the sections are encoded (marshal, as a snapshot's
    body) before the hot tables and the memos go, and the cold state is decoded from the bytes
    after, so that the string table holds new strings rather than the hot state's. A hot object
    kept (a node key in the table, a phone in a parser cache) would keep the allocator's pool and
    arena around it (1 MiB for CPython's pymalloc, a page for glibc's malloc) from being given back.
    """
    if g.regroup:
        raise ValueError("compact between steps, not inside one")
    collecting = gc.isenabled()
    gc.disable()  # columns of millions of items and no cycles among them (as `resolver.snapshot.dump`)
    try:
        data = marshal.dumps(snapshot.sections_of(g), col.MARSHAL)
        # Let the hot tables and every memo go before the cold ones are made.
        empty = Graph(g.config, track_changes=g.track)
        for name in (*_STATE, *_MEMOS):
            setattr(g, name, getattr(empty, name))
        del empty
        clear_memos(g)
        # A full collection before the cold state is made (whatever the hot state held in cycles, and
        # the free lists): without it the RSS after a compaction stayed near the built figure (measured).
        gc.collect()
        sections = marshal.loads(data)
        del data
        fresh = snapshot.graph_of(g.config, sections, track_changes=g.track)
        del sections
        for name in (*_STATE, *_MEMOS):
            setattr(g, name, getattr(fresh, name))
    finally:
        if collecting:
            gc.enable()


def clear_memos(g: Graph) -> None:
    """Empty `g`'s parser caches and the process's memos (`resolver.names`, `display_name`,
    `summary`, `changelog`, `effect_codec`): pure functions of their keys, so only the calls after
    cost more (each value computed again once). Not the graph's own memos: `compact` remakes them."""
    g.parser.clear_caches()
    names.clear_memos()
    display_name.clear_memos()
    summary.clear_memos()
    changelog.clear_memos()
    effect_codec.clear_memos()


def hot_rows(g: Graph) -> tuple[int, int]:
    """(hot, all) rows of the evidence, node and customer tables, O(1): a plain dict's rows are all
    hot; a cold table's hot ones are those its dict holds (thawed or added since it was made)."""
    tables: tuple[Mapping[str, object], ...] = (g.evidence, g.nodes, g.cust)
    hot = sum(dict.__len__(cast("dict[str, object]", t)) for t in tables)
    return hot, sum(map(len, tables))


class Cadence:
    """When to compact: when the hot rows reach ``growth`` times the cold ones, and at least `floor`.

    Each compaction costs O(state) and follows at least ``growth x cold`` rows made hot since
    the last (new evidence, identifiers and customers, or cold ones read again), so its cost is
    O(1/growth) per row made hot, amortised: a growing state is compacted at geometric sizes
    (each ``1 + growth`` times the last), and events that touch only hot rows never compact.
    Between compactions the hot rows are at most about ``growth`` times the cold ones.

    Pure counting: `look` says every `every` events whether to look at the rows (`hot_rows`,
    O(1) but not free), `ripe` whether to compact. ``growth`` 0: never.
    """

    __slots__ = ("every", "floor", "growth", "since")

    def __init__(self, growth: float, floor: int = 50_000, every: int = 1_000) -> None:
        if growth < 0 or floor < 1 or every < 1:
            raise ValueError("growth must be >= 0, floor and every >= 1")
        self.growth = growth
        self.floor = floor
        self.every = every
        #: events since the last look
        self.since = 0

    def look(self, events: int = 1) -> bool:
        """Note `events` more applied; True when it is time to look at the rows (each `every` events)."""
        self.since += events
        if self.growth <= 0 or self.since < self.every:
            return False
        self.since = 0
        return True

    def ripe(self, hot: int, rows: int) -> bool:
        """Whether `hot` rows of `rows` call for a compaction."""
        return self.growth > 0 and hot >= self.floor and hot >= self.growth * (rows - hot)
