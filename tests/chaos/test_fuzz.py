"""Scenario 8: fuzzing the decoder, the dead-letter classifier and the normalisers.

Documented outcomes only: `decode_interaction` raises `CodecError` (nothing else),
`classify` never raises, `PhoneNormaliser.normalise` and `EmailNormaliser.normalise`
return a value with a status for any string. With IRL_CHAOS_FULL=1 hypothesis runs ten
times more examples and atheris (coverage-guided) runs too when it is installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.emails import EmailNormaliser
from resolver.interaction import Interaction, Limits
from resolver.phones import PhoneNormaliser
from streams.codec import (
    CONFLUENT_HEADER_SIZE,
    HEADER_SIZE,
    MARKER,
    CodecError,
    Codecs,
    decode_interaction,
    encode_interaction,
    use,
)
from streams.deadletter import DeadLetterReason, classify
from streams.registry import InMemoryRegistryClient
from streams.schemas import default_repository

from .helpers import FULL

EXAMPLES = 20_000 if FULL else 600
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PHONES = PhoneNormaliser("IN")
EMAILS = EmailNormaliser()
EVENT = Interaction("fz-1", "WEB", 1_704_067_200_000, "u-1", "signup", phone="+919845071623",
                    email="a.b@gmail.com", name="Asha")  # fmt: skip
LEGACY = MARKER + default_repository().latest("customer_interaction").fingerprint


@pytest.fixture(autouse=True, scope="module")
def _codecs_in_memory() -> Iterator[None]:
    """The decoder is fuzzed, not the registry: random schema ids are answered in memory, fast."""
    previous = use(Codecs.build(InMemoryRegistryClient(auto_register=True)))
    yield
    use(previous)


def _valid() -> bytes:
    return encode_interaction(EVENT, "irl.touchpoint.web")


def _check_decode(data: bytes | None) -> None:
    try:
        decode_interaction(data)
    except CodecError:
        pass
    verdict = classify(data, Limits(now_ms=1_800_000_000_000))
    assert isinstance(verdict, (Interaction, DeadLetterReason))
    if isinstance(verdict, DeadLetterReason):
        assert verdict.stage in ("decode", "validate") and verdict.code


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    _check_decode(data)


@FUZZ
@given(st.binary(max_size=512))
def test_valid_header_arbitrary_body(body: bytes) -> None:
    _check_decode(_valid()[:CONFLUENT_HEADER_SIZE] + body)
    _check_decode(LEGACY[:HEADER_SIZE] + body)
    _check_decode(MARKER + body)


@FUZZ
@given(st.data())
def test_mutated_valid_record(data: st.DataObject) -> None:
    raw = bytearray(_valid())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _check_decode(bytes(raw[:cut]) + data.draw(st.binary(max_size=16)))


@FUZZ
@given(st.text(max_size=64) | st.from_regex(r"[+0 ()-]{0,3}[0-9 ()./-]{0,20}", fullmatch=True))
def test_phone_normaliser_answers_every_string(raw: str) -> None:
    phone = PHONES.normalise(raw)
    assert phone.status in ("valid", "invalid", "junk")
    if phone.status == "valid":
        assert phone.e164.startswith("+") and phone.e164[1:].isdigit()
    assert PHONES.normalise(raw) == phone  # cached or not, the same answer


@FUZZ
@given(
    st.text(max_size=64)
    | st.emails().map(lambda e: e.upper())
    | st.from_regex(r"[a-z.+]{0,10}@[a-z.]{0,10}", fullmatch=True)
)
def test_email_normaliser_answers_every_string(raw: str) -> None:
    email = EMAILS.normalise(raw)
    assert EMAILS.normalise(raw) == email
    if email.linkable:
        assert email.status == "valid" and "@" in email.address and email.address == email.address.strip()
    assert email.status in ("valid", "invalid", "junk")


_ATHERIS = textwrap.dedent(
    """
    import sys, atheris
    with atheris.instrument_imports():
        from streams.codec import CodecError, Codecs, decode_interaction, use
        from streams.deadletter import classify
        from streams.registry import InMemoryRegistryClient
        from resolver.phones import PhoneNormaliser
        from resolver.emails import EmailNormaliser
    codecs = Codecs.build(InMemoryRegistryClient(auto_register=True))
    codecs.interaction.schema_id("irl.touchpoint.web")  # id 1 is a real interaction schema
    use(codecs)
    P, E = PhoneNormaliser("IN"), EmailNormaliser()
    def one(data):
        try:
            decode_interaction(data)
        except CodecError:
            pass
        classify(data)
        text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(64)
        P.normalise(text); E.normalise(text)
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
    """
)


def test_atheris_finds_no_undocumented_exception() -> None:
    """Coverage-guided: 200,000 runs under make chaos, a short smoke run inside make test."""
    import atheris  # noqa: F401 - a dev dependency: its absence is a failure, not a skip

    runs = 200_000 if FULL else 5_000
    done = subprocess.run([sys.executable, "-c", _ATHERIS, f"-runs={runs}"], capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
