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
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import cast

from resolver import snapshot
from resolver.graph import Graph

__all__ = ["DEFAULT_GROWTH", "Cadence", "compact", "hot_rows"]

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
    kept. O(state): call it at a `Cadence`.
    """
    if g.regroup:
        raise ValueError("compact between steps, not inside one")
    collecting = gc.isenabled()
    gc.disable()  # columns of millions of items and no cycles among them (as `resolver.snapshot.dump`)
    try:
        sections = snapshot.sections_of(g)
        # Let the hot tables go before the cold ones are made, so that the load reuses their memory.
        empty = Graph(g.config, track_changes=g.track)
        for name in _STATE:
            setattr(g, name, getattr(empty, name))
        del empty
        fresh = snapshot.graph_of(g.config, sections, track_changes=g.track)
        del sections
        for name in (*_STATE, *_MEMOS):
            setattr(g, name, getattr(fresh, name))
    finally:
        if collecting:
            gc.enable()


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
