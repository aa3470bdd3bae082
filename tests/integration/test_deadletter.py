"""The dead-letter path against the real broker and registry: raw bad messages are classified,
dead-lettered with their original bytes, and listed by `irl deadletters`; valid events in between
still decode, in the Confluent wire format or (for the migration) single-object encoded."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from click.testing import CliRunner, Result

from resolver.interaction import Interaction, Limits
from streams.cli import main
from streams.codec import CONFLUENT_HEADER_SIZE, MARKER, decode_dead_letter, encode_dead_letter, encode_interaction
from streams.codec import encode_resolved as encode_resolved_for
from streams.deadletter import DeadLetterReason, classify, dead_letter
from streams.schemas import default_repository
from streams.topics import create_topics, describe_topics
from tests.integration.harness import register

pytestmark = pytest.mark.integration

NOW = int(time.time() * 1000)


def _event(n: int, **changes: object) -> Interaction:
    base = Interaction(f"dl-{n}", "WEB", NOW - n, f"cookie-{n}", "page_view", email="asha.rao@example.com")
    return Interaction(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})


def _bad_utf8(topic: str) -> bytes:
    data = bytearray(encode_interaction(_event(90), topic))
    at = data.index(b"dl-90", CONFLUENT_HEADER_SIZE)
    data[at : at + 2] = b"\xff\xfe"
    return bytes(data)


def _single_object(event: Interaction) -> bytes:
    """A record written before the Confluent framing (still read during the migration)."""
    import io

    from fastavro import schemaless_writer

    v1 = default_repository().versions("customer_interaction")[0]
    out = io.BytesIO()
    schemaless_writer(out, v1.wire, event.to_record())
    return MARKER + v1.fingerprint + out.getvalue()


RESOLVED = {
    "customer_id": "c",
    "change": "CREATED",
    "version": 1,
    "change_id": "x",
    "window_start": 0,
    "window_end": 1,
}


def corpus(source: str, resolved: str) -> list[tuple[bytes | None, str | tuple[str, str]]]:
    """(value, expected outcome): an event id for valid records, (stage, code) for dead letters."""
    unknown_id = b"\x00" + (2**31 - 3).to_bytes(4, "big")
    return [
        (encode_interaction(_event(1), source), "dl-1"),
        (b'{"event_id": "dl-x", "touchpoint": "WEB"}', ("decode", "bad_marker")),
        (encode_interaction(_event(2), source), "dl-2"),
        (encode_interaction(_event(3), source)[:-6], ("decode", "truncated")),
        (unknown_id + encode_interaction(_event(4), source)[CONFLUENT_HEADER_SIZE:], ("decode", "unknown_schema_id")),
        (MARKER + b"\x13" * 8 + b"\x02", ("decode", "unknown_fingerprint")),
        (b"", ("decode", "empty_value")),
        (None, ("decode", "empty_value")),
        (encode_resolved_for(RESOLVED, resolved), ("decode", "wrong_schema")),
        (_bad_utf8(source), ("decode", "body")),
        (encode_interaction(_event(5, event_id=""), source), ("validate", "invalid")),
        (encode_interaction(_event(6, occurred_at=NOW + 3 * 86_400_000), source), ("validate", "invalid")),
        (_single_object(_event(8)), "dl-8"),
        (encode_interaction(_event(7), source), "dl-7"),
    ]


async def read_all(bootstrap: str, topic: str, deadline_s: float = 20.0) -> list[ConsumerRecord]:
    """Every record of `topic` up to its current end, without a consumer group."""
    count = (await describe_topics(bootstrap, [topic]))[topic]
    parts = [TopicPartition(topic, p) for p in range(count)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[ConsumerRecord] = []
        stop = time.monotonic() + deadline_s
        while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
            assert time.monotonic() < stop, f"timed out reading {topic}"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out.extend(records)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def irl(*args: str) -> Result:
    """Run the CLI in a thread: it calls asyncio.run itself, which cannot nest in the test's loop."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_bad_records_are_dead_lettered_and_listed(kafka_bootstrap: str, unique_topic: str) -> None:
    source, dlt, resolved = f"{unique_topic}-src", f"{unique_topic}-dlt", f"{unique_topic}-res"
    await create_topics(kafka_bootstrap, {source: 1, dlt: 1})
    register({source: "customer_interaction", dlt: "dead_letter", resolved: "resolved_customer"})
    CORPUS = corpus(source, resolved)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i, (value, _) in enumerate(CORPUS):
            await producer.send(source, value, key=f"k{i}".encode(), headers=[("trace", f"t{i}".encode())])
        await producer.flush()

        # What the worker does for every consumed record: classify, never raise, dead-letter failures.
        valid: list[str] = []
        dead: list[tuple[int, DeadLetterReason]] = []
        for record in await read_all(kafka_bootstrap, source):
            outcome = classify(record.value, Limits(now_ms=NOW))
            if isinstance(outcome, Interaction):
                valid.append(outcome.event_id)
                continue
            dead.append((record.offset, outcome))
            letter = dead_letter(
                record.topic, record.partition, record.offset, record.key, record.value,
                list(record.headers), outcome.stage, outcome.reason, int(time.time() * 1000),
                encode=lambda r: encode_dead_letter(r, dlt),
            )  # fmt: skip
            await producer.send(dlt, letter.value, key=letter.key, headers=letter.headers)
        await producer.flush()
    finally:
        await producer.stop()

    assert valid == [v for _, v in CORPUS if isinstance(v, str)]
    expected_dead = [(i, v) for i, (_, v) in enumerate(CORPUS) if not isinstance(v, str)]
    assert [(offset, (r.stage, r.code)) for offset, r in dead] == expected_dead

    letters = await read_all(kafka_bootstrap, dlt)
    assert len(letters) == len(expected_dead) == 10
    for letter, (offset, (stage, code)) in zip(letters, expected_dead, strict=True):
        record = decode_dead_letter(letter.value)
        assert record["value"] == CORPUS[offset][0]  # the original bytes; a tombstone is None
        assert (record["source_topic"], record["source_offset"], record["stage"], record["code"]) == (
            source, offset, stage, code,
        )  # fmt: skip
        assert record["headers"] == [{"name": "trace", "value": f"t{offset}".encode()}]
        assert letter.key == record["key"] == f"k{offset}".encode()
        headers = dict(letter.headers)
        assert headers["irl.source.offset"] == str(offset).encode()
        assert headers["irl.original.trace"] == f"t{offset}".encode()

    listed = await irl("deadletters", "--topic", dlt, "--bootstrap", kafka_bootstrap, "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["source_offset"], (r["stage"], r["code"])) for r in rows] == expected_dead
    assert all(r["source_topic"] == source and r["source_partition"] == 0 for r in rows)
    assert [r["size"] for r in rows] == [len(CORPUS[o][0] or b"") for o, _ in expected_dead]
    assert f"10 dead letters in {dlt}; shown 10 (by reason, all 10 read: " in listed.stderr

    table = await irl("deadletters", "--topic", dlt, "--bootstrap", kafka_bootstrap, "--limit", "3")
    assert table.exit_code == 0, table.stderr
    shown = table.stdout.splitlines()
    assert len(shown) == 4 and shown[-1].startswith(f"10 dead letters in {dlt}; shown 3")
    # The reasons are counted over every dead letter read, not the three rows shown (A7b).
    assert "(by reason, all 10 read: " in shown[-1], shown[-1]
    for counted in ("empty_value 2", "invalid 2", "bad_marker 1", "truncated 1", "wrong_schema 1", "body 1"):
        assert counted in shown[-1], shown[-1]
    assert "invalid: occurred_at: more than a day in the future" in shown[-2]
    assert f"{source}[0]@11" in shown[-2]
    assert "asha.rao@example.com" not in table.stdout + listed.stdout


async def test_irl_deadletters_fails_clearly_without_a_broker_or_topic(kafka_bootstrap: str, unique_topic: str) -> None:
    started = time.monotonic()
    down = await irl("deadletters", "--bootstrap", "127.0.0.1:1", "--timeout", "5")
    assert down.exit_code == 3 and "cannot reach Kafka at 127.0.0.1:1" in down.stderr
    assert time.monotonic() - started < 15
    missing = await irl("deadletters", "--bootstrap", kafka_bootstrap, "--topic", unique_topic)
    assert missing.exit_code == 3 and f"topic {unique_topic} does not exist" in missing.stderr
