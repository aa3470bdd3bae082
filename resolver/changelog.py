"""The changelog the CRM consumes: versions per customer id and the records of a batch.

A batch is the set of changes of one closed window. `Changelog.build` turns a chunk of
it into ResolvedCustomer records (schema v1 field names), deterministically:

* a live customer never published before is ``CREATED``; one that absorbed others in
  this window is ``MERGED`` (``merged_from`` lists them); otherwise ``UPDATED``;
* an id that disappeared into another is ``ABSORBED`` with ``survivor_id`` (the live id
  it now belongs to), an id the CRM never saw too (created and absorbed within one window:
  interactions were published under it, and the CRM follows its redirect; since s38);
* an erased customer is ``ERASED`` with no personal data (one the CRM never saw too), and so
  is an id that was absorbed into a customer erased before its ``ABSORBED`` was published (its chain leads
  nowhere: every id's last record carries no personal data once its person is erased); a
  customer that lost parts is ``SPLIT``;
* ``version`` is 1 for an id's first record and grows by one per record of that id;
* ``change_id`` is a hash of the record's content (without itself): the same input
  gives the same id, and a record published again after a crash is byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from resolver.batching import PendingWindow
from resolver.profile import Profile
from resolver.window import Window

__all__ = ["Changelog", "CustomerView", "Planned", "canonical_text", "change_id", "clear_memos", "record_of"]

_PREFIX = "v:"


class _Profile(Protocol):
    def to_record(self) -> dict[str, Any]: ...


class CustomerView(Protocol):
    """What the changelog needs to know about customers (the Resolver provides it).

    A live id (``current_id(cid) == cid``) always has a profile.
    """

    def current_id(self, customer_id: str) -> str | None: ...

    def profile(self, customer_id: str) -> _Profile | None: ...


_EMPTY: dict[str, Any] = {
    "survivor_id": None,
    "merged_from": [],
    "phones": [],
    "emails": [],
    "source_ids": [],
    "name": None,
    "first_seen": None,
    "last_seen": None,
    "event_count": 0,
    "touchpoints": [],
    "confidence": 0.0,
    "confidence_reasons": [],
}

_FIELDS = (
    "customer_id",
    "change",
    "survivor_id",
    "merged_from",
    "phones",
    "emails",
    "source_ids",
    "name",
    "first_seen",
    "last_seen",
    "event_count",
    "touchpoints",
    "confidence",
    "confidence_reasons",
    "version",
    "change_id",
    "window_start",
    "window_end",
)


_HASHED = tuple(k for k in _FIELDS if k != "change_id")
#: `json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, one encoder for
#: every call: `dumps` with options builds a new encoder each time, a third of this function's cost.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


#: The fields a live customer's record takes from its profile, in `_FIELDS` order.
_PROFILE_FIELDS = tuple(k for k in _FIELDS if k in _EMPTY and k not in ("survivor_id", "merged_from"))


def change_id(record: Mapping[str, Any]) -> str:
    """Deterministic id of a record: a hash of every field but ``change_id``.

    The hashed text is `_ENCODE` of those fields (`canonical_text`).
    """
    return hashlib.sha256(canonical_text(record).encode()).hexdigest()[:32]


def canonical_text(record: Mapping[str, Any]) -> str:
    """`_ENCODE` of every field but ``change_id``, written directly when the values have the usual types.

    The same text, character for character (tests/unit/test_changelog_text.py): strings through
    json's own string encoder, ints and finite floats by their ``repr`` as json writes them,
    keys in sorted order. Any other value (a bool, a NaN, a dict of other keys, ...) takes
    `_ENCODE`.
    """
    try:
        return _direct(record)
    except _Unusual:
        return _ENCODE({k: record[k] for k in _HASHED})


class _Unusual(Exception):
    """A value `_direct` leaves to the json encoder."""


_STR = json.encoder.encode_basestring  # what `_ENCODE` writes a str with (ensure_ascii=False)
_SOURCE_KEYS = frozenset(("source_id", "touchpoint"))


def _strs(items: Any) -> str:
    kind = type(items)
    if kind is not list and kind is not tuple:
        raise _Unusual
    if not items:
        return "[]"
    for x in items:
        if type(x) is not str:
            raise _Unusual
    return "[" + ",".join(map(_STR, items)) + "]"


def _int(v: Any) -> str:
    if type(v) is not int:
        raise _Unusual
    return int.__repr__(v)


def _opt_int(v: Any) -> str:
    return "null" if v is None else _int(v)


def _opt_str(v: Any) -> str:
    if v is None:
        return "null"
    if type(v) is not str:
        raise _Unusual
    return _STR(v)


def _sources(items: Any) -> str:
    kind = type(items)
    if kind is not list and kind is not tuple:
        raise _Unusual
    parts = []
    for d in items:
        if type(d) is not dict or d.keys() != _SOURCE_KEYS:
            raise _Unusual
        parts.append(f'{{"source_id":{_opt_str(d["source_id"])},"touchpoint":{_opt_str(d["touchpoint"])}}}')
    return "[" + ",".join(parts) + "]"


def _direct(r: Mapping[str, Any]) -> str:
    """The canonical text of a record whose values have the usual types; raises `_Unusual` otherwise."""
    confidence = r["confidence"]
    if type(confidence) is not float or not math.isfinite(confidence):
        raise _Unusual
    change = r["change"]
    if type(change) is not str:
        raise _Unusual
    return (
        f'{{"change":{_STR(change)},"confidence":{float.__repr__(confidence)},'
        f'"confidence_reasons":{_strs(r["confidence_reasons"])},"customer_id":{_opt_str(r["customer_id"])},'
        f'"emails":{_strs(r["emails"])},"event_count":{_int(r["event_count"])},'
        f'"first_seen":{_opt_int(r["first_seen"])},"last_seen":{_opt_int(r["last_seen"])},'
        f'"merged_from":{_strs(r["merged_from"])},"name":{_opt_str(r["name"])},"phones":{_strs(r["phones"])},'
        f'"source_ids":{_sources(r["source_ids"])},"survivor_id":{_opt_str(r["survivor_id"])},'
        f'"touchpoints":{_strs(r["touchpoints"])},"version":{_int(r["version"])},'
        f'"window_end":{_int(r["window_end"])},"window_start":{_int(r["window_start"])}}}'
    )


#: JSON texts of the tuples profiles share from one record to the next (phones, reasons, sources):
#: the same tuple objects until the customer's summary moves. Cleared when full.
_TEXTS: dict[tuple[Any, ...], str] = {}
_SOURCE_TEXTS: dict[tuple[Any, ...], str] = {}
_TEXTS_MAX = 1 << 16


def clear_memos() -> None:
    """Empty the memos of tuples' JSON texts (pure functions of their keys; `resolver.compaction`)."""
    _TEXTS.clear()
    _SOURCE_TEXTS.clear()


