"""The compiled Avro writer writes fastavro's bytes, and leaves to fastavro every value it does not plainly handle."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streams.avrowriter import Unhandled, compile_writer
from streams.codec import EncodeError, codecs, decode_resolved, encode_resolved
from streams.schemas import default_repository

TOPIC = "irl.customers.resolved"
LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(max_size=30) | st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(60, 300))
OPTIONAL = st.none() | TEXT
STRINGS = st.lists(TEXT, max_size=4)
CHANGES = ["CREATED", "UPDATED", "MERGED", "ABSORBED", "SPLIT", "ERASED"]

resolved = st.fixed_dictionaries(
    {
        "customer_id": TEXT,
        "change": st.sampled_from(CHANGES),
        "survivor_id": OPTIONAL,
        "merged_from": STRINGS,
        "phones": STRINGS,
        "emails": STRINGS,
        "source_ids": st.lists(st.fixed_dictionaries({"touchpoint": TEXT, "source_id": TEXT}), max_size=3),
        "name": OPTIONAL,
        "first_seen": st.none() | LONG,
        "last_seen": st.none() | LONG,
        "event_count": LONG,
        "touchpoints": STRINGS,
        "confidence": st.floats(allow_nan=False),
        "confidence_reasons": STRINGS,
        "version": LONG,
        "change_id": TEXT,
        "window_start": LONG,
        "window_end": LONG,
    }
)


def _fastavro(schema: Any, record: Any) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, schema, record)
    return out.getvalue()


def _compiled(schema: Any, record: Any) -> bytes:
    writer = compile_writer(schema)
    assert writer is not None
    out = bytearray()
    writer(record, out)
    return bytes(out)


def _wire(name: str) -> Any:
    return default_repository().latest(name).wire


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(resolved)
@example(
    {
        "customer_id": "c",
        "change": "CREATED",
        "survivor_id": None,
        "merged_from": [],
        "phones": ["+91" + "9" * 10],
        "emails": ["é" * 70],
        "source_ids": [{"touchpoint": "WEB", "source_id": "🙂"}],
        "name": None,
        "first_seen": -(2**63),
        "last_seen": 2**63 - 1,
        "event_count": 63,
        "touchpoints": ["WEB"],
        "confidence": -0.0,
        "confidence_reasons": [],
        "version": 64,
        "change_id": "",
        "window_start": -1,
        "window_end": -64,
    }
)
def test_resolved_customer_bytes_are_fastavros(record: dict[str, Any]) -> None:
    wire = _wire("resolved_customer")
    assert _compiled(wire, record) == _fastavro(wire, record)


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {
            "event_id": TEXT,
            "touchpoint": st.sampled_from(["UNKNOWN", "WEB", "WHATSAPP", "KIOSK", "CRM"]),
            "occurred_at": LONG,
            "source_id": TEXT,
            "interaction": TEXT,
            "phone": OPTIONAL,
            "email": OPTIONAL,
            "name": OPTIONAL,
            "attributes": st.dictionaries(TEXT, TEXT, max_size=4),
        }
    )
)
def test_interaction_bytes_are_fastavros(record: dict[str, Any]) -> None:
    wire = _wire("customer_interaction")
    assert _compiled(wire, record) == _fastavro(wire, record)


def _record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "customer_id": "c_1",
        "change": "UPDATED",
        "survivor_id": None,
        "merged_from": [],
        "phones": ["+919845071623"],
        "emails": [],
        "source_ids": [{"touchpoint": "WEB", "source_id": "w1"}],
        "name": "Asha",
        "first_seen": 1,
        "last_seen": 2,
        "event_count": 3,
        "touchpoints": ["WEB"],
        "confidence": 0.7,
        "confidence_reasons": ["+0.10 verified WhatsApp number"],
        "version": 1,
        "change_id": "x",
        "window_start": 0,
        "window_end": 5000,
    }
    base.update(changes)
    return base


UNUSUAL: list[dict[str, Any]] = [
    {"event_count": True},  # a bool where a long is
    {"version": 2**63},  # out of range
    {"confidence": 1},  # an int where a double is
    {"confidence": math.nan},
    {"change": "UNKNOWN"},  # not a symbol
    {"phones": ("+919845071623",)},  # a tuple: handled, the same bytes
    {"name": "\ud800"},  # a lone surrogate
    {"source_ids": [{"touchpoint": "WEB"}]},  # a field missing in a nested record
]


@pytest.mark.parametrize("changes", UNUSUAL, ids=[next(iter(c)) + str(i) for i, c in enumerate(UNUSUAL)])
def test_unusual_values_are_fastavros_to_write_or_refuse(in_memory_codecs: Any, changes: dict[str, Any]) -> None:
    """`Codec.encode` gives what fastavro gives: the same bytes, or an EncodeError."""
    record = _record(**changes)
    codec = codecs().resolved
    try:
        expected: bytes | type[Exception] = encode_resolved(record, TOPIC)[5:]
    except EncodeError:
        expected = EncodeError
    try:
        plain = _fastavro(codec.reader.wire, record)
    except Exception:  # whatever fastavro raises, the codec reports as EncodeError
        assert expected is EncodeError
    else:
        assert expected == plain


def test_a_record_round_trips(in_memory_codecs: Any) -> None:
    record = _record()
    assert decode_resolved(encode_resolved(record, TOPIC)) == record


def test_missing_field_is_unhandled() -> None:
    writer = compile_writer(_wire("resolved_customer"))
    assert writer is not None
    record = _record()
    del record["window_end"]
    with pytest.raises(Unhandled):
        writer(record, bytearray())


def test_a_recursive_named_record_is_fastavros() -> None:
    """A named type referenced again (here recursively) is written by its definition's writer."""
    from fastavro import parse_schema

    schema = parse_schema(
        {
            "type": "record",
            "name": "Node",
            "fields": [
                {"name": "label", "type": "string"},
                {"name": "next", "type": ["null", "Node"]},
                {"name": "tags", "type": {"type": "map", "values": "long"}},
                {"name": "flag", "type": "boolean"},
                {"name": "small", "type": "int"},
            ],
        }
    )
    record = {
        "label": "a",
        "next": {"label": "b" * 70, "next": None, "tags": {}, "flag": False, "small": -5},
        "tags": {"x": 1, "y": -(2**40)},
        "flag": True,
        "small": 2**31 - 1,
    }
    assert _compiled(schema, record) == _fastavro(schema, record)
