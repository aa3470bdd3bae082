"""Shards of one replay: sets of events the core resolves apart exactly as one process resolves them all.

The core's decisions about an event read only the state of the events it is linked to, in
the widest sense (`resolver.linking`, `resolver.reresolution`): events that share an
identifier key (links, hubs, households, limits), pieces of evidence that share content (a
repeat), events that share an event id (the duplicate rule) and phones one edit apart (the
near-phone rule, `resolver.near`, whether or not the link holds). `partition` closes the
events under those four relations and packs the closed sets into shards: an event and every
event related to it land in one shard. Each shard's core, fed its events in log order, then
takes every decision the one core takes, with one global value given from outside: the
watermark of event time before each event (`watermarks`; the duplicate horizon's stamps and
forgetting read it, `resolver.horizon`).

What the closure does not cover, and so must not be in a sharded log: operator actions
(block, split, merge, erase), which reach customers anywhere. A replay file holds events only.

Customer ids are minted from event ids (`resolver.graph.Graph.new_id`), with a salt when the
id is taken: taken by this shard's customers only, in a shard. A shard's choice differs
from the one core's only if the id it picks is taken in another shard, where it then stays
(live or absorbed ids are never freed in a replay): the shell checks that no id is held by
two shards (`ids_disjoint`) and replays in one process when one is.

Pure: values in, values out.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from resolver.horizon import RecentEvents
from resolver.near import NearIndex

__all__ = ["ids_disjoint", "link_keys", "partition", "watermarks"]

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


def partition(events: Iterable[tuple[str, Sequence[str]]], shards: int) -> list[int]:
    """The shard (0 .. shards - 1) of each (event id, `link_keys`) of a log.

    Closed: two events sharing an event id or a key, or carrying phone keys one edit apart
    (`NearIndex`), get the same shard. The closed sets are packed largest first, each into
    the shard with the fewest events so far (ties: the lowest shard), so shards balance when
    no set is a large part of the log. Deterministic: a function of the sequence given.
    """
    if shards < 1:
        raise ValueError("shards must be >= 1")
    index: dict[str, int] = {}
    parent: list[int] = []  # a disjoint-set forest over key numbers: each root is its set's smallest
    first: dict[str, int] = {}  # event id -> a key number of its first event
    heads: list[int] = []
    for event_id, keys in events:
        root = -1
        for key in keys:
            node = index.get(key)
            if node is None:  # a new key joins this event's set directly
                node = index[key] = len(parent)
                parent.append(node if root < 0 else root)
                if root < 0:
                    root = node
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
        held = first.setdefault(event_id, root)
        if held != root:
            _union(parent, held, root)
        heads.append(root)
    near = NearIndex()
    phones = [key for key in index if key[:2] == "p:"]
    near.add_all(phones)
    for key in phones:
        for other in near.near(key):
            _union(parent, index[key], index[other])
    return _packed([_find(parent, head) for head in heads], shards)


def _packed(sets: list[int], shards: int) -> list[int]:
    """Each event's shard, given its closed set's name: largest sets first, each to the emptiest shard."""
    sizes: dict[int, int] = {}
    for name in sets:
        sizes[name] = sizes.get(name, 0) + 1
    load = [(0, shard) for shard in range(shards)]  # a heap: (events so far, shard)
    shard_of: dict[int, int] = {}
    # Largest first; equal sizes in order of first appearance (dicts keep it, sorts are stable).
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        events, shard = load[0]
        shard_of[name] = shard
        heapq.heapreplace(load, (events + size, shard))
    return [shard_of[name] for name in sets]


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


def watermarks(events: Iterable[tuple[str, int]], horizon_ms: int) -> list[int | None]:
    """The watermark of event time before each (event id, time) of a log of valid events, in order.

    As one core moves it (`resolver.horizon.RecentEvents`): every event applied moves it, a
    duplicate (its id remembered within the horizon) does not. In a replay every valid event
    whose id is not remembered is applied (nothing is suppressed without an erasure).
    """
    recent = RecentEvents(horizon_ms)
    out: list[int | None] = []
    append = out.append
    for event_id, at in events:
        append(recent.watermark)
        if event_id not in recent:
            recent.remember(event_id, at, "")
    return out


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
