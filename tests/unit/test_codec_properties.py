"""Property tests of the codec: round trip is the identity; arbitrary bytes only ever raise CodecError."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from resolver.interaction import TOUCHPOINTS, Interaction
from streams.codec import CONFLUENT_HEADER_SIZE, HEADER_SIZE, MARKER, CodecError, decode_interaction, encode_interaction
from streams.schemas import default_repository

TOPIC = "irl.touchpoint.web"

LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Any unicode text (surrogates cannot be UTF-8 encoded, so hypothesis' text() leaves them out),
# plus very long strings built cheaply by repetition.
TEXT = st.one_of(
    st.text(max_size=40),
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(min_value=10_000, max_value=200_000)),
)
OPTIONAL = st.none() | TEXT

interactions = st.builds(
    Interaction,
    event_id=TEXT,
    touchpoint=st.sampled_from(TOUCHPOINTS),
    occurred_at=LONG,
    source_id=TEXT,
    interaction=TEXT,
    phone=OPTIONAL,
    email=OPTIONAL,
    name=OPTIONAL,
    attributes=st.dictionaries(st.text(max_size=20), TEXT, max_size=5),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(interactions)
@example(Interaction("", "WEB", 0, "", "", "", "", "", {}))
@example(Interaction("é" * 100_000, "KIOSK", 2**63 - 1, "🙂", "\x00", None, None, None, {"": ""}))
def test_encode_then_decode_is_the_identity(event: Interaction) -> None:
    assert decode_interaction(encode_interaction(event, TOPIC)) == event


def _valid() -> bytes:
    # Encoded on first use, not at import: the in-memory registry is installed per module (conftest).
    return encode_interaction(Interaction("ev", "WEB", 1_714_557_600_000, "s", "x", "p", "e", "n", {"k": "v"}), TOPIC)


_LEGACY = MARKER + default_repository().latest("customer_interaction").fingerprint


@settings(max_examples=2000)
@given(
    st.binary(max_size=64)
    | st.binary(max_size=64).map(lambda b: _valid()[:CONFLUENT_HEADER_SIZE] + b)
    | st.binary(max_size=64).map(lambda b: _LEGACY[:HEADER_SIZE] + b)
)
def test_arbitrary_bytes_raise_only_codec_errors(data: bytes) -> None:
    try:
        decode_interaction(data)
    except CodecError:
        pass


@settings(max_examples=2000)
@given(st.data())
def test_mutated_valid_bytes_raise_only_codec_errors(data: st.DataObject) -> None:
    raw = bytearray(_valid())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        decoded = decode_interaction(bytes(raw[:cut]))
    except CodecError:
        return
    assert isinstance(decoded, Interaction)
