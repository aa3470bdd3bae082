"""The codec: Confluent wire layout, writers resolved by registry id, single-object records read for
migration, and one CodecError per kind of bad bytes. Over the in-memory registry (tests/unit/conftest.py);
the same against the real registry is in tests/integration/test_registry.py."""

from __future__ import annotations

import io
import statistics
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer

from resolver.interaction import Interaction
from streams.codec import (
    CONFLUENT_HEADER_SIZE,
    MARKER,
    BadMarker,
    BodyDecodeError,
    Codec,
    CodecError,
    Codecs,
    EmptyValue,
    EncodeError,
    IncompatibleSchema,
    SchemaCache,
    SingleObjectRefused,
    Truncated,
    UnknownFingerprint,
    UnknownSchemaId,
    WrongSchema,
    decode_interaction,
    decode_resolved,
    encode_interaction,
    encode_resolved,
    schema_id_of,
)
from streams.registry import ContractNotRegistered, InMemoryRegistryClient, subject_of
from streams.schemas import SchemaRepository, SchemaVersion, default_repository

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"
TOPIC = "irl.touchpoint.whatsapp"
RESOLVED_TOPIC = "irl.customers.resolved"

EVENT = Interaction(
    event_id="ev-1",
    touchpoint="WHATSAPP",
    occurred_at=1_714_557_600_000,
    source_id="919845071623",
    interaction="message",
    phone="919845071623",
    email=None,
    name="Zoë 王",
    attributes={"campaign": "diwali"},
)

RESOLVED = {
    "customer_id": "cus-1",
    "change": "MERGED",
    "survivor_id": None,
    "merged_from": ["cus-2"],
    "phones": ["+919845071623"],
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


def body_of(version: SchemaVersion, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, version.wire, record)
    return out.getvalue()


def single_object(version: SchemaVersion, record: dict[str, Any]) -> bytes:
    """What the project wrote before the Confluent framing: C3 01, the fingerprint, the body."""
    return MARKER + version.fingerprint + body_of(version, record)


def test_wire_layout_is_magic_schema_id_body(in_memory_codecs: Codecs) -> None:
    data = encode_interaction(EVENT, TOPIC)
    latest = default_repository().latest("customer_interaction")
    sid = in_memory_codecs.cache.client.lookup(subject_of(TOPIC), latest.text)
    assert sid is not None
    # byte for byte what Confluent's serializer writes: 00, the id big-endian, the Avro body
    assert data == struct.pack(">bI", 0, sid) + body_of(latest, EVENT.to_record())
    assert schema_id_of(data) == sid
    assert decode_interaction(data) == EVENT


def test_resolved_round_trip_keeps_timestamps_as_int_millis() -> None:
    decoded = decode_resolved(encode_resolved(RESOLVED, RESOLVED_TOPIC))
    assert decoded == RESOLVED
    assert isinstance(decoded["window_start"], int)


def test_resolved_defaults_fill_optional_fields_on_encode() -> None:
    minimal = {k: RESOLVED[k] for k in ("customer_id", "change", "version", "change_id", "window_start", "window_end")}
    decoded = decode_resolved(encode_resolved(minimal, RESOLVED_TOPIC))
    assert decoded["merged_from"] == [] and decoded["survivor_id"] is None and decoded["event_count"] == 0


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (None, EmptyValue, "empty_value"),
        (b"", EmptyValue, "empty_value"),
        (b'{"event_id": "x"}', BadMarker, "bad_marker"),
        (b"\x01\x00\x00\x00\x01\x02", BadMarker, "bad_marker"),
        (b"\x00", Truncated, "truncated"),
        (b"\x00\x00\x00\x01", Truncated, "truncated"),
        (b"\x00\x7f\xff\xff\xfe\x02a", UnknownSchemaId, "unknown_schema_id"),
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


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b'{"event_id": "x", "phone": "+919845071623"}', "a JSON text, not Avro"),
        (b'\xef\xbb\xbf  [{"event_id": "x"}]', "a JSON text, not Avro"),
        (b"web-1,WEB,1714557600000,u1,visit", "text, not Avro"),
        (b"\x01\x00\x00\x00\x01\x02", None),
    ],
)
def test_a_record_that_is_not_avro_says_what_it_looks_like_and_never_its_content(data: bytes, said: str | None) -> None:
    # Audit s38: a producer sending JSON got "starts with 7b 22, expected 00", true but no hint.
    with pytest.raises(BadMarker) as info:
        decode_interaction(data)
    reason = info.value.reason
    if said is None:
        assert reason.endswith("expected 00 (Confluent wire format)")
    else:
        assert said in reason and "Confluent Avro serializer" in reason
    assert "9845071623" not in reason and "event_id" not in reason and "u1" not in reason


