"""Duplicate event ids within a horizon of event time: exact, bounded, a pure function of the log.

Producers deliver at least once, so the same event id can arrive twice. Every applied event
id is remembered for one horizon of event time after it arrives: until the *watermark* (the
latest event time applied so far, in log order) passes its *stamp* (the later of its own
time and the watermark when it arrived) by more than the horizon. Within that, a repeated
id changes nothing at all; a late event (older than the watermark) is remembered as long as
an on-time one. Ids are kept by day of stamp and forgotten a day at a time, so memory is
bounded by the events of one horizon, not by history.

A copy that arrives later than that is not recognised: it counts as one more interaction of
its evidence (``event_count``, ``last_seen`` may move) and can never change an identity,
because who is who depends on distinct evidence only (`resolver.evidence`).

Everything here depends only on the sequence of calls, so the same log gives the same
decisions in replay and in the stream.

A loaded snapshot's remembered events stay *cold* (`ColdEvents`): their ids one UTF-8 text
with a hash index (`resolver.text_keys.TextKeys`), their evidence as rows of the evidence ids,
their stamps an array; no string and no dict entry per event. They come before every event
remembered since (their stamps are no later), are found by a binary search, and are forgotten
by a cursor that moves over them in order.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, MutableSequence, Sequence
from itertools import compress, count, repeat
from operator import floordiv, itemgetter, ne, not_
from typing import Any

from resolver.text_keys import TextKeys

__all__ = ["DAY_MS", "ColdEvents", "RecentEvents", "still_remembered"]

DAY_MS = 86_400_000

#: (stamp, event id) of an item: the order days and ids are rebuilt in.
_BY_STAMP = itemgetter(1, 0)


class ColdEvents:
    """The events a snapshot load remembered, in the order remembered (their stamps never decrease).

    Row ``r``'s event id is ``ids.key(r)``, its stamp ``stamps[r]``, its evidence id ``vids.key(refs[r])``
    (a reference past the evidence ids is ``strings[refs[r] - len(vids)]``: an id no piece holds).
    ``gone[r]`` is 1 once the event is forgotten (an erasure) or expired; a forgotten row keeps its
    day until that day expires, as a forgotten id's place in a day list does. Rows before ``lo``
    are the expired ones.
    """

    __slots__ = ("gone", "ids", "live", "lo", "refs", "stamps", "strings", "vids")

    def __init__(self, ids: TextKeys, stamps: array[int], refs: array[int], vids: TextKeys, strings: list[Any]) -> None:
        if not len(ids) == len(stamps) == len(refs):
            raise ValueError("remembered event ids, stamps and evidence differ in length")
        self.ids, self.stamps, self.refs, self.vids, self.strings = ids, stamps, refs, vids, strings
        self.gone = bytearray(len(ids))
        #: how many rows are neither forgotten nor expired
        self.live = len(ids)
        self.lo = 0

    def row(self, event_id: str) -> int | None:
        """The row of remembered `event_id` (None when it is none of the rows or gone)."""
        if not self.live:
            return None
        r = self.ids.row(event_id)
        return None if r is None or self.gone[r] else r

    def vid(self, row: int) -> str:
        """The evidence id of row `row`'s event, as a new string."""
        ref, pieces = self.refs[row], len(self.vids)
        return self.vids.key(ref) if ref < pieces else str(self.strings[ref - pieces])

    def drop(self, row: int) -> None:
        """Forget row `row` (its day stays until it expires)."""
        self.gone[row] = 1
        self.live -= 1

    def rows(self) -> list[int]:
        """The rows not gone, in order."""
        lo = self.lo
        return list(compress(range(lo, len(self.gone)), map(not_, self.gone[lo:])))

    def vids_of(self, rows: list[int]) -> list[str]:
        """The evidence ids of `rows`' events, as new strings."""
        pieces, refs = len(self.vids), self.refs
        held = [r for r in rows if refs[r] < pieces]
        if len(held) == len(rows):  # every id a piece's (the usual case): in C
            return self.vids.keys(list(map(refs.__getitem__, rows)))
        return [self.vid(r) for r in rows]

    def first_day(self) -> int | None:
        """The day of the oldest row not expired (forgotten ones too), or None."""
        return self.stamps[self.lo] // DAY_MS if self.lo < len(self.stamps) else None

    def expire(self, floor: int) -> list[str]:
        """Expire the rows of every day wholly before `floor`; the ids forgotten so (not those gone before)."""
        stamps, gone, end, lo = self.stamps, self.gone, len(self.stamps), self.lo
        out: list[str] = []
        while lo < end and (stamps[lo] // DAY_MS + 1) * DAY_MS <= floor:
            if not gone[lo]:
                gone[lo] = 1
                self.live -= 1
                out.append(self.ids.key(lo))
            lo += 1
        self.lo = lo
        return out


class RecentEvents:
    """Event id -> (stamp, evidence id) for the events applied within the last `horizon_ms` of event time.

    Kept compact: event id -> evidence id in one dict (both strings the evidence holds already,
    for an event that is its evidence's earliest), and each day's ids with their stamps in a
    list beside them (no tuple per event; a stamp is the int of its event's time or of the
    watermark, held by the evidence too). Stamps never decrease in the
    order remembered (a stamp is the watermark after its event), so the days, in order, list
    the ids in that order. A stamp is read by a scan (`get`, `stamps`): only state records and
    snapshots read them, and `stamps` gives them all in one pass. A loaded state's events are
    `ColdEvents` (``_cold``), before all of these in order; an event id is in one of the two.
    """

    __slots__ = ("_by_day", "_cold", "_ids", "_next", "_stale", "_stamps", "horizon_ms", "watermark")

    def __init__(self, horizon_ms: int) -> None:
        if horizon_ms < 0:
            raise ValueError("horizon_ms must be >= 0")
        self.horizon_ms = horizon_ms
        self.watermark: int | None = None
        #: event id -> evidence id, in the order remembered
        self._ids: dict[str, str] = {}
        #: day of stamp -> the ids remembered with a stamp that day, in order (forgotten ones too:
        #: `forget`); `_stamps` holds their stamps, item for item
        self._by_day: dict[int, list[str]] = {}
        self._stamps: dict[int, MutableSequence[int]] = {}
        #: the watermark at which the oldest remembered day is forgotten
        self._next: int | None = None
        #: event id -> how many places of it in the day lists are stale (`forget`): an id
        #: remembered again is listed again, later, and only its last place is its own
        self._stale: dict[str, int] = {}
        #: the events a snapshot load remembered (None: none)
        self._cold: ColdEvents | None = None

    def __len__(self) -> int:
        return len(self._ids) + (self._cold.live if self._cold is not None else 0)

    def __contains__(self, event_id: object) -> bool:
        if event_id in self._ids:
            return True
        return self._cold is not None and event_id.__class__ is str and self._cold.row(str(event_id)) is not None

    def get(self, event_id: str) -> tuple[int, str] | None:
        """(stamp, evidence id) of a remembered event, or None. The stamp costs a scan: see `vid_of`."""
        vid = self._ids.get(event_id)
        if vid is None:
            cold = self._cold
            row = None if cold is None else cold.row(event_id)
            return None if row is None or cold is None else (cold.stamps[row], cold.vid(row))
        for day in reversed(self._by_day):
            ids = self._by_day[day]
            if event_id in ids:
                # Its last place: an id forgotten and remembered again is listed twice.
                at = len(ids) - 1 - ids[::-1].index(event_id)
                return self._stamps[day][at], vid
        raise AssertionError(f"remembered event id {event_id!r} is in no day")  # pragma: no cover

    def vid_of(self, event_id: str) -> str | None:
        """The evidence id of a remembered event, or None (O(1); a loaded one: a binary search)."""
        vid = self._ids.get(event_id)
        if vid is None and self._cold is not None:
            row = self._cold.row(event_id)
            return None if row is None else self._cold.vid(row)
        return vid

    def stamps(self) -> dict[str, int]:
        """Event id -> stamp of every remembered event, in one pass over the days."""
        out: dict[str, int] = {}
        for day, ids in self._by_day.items():
            out.update(zip(ids, self._stamps[day], strict=True))  # a later place (an id remembered again) wins
        held = self._ids
        plain = {e: at for e, at in out.items() if e in held}
        cold = self._cold
        if cold is None:
            return plain
        # The loaded events first (none of them is in a day list: an id is remembered in one of the two).
        rows = cold.rows()
        return {**dict(zip(cold.ids.keys(rows), map(cold.stamps.__getitem__, rows), strict=True)), **plain}

    def _floor(self) -> int | None:
        return None if self.watermark is None else self.watermark - self.horizon_ms

    def remember(self, event_id: str, at: int, vid: str) -> list[str]:
        """Remember an applied event; returns the ids forgotten because the watermark moved."""
        stamp = at if self.watermark is None or at > self.watermark else self.watermark
        self._ids[event_id] = vid
        day = stamp // DAY_MS
        held = self._by_day.get(day)
        if held is None:
            self._by_day[day] = [event_id]
            self._stamps[day] = [stamp]
            due = (day + 1) * DAY_MS + self.horizon_ms
            if self._next is None or due < self._next:
                self._next = due
        else:
            held.append(event_id)
            self._stamps[day].append(stamp)
        if self.watermark is not None and at <= self.watermark:
            return []  # a late or same-time event, the usual case in a burst: no call
        return self.advance(at)

    def advance(self, at: int) -> list[str]:
        """Move the watermark to `at` as an event applied at that time would, remembering no id.

        For a shard of one log (`resolver.shards`): the events applied in other shards moved
        the one watermark too. `advance(w)` then `remember(e, at, v)` leaves exactly the state
        `remember(e, at, v)` leaves after the same events in one process, when `w` is the
        watermark that process had (restricted to this shard's ids). Returns the ids forgotten.
        """
        if self.watermark is not None and at <= self.watermark:
            return []
        self.watermark = at
        if self._next is None or at < self._next:
            return []
        return self._expire()

    def lapses(self, event_id: str, at: int) -> bool:
        """Whether `advance(at)` would forget remembered `event_id` (nothing moves).

        O(1) unless `at` ends a day of ids (`_next`), then a scan of the days for the id: only
        for an id sent again at such a moment.
        """
        if self._next is None or at < self._next or (self.watermark is not None and at <= self.watermark):
            return False
        floor = at - self.horizon_ms
        for day in sorted(self._by_day, reverse=True):  # its last place is its own (`forget`)
            if event_id in self._by_day[day]:
                return (day + 1) * DAY_MS <= floor
        row = None if self._cold is None else self._cold.row(event_id)
        if row is not None and self._cold is not None:
            return (self._cold.stamps[row] // DAY_MS + 1) * DAY_MS <= floor
        return False

    def _expire(self) -> list[str]:
        floor = self._floor()
        assert floor is not None
        # A day is forgotten once all of it lies before the floor.
        gone = [day for day in self._by_day if (day + 1) * DAY_MS <= floor]
        # The loaded events come first in order (their stamps are no later than any since).
        out: list[str] = [] if self._cold is None else self._cold.expire(floor)
        for day in sorted(gone):
            del self._stamps[day]
            for event_id in self._by_day.pop(day):
                if self._stale and event_id in self._stale:
                    left = self._stale.pop(event_id) - 1  # a place `forget` left: not the id's own
                    if left:
                        self._stale[event_id] = left
                elif self._ids.pop(event_id, None) is not None:
                    out.append(event_id)
        self._next = min(self._by_day, default=None)
        first = None if self._cold is None else self._cold.first_day()
        if first is not None and (self._next is None or first < self._next):
            self._next = first
        if self._next is not None:
            self._next = (self._next + 1) * DAY_MS + self.horizon_ms
        return out

    def forget(self, event_ids: Iterable[str]) -> None:
        """Drop ids (an erasure); their places in the day lists stay, counted stale and skipped on expiry."""
        cold = self._cold
        for event_id in event_ids:
            if self._ids.pop(event_id, None) is not None:
                self._stale[event_id] = self._stale.get(event_id, 0) + 1
            elif cold is not None:
                row = cold.row(event_id)
                if row is not None:
                    cold.drop(row)

    def items(self) -> list[tuple[str, int, str]]:
        """(event id, stamp, evidence id), sorted by id: for records and snapshots."""
        eids, stamps, vids = self.columns()
        return sorted(zip(eids, stamps, vids, strict=True))

    def columns(self) -> tuple[list[str], list[int], list[str]]:
        """(event ids, stamps, evidence ids) in the order remembered: for snapshots (`from_columns`)."""
        eids, vids = list(self._ids), list(self._ids.values())
        cold = self._cold
        if cold is not None:  # first in order
            rows = cold.rows()
            eids, vids = [*cold.ids.keys(rows), *eids], [*cold.vids_of(rows), *vids]
        return eids, list(map(self.stamps().__getitem__, eids)), vids

    def ids_of(self, vids: set[str]) -> list[str]:
        """Remembered event ids whose evidence is in `vids`, sorted."""
        out = [e for e, vid in self._ids.items() if vid in vids]
        cold = self._cold
        if cold is not None:
            rows = cold.rows()
            out += compress(cold.ids.keys(rows), map(vids.__contains__, cold.vids_of(rows)))
        return sorted(out)

    @classmethod
    def restore(cls, horizon_ms: int, watermark: int | None, items: Iterable[tuple[str, int, str]]) -> RecentEvents:
        """Rebuild from (event id, stamp, evidence id) items (`items`), in any order."""
        ordered = sorted(items, key=_BY_STAMP)
        return cls.from_columns(
            horizon_ms, watermark, [e for e, _, _ in ordered], [at for _, at, _ in ordered], [v for _, _, v in ordered]
        )

    @classmethod
    def from_columns(
        cls, horizon_ms: int, watermark: int | None, event_ids: list[str], stamps: Sequence[int], vids: list[str]
    ) -> RecentEvents:
        """Rebuild from one column per field of `items`, in any order (kept as the order remembered)."""
        out = cls(horizon_ms)
        out.watermark = watermark
        out._ids = dict(zip(event_ids, vids, strict=True))
        if len(stamps) != len(event_ids):
            raise ValueError("event ids and stamps differ in length")
        by_day, by_day_stamps = out._by_day, out._stamps
        days = list(map(floordiv, stamps, repeat(DAY_MS)))
        # Runs of one day, in order (stamps never decrease in the order remembered, so a day is
        # usually one run): each run's ids join its day's list, as one append per id would.
        cuts = [i + 1 for i in compress(count(), map(ne, days[1:], days))]
        for start, end in zip([0, *cuts], [*cuts, len(days)], strict=True):
            if start < end:
                by_day.setdefault(days[start], []).extend(event_ids[start:end])
                # A loaded day's stamps in an array (its ints would be objects of their own).
                by_day_stamps.setdefault(days[start], array("q")).extend(array("q", stamps[start:end]))
        if by_day:
            out._next = (min(by_day) + 1) * DAY_MS + horizon_ms
        return out

    @classmethod
    def from_cold(cls, horizon_ms: int, watermark: int | None, cold: ColdEvents) -> RecentEvents:
        """The events a snapshot load remembered, kept cold (`ColdEvents`), and its watermark."""
        out = cls(horizon_ms)
        out.watermark = watermark
        out._cold = cold
        first = cold.first_day()
        if first is not None:
            out._next = (first + 1) * DAY_MS + horizon_ms
        return out


def still_remembered(
    recent: RecentEvents, event_id: str, at: int, advance: Callable[[int], object] | None = None
) -> str | None:
    """The evidence id of remembered `event_id` after the event's own time `at` moved the watermark.

    Call only for an id `vid_of` found. An event carries its own time: one that ends its id's
    horizon (sent again 18 days later by a producer that reuses ids) is a new event, not a
    repeat, whether or not events in between moved the watermark first (the stream's order of
    topics and partitions is not the file's). Every caller (`Resolver`, the replay's `IdWatch`,
    the shard `Planner`) decides this one way. A repeat within the horizon moves nothing: the
    watermark moves only when it ends the id's horizon (then the event is new, and would move
    it anyway). `advance`: what moves the watermark (default `recent.advance`; a caller that
    keeps more per remembered id forgets it there too).
    """
    if recent.lapses(event_id, at):
        (recent.advance if advance is None else advance)(at)
    return recent.vid_of(event_id)
