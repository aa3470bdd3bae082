"""Distinct evidence: one combination of identifiers and name seen together, with its counts.

Many interactions say the same thing: a WhatsApp conversation is dozens of events with one
phone and one name. The core keeps each distinct combination once, as `Evidence`, and an
event that brings nothing new only moves its counters (how often, first and last seen).

Identity: ``(touchpoint, source id, name, keys, rejected values)``. The id of a piece of
evidence is a digest of that content, so it does not depend on which event brought it first
(the same *set* of events gives the same evidence ids in any order).

``eid`` and ``at`` are the id and time of its earliest event (smallest ``(occurred_at,
event_id)``): the canonical order of evidence and the seed of new customer ids, both set
functions of the events.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["Content", "Evidence", "evidence_id"]

#: What makes two events the same evidence: touchpoint, source id, name, keys, rejected.
Content = tuple[str, str, str | None, tuple[str, ...], tuple[str, ...]]


def evidence_id(content: Content) -> str:
    """The stable id of a piece of evidence: ``v`` and 20 hex digits of a digest of its content."""
    tp, src, name, keys, rejected = content
    text = "\x1f".join((tp, src, name if name is not None else "\x00", "\x1e".join(keys), "\x1e".join(rejected)))
    return "v" + hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


class Evidence:
    """One distinct combination seen together (a plain slots class: one per distinct content).

    Identity fields never change (``tp``, ``src``, ``name``, ``keys``, ``rejected``; an
    erasure may drop keys of the erased person). Counters: ``count`` interactions, ``at``
    and ``eid`` of the earliest, ``last`` the latest time. Resolution fields: ``anchor`` (the
    key whose customer it belongs to), ``cut`` (its links cut by a split), ``note`` (why a
    link was refused).
    """

    __slots__ = ("anchor", "at", "count", "cut", "eid", "keys", "last", "name", "note", "rejected", "src", "tp", "vid")

    def __init__(
        self,
        vid: str,
        eid: str,
        at: int,
        tp: str,
        src: str,
        name: str | None,
        keys: tuple[str, ...],
        rejected: tuple[str, ...],
    ) -> None:
        self.vid = vid
        self.eid = eid
        self.at = at
        self.last = at
        self.count = 1
        self.tp = tp
        self.src = src
        self.name = name
        self.keys = keys
        self.rejected = rejected
        self.anchor = ""
        self.cut = False
        self.note: str | None = None

    def content(self) -> Content:
        return (self.tp, self.src, self.name, self.keys, self.rejected)

    def see(self, eid: str, at: int) -> bool:
        """Count one more interaction; True when it is the new earliest (``at``/``eid`` moved)."""
        self.count += 1
        if at > self.last:
            self.last = at
        if at < self.at or (at == self.at and eid < self.eid):
            self.at = at
            self.eid = eid
            return True
        return False

    def record(self) -> list[Any]:
        return [
            self.eid,
            self.at,
            self.last,
            self.count,
            self.tp,
            self.src,
            self.name,
            list(self.keys),
            list(self.rejected),
            self.anchor,
            int(self.cut),
            self.note,
        ]

    @classmethod
    def from_record(cls, vid: str, value: list[Any]) -> Evidence:
        eid, at, last, count, tp, src, name, keys, rejected, anchor, cut, note = value
        ev = cls(vid, eid, at, tp, src, name, tuple(keys), tuple(rejected))
        ev.last, ev.count = last, count
        ev.anchor, ev.cut, ev.note = anchor, bool(cut), note
        return ev