def test_a_truncated_body_is_truncated() -> None:
    data = encode_interaction(EVENT, TOPIC)
    with pytest.raises(Truncated):
        decode_interaction(data[:-5])


def test_trailing_bytes_are_a_body_error() -> None:
    with pytest.raises(BodyDecodeError, match="after the end"):
        decode_interaction(encode_interaction(EVENT, TOPIC) + b"\x00")


def test_another_contract_is_the_wrong_schema() -> None:
    with pytest.raises(WrongSchema, match=r"dev\.irl\.customers\.ResolvedCustomer"):
        decode_interaction(encode_resolved(RESOLVED, RESOLVED_TOPIC))


def test_invalid_utf8_inside_a_string_is_a_body_error() -> None:
    data = bytearray(encode_interaction(EVENT, TOPIC))
    start = data.index(b"ev-1")
    data[start : start + 2] = b"\xff\xfe"
    with pytest.raises(BodyDecodeError, match="UTF-8") as info:
        decode_interaction(bytes(data))
    assert "ev-1" not in info.value.reason


def test_an_enum_index_out_of_range_is_a_body_error() -> None:
    data = encode_interaction(EVENT, TOPIC)
    raw = bytearray(data[CONFLUENT_HEADER_SIZE:])
    raw[len(b"\x08ev-1")] = 0x7E  # zig-zag 63: far past the four symbols
    with pytest.raises(BodyDecodeError):
        decode_interaction(data[:CONFLUENT_HEADER_SIZE] + bytes(raw))


def test_encode_refuses_a_record_that_does_not_fit() -> None:
    with pytest.raises(EncodeError) as info:
        encode_resolved({"customer_id": "x"}, RESOLVED_TOPIC)
    assert info.value.stage == "encode"


def test_nothing_is_written_for_a_subject_the_contract_is_not_registered_under() -> None:
    strict = Codecs.build(InMemoryRegistryClient())
    with pytest.raises(ContractNotRegistered, match="irl topics create"):
        strict.interaction.encode(EVENT.to_record(), TOPIC)
    strict.cache.client.register(subject_of(TOPIC), strict.interaction.reader.text)
    assert strict.interaction.decode(strict.interaction.encode(EVENT.to_record(), TOPIC)) == EVENT.to_record()


def _pair(repository: SchemaRepository, writer_version: int, reader_version: int) -> tuple[Codec, Codec]:
    """A producer and a consumer in two processes: one registry, separate caches."""
    registry = InMemoryRegistryClient(default_level="NONE")
    for v in repository.versions("customer_interaction")[:writer_version]:
        registry.register(subject_of(TOPIC), v.text)
    writer = Codec("customer_interaction", SchemaCache(registry), repository=repository, reader_version=writer_version)
    reader = Codec("customer_interaction", SchemaCache(registry), repository=repository, reader_version=reader_version)
    return writer, reader


def test_an_old_reader_reads_a_newer_writer_fetched_by_id() -> None:
    writer_v2, reader_v1 = _pair(SchemaRepository.load(FIXTURES / "evolved"), 2, 1)
    record = EVENT.to_record() | {"touchpoint": "POS", "channel": "app"}
    decoded = reader_v1.decode(writer_v2.encode(record, TOPIC))
    assert decoded["touchpoint"] == "UNKNOWN"
    assert "channel" not in decoded
    assert decoded["event_id"] == EVENT.event_id


def test_a_new_reader_reads_an_older_writer_with_defaults() -> None:
    writer_v1, reader_v2 = _pair(SchemaRepository.load(FIXTURES / "evolved"), 1, 2)
    decoded = reader_v2.decode(writer_v1.encode(EVENT.to_record(), TOPIC))
    assert decoded == EVENT.to_record() | {"channel": None}


