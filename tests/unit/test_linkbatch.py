"""The links log's batch records: `decode_batch` gives back the events `encode_batches` wrote, as `Interaction`s
built the ordinary way (it fills their slots directly, for speed)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from resolver.interaction import Interaction
from streams.linkbatch import _ROW, decode_batch, encode_batches

EVENTS = [
    Interaction("e1", "WEB", 1_700_000_000_000, "u1", "VISIT"),
    Interaction("e2", "WHATSAPP", 1_700_000_000_001, "919876543210", "MESSAGE", "+919876543210", None, "Asha Rao"),
    Interaction(
        "e3", "STORE", 1_700_000_000_002, "s9", "PURCHASE", None, "asha@example.com", "Asha", {"amount": "1299.5"}
    ),
]


def test_the_row_is_every_field_of_an_interaction_in_the_contract_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(Interaction)) == _ROW


def test_decoded_events_equal_those_built_by_the_constructor() -> None:
    (value,) = encode_batches(EVENTS)
    got = decode_batch(value)
    assert got == EVENTS
    assert got == [Interaction(*row) for row in json.loads(value)]
    assert [e.attributes for e in got] == [{}, {}, {"amount": "1299.5"}]


def test_a_decoded_event_is_still_frozen() -> None:
    (value,) = encode_batches(EVENTS[:1])
    (event,) = decode_batch(value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "someone"  # type: ignore[misc]


@pytest.mark.parametrize("value", [b'{"a": 1}', b"[[1, 2]]", b'["e1"]', b"[[1,2,3,4,5,6,7,8,9,10]]"])
def test_anything_else_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError, match="links batch"):
        decode_batch(value)