def _tuple_text(items: Any, memo: dict[tuple[Any, ...], str], encode: Any) -> str:
    """``encode(items)`` for a tuple, memoised by value (a tuple of the usual types only; else `_Unusual`)."""
    if type(items) is not tuple:
        raise _Unusual
    try:
        text = memo.get(items)
    except TypeError:  # an unhashable item: not a usual value
        raise _Unusual from None
    if text is None:
        text = encode(items)  # checks every item's type
        if len(memo) >= _TEXTS_MAX:
            memo.clear()
        memo[items] = text
    return text


def _sources_of_pairs(pairs: tuple[Any, ...]) -> str:
    """The text of ``source_ids`` from a profile's ``(touchpoint, source_id)`` pairs: `_sources`' of their dicts,
    written without building them (a profile's pairs grow with nearly every event, so `_tuple_text`'s memo
    seldom holds them)."""
    parts = []
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2:
            raise _Unusual
        t, s = pair
        parts.append(f'{{"source_id":{_opt_str(s)},"touchpoint":{_opt_str(t)}}}')
    return "[" + ",".join(parts) + "]"


def _profile_text(p: Profile, cid: str, change: str, merged_from: list[str], version: int, w: Window) -> str:
    """`canonical_text` of `Changelog._live`'s record of ``p``, read from the profile; `_Unusual` for unusual types."""
    confidence = p.confidence
    if type(confidence) is not float or not math.isfinite(confidence):
        raise _Unusual
    return (
        f'{{"change":{_STR(change)},"confidence":{float.__repr__(confidence)},'
        f'"confidence_reasons":{_tuple_text(p.confidence_reasons, _TEXTS, _strs)},'
        f'"customer_id":{_opt_str(cid)},"emails":{_tuple_text(p.emails, _TEXTS, _strs)},'
        f'"event_count":{_int(p.event_count)},"first_seen":{_opt_int(p.first_seen)},'
        f'"last_seen":{_opt_int(p.last_seen)},"merged_from":{_strs(merged_from)},"name":{_opt_str(p.name)},'
        f'"phones":{_tuple_text(p.phones, _TEXTS, _strs)},'
        f'"source_ids":{_tuple_text(p.source_ids, _SOURCE_TEXTS, _sources_of_pairs)},"survivor_id":null,'
        f'"touchpoints":{_tuple_text(p.touchpoints, _TEXTS, _strs)},"version":{_int(version)},'
        f'"window_end":{_int(w.end)},"window_start":{_int(w.start)}}}'
    )