def test_a_reader_deployed_before_v2_reads_a_crm_event_as_unknown() -> None:
    """The contract's own evolution (v2 added CRM): old readers get the enum's default, not an error."""
    crm = EVENT.to_record() | {"touchpoint": "CRM", "source_id": "003Dn000001", "interaction": "crm_import"}
    writer_v2, reader_v1 = _pair(default_repository(), 2, 1)
    assert reader_v1.decode(writer_v2.encode(crm, TOPIC)) == crm | {"touchpoint": "UNKNOWN"}
    writer_v1, reader_v2 = _pair(default_repository(), 1, 2)
    assert reader_v2.decode(writer_v1.encode(EVENT.to_record(), TOPIC)) == EVENT.to_record()


def test_a_writer_the_reader_cannot_read_is_an_incompatible_schema() -> None:
    writer_v1, reader_v2 = _pair(SchemaRepository.load(FIXTURES / "incompatible"), 1, 2)
    with pytest.raises(IncompatibleSchema, match="tenant"):
        reader_v2.decode(writer_v1.encode(EVENT.to_record(), TOPIC))


class CountingRegistry(InMemoryRegistryClient):
    """The in-memory registry, counting fetches by id."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[int] = []

    def schema(self, schema_id: int) -> str | None:
        self.fetched.append(schema_id)
        return super().schema(schema_id)


def test_a_writer_schema_is_fetched_once_and_an_unknown_id_again_after_its_ttl() -> None:
    registry = CountingRegistry()
    v1 = default_repository().latest("customer_interaction")
    sid = registry.register(subject_of(TOPIC), v1.text)
    now = [0.0]
    cache = SchemaCache(registry, unknown_ttl_s=30.0, clock=lambda: now[0])
    reader = Codec("customer_interaction", cache)
    data = struct.pack(">bI", 0, sid) + body_of(v1, EVENT.to_record())
    for _ in range(3):
        assert reader.decode(data) == EVENT.to_record()
    assert registry.fetched == [sid]

    resolved = default_repository().latest("resolved_customer")
    unknown = struct.pack(">bI", 0, sid + 1) + body_of(resolved, RESOLVED)
    with pytest.raises(UnknownSchemaId):
        reader.decode(unknown)
    registry.register(subject_of(RESOLVED_TOPIC), resolved.text)  # registered a moment later: id sid + 1
    assert cache.stale([sid, sid + 1]) == []
    with pytest.raises(UnknownSchemaId):
        reader.decode(unknown)  # not asked again within the TTL
    now[0] = 31.0
    assert cache.stale([sid, sid + 1]) == [sid + 1]
    cache.fetch(cache.stale([sid + 1]))
    with pytest.raises(WrongSchema):  # now known: a ResolvedCustomer, not an interaction
        reader.decode(unknown)
    assert registry.fetched == [sid, sid + 1, sid + 1]


def test_single_object_records_are_still_read_for_the_migration() -> None:
    v1 = default_repository().versions("customer_interaction")[0]
    assert decode_interaction(single_object(v1, EVENT.to_record())) == EVENT
    resolved = default_repository().latest("resolved_customer")
    with pytest.raises(WrongSchema, match="resolved_customer v1"):
        decode_interaction(single_object(resolved, RESOLVED))
    with pytest.raises(Truncated):
        decode_interaction(single_object(v1, EVENT.to_record())[:-5])


def test_single_object_records_are_refused_once_the_migration_is_over() -> None:
    done = Codecs.build(InMemoryRegistryClient(auto_register=True), read_single_object=False)
    v1 = default_repository().versions("customer_interaction")[0]
    with pytest.raises(SingleObjectRefused) as info:
        done.interaction.decode(single_object(v1, EVENT.to_record()))
    assert info.value.code == "single_object"
    assert done.interaction.decode(done.interaction.encode(EVENT.to_record(), TOPIC)) == EVENT.to_record()


def test_a_single_object_fingerprint_outside_the_repository_is_unknown() -> None:
    other = Codec(
        "sample", SchemaCache(InMemoryRegistryClient()), repository=SchemaRepository.load(FIXTURES / "nontransitive")
    )
    v1 = default_repository().versions("customer_interaction")[0]
    with pytest.raises(UnknownFingerprint):
        other.decode(single_object(v1, EVENT.to_record()))


def test_decode_is_fast_enough_for_the_worker() -> None:
    """Target about 20 µs per decode; asserted loosely because the CPUs are shared."""
    data = encode_interaction(EVENT, TOPIC)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(2000):
            decode_interaction(data)
        timings.append((time.perf_counter() - start) / 2000)
    assert statistics.median(timings) < 100e-6
