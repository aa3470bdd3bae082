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
event amortised: it compacts once the events since the last compaction reach a fraction
(`growth`) of the identifiers held then, and at least `floor` events. A growing state is
compacted at geometric sizes (the total work is at most (1 + 1/growth) times one compaction of
the final state); a state of steady size once per ``growth x size`` events.
"""

from __future__ import annotations

import gc

from resolver import snapshot
from resolver.graph import Graph

__all__ = ["Cadence", "compact"]

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


class Cadence:
    """When to compact: once the events since the last compaction reach ``growth`` times the
    identifiers held then, and at least `floor` (amortised O(1) per event; the module docstring).

    Pure counting: the caller says how many events it applied (`due`) and that it compacted
    (`compacted`, with the identifiers held then). ``growth`` 0: never.
    """

    __slots__ = ("floor", "growth", "since", "size")

    def __init__(self, growth: float, floor: int = 50_000) -> None:
        if growth < 0 or floor < 1:
            raise ValueError("growth must be >= 0 and floor >= 1")
        self.growth = growth
        self.floor = floor
        #: events applied since the last compaction
        self.since = 0
        #: identifiers held at the last compaction
        self.size = 0

    def due(self, events: int = 1) -> bool:
        """Note `events` more applied; True when a compaction is due."""
        self.since += events
        return self.growth > 0 and self.since >= max(self.floor, self.growth * self.size)

    def compacted(self, identifiers: int) -> None:
        """A compaction ran with `identifiers` held: count afresh from it."""
        self.since = 0
        self.size = identifiers
