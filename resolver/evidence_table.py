"""Evidence by id, where the pieces a snapshot loaded stay in columns until they are first read.

`EvidenceTable` is the graph's evidence dict (evidence id -> `Evidence`) as a
`resolver.cold.TextTable`: a loaded piece is a row of `EvidenceColumns` (arrays of integers,
lists of strings shared with the rest of the state) until first read, when it becomes its
`Evidence` in its own place; the ids of the loaded pieces are `resolver.text_keys.TextKeys`
rows (one text and a hash index), made strings only when read. `peek` reads a piece without
thawing it (read-only scans); `interactions` and `field_columns` (stats, `resolver.snapshot`)
thaw nothing.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import repeat
from operator import add, attrgetter
from types import FunctionType
from typing import Any

from resolver.cold import TextTable, merge, peek, split
from resolver.evidence import Evidence
from resolver.text_keys import HexText

__all__ = ["FIELDS", "EvidenceColumns", "EvidenceTable", "Text", "field_columns", "interactions", "peek", "read_texts"]

#: `Evidence` compiled by mypyc (`resolver._native`): its `__new__` runs `__init__` too, so `make`
#: calls the constructor (fields then set) instead of filling a bare instance.
_NATIVE = not isinstance(Evidence.__init__, FunctionType)
#: Every field of a piece, in the order `field_columns` gives them.
FIELDS = ("vid", "eid", "at", "last", "count", "tp", "src", "name", "keys", "rejected", "anchor", "cut", "note")
_FIELDS = attrgetter(*FIELDS)
_PIECE_FIELDS = attrgetter(*FIELDS[1:])


#: Strings one per row as UTF-8 text and the start of each (and the end of the last):
#: row ``r`` is ``text[starts[r]:starts[r + 1]]``.
Text = tuple[bytes, "array[int]"]


def _read(text: Text | HexText, row: int) -> str:
    if isinstance(text, HexText):
        return text.read(row)
    data, starts = text
    return data[starts[row] : starts[row + 1]].decode("utf-8", "surrogatepass")


def read_texts(text: Text | HexText, rows: list[int]) -> list[str]:
    """The strings of `rows` of `text`."""
    if isinstance(text, HexText):
        return text.reads(rows)
    data, starts = text
    spans = map(slice, map(starts.__getitem__, rows), map(starts.__getitem__, map(add, rows, repeat(1))))
    return list(map(bytes.decode, map(data.__getitem__, spans), repeat("utf-8"), repeat("surrogatepass")))


class EvidenceColumns:
    """The fields of the cold pieces, one column per field, indexed by row.

    Strings are references into ``strings`` (the loaded snapshot's string table, kept whole:
    a reference is 4 bytes where a list item is 8, and a load makes no list of them): row
    ``r``'s touchpoint is ``tps[tp[r]]`` (a code into the few distinct touchpoints), its name
    ``strings[name[r]]`` (and so anchor), its keys those of
    ``keys[starts[r]:starts[r + 1]]``. First seen is ``at0 + at[r]`` (32-bit offsets while they fit);
    last seen is first seen plus ``later_d[i]`` where ``later[i] == r`` (``later`` sorted: the
    pieces seen again), else first seen. Its earliest event id and source id, one per piece, are
    UTF-8 text (`Text`), made strings only when read. Sparse fields (rejected values, cut, notes)
    hold only their rows that have one.
    """

    __slots__ = (
        "anchor", "at", "at0", "count", "cut", "eid", "keys", "later", "later_d", "name", "note", "rejected", "src",
        "starts", "strings", "tp", "tps",
    )  # fmt: skip

    def __init__(
        self,
        strings: list[Any],
        eid: Text | HexText,
        src: Text,
        at: array[int],
        at0: int,
        later: array[int],
        later_d: array[int],
        count: array[int],
        tp: tuple[list[Any], array[int]],
        name: array[int],
        anchor: array[int],
        starts: array[int],
        keys: array[int],
        rejected: dict[int, tuple[str, ...]],
        cut: set[int],
        note: dict[int, str],
    ) -> None:
        self.strings, self.eid, self.src = strings, eid, src
        if len(later) != len(later_d):
            raise ValueError("evidence seen again and its deltas differ in length")
        self.at, self.at0, self.later, self.later_d, self.count = at, at0, later, later_d, count
        (self.tps, self.tp), self.name, self.anchor = tp, name, anchor
        self.starts, self.keys = starts, keys
        self.rejected, self.cut, self.note = rejected, cut, note

    def make(self, vid: str, row: int) -> Evidence:
        """A new `Evidence` holding row `row` (of evidence id `vid`)."""
        strings = self.strings
        ev: Evidence = Evidence("", "", 0, "", "", None, (), ()) if _NATIVE else Evidence.__new__(Evidence)
        ev.vid = vid
        ev.eid = _read(self.eid, row)
        ev.at = at = self.at0 + self.at[row]
        later = self.later
        i = bisect_left(later, row)
        ev.last = at + self.later_d[i] if i < len(later) and later[i] == row else at
        ev.count = self.count[row]
        ev.tp = self.tps[self.tp[row]]
        ev.src = _read(self.src, row)
        ev.name = strings[self.name[row]]
        ev.keys = tuple(map(strings.__getitem__, self.keys[self.starts[row] : self.starts[row + 1]]))
        ev.rejected = self.rejected.get(row, ())
        ev.anchor = strings[self.anchor[row]]
        ev.cut = row in self.cut
        ev.note = self.note.get(row)
        return ev

    def fields(self, rows: list[int]) -> list[list[Any]]:
        """Every field (in `FIELDS` order, but the id) of `rows`, one list per field."""
        text = self.strings.__getitem__
        starts = self.starts
        spans = map(slice, map(starts.__getitem__, rows), map(starts.__getitem__, map(add, rows, repeat(1))))
        keys = list(map(text, self.keys))
        ats = list(map(add, map(self.at.__getitem__, rows), repeat(self.at0)))
        deltas = array("q", bytes(8 * len(self.at)))
        for i, delta in zip(self.later, self.later_d, strict=True):
            deltas[i] = delta
        return [
            read_texts(self.eid, rows),
            ats,
            list(map(add, ats, map(deltas.__getitem__, rows))),
            list(map(self.count.__getitem__, rows)),
            list(map(self.tps.__getitem__, map(self.tp.__getitem__, rows))),
            read_texts(self.src, rows),
            list(map(text, map(self.name.__getitem__, rows))),
            list(map(tuple, map(keys.__getitem__, spans))),
            list(map(self.rejected.get, rows, repeat(()))),
            list(map(text, map(self.anchor.__getitem__, rows))),
            list(map(self.cut.__contains__, rows)),
            list(map(self.note.get, rows)),
        ]


class EvidenceTable(TextTable[Evidence]):
    """The graph's evidence by id, with loaded pieces cold until first read and their ids held as text
    (`resolver.cold.TextTable`: no string and no dict entry per cold piece)."""

    __slots__ = ()

    cold: EvidenceColumns


def interactions(evidence: dict[str, Evidence]) -> int:
    """The interactions counted by all evidence (the sum of ``count``), without thawing anything."""
    if not isinstance(evidence, EvidenceTable):
        return sum(ev.count for ev in evidence.values())
    _, rows, pieces = split(evidence)
    cold: int = sum(map(evidence.cold.count.__getitem__, rows))
    warm: int = sum(ev.count for ev in pieces)
    return cold + warm


def field_columns(evidence: dict[str, Evidence]) -> list[Sequence[Any]]:
    """One sequence per field of `FIELDS` across all evidence, in the dict's order, without thawing anything."""
    if not isinstance(evidence, EvidenceTable):
        pieces = list(evidence.values())
        return list(zip(*map(_FIELDS, pieces), strict=True)) if pieces else [()] * len(FIELDS)
    flags, rows, pieces = split(evidence)
    vids: list[Any] = list(evidence)
    return [vids, *merge(flags, evidence.cold.fields(rows), pieces, _PIECE_FIELDS)]
