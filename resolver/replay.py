"""The offline replay loop, shared by `irl replay` and tests: JSON Lines in, resolver state out.

`replay` feeds lines to a `Resolver` with the same state changes as the stream (one
`Resolver.ingest`, which is `apply` without building its `Outcome`, per valid event), collects
the rejects with their line numbers, and counts. The usual well-formed line is read by
`plain_fields` in one pass; any other goes through `from_json`, which accepts it or says why.
`assignment_rows` reads the lines a second time and gives each event its evidence's customer;
`profile_records` gives sorted, deterministic output: the same lines in the same order give
byte-identical files.

The same loop in two stages, for a shell that runs them in two processes: `parse` reads,
validates and normalises each line into a `Parsed` value of plain tuples, strings and ints
(any serialiser carries it); `ingest_parsed` applies those values in order. Both stages
together change the state, count and reject exactly as `replay` does. `ingest_timed` applies
one shard's events of a log (`resolver.shards`), each with the log's watermark before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, get_args

from resolver.compaction import Cadence
from resolver.engine import Ingested, Resolver
from resolver.horizon import RecentEvents, still_remembered
from resolver.identifiers import IdentifierParser
from resolver.interaction import Fields, InvalidInteraction, Limits, fields_of, from_json, plain_fields
from resolver.jsontext import loads as _json_loads
from resolver.linking import Found, found_of

__all__ = [
    "REUSED_ID", "Found", "IdWatch", "Loads", "Parsed", "Read", "Reject", "ReplayCounts", "assignment_rows",
    "ingest_parsed", "ingest_timed", "parse", "profile_records", "replay",
]  # fmt: skip

#: The reject reason of an event whose id an event with other content used within the horizon.
REUSED_ID = "event_id: used within the duplicate horizon by an event with other content (the first is kept)"

#: A JSON text to its value, as `json.loads` (`resolver.jsontext.loads`, or a compiled parser the
#: shell has shown to give the same values, and to raise ValueError where `json.loads` does).
Loads = Callable[[str], Any]

#: A compiled reader of the shell (`streams.eventjson.read_fields`): the fields of a certainly
#: valid event line, exactly as `plain_fields` of `json.loads` of it gives them; None when it
#: cannot tell (the line then takes the core's own path, which accepts it or says why).
Read = Callable[[str, Limits], Fields | None]

#: One line after `parse`: a valid event's fields with what parsing found of it (its keys,
#: refusals, evidence name and evidence id: `resolver.linking.Found`), or a reject as (source,
#: line, reason).
Parsed = tuple[Fields, Found] | tuple[str, int, str]

#: What `Resolver.ingest` answers.
_INGESTED: tuple[Ingested, ...] = get_args(Ingested)
#: What a line that is not a valid event raises on its way to fields (RecursionError: JSON
#: nested deeper than the parser goes, a line no event is).
_NOT_EVENT = (InvalidInteraction, ValueError, TypeError, KeyError, RecursionError)


@dataclass(frozen=True, slots=True)
class Reject:
    """One input line that is not a valid event. `reason` carries no raw PII."""

    source: str
    line: int
    reason: str

    def to_record(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason}


@dataclass(slots=True)
class ReplayCounts:
    """What a replay read: `lines` not blank (events, duplicates, suppressed and rejects), and
    `blank` lines skipped. `replay` counts them all; `ingest_parsed` and `ingest_timed` never see a
    blank line (`parse` drops them), so a shell running the stages counts those itself."""

    lines: int = 0
    events: int = 0
    duplicates: int = 0
    suppressed: int = 0
    rejects: int = 0
    blank: int = 0


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, InvalidInteraction) else f"not a JSON event: {type(exc).__name__}"


#: A byte that is not UTF-8, as a decoder with ``errors="surrogateescape"`` keeps it (the shell
#: reads lines so): text decoded from valid UTF-8 never holds one.
_ESCAPED_BYTE = re.compile("[" + chr(0xDC80) + "-" + chr(0xDCFF) + "]")  # chr: mypyc takes no surrogate literal


def _fields(text: str, limits: Limits, loads: Loads, read: Read | None = None) -> Fields:
    """The fields of one event line, or an exception of `_NOT_EVENT` (see `_reason`).

    A line holding a byte that is not UTF-8 (read as a lone surrogate, see `_ESCAPED_BYTE`) is
    not an event: a Latin-1 ``José`` must not become a name with a replaced letter. Its reason
    says where, never what.
    """
    if not text.isascii():
        bad = _ESCAPED_BYTE.search(text)
        if bad is not None:
            raise InvalidInteraction(f"not UTF-8: invalid byte at column {bad.start() + 1}")
    if read is not None:
        fields = read(text, limits)
        if fields is not None:
            return fields
    try:
        obj = loads(text)
    except ValueError:
        if "\x00" in text:  # UTF-16 without a byte-order mark: every other byte is NUL
            raise InvalidInteraction("not a JSON event: NUL bytes (UTF-16 text without a byte-order mark?)") from None
        raise
    # The common well-formed event is read in one pass; anything else goes through
    # `from_json`, which accepts it or says why (see `plain_fields`).
    fields = plain_fields(obj, limits)
    return fields if fields is not None else fields_of(from_json(obj, limits))


def replay(
    lines: Iterable[tuple[str, int, str]],
    resolver: Resolver,
    *,
    limits: Limits = Limits(),
    on_reject: Callable[[Reject], None] | None = None,
    loads: Loads = _json_loads,
    read: Read | None = None,
    cadence: Cadence | None = None,
) -> ReplayCounts:
    """Apply every valid event of (source, line number, text) lines; blank lines are skipped (and counted).

    `read`: a compiled reader of the usual line (`Read`), tried before `loads`. `cadence`: compact
    the state when it says so (`resolver.compaction`; the same results, less memory).
    """
    tally = dict.fromkeys(_INGESTED, 0)
    rejects = blank = 0
    ingest = resolver.ingest
    for source, number, text in lines:
        if text[:1] != "{" and not text.strip():
            blank += 1
            continue
        try:
            fields = _fields(text, limits, loads, read)
        except _NOT_EVENT as exc:
            rejects += 1
            if on_reject is not None:
                on_reject(Reject(source, number, _reason(exc)))
            continue
        done = ingest(*fields)
        if cadence is not None:
            resolver.compact_if(cadence)
        if done == "conflict":
            rejects += 1
            if on_reject is not None:
                on_reject(Reject(source, number, REUSED_ID))
            continue
        tally[done] += 1
    return _counts(tally, rejects, blank)


def _counts(tally: dict[Ingested, int], rejects: int, blank: int = 0) -> ReplayCounts:
    """Counts of a tally; a "conflict" is a reject (`REUSED_ID`)."""
    applied, duplicates, suppressed = tally["applied"], tally["duplicate"], tally["suppressed"]
    rejects += tally["conflict"]
    return ReplayCounts(applied + duplicates + suppressed + rejects, applied, duplicates, suppressed, rejects, blank)


def parse(
    lines: Iterable[tuple[str, int, str]],
    parser: IdentifierParser,
    *,
    limits: Limits = Limits(),
    loads: Loads = _json_loads,
    watch: IdWatch | None = None,
    read: Read | None = None,
) -> Iterator[Parsed]:
    """The first stage of `replay`: each line that is not blank as a `Parsed` value, in order.

    `parser` must be built from the configuration of the resolver that `ingest_parsed` feeds:
    its identifiers are that resolver's own (`IdentifierParser.extract_fields` is a pure
    function of the fields and the configuration). With `watch` (lines of the whole log, in
    order), an event reusing a remembered id with other content is a reject (`REUSED_ID`), as
    `replay` makes it: the resolver would take nothing of it.
    """
    for source, number, text in lines:
        if text[:1] != "{" and not text.strip():
            continue
        try:
            fields = _fields(text, limits, loads, read)
        except _NOT_EVENT as exc:
            yield source, number, _reason(exc)
            continue
        found = found_of(parser, fields[1], fields[3], fields[4], fields[5], fields[6])
        if watch is not None and watch.reused(fields[0], fields[2], found[3]):
            yield source, number, REUSED_ID
            continue
        yield fields, found


class IdWatch:
    """The duplicate horizon of a log read in order, with each id's content: a resend, or another event?

    Mirrors the resolver's horizon offline (`Resolver.ingest` remembers every valid event whose
    id is not remembered), so `reused` answers as `ingest`'s "conflict" would, without a resolver.
    """

    __slots__ = ("_recent",)

    def __init__(self, horizon_ms: int) -> None:
        self._recent = RecentEvents(horizon_ms)

    def reused(self, event_id: str, at: int, content: str) -> bool:
        """Take the next valid event; True when its id is remembered with other content (take nothing)."""
        seen = self._recent.vid_of(event_id)
        if seen is not None:
            seen = still_remembered(self._recent, event_id, at)
        if seen is not None:
            return seen != content
        self._recent.remember(event_id, at, content)
        return False


def ingest_parsed(
    items: Iterable[Parsed],
    resolver: Resolver,
    *,
    on_reject: Callable[[Reject], None] | None = None,
    cadence: Cadence | None = None,
) -> ReplayCounts:
    """The second stage of `replay`: apply `parse`'s values in order, as `replay` applies lines.

    Each event is taken with what parsing found of it (`Resolver.ingest_found`): the core does
    not normalise or digest the same values again. `items` must come from
    a `parse` given an `IdWatch` over the whole log: an id reused with other content is then a
    reject item in its line's place (here it would only be counted, without its line).
    """
    tally = dict.fromkeys(_INGESTED, 0)  # a dict, not a function per event: Resolver.ingest's answer counted
    rejects = 0
    ingest = resolver.ingest_found
    for item in items:
        if len(item) == 2:
            fields, found = item
            tally[ingest(fields, found)] += 1
            if cadence is not None:
                resolver.compact_if(cadence)
            continue
        source, number, reason = item
        rejects += 1
        if on_reject is not None:
            on_reject(Reject(source, number, reason))
    return _counts(tally, rejects)


def ingest_timed(
    events: Iterable[tuple[Fields, Found, int | None]], resolver: Resolver, cadence: Cadence | None = None
) -> ReplayCounts:
    """`ingest_parsed` for one shard of a log (`resolver.shards`): each valid event with the watermark before it.

    The watermark is the whole log's (`resolver.shards.watermarks`): the resolver's is moved
    to it before the event, so the duplicate rule decides as in one process.
    """
    tally = dict.fromkeys(_INGESTED, 0)
    ingest = resolver.ingest_found
    advance = resolver.advance_watermark
    last: int | None = None
    for fields, found, mark in events:
        if mark is not None and mark != last:
            advance(mark)
            last = mark
        tally[ingest(fields, found)] += 1
        if cadence is not None:
            resolver.compact_if(cadence)
    return _counts(tally, 0)


def assignment_rows(
    lines: Iterable[tuple[str, int, str]],
    resolver: Resolver,
    *,
    limits: Limits = Limits(),
    loads: Loads = _json_loads,
    read: Read | None = None,
) -> Iterator[tuple[str, str]]:
    """(event_id, customer_id) of every valid event of `lines`, in input order (a second pass).

    The core keeps distinct evidence, not every event id, so assignments are read back by
    content: each event belongs to the customer of its evidence. Erased events have none.
    Callers sort and deduplicate (the first line of a repeated id wins, as in `replay`).
    """
    customer_of = resolver.customer_of_fields
    for _, _, text in lines:
        if text[:1] != "{" and not text.strip():
            continue
        try:
            fields = _fields(text, limits, loads, read)
        except _NOT_EVENT:
            continue
        cid = customer_of(fields)
        if cid is not None:
            yield fields[0], cid


def profile_records(resolver: Resolver) -> Iterator[dict[str, Any]]:
    """One ResolvedCustomer-shaped record per live customer, sorted by id."""
    for cid in resolver.customer_ids():
        profile = resolver.profile(cid, memo=False)
        if profile is not None:
            yield profile.to_record()
