"""Evidence by id, where the pieces a snapshot loaded stay in columns until they are first read.

A loaded state holds about one piece of evidence per identifier, and a worker then reads only
those of the customers its new events touch. `EvidenceTable` is the graph's evidence dict
(evidence id -> `Evidence`) with the loaded pieces kept *cold*: the dict maps their ids to a
row number, and each row's fields live in `EvidenceColumns` (arrays of integers, lists of
strings shared with the rest of the state), so a cold piece costs no object of its own and a
load makes no object per piece.

The first read of a cold piece (`get`, ``[]``, `pop`, `setdefault`, `values`, `items`) makes
its `Evidence` and puts it in the dict in its own place (*thawed*): from then on it is an
ordinary entry, and every read gives that one object. So the table behaves as the plain dict
the graph holds otherwise: the same keys in the same order (a thaw replaces a value in place;
adding and deleting are the dict's own), the same answers. Membership, length, iteration over
ids, adding and deleting need no thaw. `peek` reads a piece without thawing it (read-only
scans), and `field_columns` gives `resolver.snapshot` every field without thawing anything.

The values the dict holds itself are rows or pieces: read it only through the methods above
(``dict(table)``, ``dict.values(table)`` and co. would see row numbers).
"""

from __future__ import annotations

from array import array
from collections.abc import ItemsView, Iterable, Sequence, ValuesView
from itertools import compress, repeat
from operator import add, attrgetter, not_
from typing import Any, TypeVar, cast, overload

from resolver.evidence import Evidence

__all__ = ["FIELDS", "EvidenceColumns", "EvidenceTable", "field_columns", "interactions", "peek"]

T = TypeVar("T")
_new = object.__new__
#: Every field of a piece, in the order `field_columns` gives them.
FIELDS = ("vid", "eid", "at", "last", "count", "tp", "src", "name", "keys", "rejected", "anchor", "cut", "note")
_FIELDS = attrgetter(*FIELDS)


class EvidenceColumns:
    """The fields of the cold pieces, one column per field, indexed by row.

    ``keys`` is flat: row ``r`` carries ``keys[starts[r]:starts[r + 1]]``. Sparse fields
    (rejected values, cut, notes) hold only their rows that have one.
    """

    __slots__ = (
        "anchor",
        "at",
        "count",
        "cut",
        "eid",
        "keys",
        "last",
        "name",
        "note",
        "rejected",
        "src",
        "starts",
        "tp",
    )

    def __init__(
        self,
        eid: list[str],
        at: array[int],
        last: array[int],
        count: array[int],
        tp: list[str],
        src: list[str],
        name: list[str | None],
        starts: array[int],
        keys: list[str],
        anchor: list[str],
        rejected: dict[int, tuple[str, ...]],
        cut: set[int],
        note: dict[int, str],
    ) -> None:
        self.eid, self.at, self.last, self.count = eid, at, last, count
        self.tp, self.src, self.name, self.anchor = tp, src, name, anchor
        self.starts, self.keys = starts, keys
        self.rejected, self.cut, self.note = rejected, cut, note

    def piece(self, vid: str, row: int) -> Evidence:
        """A new `Evidence` holding row `row`."""
        ev: Evidence = _new(Evidence)
        ev.vid = vid
        ev.eid = self.eid[row]
        ev.at = self.at[row]
        ev.last = self.last[row]
        ev.count = self.count[row]
        ev.tp = self.tp[row]
        ev.src = self.src[row]
        ev.name = self.name[row]
        ev.keys = tuple(self.keys[self.starts[row] : self.starts[row + 1]])
        ev.rejected = self.rejected.get(row, ())
        ev.anchor = self.anchor[row]
        ev.cut = row in self.cut
        ev.note = self.note.get(row)
        return ev

    def fields(self, rows: list[int]) -> list[list[Any]]:
        """Every field (in `FIELDS` order, but the id) of `rows`, one list per field."""
        starts = self.starts
        spans = map(slice, map(starts.__getitem__, rows), map(starts.__getitem__, map(add, rows, repeat(1))))
        return [
            list(map(self.eid.__getitem__, rows)),
            list(map(self.at.__getitem__, rows)),
            list(map(self.last.__getitem__, rows)),
            list(map(self.count.__getitem__, rows)),
            list(map(self.tp.__getitem__, rows)),
            list(map(self.src.__getitem__, rows)),
            list(map(self.name.__getitem__, rows)),
            list(map(tuple, map(self.keys.__getitem__, spans))),
            list(map(self.rejected.get, rows, repeat(()))),
            list(map(self.anchor.__getitem__, rows)),
            list(map(self.cut.__contains__, rows)),
            list(map(self.note.get, rows)),
        ]


