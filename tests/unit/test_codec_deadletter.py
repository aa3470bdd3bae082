"""classify() and dead_letter(): each consumed value becomes an event or a dead letter, never an exception."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.interaction import Interaction, Limits
from streams.batches import MAX_RECORD_BYTES
from streams.codec import MARKER, decode_dead_letter, encode_dead_letter, encode_interaction, encode_resolved
from streams.deadletter import TRUNCATED, DeadLetterReason, classify, dead_letter, describe, original_value, record_size

NOW = 1_714_557_600_000
GOOD = Interaction("ev-1", "WEB", NOW, "cookie-1", "page_view", phone="+91 98450 71623", email="asha@example.com")
WEB = "irl.touchpoint.web"
DLT = "irl.deadletter"


def to_dlt(record: Mapping[str, Any]) -> bytes:
    return encode_dead_letter(record, DLT)


def test_a_valid_value_is_the_event() -> None:
    assert classify(encode_interaction(GOOD, WEB), Limits(now_ms=NOW)) == GOOD


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (lambda: None, "empty_value"),
        (lambda: b"", "empty_value"),
        (lambda: b'{"event_id":"x"}', "bad_marker"),
        (lambda: b"\x00\x00\x01", "truncated"),
        (lambda: b"\x00\x00\x01\x00\x00\x02", "unknown_schema_id"),
        (lambda: MARKER + b"\x01\x02", "truncated"),
        (lambda: MARKER + bytes(8) + b"\x00", "unknown_fingerprint"),
        (lambda: encode_interaction(GOOD, WEB)[:-3], "truncated"),
    ],
)
def test_undecodable_values_are_decode_dead_letters(value: Callable[[], bytes | None], code: str) -> None:
    result = classify(value(), Limits(now_ms=NOW))
    assert isinstance(result, DeadLetterReason)
    assert (result.stage, result.code) == ("decode", code)


def test_a_decodable_but_invalid_event_is_a_validate_dead_letter() -> None:
    late = Interaction("", "WEB", NOW + 2 * 86_400_000, "c", "x")
    result = classify(encode_interaction(late, WEB), Limits(now_ms=NOW))
    assert isinstance(result, DeadLetterReason)
    assert result.stage == "validate" and result.code == "invalid"
    assert "event_id: must not be empty" in result.detail and "future" in result.detail


def test_a_resolved_record_in_a_touchpoint_topic_is_the_wrong_schema() -> None:
    record = {
        "customer_id": "c", "change": "CREATED", "version": 1, "change_id": "x",
        "window_start": 0, "window_end": 1,
    }  # fmt: skip
    result = classify(encode_resolved(record, "irl.customers.resolved"))
    assert isinstance(result, DeadLetterReason) and result.code == "wrong_schema"


@settings(max_examples=500)
@given(st.one_of(st.none(), st.binary(max_size=80)))
def test_classify_never_raises(value: bytes | None) -> None:
    assert isinstance(classify(value), Interaction | DeadLetterReason)


def test_dead_letter_keeps_the_original_bytes_key_and_headers() -> None:
    value = b"\xc3\x01garbage"
    dl = dead_letter(
        "irl.touchpoint.web", 3, 42, b"cookie-1", value, [("trace", b"abc"), ("empty", None)],
        "decode", "bad_marker: starts with 7b 22", 1_714_557_600_123, encode=to_dlt,
    )  # fmt: skip
    assert dl.key == b"cookie-1"
    assert decode_dead_letter(dl.value) == dl.record == {
        "source_topic": "irl.touchpoint.web", "source_partition": 3, "source_offset": 42,
        "stage": "decode", "code": "bad_marker", "error": "bad_marker: starts with 7b 22",
        "dead_at": 1_714_557_600_123, "key": b"cookie-1", "value": value,
        "headers": [{"name": "trace", "value": b"abc"}, {"name": "empty", "value": None}],
    }  # fmt: skip
    assert original_value(dl.value) == value
    headers = dict(dl.headers)
    assert headers["irl.source.topic"] == b"irl.touchpoint.web"
    assert headers["irl.source.partition"] == b"3"
    assert headers["irl.source.offset"] == b"42"
    assert headers["irl.stage"] == b"decode"
    assert headers["irl.error"] == b"bad_marker: starts with 7b 22"
    assert headers["irl.error.code"] == b"bad_marker"
    assert headers["irl.dead_at"] == b"1714557600123"
    assert headers["irl.original.trace"] == b"abc" and headers["irl.original.empty"] == b""


def test_a_tombstone_is_a_null_original_value() -> None:
    dl = dead_letter("t", 0, 0, None, None, None, "decode", "empty_value: tombstone (no value)", 1, encode=to_dlt)
    assert dl.value and dl.key is None
    assert decode_dead_letter(dl.value)["value"] is None and original_value(dl.value) is None


def test_a_dead_letter_from_before_the_avro_value_is_its_original_bytes() -> None:
    assert original_value(b'{"event_id":"x"}') == b'{"event_id":"x"}'
    assert original_value(None) is None


def test_the_error_header_never_carries_raw_pii() -> None:
    dl = dead_letter(
        "t", 0, 0, None, b"x", [], "validate", "invalid: asha.rao@example.com +91 98450 71623", 1, encode=to_dlt
    )
    error = dict(dl.headers)["irl.error"].decode()
    assert "asha.rao@example.com" not in error and "98450" not in error
    assert dl.record["error"] == error


def test_a_dead_letter_reason_shows_our_numbers_as_numbers() -> None:
    """A schema id and a length are ours: the reason shows them whole, written and read back (A7a)."""
    value = b"\x00" + (1000018).to_bytes(4, "big") + b"\x02"
    verdict = classify(value, Limits(now_ms=NOW))
    assert isinstance(verdict, DeadLetterReason) and "schema id 1000018" in verdict.reason
    long_name = Interaction("ev-1", "WEB", NOW, "cookie-1", "page_view", name="x" * 1_200_000)
    invalid = classify(encode_interaction(long_name, WEB), Limits(now_ms=NOW))
    assert isinstance(invalid, DeadLetterReason) and "(1200000)" in invalid.reason
    for reason in (verdict, invalid):
        dl = dead_letter(WEB, 0, 7, None, value, [], reason.stage, reason.reason, NOW, encode=to_dlt)
        assert dl.record["error"] == reason.reason
        assert describe(dl.headers, value).error == reason.reason
    phone = dead_letter(WEB, 0, 7, None, value, [], "validate", "invalid: 9845071623 bytes", NOW, encode=to_dlt)
    assert "45071" not in phone.record["error"]


def test_an_unknown_stage_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        dead_letter("t", 0, 0, None, b"x", [], "sequence", "x", 1, encode=to_dlt)


def test_describe_reads_back_what_dead_letter_wrote() -> None:
    dl = dead_letter(
        "src", 1, 7, b"k", b"12345", [("h", b"v")], "validate", "invalid: event_id: required", 99, encode=to_dlt
    )
    info = describe(dl.headers, original_value(dl.value))
    assert (info.source_topic, info.source_partition, info.source_offset) == ("src", 1, 7)
    assert (info.stage, info.code, info.dead_at_ms, info.size) == ("validate", "invalid", 99, 5)
    assert info.original_headers == ("h",)


def test_describe_tolerates_foreign_records() -> None:
    info = describe([("irl.source.offset", b"not a number")], None)
    assert info.source_offset is None and info.size == 0 and info.stage == ""


def test_a_dead_letter_of_a_decoded_event_names_its_event_id_masked() -> None:
    """On call, "what happened to event X?": a validation failure's dead letter carries X (no decode needed)."""
    future = Interaction("web-9002", "WEB", NOW + 2 * 86_400_000, "c", "x")
    verdict = classify(encode_interaction(future, WEB), Limits(now_ms=NOW))
    assert isinstance(verdict, DeadLetterReason) and verdict.event_id == "web-9002"
    dl = dead_letter("src", 0, 1, None, b"x", [], verdict.stage, verdict.reason, 9, encode=to_dlt, event_id="web-9002")
    assert describe(dl.headers, original_value(dl.value)).event_id == "web-9002"
    leaky = dead_letter(
        "src", 0, 1, None, b"x", [], "validate", "invalid", 9, encode=to_dlt, event_id="a@b.in-98450 71623"
    )
    shown = describe(leaky.headers, original_value(leaky.value)).event_id or ""
    assert "a@b.in" not in shown and "71623" not in shown
    undecodable = classify(b"\x00\x00\x01", Limits(now_ms=NOW))
    assert isinstance(undecodable, DeadLetterReason) and undecodable.event_id is None


