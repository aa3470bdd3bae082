"""`irl produce` and InteractionProducer against the real broker: exactly the valid events arrive."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from click.testing import CliRunner, Result

from resolver.interaction import Interaction, InvalidInteraction, Limits
from streams.cli import main
from streams.codec import decode_interaction
from streams.commands.produce import parse_line
from streams.producer import InteractionProducer, TopicMissing
from streams.topics import create_topics, describe_topics
from tests.integration.harness import register

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "malformed" / "lines.jsonl"
EXPECTED = json.loads(CORPUS.with_name("lines.expected.json").read_text())


async def read_all(bootstrap: str, topic: str, deadline_s: float = 20.0) -> list[ConsumerRecord]:
    """Every record of `topic` up to its current end, without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        count = (await describe_topics(bootstrap, [topic]))[topic]
        parts = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[ConsumerRecord] = []
        stop = time.monotonic() + deadline_s
        while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
            assert time.monotonic() < stop, f"timed out reading {topic}"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


async def _touchpoint_topics(bootstrap: str, base: str) -> dict[str, str]:
    topics = {tp: f"{base}-{tp.lower()}" for tp in ("WEB", "WHATSAPP", "KIOSK", "CRM")}
    # as `irl topics create` does: old event times must not meet time-based retention
    await create_topics(
        bootstrap, {t: 2 for t in topics.values()}, configs={t: {"retention.ms": "-1"} for t in topics.values()}
    )
    register({t: "customer_interaction" for t in topics.values()})
    return topics