class EvidenceTable(dict[str, Evidence]):
    """The graph's evidence by id, with loaded pieces cold until first read (see the module docstring)."""

    __slots__ = ("cold",)

    def __init__(self, vids: Sequence[str], cold: EvidenceColumns) -> None:
        """A table of the cold pieces `vids`, in order: piece ``vids[r]`` is row ``r`` of `cold`."""
        super().__init__()
        self.cold = cold
        dict.update(cast("dict[str, Any]", self), zip(vids, range(len(vids)), strict=True))

    def _thaw(self, vid: str, row: int) -> Evidence:
        ev = self.cold.piece(vid, row)
        dict.__setitem__(self, vid, ev)
        return ev

    def __getitem__(self, vid: str) -> Evidence:
        ev: Evidence | int = dict.__getitem__(self, vid)
        return self._thaw(vid, ev) if ev.__class__ is int else cast(Evidence, ev)

    @overload
    def get(self, vid: str, default: None = None, /) -> Evidence | None: ...
    @overload
    def get(self, vid: str, default: Evidence, /) -> Evidence: ...
    @overload
    def get(self, vid: str, default: T, /) -> Evidence | T: ...
    def get(self, vid: str, default: Any = None, /) -> Any:
        ev: Any = dict.get(self, vid, default)
        return self._thaw(vid, ev) if ev.__class__ is int else ev

    def peek(self, vid: str) -> Evidence | None:
        """The piece `vid` without thawing it: a cold one as a new object that the table does not keep (read only)."""
        ev: Any = dict.get(self, vid)
        return self.cold.piece(vid, ev) if ev.__class__ is int else ev

    def row(self, vid: str) -> int | None:
        """The row of cold piece `vid` (None when it is thawed or unknown)."""
        ev: Any = dict.get(self, vid)
        return ev if ev.__class__ is int else None

    def thaw_all(self) -> None:
        """Thaw every cold piece (in place, in order)."""
        raw = cast("dict[str, Any]", self)
        for vid, row in list(dict.items(raw)):
            if row.__class__ is int:
                self._thaw(vid, row)

    def values(self) -> ValuesView[Evidence]:  # type: ignore[override]
        self.thaw_all()
        return dict.values(self)

    def items(self) -> ItemsView[str, Evidence]:  # type: ignore[override]
        self.thaw_all()
        return dict.items(self)

    @overload
    def pop(self, vid: str, /) -> Evidence: ...
    @overload
    def pop(self, vid: str, default: Evidence, /) -> Evidence: ...
    @overload
    def pop(self, vid: str, default: T, /) -> Evidence | T: ...
    def pop(self, vid: str, *default: Any) -> Any:
        self.get(vid)
        return dict.pop(self, vid, *default)

    def setdefault(self, vid: str, default: Evidence, /) -> Evidence:
        held = self.get(vid)
        if held is None:
            self[vid] = held = default
        return held

    def popitem(self) -> tuple[str, Evidence]:
        self.thaw_all()
        return dict.popitem(self)

    def copy(self) -> dict[str, Evidence]:
        self.thaw_all()
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self.thaw_all()
        if isinstance(other, EvidenceTable):
            other.thaw_all()
        return dict.__eq__(self, other)

    def __reduce__(self) -> Any:
        raise TypeError("an EvidenceTable is not pickled: write a snapshot (resolver.snapshot)")


def peek(evidence: dict[str, Evidence], vid: str) -> Evidence | None:
    """``evidence.get(vid)``, without thawing a cold piece of an `EvidenceTable` (for read-only scans)."""
    if isinstance(evidence, EvidenceTable):
        return evidence.peek(vid)
    return evidence.get(vid)


def interactions(evidence: dict[str, Evidence]) -> int:
    """The interactions counted by all evidence (the sum of ``count``), without thawing anything."""
    if not isinstance(evidence, EvidenceTable):
        return sum(ev.count for ev in evidence.values())
    values = list(dict.values(cast("dict[str, Any]", evidence)))
    flags = list(map(isinstance, values, repeat(Evidence)))
    rows: Iterable[int] = compress(values, map(not_, flags))
    cold: int = sum(map(evidence.cold.count.__getitem__, rows))
    warm: int = sum(ev.count for ev in compress(values, flags))
    return cold + warm


def field_columns(evidence: dict[str, Evidence]) -> list[Sequence[Any]]:
    """One sequence per field of `FIELDS` across all evidence, in the dict's order, without thawing anything."""
    if not isinstance(evidence, EvidenceTable):
        pieces = list(evidence.values())
        return list(zip(*map(_FIELDS, pieces), strict=True)) if pieces else [()] * len(FIELDS)
    values = list(dict.values(cast("dict[str, Any]", evidence)))
    flags = bytes(map(isinstance, values, repeat(Evidence)))
    rows = list(compress(values, map(not_, flags)))
    cold = evidence.cold.fields(rows)
    pieces = list(compress(values, flags))
    vids: list[Any] = list(evidence)
    if not pieces:
        return [vids, *cold]
    warm = list(zip(*map(_FIELDS, pieces), strict=True))[1:]
    # Each position takes the next value of its source (in C): a cold row's (0) or a piece's (1).
    merged = [list(map(next, map((iter(c), iter(w)).__getitem__, flags))) for c, w in zip(cold, warm, strict=True)]
    return [vids, *merged]
