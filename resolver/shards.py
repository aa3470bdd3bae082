"""Shards of one replay: sets of events the core resolves apart exactly as one process resolves them all.

The core's decisions about an event read only the state of the events it is linked to, in
the widest sense (`resolver.linking`, `resolver.reresolution`): events that share an
identifier key (links, hubs, households, limits), pieces of evidence that share content (a
repeat), phones one edit apart (the near-phone rule, `resolver.near`, whether or not the
link holds), and an event whose id is remembered when it comes (the duplicate rule,
`resolver.horizon`: the one it repeats). `Planner` closes the events of a log under those
relations, in log order and in memory that grows with identifiers and the horizon, not with
events (a few bytes per event), and packs the closed sets into shards. Each shard's core,
fed its events in log order, takes every decision the one core takes, given one global
value from outside: the watermark of event time before each event (`Planner.marks`; the
duplicate horizon's stamps and forgetting read it).

What the closure does not cover, and so must not be in a sharded log: operator actions
(block, split, merge, erase), which reach customers anywhere. A replay file holds events only.

Customer ids are minted from event ids (`resolver.graph.Graph.new_id`), with a salt when the
id is taken: taken by this shard's customers only, in a shard. A shard's choice differs
from the one core's only if the id it picks is taken in another shard, where it then stays
(live or absorbed ids are never freed in a replay): an event id sent again after the horizon
with new content, in another shard, or an id that is another's salted form. The shell checks
that no id is held by two shards (`ids_disjoint`) and replays in one process when one is.

Pure: values in, values out.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence

from resolver.horizon import RecentEvents, still_remembered
from resolver.near import NearIndex

__all__ = ["NO_MARK", "Planner", "ids_disjoint", "link_keys", "plan"]

#: The prefix of the key `link_keys` gives an event without identifier keys: no identifier
#: key starts with a control character.
_CONTENT = "\x00x"


def link_keys(touchpoint: str, source_id: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys that relate an event to others besides its id: its identifier keys, else its touchpoint identity.

    An event without identifier keys is evidence of its own content (touchpoint, source id,
    name, rejected values): two such events of one touchpoint identity go together, a
    coarser relation than equal content, so closed under it too.
    """
    return keys if keys else (_CONTENT + touchpoint + "\x1f" + source_id.strip(),)


#: `Planner.marks`' value for "no watermark yet" (an array holds integers only).
NO_MARK = -(2**63)