async def irl(*args: str) -> Result:
    """Run the CLI in a thread: it calls asyncio.run itself, which cannot nest in the test's loop."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


def _topic_options(topics: dict[str, str]) -> list[str]:
    return [
        "--topic-web",
        topics["WEB"],
        "--topic-whatsapp",
        topics["WHATSAPP"],
        "--topic-kiosk",
        topics["KIOSK"],
        "--topic-crm",
        topics["CRM"],
    ]


async def test_irl_produce_sends_exactly_the_valid_lines(
    kafka_bootstrap: str, unique_topic: str, tmp_path: Path
) -> None:
    topics = await _touchpoint_topics(kafka_bootstrap, unique_topic)
    source = tmp_path / "events.jsonl"
    shutil.copy(CORPUS, source)

    result = await irl(
        "produce", str(source), "--bootstrap", kafka_bootstrap, *_topic_options(topics),
        "--rejects", str(tmp_path / "events.rejects.jsonl"),
    )  # fmt: skip

    assert result.exit_code == 0, result.output + result.stderr
    assert "sent 6 (kiosk 2, web 3, whatsapp 1); rejected 17; failed 0; blank 1; 24 lines" in result.stdout
    rejected = EXPECTED["rejected"]
    rejects = [json.loads(line) for line in (tmp_path / "events.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == sorted(int(n) for n in rejected)
    lines = CORPUS.read_bytes().splitlines()
    for r in rejects:
        assert rejected[str(r["line"])] in r["reason"]
        assert f"events.jsonl:{r['line']}: rejected: " in result.stderr
        assert r["raw"] == lines[r["line"] - 1].decode("utf-8", "backslashreplace")

    expected = {e.event_id: e for e in (parse_line(lines[n - 1], Limits()) for n in EXPECTED["valid"])}
    received: dict[str, tuple[str, ConsumerRecord]] = {}
    for tp, topic in topics.items():
        for record in await read_all(kafka_bootstrap, topic):
            event = decode_interaction(record.value)
            assert event.event_id not in received, "sent twice"
            received[event.event_id] = (tp, record)
            assert event == expected[event.event_id]
            assert event.touchpoint == tp
            assert record.key == event.source_id.encode()
            assert record.timestamp == event.occurred_at
    assert received.keys() == expected.keys()


async def test_the_python_api_sends_one_or_many_and_refuses_invalid(kafka_bootstrap: str, unique_topic: str) -> None:
    topics = await _touchpoint_topics(kafka_bootstrap, unique_topic)
    now = int(time.time() * 1000)
    events = [Interaction(f"api-{i}", "KIOSK", now - i, f"visit-{i % 3}", "visit") for i in range(50)]
    bad = Interaction("", "WEB", now, "s", "x")
    async with InteractionProducer(kafka_bootstrap, topics) as producer:
        first = await producer.send(Interaction("api-one", "WEB", now, "cookie", "page_view"))
        assert first.topic == topics["WEB"]
        with pytest.raises(InvalidInteraction, match="event 1: event_id: must not be empty"):
            await producer.send_many([events[0], bad])
        with pytest.raises(InvalidInteraction, match="UNKNOWN names no touchpoint"):
            await producer.send(Interaction("api-u", "UNKNOWN", now, "s", "x"))
        acks = await producer.send_many(events)
        assert len(acks) == 50
    kiosk = await read_all(kafka_bootstrap, topics["KIOSK"])
    assert sorted(decode_interaction(r.value).event_id for r in kiosk) == sorted(e.event_id for e in events)
    web = await read_all(kafka_bootstrap, topics["WEB"])
    assert [decode_interaction(r.value).event_id for r in web] == ["api-one"]


async def test_a_missing_topic_is_a_clear_error(kafka_bootstrap: str, unique_topic: str, tmp_path: Path) -> None:
    async with InteractionProducer(kafka_bootstrap, {"WEB": unique_topic}, topic_timeout_s=2) as producer:
        assert await producer.missing_topics() == [unique_topic]
        with pytest.raises(TopicMissing, match="irl topics create"):
            await producer.send(Interaction("e", "WEB", int(time.time() * 1000), "s", "x"))
    source = tmp_path / "one.jsonl"
    source.write_bytes(CORPUS.read_bytes().splitlines()[0] + b"\n")
    result = await irl("produce", str(source), "--bootstrap", kafka_bootstrap, "--topic-web", unique_topic)
    assert result.exit_code == 3
    assert unique_topic in result.stderr and "do not exist" in result.stderr


def test_irl_produce_exits_non_zero_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    shutil.copy(CORPUS, source)
    env = dict(os.environ, IRL_KAFKA_BOOTSTRAP="127.0.0.1:1")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "produce", str(source)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 3
    assert "cannot reach Kafka at 127.0.0.1:1" in proc.stderr
    assert time.monotonic() - started < 20


async def test_nothing_to_send_exits_non_zero(kafka_bootstrap: str, unique_topic: str, tmp_path: Path) -> None:
    topics = await _touchpoint_topics(kafka_bootstrap, unique_topic)
    source = tmp_path / "bad.jsonl"
    source.write_text("not json\n\n")
    rejects = ["--rejects", str(tmp_path / "bad.rejects.jsonl")]  # not in the working directory (the default)
    result = await irl("produce", str(source), "--bootstrap", kafka_bootstrap, *_topic_options(topics), *rejects)
    assert result.exit_code == 1
    assert "nothing could be sent" in result.stderr
    assert "sent 0 (none); rejected 1; failed 0; blank 1" in result.stdout


async def test_irl_produce_throughput(kafka_bootstrap: str, unique_topic: str, tmp_path: Path) -> None:
    """Thousands of events per second: batching, not one round trip per event."""
    topics = await _touchpoint_topics(kafka_bootstrap, unique_topic)
    n = 20_000
    source = tmp_path / "many.jsonl"
    with source.open("w") as fh:
        for i in range(n):
            tp = ("web", "whatsapp", "kiosk")[i % 3]
            fh.write(json.dumps({
                "event_id": f"bulk-{i}", "touchpoint": tp, "occurred_at": 1_714_557_600_000 + i,
                "source_id": f"src-{i % 997}", "interaction": "page_view",
                "phone": f"+9198450{i % 100000:05d}",
                "attributes": {"n": str(i)},
            }) + "\n")  # fmt: skip
    started = time.perf_counter()
    result = await irl("produce", str(source), "--bootstrap", kafka_bootstrap, *_topic_options(topics))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.stderr
    assert f"sent {n} " in result.stdout
    print(f"\nirl produce: {n} events in {elapsed:.2f}s = {n / elapsed:,.0f} events/s")
    assert n / elapsed > 2_000
