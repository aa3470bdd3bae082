"""Triage's findings travel with each batch, and the ordered stage's results do not depend on them.

Triage finds each valid event's identifier keys, refused values, evidence name and evidence id
(`resolver.linking.found_of`) and sends them in the batch record's ``irl.found`` header under its
parser's fingerprint (`streams.linkbatch`). The ordered stage takes them only under its own
fingerprint (`Resolver.apply_found`), so it neither normalises nor digests those events again.
The plain definition is the stage parsing every event itself: every step (its records, its
interactions, its effects), every outcome and the snapshot after must be the same whether the
findings came or not, and a record whose findings are of another parser, or unreadable, is parsed
as if it had none.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import Interaction, Limits, from_json
from resolver.linking import Found, found_of
from resolver.resolver import Resolver
from streams.linkbatch import (
    BATCH,
    FOUND_HEADER,
    KIND_HEADER,
    decode_batch,
    encode_batches,
    encode_found_batches,
    founds_of,
    header_of,
    links_headers,
    parser_fingerprint,
)
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.settings import Settings
from streams.synthetic import generate
from streams.triage import Triage

T0 = 1_790_000_000_000
CONFIG = ResolverConfig()
FINGERPRINT = parser_fingerprint(CONFIG)
EVENTS = [
    dataclasses.replace(from_json(obj), occurred_at=T0 + 997 * i) for i, obj in enumerate(generate(60, seed=4)[0])
]


def found(events: list[Interaction], config: ResolverConfig = CONFIG) -> list[Found]:
    parser = IdentifierParser(config)
    return [found_of(parser, e.touchpoint, e.source_id, e.phone, e.email, e.name) for e in events]


def test_findings_round_trip_beside_the_batch_they_describe() -> None:
    founds = found(EVENTS)
    records = list(encode_found_batches(EVENTS, founds, FINGERPRINT, max_bytes=4096))
    assert len(records) > 3  # cut into several records
    got_events: list[Interaction] = []
    got_founds: list[Found] = []
    for value, header in records:
        events = decode_batch(value)
        got = founds_of(header, FINGERPRINT, len(events))
        assert got is not None
        got_events += events
        got_founds += got
    assert got_events == EVENTS
    assert got_founds == founds
    assert all(isinstance(f[0], tuple) and isinstance(f[1], tuple) for f in got_founds)


def test_a_record_with_its_findings_stays_within_the_record_bound() -> None:
    founds = found(EVENTS)
    for max_bytes in (600, 2048, 10_000):
        for value, header in encode_found_batches(EVENTS, founds, FINGERPRINT, max_bytes=max_bytes):
            body = header.partition(b"\n")[2]
            assert len(value) + len(body) <= max_bytes or len(json.loads(value)) == 1


def test_the_batch_values_are_unchanged_by_the_findings_at_a_large_bound() -> None:
    (value,) = encode_batches(EVENTS, max_bytes=1 << 30)
    ((found_value, _),) = encode_found_batches(EVENTS, found(EVENTS), FINGERPRINT, max_bytes=1 << 30)
    assert found_value == value


def test_the_fingerprint_names_the_parsing_settings_and_nothing_else() -> None:
    assert parser_fingerprint(ResolverConfig()) == FINGERPRINT
    assert parser_fingerprint(ResolverConfig(hub_threshold=9, digest_key=b"another secret key")) == FINGERPRINT
    for other in (
        ResolverConfig(default_region="GB"),
        ResolverConfig(phone_regions=(("KIOSK", "dxb-", "AE"),)),
        ResolverConfig(junk_values=("1234567890",)),
        ResolverConfig(junk_patterns=("test.*",)),
    ):
        assert parser_fingerprint(other) != FINGERPRINT
    assert b"secret" not in FINGERPRINT


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"nofingerprint",
        b"0" * 24 + b"\n[]",  # another parser's
        FINGERPRINT + b"\n[",  # not JSON
        FINGERPRINT + b"\n{}",
        FINGERPRINT + b"\n[]",  # a row short
        FINGERPRINT + b'\n[["v1", null, 2, "p:+919845011111"]]',  # fewer keys than it says
        FINGERPRINT + b"\n[[1, null, 0]]",
        FINGERPRINT + b'\n[["v1", 7, 0]]',
        FINGERPRINT + b'\n[["v1", null, 1, 5]]',
    ],
)
def test_findings_of_another_parser_or_unreadable_are_not_taken(header: bytes | None) -> None:
    assert founds_of(header, FINGERPRINT, 1) is None


def test_the_headers_of_a_batch_record() -> None:
    assert links_headers(None) == [(KIND_HEADER, BATCH)]
    headers = links_headers(b"fp\n[]")
    assert header_of(headers, KIND_HEADER) == BATCH and header_of(headers, FOUND_HEADER) == b"fp\n[]"
    assert header_of(dict(headers), FOUND_HEADER) == b"fp\n[]"
    assert header_of([], FOUND_HEADER) is None


def test_triage_sends_what_its_parser_finds_under_the_stage_s_fingerprint() -> None:
    ports = None  # `_batches` sends nothing
    with_config = Triage(Runtime(Settings()), Limits(), ports, config=CONFIG)  # type: ignore[arg-type]
    records = with_config._batches(EVENTS)
    founds = [f for value, header in records for f in founds_of(header, FINGERPRINT, len(decode_batch(value))) or []]
    assert founds == found(EVENTS)
    without = Triage(Runtime(Settings()), Limits(), ports)  # type: ignore[arg-type]
    assert without._batches(EVENTS) == [(value, None) for value in encode_batches(EVENTS)]


# ---------------------------------------------------------------------------------------------
# the oracle: the stage parsing every event itself


def _reused(events: list[Interaction], rnd: random.Random) -> list[Interaction]:
    """`events` in a shuffled order with repeats: the same event again, and an id reused for other content."""
    out = list(events)
    for _ in range(len(events) // 5):
        out.append(rnd.choice(events))
        a, b = rnd.sample(events, 2)
        out.append(dataclasses.replace(b, event_id=a.event_id))
    rnd.shuffle(out)
    return out


def _run(events: list[Interaction], founds: list[Found | None] | None, step_events: int) -> list[bytes]:
    """Everything a pipeline makes of `events` in steps of `step_events`: records, interactions, effects, snapshot."""
    pipeline = Pipeline(CONFIG, 5_000, 1_000, interactions_topic="irl.interactions.resolved", customer_stage=True)
    out: list[bytes] = []
    for i in range(0, len(events), step_events):
        part = founds[i : i + step_events] if founds is not None else None
        for step in pipeline.on_events(i, events[i : i + step_events], founds=part):
            out.extend(v for _k, v in step.interactions)
            out.append(repr((sorted(step.touched), step.duplicates, step.reused_ids)).encode())
        for step in pipeline.on_tick(i, T0 + 10**10 + i):
            out.extend(v for _k, v in step.outputs)
            out.append(repr(step.effects).encode())
    out.append(pipeline.snapshot())
    return out


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 40), st.floats(0.0, 1.0))
def test_a_stage_given_the_findings_does_exactly_what_it_does_parsing_itself(
    rnd: random.Random, step_events: int, share: float
) -> None:
    events = _reused(rnd.sample(EVENTS, 80), rnd)
    founds: list[Found | None] = list(found(events))
    for i in range(len(founds)):
        if rnd.random() > share:
            founds[i] = None  # a record without findings (written before them, or another parser's)
    assert _run(events, founds, step_events) == _run(events, None, step_events)


def test_outcomes_are_the_same_event_by_event() -> None:
    rnd = random.Random(7)
    events = _reused(EVENTS, rnd)
    plain, given_found = Resolver(CONFIG), Resolver(CONFIG)
    for event, f in zip(events, found(events), strict=True):
        assert given_found.apply_found(event, f) == plain.apply(event)
    assert given_found.snapshot() == plain.snapshot()