@dataclass(frozen=True, slots=True)
class Planned:
    """One changelog record decided without its profile (`Changelog.plan`); `record_of` completes it.

    What the ordered stage knows and a per-customer partition does not: the record's kind,
    its version, and for a survivor the absorbed ids it lists (``merged_from``), which are
    other customers' (their versions tell whether the CRM saw them).
    """

    customer_id: str
    change: str
    version: int
    window: Window
    #: ``ABSORBED``: the live id the customer now belongs to
    survivor_id: str | None = None
    merged_from: tuple[str, ...] = ()


#: The changes of a live customer's record (built with its profile); the others carry no personal data.
LIVE_CHANGES = frozenset({"CREATED", "MERGED", "SPLIT", "UPDATED"})


def record_of(planned: Planned, profile: _Profile | None) -> dict[str, Any]:
    """The record `Changelog.build` gives for ``planned``, with ``profile`` (the customer's, at that offset).

    ``profile`` is read only for a live change (`LIVE_CHANGES`), which needs one.
    """
    if planned.change in LIVE_CHANGES:
        if profile is None:
            raise ValueError(f"a {planned.change} record needs the customer's profile")
        return _live_record(
            planned.customer_id, planned.change, list(planned.merged_from), profile, planned.window, planned.version
        )
    return _gone_record(planned.customer_id, planned.change, planned.survivor_id, planned.window, planned.version)


def _gone_record(cid: str, change: str, survivor: str | None, w: Window, version: int) -> dict[str, Any]:
    """An ``ERASED`` (no survivor) or ``ABSORBED`` record, in `_FIELDS` order with its change id."""
    rec: dict[str, Any] = {"customer_id": cid, "window_start": w.start, "window_end": w.end, **_EMPTY}
    rec["change"] = change
    rec["survivor_id"] = survivor
    rec["version"] = version
    rec["change_id"] = ""
    ordered = {k: rec[k] for k in _FIELDS}
    ordered["change_id"] = change_id(ordered)
    return ordered


