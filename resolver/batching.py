"""Which customers changed in which window, and when a window closes.

`Batcher` is the pure state behind the 15-minute changelog. The shell feeds it each
resolution outcome with the event's time, and the clock (wall-clock ticks) as plain
integers; it answers which windows are closed and what changed in each.

Rules (all times integer epoch milliseconds):

* An effect belongs to the window of its event time, unless that window is already
  closed: then it belongs to the earliest open window (a late event's effect goes
  into the next batch; nothing is dropped).
* ``clock`` is the larger of the latest tick and the watermark (the largest event time
  seen, capped at ``max_skew_ms`` past the latest tick so that one clock-skewed
  producer cannot close the next day's windows).
* A window closes when ``clock >= end + grace``. Closing is monotonic: windows close
  in order and never reopen; ``closed_until`` is the start of the earliest open window.

    time  ──10:00──────────10:15──────────10:30──
    event        e1 (10:14:59.999)   e2 (10:15:00.000)
    window  [10:00, 10:15) ∋ e1   [10:15, 10:30) ∋ e2
    close   when clock >= 10:15 + grace

State is an explicit value: `drain_changes()` gives the records changed since the last
drain and `Batcher.restore()` rebuilds an equal batcher from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from resolver.window import Window, window_of

__all__ = ["Batcher", "PendingWindow"]

_META = "b:meta"
_PREFIX = "b:"


@dataclass(slots=True)
class PendingWindow:
    """What changed in one window and is not published yet."""

    window: Window
    touched: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)
    #: absorbed id -> survivor id at the time of the merge
    absorbed: dict[str, str] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    split: set[str] = field(default_factory=set)
    #: the ids `Batcher.take` has still to hand out, in reverse order (derived, kept between the
    #: takes of a window too big for one chunk; None: computed again from the sets)
    order: list[str] | None = field(default=None, compare=False, repr=False)

    def is_empty(self) -> bool:
        return not (self.touched or self.created or self.absorbed or self.erased or self.split)


class _Untracked(set[object]):
    """A change set that keeps nothing: for an owner kept whole by snapshots, not by drained records."""

    def add(self, element: object, /) -> None:
        return None

    def update(self, *others: Iterable[object]) -> None:
        return None


class Batcher:
    """Pending changes per window and the closing rule. Not thread-safe; one owner."""

    def __init__(self, size_ms: int, grace_ms: int, max_skew_ms: int = 60_000, *, track_changes: bool = True) -> None:
        if size_ms <= 0 or grace_ms < 0:
            raise ValueError("size_ms must be positive and grace_ms non-negative")
        self.size_ms = size_ms
        self.grace_ms = grace_ms
        self.max_skew_ms = max_skew_ms
        self.closed_until: int | None = None
        self.last_tick: int | None = None
        self.watermark: int | None = None
        self._pending: dict[int, PendingWindow] = {}
        #: the records changed since the last `drain_changes` (none kept without `track_changes`)
        self._dirty: set[object] = set() if track_changes else _Untracked()
        self._tracked = track_changes

    # -- time ---------------------------------------------------------------------------------

    @property
    def clock(self) -> int | None:
        """max(last tick, watermark); None before any time was seen."""
        known = [t for t in (self.last_tick, self.watermark) if t is not None]
        return max(known) if known else None

    def horizon(self) -> int | None:
        """Windows ending at or before this time are closed by the clock (None before any time)."""
        clock = self.clock
        return None if clock is None else window_of(clock - self.grace_ms, self.size_ms).start

    def target(self, event_ms: int) -> Window:
        """The window an effect of an event at ``event_ms`` is published in.

        The earliest window the clock has not closed, and not before ``closed_until``: a pure
        function of the clock, so the batches do not depend on how the log was cut into steps
        (a window that is due but not yet published takes no new effects).
        """
        return self._target_window(self._target_start(event_ms))

    def _target_start(self, event_ms: int) -> int:
        """The start of `target`'s window, computed on integers (no `Window` built)."""
        size = self.size_ms
        start = event_ms - event_ms % size
        # `horizon()` and the floor of `target`, inlined: this runs once per event.
        tick, mark = self.last_tick, self.watermark
        clock = tick if mark is None else mark if tick is None or mark > tick else tick
        floor = self.closed_until
        if clock is not None:
            t = clock - self.grace_ms
            horizon = t - t % size
            if floor is None or horizon > floor:
                floor = horizon
        if floor is not None and start < floor:
            return floor - floor % size
        return start

    def _target_window(self, start: int) -> Window:
        pw = self._pending.get(start)
        return pw.window if pw is not None else Window(start, start + self.size_ms)

    def observe_event_time(self, event_ms: int) -> None:
        """Advance the watermark with an event's time (capped by the skew rule)."""
        t = event_ms if self.last_tick is None else min(event_ms, self.last_tick + self.max_skew_ms)
        if self.watermark is None or t > self.watermark:
            self.watermark = t
            self._dirty.add(_META)

    def tick(self, now_ms: int) -> None:
        """Record a wall-clock tick (ticks may repeat or arrive out of order: harmless)."""
        if self.last_tick is None or now_ms > self.last_tick:
            self.last_tick = now_ms
            self._dirty.add(_META)

    # -- changes ------------------------------------------------------------------------------

    def _window(self, w: Window) -> PendingWindow:
        pw = self._pending.get(w.start)
        if pw is None:
            pw = self._pending[w.start] = PendingWindow(w)
            self._dirty.add((w.start, "w", ""))
        return pw

    def record(
        self,
        event_ms: int,
        *,
        touched: Iterable[str] = (),
        created: Iterable[str] = (),
        absorbed: Iterable[tuple[str, str]] = (),
        erased: Iterable[str] = (),
        split: Iterable[str] = (),
    ) -> Window:
        """Record the effects of one step that happened at ``event_ms``; return the window they went to."""
        start = self._target_start(event_ms)
        touched, created, absorbed = _seq(touched), _seq(created), _seq(absorbed)
        erased, split = _seq(erased), _seq(split)
        if not (touched or created or absorbed or erased or split):
            return self._target_window(start)
        pw = self._pending.get(start)
        dirty = self._dirty
        if pw is None:
            pw = self._pending[start] = PendingWindow(Window(start, start + self.size_ms))
            dirty.add((start, "w", ""))
        pw.order = None  # what is left to take may change
        if not self._tracked:  # the same sets, without a record of each change
            if touched:
                pw.touched.update(touched)
            if created:
                pw.created.update(created)
            if erased:
                pw.erased.update(erased)
            if split:
                pw.split.update(split)
            if absorbed:
                pw.absorbed.update(absorbed)
            return pw.window
        for kind, ids in (("t", touched), ("c", created), ("e", erased), ("s", split)):
            if not ids:
                continue
            bucket: set[str] = getattr(pw, _KINDS[kind])
            for cid in ids:
                if cid not in bucket:
                    bucket.add(cid)
                    dirty.add((start, kind, cid))
        for gone, survivor in absorbed:
            if pw.absorbed.get(gone) != survivor:
                pw.absorbed[gone] = survivor
                dirty.add((start, "a", gone))
        return pw.window

    def record_event(
        self,
        event_ms: int,
        touched: Sequence[str],
        created: Sequence[str],
        absorbed: Sequence[tuple[str, str]],
    ) -> None:
        """``observe_event_time(event_ms)`` then ``record(event_ms, touched=..., created=..., absorbed=...)``.

        What the ordered stage does once per event taken in, in one call: without change tracking
        (the worker's) the watermark and the window's sets are updated inline, the same values
        `observe_event_time` and `record` leave (`tests/unit/test_batcher_record_event.py`).
        """
        if self._tracked:
            self.observe_event_time(event_ms)
            self.record(event_ms, touched=touched, created=created, absorbed=absorbed)
            return
        tick, seen = self.last_tick, self.watermark
        t = event_ms if tick is None else min(event_ms, tick + self.max_skew_ms)
        if seen is None or t > seen:
            self.watermark = mark = t
        else:
            mark = seen
        if not (touched or created or absorbed):
            return
        # `_target_start`, with the clock as it is now (the watermark is never None here)
        size = self.size_ms
        start = event_ms - event_ms % size
        clock = mark if tick is None or mark > tick else tick
        floor = self.closed_until
        t = clock - self.grace_ms
        horizon = t - t % size
        if floor is None or horizon > floor:
            floor = horizon
        if start < floor:
            start = floor - floor % size
        pw = self._pending.get(start)
        if pw is None:
            pw = self._pending[start] = PendingWindow(Window(start, start + size))
        pw.order = None
        if touched:
            pw.touched.update(touched)
        if created:
            pw.created.update(created)
        if absorbed:
            pw.absorbed.update(absorbed)

    def due(self) -> list[Window]:
        """Windows that are closed by the clock and not yet published, oldest first.

        Calling `close` for each, in order, publishes them. Also advances ``closed_until``
        past empty windows.
        """
        horizon = self.horizon()
        if horizon is None:
            return []
        out = [pw.window for start, pw in sorted(self._pending.items()) if pw.window.end <= horizon]
        if not out and (self.closed_until is None or horizon > self.closed_until):
            self.closed_until = horizon
            self._dirty.add(_META)
        return out

    def pending(self, start: int) -> PendingWindow | None:
        """The pending changes of the window starting at ``start``."""
        return self._pending.get(start)

    def take(self, window: Window, limit: int) -> PendingWindow:
        """Remove and return the changes of up to ``limit`` customer ids of ``window``.

        A window is published in chunks so that each step stays small; `close` it when
        `take` returns an empty chunk.
        """
        pw = self._pending.get(window.start)
        chunk = PendingWindow(window)
        if pw is None:
            return chunk
        order = pw.order
        if order is None:
            # Live customers first, absorbed ids last: a survivor's record lists what it absorbed
            # (merged_from) while those entries are still pending.
            live = pw.touched | pw.created | pw.erased | pw.split
            absorbed_only = pw.absorbed.keys() - live
            if len(live) + len(absorbed_only) <= limit:
                return self._take_all(pw, chunk, live, absorbed_only)
            # A window bigger than a chunk: sorted once and handed out from the end, not sorted
            # again for every chunk (a backlog puts thousands of customers in one window).
            order = pw.order = sorted(live) + sorted(absorbed_only)
            order.reverse()
        ids = [order.pop() for _ in range(min(limit, len(order)))]
        for cid in ids:
            for kind, bucket in (("t", pw.touched), ("c", pw.created), ("e", pw.erased), ("s", pw.split)):
                if cid in bucket:
                    bucket.discard(cid)
                    getattr(chunk, _KINDS[kind]).add(cid)
                    self._dirty.add((window.start, kind, cid))
            if cid in pw.absorbed:
                chunk.absorbed[cid] = pw.absorbed.pop(cid)
                self._dirty.add((window.start, "a", cid))
        return chunk

    def _take_all(
        self, pw: PendingWindow, chunk: PendingWindow, live: set[str], absorbed_only: set[str]
    ) -> PendingWindow:
        """`take` when the whole window fits: its sets move into `chunk` as they are.

        The same chunk contents and the same dirty records as moving the ids one by one; the
        absorbed entries keep `take`'s order (live ids first, each part sorted).
        """
        start = pw.window.start
        dirty = self._dirty
        tracked = not isinstance(dirty, _Untracked)
        if not tracked and not pw.absorbed:  # the usual case: the sets change hands, nothing to record
            chunk.touched, pw.touched = pw.touched, chunk.touched
            chunk.created, pw.created = pw.created, chunk.created
            chunk.erased, pw.erased = pw.erased, chunk.erased
            chunk.split, pw.split = pw.split, chunk.split
            return chunk
        for kind, attr in _KINDS.items():
            bucket: set[str] = getattr(pw, attr)
            if bucket:
                if tracked:
                    dirty.update((start, kind, cid) for cid in bucket)
                setattr(chunk, attr, bucket)
                setattr(pw, attr, set())
        if pw.absorbed:
            gone = pw.absorbed
            order = sorted(live.intersection(gone)) + sorted(absorbed_only)
            chunk.absorbed = {cid: gone[cid] for cid in order}
            if tracked:
                dirty.update((start, "a", cid) for cid in order)
            pw.absorbed = {}
        return chunk

    def close(self, window: Window) -> None:
        """Mark ``window`` published (after its last chunk was taken); windows close in order."""
        pw = self._pending.pop(window.start, None)
        if pw is not None and not pw.is_empty():
            raise ValueError(f"window {window.start} still has unpublished changes")
        self._dirty.add((window.start, "w", ""))
        if self.closed_until is None or window.end > self.closed_until:
            self.closed_until = window.end
            self._dirty.add(_META)

    def windows(self) -> list[Window]:
        """Pending windows, oldest first."""
        return [pw.window for _, pw in sorted(self._pending.items())]

    def pending_count(self) -> int:
        """How many windows are pending, O(1) (`windows()` sorts them)."""
        return len(self._pending)

    # -- persistence --------------------------------------------------------------------------

    def drain_changes(self) -> dict[str, str | None]:
        """Records changed since the last drain (key -> text, None = deleted); deterministic.

        One record per (window, kind, customer id), so a step writes only what it changed.
        """
        out: dict[str, str | None] = {}
        dirty = self._dirty
        if _META in dirty:  # the meta record first; the rest are (start, kind, id) tuples, sorted as they are
            dirty.discard(_META)
            out[_META] = json.dumps([self.closed_until, self.last_tick, self.watermark], separators=(",", ":"))
        items: list[tuple[int, str, str]] = sorted(dirty)  # type: ignore[arg-type]
        for start, kind, cid in items:
            pw = self._pending.get(start)
            if kind == "w":
                out[f"{_PREFIX}{start}:w:"] = None if pw is None else str(pw.window.end)
                continue
            key = f"{_PREFIX}{start}:{kind}:{cid}"
            if pw is None:
                out[key] = None
            elif kind == "a":
                out[key] = pw.absorbed.get(cid)
            else:
                out[key] = "" if cid in getattr(pw, _KINDS[kind]) else None
        self._dirty.clear()
        return out

    def records(self) -> Iterator[tuple[str, str]]:
        """The whole state as records (what every drain so far adds up to); `restore` takes them back."""
        yield _META, json.dumps([self.closed_until, self.last_tick, self.watermark], separators=(",", ":"))
        for start, pw in sorted(self._pending.items()):
            yield f"{_PREFIX}{start}:w:", str(pw.window.end)
            for kind, attr in _KINDS.items():
                for cid in sorted(getattr(pw, attr)):
                    yield f"{_PREFIX}{start}:{kind}:{cid}", ""
            for cid, survivor in sorted(pw.absorbed.items()):
                yield f"{_PREFIX}{start}:a:{cid}", survivor

    @classmethod
    def restore(
        cls,
        size_ms: int,
        grace_ms: int,
        records: Iterable[tuple[str, str]],
        max_skew_ms: int = 60_000,
        *,
        track_changes: bool = True,
    ) -> Batcher:
        """Rebuild from drained records (keys of other owners are ignored)."""
        b = cls(size_ms, grace_ms, max_skew_ms, track_changes=track_changes)
        entries: list[tuple[int, str, str, str]] = []
        for key, value in records:
            if key == _META:
                b.closed_until, b.last_tick, b.watermark = json.loads(value)
            elif key.startswith(_PREFIX):
                start_text, kind, cid = key[len(_PREFIX) :].split(":", 2)
                entries.append((int(start_text), kind, cid, value))
        for start, kind, _cid, value in sorted(entries):
            if kind == "w":
                if int(value) - start != size_ms:
                    raise ValueError(
                        f"stored window of {int(value) - start} ms does not match the configured {size_ms} ms"
                    )
                b._pending.setdefault(start, PendingWindow(Window(start, int(value))))
        for start, kind, cid, value in entries:
            pw = b._pending.get(start)
            if pw is None or kind == "w":
                continue  # an entry of a closed window: nothing to publish
            if kind == "a":
                pw.absorbed[cid] = value
            else:
                getattr(pw, _KINDS[kind]).add(cid)
        return b


_KINDS = {"t": "touched", "c": "created", "e": "erased", "s": "split"}


def _seq(items: Iterable[Any]) -> Sequence[Any]:
    """``items`` as a sequence (a tuple or list as it is: `record` reads each argument twice)."""
    kind = type(items)
    return items if kind is tuple or kind is list else list(items)  # type: ignore[return-value]
