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

`ContentIndex` finds the piece that answers for a content. Since a piece's id is the digest of
the content it was made with, the index derives nearly every answer from the evidence by id
and keeps only the exceptions that erasures leave: no key tuple and no dict entry per piece.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, MutableMapping
from typing import Any

__all__ = ["Content", "ContentIndex", "Evidence", "evidence_id"]

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


class ContentIndex:
    """Content -> the piece of evidence that answers for it: a mapping kept mostly implicit.

    It behaves exactly as a dict that is filled and emptied by the same calls (``get``,
    ``[]``, ``setdefault``, ``del``, `discard`, ``items``), given that the evidence dict it
    reads (``evidence``, the graph's, by id) changes only around those calls as the core
    changes it: a piece is added under its id (the digest of its content) just before it is
    indexed, removed before it is un-indexed, and its keys change (an erasure) between an
    un-indexing and a re-indexing.

    The implicit answer for content ``c`` is the piece with id `evidence_id` ``(c)`` when it
    exists and still has content ``c``. ``odd`` holds the exceptions, in the order made: a
    piece that answers for a content other than its own id's (after an erasure changed its
    keys), or None where the implicit answer does not hold (its content is answered by no
    piece). A lookup costs a digest (about a microsecond) instead of a hash of the content.
    """

    __slots__ = ("evidence", "odd")

    def __init__(self, evidence: MutableMapping[str, Evidence]) -> None:
        self.evidence = evidence
        self.odd: dict[Content, Evidence | None] = {}

    def _implicit(self, content: Content, vid: str | None = None) -> Evidence | None:
        ev = self.evidence.get(evidence_id(content) if vid is None else vid)
        return ev if ev is not None and ev.content() == content else None

    def get(self, content: Content, vid: str | None = None) -> Evidence | None:
        """The piece answering for `content`, or None. `vid`: ``evidence_id(content)`` if known."""
        odd = self.odd
        if odd and content in odd:
            return odd[content]
        # `_implicit`, inlined: this runs once per event.
        ev = self.evidence.get(evidence_id(content) if vid is None else vid)
        return ev if ev is not None and ev.content() == content else None

    def __getitem__(self, content: Content) -> Evidence:
        ev = self.get(content)
        if ev is None:
            raise KeyError(content)
        return ev

    def __setitem__(self, content: Content, ev: Evidence) -> None:
        self.set(content, ev)

    def set(self, content: Content, ev: Evidence, vid: str | None = None) -> None:
        """`ev` answers for `content` from now on. `vid`: ``evidence_id(content)`` if known."""
        if self._implicit(content, vid) is ev:
            if self.odd:
                self.odd.pop(content, None)
        else:
            self.odd[content] = ev

    def added(self, content: Content) -> None:
        """`set` for a piece just added to the evidence under ``evidence_id(content)``, with `content`.

        Its implicit answer holds already: only an exception left for that content goes.
        """
        odd = self.odd
        if odd:
            odd.pop(content, None)

    def setdefault(self, content: Content, ev: Evidence) -> Evidence:
        """The piece answering for `content`; `ev` from now on when none does."""
        held = self.get(content)
        if held is None:
            self[content] = held = ev
        return held

    def __delitem__(self, content: Content) -> None:
        if self.get(content) is None:
            raise KeyError(content)
        if self._implicit(content) is None:
            del self.odd[content]
        else:
            self.odd[content] = None

    def discard(self, content: Content, ev: Evidence) -> None:
        """Stop `ev` answering for `content` (nothing when it does not)."""
        if self.get(content) is ev:
            del self[content]

    def forget(self, content: Content) -> None:
        """Drop a "no piece answers" exception for `content` its implicit answer no longer needs.

        After an erasure took keys off a piece (between `discard` and a new `setdefault`), its old
        content is answered by no piece either way: the exception would only keep the erased
        identifiers in the index (and in a snapshot). Nothing changes what `get` answers.
        """
        odd = self.odd
        if content in odd and odd[content] is None and self._implicit(content) is None:
            del odd[content]

    def items(self) -> Iterator[tuple[Content, Evidence]]:
        """Every (content, piece answering for it): the implicit ones in evidence order, then the others."""
        odd = self.odd
        for ev in self.evidence.values():
            content = ev.content()
            if content not in odd and self._implicit(content) is ev:
                yield content, ev
        for content, held in odd.items():
            if held is not None:
                yield content, held