def _live_record(
    cid: str, change: str, merged_from: list[str], profile: _Profile, w: Window, version: int
) -> dict[str, Any]:
    """The record of a live customer, in `_FIELDS` order: its profile's fields, else `_EMPTY`'s.

    Built in one pass (this runs once per customer of every window); a `Profile` is read
    directly, anything else through its ``to_record()``.
    """
    rec: dict[str, Any]
    if type(profile) is Profile:
        p: Profile = profile
        rec = {
            "customer_id": cid,
            "change": change,
            "survivor_id": None,
            "merged_from": merged_from,
            "phones": list(p.phones),
            "emails": list(p.emails),
            "source_ids": [{"touchpoint": t, "source_id": s} for t, s in p.source_ids],
            "name": p.name,
            "first_seen": p.first_seen,
            "last_seen": p.last_seen,
            "event_count": p.event_count,
            "touchpoints": list(p.touchpoints),
            "confidence": p.confidence,
            "confidence_reasons": list(p.confidence_reasons),
        }
    else:
        rec = {"customer_id": cid, "change": change, "survivor_id": None, "merged_from": merged_from}
        get = profile.to_record().get
        for k in _PROFILE_FIELDS:
            rec[k] = get(k, _EMPTY[k])
    rec["version"] = version
    rec["change_id"] = ""
    rec["window_start"] = w.start
    rec["window_end"] = w.end
    text = None
    if type(profile) is Profile:
        try:
            text = _profile_text(profile, cid, change, merged_from, version, w)
        except _Unusual:
            pass
    if text is None:
        text = canonical_text(rec)
    rec["change_id"] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return rec


