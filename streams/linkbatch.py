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
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from resolver.interaction import Interaction

__all__ = [
    "ACTION",
    "BATCH",
    "EVENT",
    "KIND_HEADER",
    "MAX_BATCH_BYTES",
    "TICK",
    "decode_batch",
    "encode_batches",
    "events_of",
    "kind_of",
]

KIND_HEADER = "irl.kind"
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
    rows: list[str] = []
    size = 2
    for event in events:
        row = _dumps(_row(event))
        n = len(row.encode()) + 1
        if rows and size + n > max_bytes:
            yield ("[" + ",".join(rows) + "]").encode()
            rows, size = [], 2
        rows.append(row)
        size += n
    if rows:
        yield ("[" + ",".join(rows) + "]").encode()


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


def kind_of(headers: Any) -> bytes | None:
    """The ``irl.kind`` header of a record's headers (a list of pairs or a mapping), or None."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for k, v in items:
        if k == KIND_HEADER:
            return bytes(v) if v is not None else b""
    return None