def _kafka_size(dl: Any) -> int:
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(dl.key, dl.value, dl.headers))


@given(
    key=st.one_of(st.none(), st.binary(max_size=300)),
    value=st.one_of(st.none(), st.binary(max_size=3000)),
    headers=st.lists(st.tuples(st.text(max_size=20), st.one_of(st.none(), st.binary(max_size=200))), max_size=6),
)
@settings(max_examples=60)
def test_record_size_is_at_least_what_the_producer_counts(key: Any, value: Any, headers: Any) -> None:
    """The producer refuses a record above ``max_request_size`` by aiokafka's estimate: ours is never less."""
    dl = dead_letter(WEB, 0, 1, key, value, headers, "decode", "bad_marker: x", NOW, encode=to_dlt)
    assert record_size(dl.key, dl.value, dl.headers) >= _kafka_size(dl)


def test_a_dead_letter_that_fits_is_not_truncated() -> None:
    dl = dead_letter(WEB, 0, 1, b"k", b"v" * 100_000, [("h", b"x" * 50_000)], "decode", "bad_marker: x", NOW,
                     encode=to_dlt, max_bytes=300_000)  # fmt: skip
    assert TRUNCATED not in dict(dl.headers) and dl.record["value"] == b"v" * 100_000
    assert not describe(dl.headers, dl.record["value"]).truncated