class Planner:
    """The shard of each event of a log, and the watermark before it, from one pass in log order.

    `add` each valid event in log order (its id, time and `link_keys`), then `shards` once.
    Memory: a disjoint-set forest over distinct keys, the ids within the duplicate horizon,
    a hash of the id of each event that brought a new key (at most one per key) and 13 bytes
    per event (`heads`, `marks`, the shard of each).
    """

    __slots__ = ("_first", "_index", "_near", "_parent", "_recent", "_seen", "heads", "marks")

    def __init__(self, horizon_ms: int) -> None:
        self._index: dict[str, int] = {}
        self._parent: list[int] = []  # a forest over key numbers: each root is its set's smallest
        self._recent = RecentEvents(horizon_ms)
        self._first: dict[str, int] = {}  # remembered event id -> a key number of its set
        #: the id's hash of each event that brought a new key -> a key number of its set. A
        #: customer id is minted from the first event of new evidence (`Graph.new_id`), most often
        #: one with a new key: an id taken in again beyond the horizon joins that set, so one
        #: process mints both (salted the second time) and the replay need not fall back to one
        #: process. Events that only repeat what is known (a returning customer) add nothing here:
        #: memory grows with keys, not events. A hash, not the id: two ids of one hash only put
        #: two sets in one shard. The rare id minted by an event without a new key (a new name on
        #: a split phone) and taken in again is still caught by `ids_disjoint`.
        self._seen: dict[int, int] = {}
        self._near = NearIndex()  # the phone keys so far
        #: per event, in order: a key number of its set (its root when it was added)
        self.heads = array("i")
        #: per event, in order: the watermark before it (as one core moves it), `NO_MARK` before any
        self.marks = array("q")

    def add(self, event_id: str, at: int, keys: Sequence[str], content: str = "") -> bool:
        """Take the next valid event of the log (the one core applies it unless its id is remembered).

        `content`: its evidence id (`resolver.linking.Found`, as `resolver.replay.parse` finds it). True when its id is
        remembered with other content: the core takes nothing of it (`Resolver.ingest`'s
        "conflict"); it is still planned, with the event it conflicts with.
        """
        index, parent = self._index, self._parent
        root = -1
        fresh = False
        phones: list[str] | None = None
        for key in keys:
            node = index.get(key)
            if node is None:  # a new key joins this event's set directly
                fresh = True
                node = index[key] = len(parent)
                parent.append(node if root < 0 else root)
                if root < 0:
                    root = node
                if key[:2] == "p:":
                    phones = [key] if phones is None else [*phones, key]
                continue
            while parent[node] != node:  # find, halving the path
                parent[node] = parent[parent[node]]
                node = parent[node]
            if root < 0:
                root = node
            elif node < root:
                parent[root] = root = node
            elif node > root:
                parent[node] = root
        if root < 0:  # no keys: related by its id alone
            root = len(parent)
            parent.append(root)
            fresh = True
        if phones is not None:  # a new phone joins the phones one edit from it (each pair met once)
            near = self._near
            for key in phones:
                for other in near.near(key):
                    _union(parent, index[key], index[other])
                near.add(key)
            root = _find(parent, root)
        recent = self._recent
        self.marks.append(NO_MARK if recent.watermark is None else recent.watermark)
        hashed = hash(event_id)
        before = self._seen.get(hashed)
        if before is not None:  # an id that brought a new key, taken in again: its events go together
            _union(parent, before, root)
        elif fresh:
            self._seen[hashed] = root
        seen = recent.vid_of(event_id)
        if seen is not None:
            seen = still_remembered(recent, event_id, at, self._advance)
        if seen is not None:  # a duplicate: the one it repeats decides, so they go together
            _union(parent, self._first[event_id], root)
        else:
            self._first[event_id] = root
            for gone in recent.remember(event_id, at, content):
                del self._first[gone]
        self.heads.append(root)
        return seen is not None and seen != content

    def _advance(self, at: int) -> None:
        for gone in self._recent.advance(at):
            del self._first[gone]

    def shards(self, shards: int) -> bytearray:
        """The shard (0 .. shards - 1, at most 256) of each event added, in order (`heads` become roots).

        Closed under the relations above. The closed sets are packed largest first, each into
        the shard with the fewest events so far (ties: the lowest shard), so shards balance
        when no set is a large part of the log. Deterministic: a function of the events added.
        """
        if not 1 <= shards <= 256:
            raise ValueError("shards must be in 1..256")
        parent = self._parent
        # Every link points to a smaller key number (a root is its set's smallest, `add` and
        # `_union` keep it so): one pass in order sets each node to its root, as the node it
        # points to was set before it. Then each event's root is a lookup, not a find.
        for node, up in enumerate(parent):
            parent[node] = parent[up]
        heads = self.heads
        roots = array("i", map(parent.__getitem__, heads))
        self.heads = roots
        sizes = Counter(roots)  # in order of first appearance, as a dict keeps it
        load = [(0, shard) for shard in range(shards)]  # a heap: (events so far, shard)
        shard_of: dict[int, int] = {}
        # Largest first; equal sizes in order of first appearance (dicts keep it, sorts are stable).
        for root, size in sorted(sizes.items(), key=lambda item: -item[1]):
            events, shard = load[0]
            shard_of[root] = shard
            heapq.heapreplace(load, (events + size, shard))
        return bytearray(map(shard_of.__getitem__, roots))


def plan(
    events: Iterable[tuple[str, int, Sequence[str]]], shards: int, horizon_ms: int
) -> tuple[list[int], list[int | None]]:
    """`Planner` over (event id, time, `link_keys`) in log order: each event's shard and the watermark before it."""
    planner = Planner(horizon_ms)
    for event_id, at, keys in events:
        planner.add(event_id, at, keys)
    marks = [None if mark == NO_MARK else mark for mark in planner.marks]
    return list(planner.shards(shards)), marks


def _find(parent: list[int], node: int) -> int:
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


def _union(parent: list[int], a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if rb < ra:
        ra, rb = rb, ra
    parent[rb] = ra


def ids_disjoint(held: Iterable[Iterable[str]]) -> bool:
    """True when no customer id is in two of the shards' sets of ids (live, absorbed, erased)."""
    seen: set[str] = set()
    total = 0
    for ids in held:
        before = len(seen)
        count = 0
        for cid in ids:
            seen.add(cid)
            count += 1
        total += count
        if len(seen) - before != count:
            return False
    return len(seen) == total
