"""The links log's records: many validated events in one record, ticks and operator actions.

Triage decodes and validates each touchpoint record once and forwards the valid events in
batches: one links record carries up to `MAX_BATCH_BYTES` of events as a compact JSON array
of arrays (fields in the contract's order), so the ordered stage reads one record per batch
and never decodes Avro or asks the registry again. The order of events inside a record is
their order in the log: the ordered stage applies them exactly as if each were its own record.

    header irl.kind   value
    batch             [[event_id, touchpoint, occurred_at, source_id, interaction, phone, email, name, {attrs}], ...]
    event             one touchpoint record's bytes (written before batches existed; still read)
    tick              {"now": epoch ms}
    action            an operator action (JSON object)

A batch record also carries, in its ``irl.found`` header, what triage's parser found of each
event (`resolver.linking.Found`: identifier keys, refused values, the evidence's name and id;
`encode_found_batches`), under the parser's fingerprint (`parser_fingerprint`: its
configuration's parsing settings and the core's code). The ordered stage takes them only under
its own fingerprint (`founds_of`) and then neither normalises nor digests the events again
(`Resolver.apply_found`: the same state and outcome); otherwise (another configuration or
version, a record written before s40, a header it cannot read) it parses the events itself.
Readers that do not know the header ignore it: the value is the batch as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import resolver
from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from resolver.linking import Found

__all__ = [
    "ACTION",
    "BATCH",
    "EVENT",
    "FOUND_HEADER",
    "KIND_HEADER",
    "MAX_BATCH_BYTES",
    "TICK",
    "decode_batch",
    "encode_batches",
    "encode_found_batches",
    "events_of",
    "founds_of",
    "header_of",
    "kind_of",
    "links_headers",
    "parser_fingerprint",
]

KIND_HEADER = "irl.kind"
#: A batch record's header with triage's findings: ``<fingerprint>\n`` and a JSON array, one row per
#: event in the batch's order: ``[evidence id, name, number of keys, *keys, *refused values]``.
FOUND_HEADER = "irl.found"
#: Changes when the header's layout does (part of every fingerprint).
_FOUND_FORMAT = "found/1"
BATCH, EVENT, TICK, ACTION = b"batch", b"event", b"tick", b"action"
#: Largest links record triage writes (the links topic keeps Kafka's default 1 MiB limit).
MAX_BATCH_BYTES = 512 * 1024

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _row(event: Interaction) -> list[Any]:
    return [
        event.event_id,
        event.touchpoint,
        event.occurred_at,
        event.source_id,
        event.interaction,
        event.phone,
        event.email,
        event.name,
        dict(event.attributes),
    ]


def encode_batches(events: Sequence[Interaction], max_bytes: int = MAX_BATCH_BYTES) -> Iterator[bytes]:
    """The values of the links records carrying `events`, in order, each at most about `max_bytes`.

    An event larger than `max_bytes` on its own travels alone.
    """
    rows = [_dumps(_row(event)) for event in events]
    for start, end in _cuts([len(row.encode()) + 1 for row in rows], 2, max_bytes):
        yield _array(rows[start:end])


def encode_found_batches(
    events: Sequence[Interaction], founds: Sequence[Found], fingerprint: bytes, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[tuple[bytes, bytes]]:
    """`encode_batches` with each record's ``irl.found`` header: (value, header value), in order.

    `founds[i]` is what `resolver.linking.found_of` gives for `events[i]` with the parser that
    `fingerprint` names; a record's value and header together stay within about `max_bytes`.
    """
    rows = [_dumps(_row(event)) for event in events]
    found_rows = [_dumps([vid, name, len(keys), *keys, *rejected]) for keys, rejected, name, vid in founds]
    sizes = [len(row.encode()) + len(found.encode()) + 2 for row, found in zip(rows, found_rows, strict=True)]
    for start, end in _cuts(sizes, 4, max_bytes):
        yield _array(rows[start:end]), fingerprint + b"\n" + _array(found_rows[start:end])


def _cuts(sizes: list[int], base: int, max_bytes: int) -> Iterator[tuple[int, int]]:
    """[start, end) of each record: rows of these `sizes` (bytes with a separator) added while the
    record (`base` bytes of brackets) stays within `max_bytes`; a row too large alone is alone."""
    start, size = 0, base
    for i, n in enumerate(sizes):
        if i > start and size + n > max_bytes:
            yield start, i
            start, size = i, base
        size += n
    if start < len(sizes):
        yield start, len(sizes)


def _array(rows: list[str]) -> bytes:
    return ("[" + ",".join(rows) + "]").encode()


def founds_of(header: bytes | None, fingerprint: bytes, count: int) -> list[Found] | None:
    """What triage found of a batch's `count` events (its ``irl.found`` header), in order; None when the
    record has none, or has them under another fingerprint than `fingerprint`, or they cannot be read
    (the ordered stage then parses the events itself: the findings only save it the work)."""
    if not header:
        return None
    head, sep, body = header.partition(b"\n")
    if not sep or head != fingerprint:
        return None
    try:
        rows = json.loads(body)
        if type(rows) is not list or len(rows) != count:
            return None
        out: list[Found] = []
        append, join = out.append, "".join
        for r in rows:
            vid, name, n = r[0], r[1], r[2]
            join(r[3:])  # a TypeError unless every key and refused value is a string
            if type(vid) is not str or not (name is None or type(name) is str) or type(n) is not int:
                return None
            if n < 0 or len(r) < 3 + n:
                return None
            append((tuple(r[3 : 3 + n]), tuple(r[3 + n :]), name, vid))
    except (ValueError, TypeError, IndexError, KeyError):
        return None
    return out


def parser_fingerprint(config: ResolverConfig) -> bytes:
    """Names the parser whose findings a batch carries: `config`'s parsing settings and the core's code.

    Two processes with equal fingerprints find the same keys, names and evidence ids for the
    same fields (`resolver.linking.found_of` is a pure function of them): so the ordered stage may
    take triage's findings. Another default region, phone regions, junk values or patterns, email
    rules, or another version of `resolver/`'s sources (a rolling upgrade) gives another one.
    """
    h = hashlib.blake2b(digest_size=12)
    parsing = (
        _FOUND_FORMAT,
        config.default_region,
        config.phone_regions,
        config.junk_values,
        config.junk_patterns,
        config.email_rules,
        config.email_domain_fixes,
    )
    h.update(repr(parsing).encode())
    h.update(_core_sources())
    return h.hexdigest().encode()


def _core_sources() -> bytes:
    """A digest of `resolver/`'s Python sources (the compiled core is built from them), read once per process."""
    global _CORE_SOURCES
    if _CORE_SOURCES is None:
        h = hashlib.blake2b(digest_size=16)
        for path in sorted(Path(resolver.__file__).parent.glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
        _CORE_SOURCES = h.digest()
    return _CORE_SOURCES


_CORE_SOURCES: bytes | None = None


#: `Interaction`'s fields' slot setters, in a row's order: `decode_batch` fills each event with them rather than
#: through the frozen dataclass's ``__init__`` (an ``object.__setattr__`` call per field), about 1 us an event less
#: (`Interaction` has no ``__post_init__``; `tests/unit/test_linkbatch.py` compares both ways)
_ROW = ("event_id", "touchpoint", "occurred_at", "source_id", "interaction", "phone", "email", "name", "attributes")
_SETTERS = tuple(getattr(Interaction, f).__set__ for f in _ROW)


def decode_batch(value: bytes) -> list[Interaction]:
    """The events of one batch record, in order. Raises ValueError when it is not one."""
    rows = json.loads(value)
    if not isinstance(rows, list):
        raise ValueError("a links batch is a JSON array")
    out: list[Interaction] = []
    append = out.append
    new = object.__new__
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = _SETTERS
    for row in rows:
        if not isinstance(row, list) or len(row) != 9:
            raise ValueError("a links batch row has nine fields")
        event = new(Interaction)
        s0(event, row[0])
        s1(event, row[1])
        s2(event, row[2])
        s3(event, row[3])
        s4(event, row[4])
        s5(event, row[5])
        s6(event, row[6])
        s7(event, row[7])
        s8(event, row[8])
        append(event)
    return out


def events_of(kind: bytes | None, value: bytes) -> list[Interaction]:
    """The events a links record carries: a batch's, a legacy one-event record's, none for ticks and actions."""
    if kind == BATCH:
        return decode_batch(value)
    if kind == EVENT or kind is None:
        from streams.codec import decode_interaction  # the registry's codecs: only for records written before batches

        return [decode_interaction(value)]
    return []


def links_headers(found: bytes | None) -> list[tuple[str, bytes]]:
    """The headers of a batch record: its kind, and its ``irl.found`` header when it has one."""
    if found is None:
        return [(KIND_HEADER, BATCH)]
    return [(KIND_HEADER, BATCH), (FOUND_HEADER, found)]


def kind_of(headers: Any) -> bytes | None:
    """The ``irl.kind`` header of a record's headers (a list of pairs or a mapping), or None."""
    return header_of(headers, KIND_HEADER)


def header_of(headers: Any, name: str) -> bytes | None:
    """Header `name` of a record's headers (a list of pairs or a mapping), or None."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for k, v in items:
        if k == name:
            return bytes(v) if v is not None else b""
    return None