def test_a_dead_letter_larger_than_the_limit_is_truncated_and_says_so() -> None:
    """Value, key and headers (twice) above the dead-letter topic's limit: the send would fail and
    stop triage. The dead letter keeps the reason, where the original is and a prefix of it."""
    key, value, blob = b"K" * 5000, bytes(range(256)) * 800, b"h" * 100_000
    limit = 150_000
    reason = "invalid: name: longer than 4096 characters (204800)"
    originals = [("blob", blob), ("trace", b"t1")]
    dl = dead_letter(WEB, 3, 4_567_890, key, value, originals, "validate", reason, NOW, encode=to_dlt, max_bytes=limit)
    assert record_size(dl.key, dl.value, dl.headers) <= limit and _kafka_size(dl) <= limit
    headers = dict(dl.headers)
    assert headers[TRUNCATED] == b"value=204800 key=5000 headers=100011 count=2"
    assert (headers["irl.source.topic"], headers["irl.source.partition"], headers["irl.source.offset"]) == (
        WEB.encode(), b"3", b"4567890",
    )  # fmt: skip
    assert not any(name.startswith("irl.original.") for name in headers)
    record = decode_dead_letter(dl.value)
    assert record["headers"] == [] and record["key"] == key[:1024] == dl.key
    assert value.startswith(record["value"]) and len(record["value"]) > limit // 2
    assert record["error"].startswith("invalid: name: longer than 4096 characters (204800) (dead letter truncated")
    assert "204800 bytes of value" in record["error"] and record["code"] == "invalid"
    info = describe(dl.headers, original_value(dl.value))
    assert info.truncated and info.size == 204_800 and info.error == record["error"]


def test_a_copy_above_sixteen_mib_fits_the_dead_letter_topic() -> None:
    """A touchpoint topic raised to 8 MiB: a 6 MiB value with 6 MiB of headers makes an 18 MiB copy."""
    value, headers = b"v" * (6 << 20), [("blob", b"h" * (6 << 20))]
    dl = dead_letter(WEB, 0, 9, b"k", value, headers, "decode", "bad_marker: starts with 76 76", NOW, encode=to_dlt)
    assert TRUNCATED in dict(dl.headers)
    assert _kafka_size(dl) <= record_size(dl.key, dl.value, dl.headers) <= MAX_RECORD_BYTES
