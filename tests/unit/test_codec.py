"""Single-object Avro codec: wire layout, schema resolution, and one CodecError per kind of bad bytes."""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

import pytest
from fastavro import schemaless_writer

from resolver.interaction import Interaction
from streams.codec import (
    HEADER_SIZE,
    MARKER,
    BadMarker,
    BodyDecodeError,
    Codec,
    CodecError,
    EmptyValue,
    EncodeError,
    Truncated,
    UnknownFingerprint,
    WrongSchema,
    decode_interaction,
    decode_resolved,
    encode_interaction,
    encode_resolved,
)
from streams.schemas import SchemaRegistry, default_registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"

EVENT = Interaction(
    event_id="ev-1",
    touchpoint="WHATSAPP",
    occurred_at=1_714_557_600_000,
    source_id="919876543210",
    interaction="message",
    phone="919876543210",
    email=None,
    name="Zoë 王",
    attributes={"campaign": "diwali"},
)

RESOLVED = {
    "customer_id": "cus-1",
    "change": "MERGED",
    "survivor_id": None,
    "merged_from": ["cus-2"],
    "phones": ["+919876543210"],
    "emails": ["asha@example.com"],
    "source_ids": [{"touchpoint": "WEB", "source_id": "cookie-1"}],
    "name": "Asha",
    "first_seen": 1_714_557_600_000,
    "last_seen": 1_714_557_900_000,
    "event_count": 3,
    "touchpoints": ["WEB", "WHATSAPP"],
    "confidence": 0.9,
    "confidence_reasons": ["phone matched"],
    "version": 2,
    "change_id": "chg-abc",
    "window_start": 1_714_557_600_000,
    "window_end": 1_714_558_500_000,
}


def test_wire_layout_is_marker_fingerprint_body() -> None:
    data = encode_interaction(EVENT)
    assert data[:2] == MARKER == b"\xc3\x01"
    assert data[2:HEADER_SIZE] == default_registry().latest("customer_interaction").fingerprint
    assert decode_interaction(data) == EVENT


def test_resolved_round_trip_keeps_timestamps_as_int_millis() -> None:
    decoded = decode_resolved(encode_resolved(RESOLVED))
    assert decoded == RESOLVED
    assert isinstance(decoded["window_start"], int)


def test_resolved_defaults_fill_optional_fields_on_encode() -> None:
    minimal = {k: RESOLVED[k] for k in ("customer_id", "change", "version", "change_id", "window_start", "window_end")}
    decoded = decode_resolved(encode_resolved(minimal))
    assert decoded["merged_from"] == [] and decoded["survivor_id"] is None and decoded["event_count"] == 0


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (None, EmptyValue, "empty_value"),
        (b"", EmptyValue, "empty_value"),
        (b'{"event_id": "x"}', BadMarker, "bad_marker"),
        (b"\xc3", Truncated, "truncated"),
        (b"\xc3\x01\x00\x01", Truncated, "truncated"),
        (b"\xc3\x00" + bytes(20), BadMarker, "bad_marker"),
        (b"\xc3\x01" + b"\x00" * 8 + b"\x02a", UnknownFingerprint, "unknown_fingerprint"),
    ],
)
def test_each_kind_of_bad_header_has_its_error(data: bytes | None, error: type[CodecError], code: str) -> None:
    with pytest.raises(error) as info:
        decode_interaction(data)
    assert info.value.code == code
    assert info.value.stage == "decode"
    assert info.value.reason.startswith(code + ": ")


def test_a_truncated_body_is_truncated() -> None:
    data = encode_interaction(EVENT)
    with pytest.raises(Truncated):
        decode_interaction(data[:-5])


def test_trailing_bytes_are_a_body_error() -> None:
    with pytest.raises(BodyDecodeError, match="after the end"):
        decode_interaction(encode_interaction(EVENT) + b"\x00")


def test_another_contract_is_the_wrong_schema() -> None:
    with pytest.raises(WrongSchema, match="resolved_customer v1"):
        decode_interaction(encode_resolved(RESOLVED))


def test_invalid_utf8_inside_a_string_is_a_body_error() -> None:
    header = MARKER + default_registry().latest("customer_interaction").fingerprint
    data = bytearray(encode_interaction(EVENT))
    start = data.index(b"ev-1")
    data[start : start + 2] = b"\xff\xfe"
    assert bytes(data[:HEADER_SIZE]) == header
    with pytest.raises(BodyDecodeError, match="UTF-8") as info:
        decode_interaction(bytes(data))
    assert "ev-1" not in info.value.reason


def test_an_enum_index_out_of_range_is_a_body_error() -> None:
    body = io.BytesIO()
    wire = default_registry().latest("customer_interaction").wire
    schemaless_writer(body, wire, EVENT.to_record())
    raw = bytearray(body.getvalue())
    raw[len(b"\x08ev-1")] = 0x7E  # zig-zag 63: far past the four symbols
    with pytest.raises(BodyDecodeError):
        decode_interaction(MARKER + default_registry().latest("customer_interaction").fingerprint + bytes(raw))


def test_encode_refuses_a_record_that_does_not_fit() -> None:
    with pytest.raises(EncodeError) as info:
        encode_resolved({"customer_id": "x"})
    assert info.value.stage == "encode"


def test_old_reader_reads_a_newer_writer_unknown_symbol_as_default() -> None:
    registry = SchemaRegistry.load(FIXTURES / "evolved")
    writer_v2 = Codec("customer_interaction", registry)
    reader_v1 = Codec("customer_interaction", registry, reader_version=1)
    record = EVENT.to_record() | {"touchpoint": "POS", "channel": "app"}
    decoded = reader_v1.decode(writer_v2.encode(record))
    assert decoded["touchpoint"] == "UNKNOWN"
    assert "channel" not in decoded
    assert decoded["event_id"] == EVENT.event_id


def test_new_reader_reads_an_older_writer_with_defaults() -> None:
    registry = SchemaRegistry.load(FIXTURES / "evolved")
    writer_v1 = Codec("customer_interaction", registry, reader_version=1)
    reader_v2 = Codec("customer_interaction", registry)
    decoded = reader_v2.decode(writer_v1.encode(EVENT.to_record()))
    assert decoded == EVENT.to_record() | {"channel": None}


def test_repository_v1_bytes_are_unknown_to_a_registry_without_them() -> None:
    other = Codec("sample", SchemaRegistry.load(FIXTURES / "nontransitive"))
    with pytest.raises(UnknownFingerprint):
        other.decode(encode_interaction(EVENT))


def test_decode_is_fast_enough_for_the_worker() -> None:
    """Target about 20 µs per decode; asserted loosely because the CPUs are shared."""
    data = encode_interaction(EVENT)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(2000):
            decode_interaction(data)
        timings.append((time.perf_counter() - start) / 2000)
    assert statistics.median(timings) < 100e-6
