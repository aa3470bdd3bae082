"""Where the seconds of a restart after ``kill -9`` go: phases from the bench's own clock and the worker's log.

The fresh-events measure (`bench.streaming._fresh_after_kill`) watches the links log and the
resolved topic from outside; the restarted worker's log (at info) says when each of its parts
came up. Every phase is in seconds after the kill, on the wall clock (the log's timestamps are
the machine's local time, to the millisecond):

    kill ─▶ worker_start (imports, settings, the start-up checks, the app built: Faust's "Starting")
         ─▶ faust_ready (Faust's producer, web server and its own group: "Worker Ready")
         ─▶ links_assigned (the ordered stage's group gave it the links log)
         ─▶ restored (state topic read and snapshot loaded) ─▶ caught_up (the tail after it applied)
         ─▶ triage_assigned (the triage child's group gave it the touchpoint partitions)
         ─▶ customers_assigned / customers_restored (each per-customer child: the last of them)
    bench: fresh_in_links (every fresh event in the links log), closing_tick (the first tick in
         the links log at or past the fresh events' window end + grace), published (all on the
         resolved topic); window_due = the window's end + grace.

``fresh_late`` is True when the closing tick is in the links log before the last fresh event:
those events then go into the next window (a late event's effect goes into the earliest open
window), five seconds later.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["PHASES", "LinksWatch", "format_phases", "worker_phases"]

#: (phase, pattern of the log line that ends it, which match counts: first or last)
_MARKS: tuple[tuple[str, str, str], ...] = (
    ("worker_start", r"\[\^Worker\]: Starting", "first"),
    ("faust_ready", r"\[\^Worker\]: Ready", "first"),
    ("links_assigned", r"ordered stage: links log assigned", "first"),
    ("restored", r"resolver state restored", "first"),
    ("caught_up", r"caught up with the links log", "first"),
    ("triage_assigned", r"triage \d+: triage partitions assigned", "first"),
    ("customers_started", r"customers \d+: per-customer stage process started", "last"),
    ("customers_assigned", r"customers \d+: effects partitions assigned", "last"),
    ("customers_restored", r"customers \d+: effects partition \d+: .* restored", "last"),
)
#: Every phase, in the order shown.
PHASES = (
    *(name for name, _p, _w in _MARKS),
    "fresh_in_links",
    "closing_tick",
    "window_due",
    "published",
)
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def _stamp(line: str) -> float | None:
    got = _STAMP.match(line)
    if got is None:
        return None
    return dt.datetime.strptime(got.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def worker_phases(lines: Iterable[str], kill_wall: float) -> dict[str, float]:
    """Seconds after the kill (``kill_wall``, epoch seconds) at which each log mark of the restarted worker showed."""
    out: dict[str, float] = {}
    compiled = [(name, re.compile(pattern), which) for name, pattern, which in _MARKS]
    for line in lines:
        at = _stamp(line)
        if at is None:
            continue
        for name, pattern, which in compiled:
            if pattern.search(line) and (which == "last" or name not in out):
                out[name] = round(at - kill_wall, 3)
    return out


class LinksWatch:
    """Watches the links log after the kill: when the fresh events and the tick that closes their window arrive."""

    def __init__(self, fresh_ids: set[str], window_due_ms: int, t0: float, now: Any) -> None:
        #: event ids not yet seen in the links log
        self.waiting = set(fresh_ids)
        self.window_due_ms = window_due_ms
        self.t0 = t0
        self.now = now
        self.marks: dict[str, Any] = {}

    def see(self, kind: bytes | None, value: bytes) -> None:
        """One links record (in offset order)."""
        import json

        from streams.linkbatch import BATCH, TICK, decode_batch

        if kind == TICK:
            if "closing_tick" not in self.marks and json.loads(value)["now"] >= self.window_due_ms:
                self.marks["closing_tick"] = round(self.now() - self.t0, 3)
                self.marks["fresh_late"] = bool(self.waiting)
        elif kind == BATCH and self.waiting:
            for event in decode_batch(value):
                self.waiting.discard(event.event_id)
            if not self.waiting:
                self.marks["fresh_in_links"] = round(self.now() - self.t0, 3)


def format_phases(phases: dict[str, Any]) -> str:
    """One line: each phase seen, in order, as ``name +seconds``."""
    shown = [f"{name} {phases[name]:+.2f}" for name in PHASES if isinstance(phases.get(name), int | float)]
    if phases.get("fresh_late"):
        shown.append("(fresh events late for their window: the next one took them)")
    return ", ".join(shown)
