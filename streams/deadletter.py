"""Dead letters: what the worker publishes instead of a record it cannot use, and how to read them back.

`classify` is called on every consumed value: it decodes and validates, and returns either
the event or a `DeadLetterReason`; it never raises (but for `RegistryUnavailable`, when a new
schema id must be fetched and the registry does not answer: retry). `dead_letter` builds the
record sent to `irl.deadletter`: the original key, a `DeadLetter` Avro value (contract
`schemas/avro/dead_letter`, Confluent wire format) holding the **original bytes** (None for a
tombstone), the original headers and the reason, and the same facts as headers::

    irl.source.topic  irl.source.partition  irl.source.offset   where it was consumed
    irl.stage         decode | validate | resolve
    irl.error         "<code>: <detail>" (never raw personal data)
    irl.error.code    the stable code alone (e.g. bad_marker, invalid)
    irl.dead_at       epoch milliseconds, decimal
    irl.original.<h>  every original header, prefixed

All header values are UTF-8 decimal or text, so any Kafka tool can show them.

Stage ``resolve`` (since s36, `reused_id_letter`): an event the ordered stage took nothing of
because its id was used within the duplicate horizon by an event with other content (code
``reused_id``). Its origin is the links log (``irl.source.*``: the links topic, partition 0,
the last links offset of the step that held it), its value the event as the links log carries
it (the contract's JSON form, UTF-8), its key the source id: send it again under a new id.

A dead letter never exceeds the dead-letter topic's limit (`MAX_RECORD_BYTES`, what
`irl topics create` sets and the producers send at most): a record whose copy would (a
touchpoint topic whose ``max.message.bytes`` was raised above about 2.6 MiB, the headers
carried twice) is **truncated**: it keeps the reason, ``irl.source.*`` (where the original
still is), the first KiB of the key and as much of the value as fits; the original headers
are left out. ``irl.truncated`` then says how large the original was
(``value=N key=N headers=N count=N``, bytes), and the reason ends with the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolver.interaction import Interaction, Limits, validate
from streams.batches import MAX_RECORD_BYTES
from streams.codec import CodecError, decode_dead_letter, decode_interaction
from streams.masking import mask_reason, mask_text
from streams.registry import RegistryError

__all__ = [
    "ORIGINAL_PREFIX",
    "REUSED_ID_REASON",
    "STAGES",
    "TRUNCATED",
    "DeadLetter",
    "DeadLetterInfo",
    "DeadLetterReason",
    "classify",
    "dead_letter",
    "describe",
    "original_value",
    "record_size",
    "reused_id_letter",
]

STAGES = ("decode", "validate", "resolve")
#: The reason of an event whose id another event with other content used first (stage ``resolve``).
REUSED_ID_REASON = (
    "reused_id: event id reused with other content within the duplicate horizon; the event the links log "
    "carried first with it was kept, nothing of this one was taken (send it again under a new id)"
)
ORIGINAL_PREFIX = "irl.original."
_MAX_EVENT_ID = 128
_MAX_ERROR = 1000
#: The header a truncated dead letter carries: the original's sizes (``value=N key=N headers=N count=N``).
TRUNCATED = "irl.truncated"
#: What a truncated dead letter keeps of the original key.
_KEPT_KEY = 1024
#: Room left under the limit for what is not the original's (the reason twice, irl.* headers, the
#: Avro framing, Kafka's record batch: a few KiB at most).
_SLACK = 64 * 1024


@dataclass(frozen=True, slots=True)
class DeadLetterReason:
    """Why a record was dead-lettered: the stage that refused it, a stable code and a PII-free detail."""

    stage: str
    code: str
    detail: str
    #: the event's id when the record decoded (a validation failure): what an operator searches by
    event_id: str | None = None

    @property
    def reason(self) -> str:
        """`code: detail`, the `irl.error` header."""
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record ready to send to the dead-letter topic: `value` is `record` encoded (never None)."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    record: dict[str, Any]


def classify(value: bytes | None, limits: Limits = Limits()) -> Interaction | DeadLetterReason:
    """Decode and validate one consumed value. Never raises.

    Returns the event when it decodes and passes `resolver.interaction.validate` with
    `limits` (pass `now_ms` to bound future times), else the stage and reason to dead-letter.
    """
    try:
        event = decode_interaction(value)
    except CodecError as exc:
        return DeadLetterReason("decode", exc.code, exc.detail)
    except RegistryError:
        raise  # not the record's fault: the caller waits for the registry and tries again
    except Exception as exc:  # a codec bug must not stop the worker: the record is still dead-lettered
        return DeadLetterReason("decode", "codec_bug", type(exc).__name__)
    problems = validate(event, limits)
    if problems:
        eid = event.event_id if isinstance(event.event_id, str) and event.event_id.strip() else None
        return DeadLetterReason("validate", "invalid", "; ".join(problems), eid)
    return event


def dead_letter(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
    stage: str,
    error: str,
    dead_at_ms: int,
    *,
    encode: Callable[[Mapping[str, Any]], bytes],
    event_id: str | None = None,
    max_bytes: int = MAX_RECORD_BYTES,
) -> DeadLetter:
    """Build the dead-letter record of one consumed record. Pure: the caller passes the clock and
    `encode` (the dead-letter codec bound to the dead-letter topic).

    `error` is masked again here (emails, phone-like digit runs: `streams.masking.mask_reason`,
    which keeps the numbers the template labels as ours, schema ids and lengths) and capped at
    1000 characters, so a careless reason cannot leak personal data into the dead-letter topic.

    The record's size as Kafka counts it (`record_size`) is at most `max_bytes`: a larger one
    is truncated (the module's docstring says how), so that its send never fails.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    safe_error = mask_reason(error)[:_MAX_ERROR]
    originals = [(name, raw) for name, raw in headers or ()]
    letter = _letter(topic, partition, offset, key, value, originals, stage, safe_error, dead_at_ms, encode, event_id)
    if record_size(letter.key, letter.value, letter.headers) <= max_bytes:
        return letter
    header_bytes = sum(len(name.encode()) + len(raw or b"") for name, raw in originals)
    sizes = f"value={len(value or b'')} key={len(key or b'')} headers={header_bytes} count={len(originals)}"
    note = f" (dead letter truncated: the original is {len(value or b'')} bytes of value, {len(key or b'')} "
    note += f"bytes of key, {len(originals)} headers of {header_bytes} bytes; irl.source.* say where it is)"
    kept_key = None if key is None else key[:_KEPT_KEY]
    room = max(0, max_bytes - _SLACK - 2 * len(kept_key or b"") - 2 * len(topic.encode()))
    kept_value = None if value is None else value[:room]
    return _letter(
        topic, partition, offset, kept_key, kept_value, [], stage, safe_error[: _MAX_ERROR - len(note)] + note,
        dead_at_ms, encode, event_id, truncated=sizes,
    )  # fmt: skip


def reused_id_letter(
    event: Interaction,
    links_topic: str,
    links_offset: int,
    dead_at_ms: int,
    *,
    encode: Callable[[Mapping[str, Any]], bytes],
    max_bytes: int = MAX_RECORD_BYTES,
) -> DeadLetter:
    """The dead letter of an event reusing an id with other content (stage ``resolve``, the module's docstring)."""
    value = json.dumps(event.to_record(), ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return dead_letter(
        links_topic, 0, links_offset, event.source_id.encode("utf-8", "surrogatepass"), value, None, "resolve",
        REUSED_ID_REASON, dead_at_ms, encode=encode, event_id=event.event_id, max_bytes=max_bytes,
    )  # fmt: skip


def record_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> int:
    """An upper bound of the bytes Kafka counts for one record alone in a batch (what a producer's
    ``max_request_size`` and a topic's ``max.message.bytes`` are compared with): the batch header,
    the record's and each header's varints at their widest, and the bytes themselves."""
    size = 61 + 21 + len(key or b"") + len(value or b"")
    for name, raw in headers:
        size += 10 + len(name.encode()) + len(raw or b"")
    return size


def _letter(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    originals: list[tuple[str, bytes | None]],
    stage: str,
    safe_error: str,
    dead_at_ms: int,
    encode: Callable[[Mapping[str, Any]], bytes],
    event_id: str | None,
    truncated: str | None = None,
) -> DeadLetter:
    code = safe_error.split(":", 1)[0].strip() if ":" in safe_error else ""
    out: list[tuple[str, bytes]] = [
        ("irl.source.topic", topic.encode()),
        ("irl.source.partition", str(partition).encode()),
        ("irl.source.offset", str(offset).encode()),
        ("irl.stage", stage.encode()),
        ("irl.error", safe_error.encode()),
        ("irl.error.code", code.encode()),
        ("irl.dead_at", str(dead_at_ms).encode()),
    ]
    if event_id is not None:  # masked and capped as the error is: a producer may put anything in an id
        out.append(("irl.event_id", mask_text(event_id)[:_MAX_EVENT_ID].encode()))
    if truncated is not None:
        out.append((TRUNCATED, truncated.encode()))
    for name, raw in originals:
        out.append((ORIGINAL_PREFIX + name, raw if raw is not None else b""))
    record: dict[str, Any] = {
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "stage": stage,
        "code": code,
        "error": safe_error,
        "dead_at": dead_at_ms,
        "key": key,
        "value": value,
        "headers": [{"name": name, "value": raw} for name, raw in originals],
    }
    return DeadLetter(key=key, value=encode(record), headers=out, record=record)


def original_value(value: bytes | None) -> bytes | None:
    """The original bytes a dead letter carries: from its DeadLetter record, or the value itself for a
    dead letter written before the Avro value (the raw original). Raises RegistryUnavailable only."""
    try:
        return decode_dead_letter(value)["value"]  # type: ignore[no-any-return]
    except CodecError:
        return value


@dataclass(frozen=True, slots=True)
class DeadLetterInfo:
    """What `irl deadletters` shows of one dead letter (no value bytes, only their size)."""

    source_topic: str
    source_partition: int | None
    source_offset: int | None
    stage: str
    error: str
    code: str
    dead_at_ms: int | None
    size: int
    original_headers: tuple[str, ...]
    #: the event's id (masked) when the record decoded and failed validation; None otherwise
    event_id: str | None = None
    #: the dead letter carries only part of the original (`size` is then the original value's size)
    truncated: bool = False


def _int_or_none(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def describe(headers: Sequence[tuple[str, bytes | None]], value: bytes | None) -> DeadLetterInfo:
    """Read the headers of a dead letter back; `value` is the original bytes (`original_value`).

    Missing or odd headers give empty fields, never an error.
    """
    h: dict[str, str] = {}
    originals: list[str] = []
    for name, raw in headers:
        if name.startswith(ORIGINAL_PREFIX):
            originals.append(name[len(ORIGINAL_PREFIX) :])
            continue
        h[name] = (raw or b"").decode("utf-8", "replace")
    error = mask_reason(h.get("irl.error", ""))
    sizes = dict(part.partition("=")[::2] for part in h.get(TRUNCATED, "").split())
    return DeadLetterInfo(
        source_topic=h.get("irl.source.topic", ""),
        source_partition=_int_or_none(h.get("irl.source.partition", "")),
        source_offset=_int_or_none(h.get("irl.source.offset", "")),
        stage=h.get("irl.stage", ""),
        error=error,
        code=h.get("irl.error.code") or error.split(":", 1)[0],
        dead_at_ms=_int_or_none(h.get("irl.dead_at", "")),
        size=_int_or_none(sizes.get("value", "")) or len(value or b""),
        original_headers=tuple(originals),
        event_id=h.get("irl.event_id") or None,
        truncated=TRUNCATED in h,
    )