class Changelog:
    """Published versions per customer id; builds batch records. One owner."""

    def __init__(self, *, track_changes: bool = True) -> None:
        self._versions: dict[str, int] = {}
        self._dirty: set[str] = set()
        #: keep the ids changed since the last `drain_changes` (the worker keeps snapshots: it need not)
        self._track = track_changes

    def version(self, customer_id: str) -> int:
        """Version of the last record published for ``customer_id`` (0: never published)."""
        return self._versions.get(customer_id, 0)

    def _next(self, customer_id: str) -> int:
        v = self._versions.get(customer_id, 0) + 1
        self._versions[customer_id] = v
        if self._track:
            self._dirty.add(customer_id)
        return v

    def build(
        self,
        chunk: PendingWindow,
        window_absorbed: Mapping[str, str],
        view: CustomerView,
        survivors: Mapping[str, Sequence[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """Records for one chunk of a closed window, sorted by customer id; bumps versions.

        ``window_absorbed`` is every absorbed id still pending in the window (including the
        chunk's own), used for ``merged_from``. `plan`, each record filled with its customer's
        profile (`record_of`); ``survivors`` as there.
        """
        profile = view.profile
        return [
            record_of(p, profile(p.customer_id) if p.change in LIVE_CHANGES else None)
            for p in self.plan(chunk, window_absorbed, view, survivors)
        ]

    def survivors(self, window_absorbed: Mapping[str, str], view: CustomerView) -> dict[str, list[str]]:
        """Survivor -> the ids of ``window_absorbed`` the CRM held that now belong to it, sorted.

        What `plan` reads ``merged_from`` from, taken once per close before the window's first
        chunk: "held" is a version above 0 *before the close*. Every id that leaves gets a record
        (an id created and absorbed within the window an ``ABSORBED`` version 1), so a version read
        at a survivor's turn would depend on whether the chunk before announced the id; read once,
        ``merged_from`` is the same however the window is cut into chunks. Also one lookup per
        absorbed id for the whole window instead of one per chunk (a backlog's window has tens of
        chunks of 200 and thousands of absorbed ids). Valid while the view does not change, i.e.
        for every chunk of one close (`streams.pipeline.Pipeline.close_due`).
        """
        out: dict[str, list[str]] = {}
        current = view.current_id
        versions = self._versions
        for gone in sorted(window_absorbed):
            if versions.get(gone, 0) == 0:
                continue
            survivor = current(gone)
            if survivor is not None:
                found = out.get(survivor)
                if found is None:
                    out[survivor] = [gone]
                else:
                    found.append(gone)
        return out

    def _absorbed_into(
        self, chunk: PendingWindow, window_absorbed: Mapping[str, str], view: CustomerView
    ) -> dict[str, list[str]]:
        """Survivor -> the absorbed ids of the window the CRM saw that now belong to it (``merged_from``).

        Versions read before the chunk: for the window's first chunk (or a window in one chunk)
        what `survivors` gives; a later chunk would count ids an earlier one announced."""
        versions = self._versions
        absorbed_into: dict[str, list[str]] = {}
        if window_absorbed or chunk.absorbed:
            for gone in sorted(set(window_absorbed) | set(chunk.absorbed)):
                survivor = view.current_id(gone)
                if survivor is not None and versions.get(gone, 0) > 0:
                    absorbed_into.setdefault(survivor, []).append(gone)
        return absorbed_into

    def plan(
        self,
        chunk: PendingWindow,
        window_absorbed: Mapping[str, str],
        view: CustomerView,
        survivors: Mapping[str, Sequence[str]] | None = None,
    ) -> list[Planned]:
        """`build` without profiles: the same records, each decided but not filled (`record_of` fills it).

        Bumps the same versions as `build`: ``[record_of(p, view.profile(p.customer_id)) for p in
        plan(...)]`` equals ``build(...)`` (a live id has a profile: `CustomerView`). What the
        ordered stage hands the per-customer stage (`resolver.effects`).

        ``survivors``: `survivors` of ``window_absorbed`` with the same view, taken before the
        window's first chunk: ``merged_from`` then lists the ids the CRM held before the close,
        whatever chunks the window is cut into (without it, the versions before this chunk).
        Ignored when the chunk absorbed an id ``window_absorbed`` lacks.
        """
        w = chunk.window
        versions = self._versions
        if survivors is not None and not (chunk.absorbed.keys() <= window_absorbed.keys()):
            survivors = None
        absorbed_into: Mapping[str, Sequence[str]] = (
            self._absorbed_into(chunk, window_absorbed, view) if survivors is None else survivors
        )
        out: list[Planned] = []
        ids = chunk.touched | chunk.created
        if chunk.absorbed or chunk.erased or chunk.split:
            ids = ids | set(chunk.absorbed) | chunk.erased | chunk.split
        for cid in sorted(ids):
            current = view.current_id(cid)
            if current == cid:
                merged_from = list(absorbed_into.get(cid, ()))
                if versions.get(cid, 0) == 0:
                    change = "CREATED"
                elif merged_from:
                    change = "MERGED"
                elif cid in chunk.split:
                    change = "SPLIT"
                else:
                    change = "UPDATED"
                out.append(Planned(cid, change, self._next(cid), w, None, tuple(merged_from)))
            else:
                # Every id that leaves ends with a record, announced before or not: interactions were
                # published under it as they were applied, so the CRM needs its redirect (or its erasure)
                # even when the id was created and absorbed within this window (audit s38, B1).
                change = "ERASED" if current is None else "ABSORBED"
                out.append(Planned(cid, change, self._next(cid), w, current))
        return out

    # -- persistence --------------------------------------------------------------------------

    def drain_changes(self) -> dict[str, str | None]:
        """Version records changed since the last drain (key -> text); deterministic."""
        out: dict[str, str | None] = {f"{_PREFIX}{cid}": str(self._versions[cid]) for cid in sorted(self._dirty)}
        self._dirty.clear()
        return out

    def records(self) -> Iterator[tuple[str, str]]:
        """The whole state as records (what every drain so far adds up to); `restore` takes them back."""
        for cid in sorted(self._versions):
            yield f"{_PREFIX}{cid}", str(self._versions[cid])

    @classmethod
    def restore(cls, records: Iterable[tuple[str, str]], *, track_changes: bool = True) -> Changelog:
        """Rebuild from drained records (keys of other owners are ignored)."""
        c = cls(track_changes=track_changes)
        for key, value in records:
            if key.startswith(_PREFIX):
                c._versions[key[len(_PREFIX) :]] = int(value)
        return c
