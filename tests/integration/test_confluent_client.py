"""Other languages can produce and consume: Confluent's own client (not ours) against the registry and the worker.

    confluent_kafka AvroSerializer (v1 file, and a newer v2 it registers) ──▶ touchpoint topics ──▶ worker
                                                                      junk ──▶ ┘                    │
    confluent_kafka AvroDeserializer ◀── every record of the touchpoint, resolved and dead-letter topics

The story is test_worker's: the worker's partition of the events must equal the offline replay's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from resolver.interaction import from_json
from streams.deadletter import describe

from .harness import REGISTRY_URL, Worker, create_project_topics, isolated_env, read_topic, wait_for
from .test_worker import _events, _replay_partition, _stream_partition

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTRACT = Path(__file__).resolve().parents[2] / "schemas" / "avro" / "customer_interaction" / "v1.avsc"


def _newer_version() -> str:
    """What a touchpoint team might publish next: v1 plus an optional field (compatible both ways)."""
    source = json.loads(CONTRACT.read_text())
    source["fields"].append({"name": "channel", "type": ["null", "string"], "default": None})
    return json.dumps(source)


def _breaking_version() -> str:
    """A version the FULL_TRANSITIVE rule must refuse: a new field without a default."""
    source = json.loads(CONTRACT.read_text())
    source["fields"].append({"name": "tenant", "type": "string"})
    return json.dumps(source)


def _deliver(producer: Producer, topic: str, key: bytes, value: bytes | None) -> None:
    errors: list[Any] = []
    producer.produce(topic, value=value, key=key, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0 and errors == [None], errors


async def test_confluent_serializer_events_are_resolved_and_every_record_deserializes(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)  # registers the contracts, as `irl topics create` does
    topic_of = settings.touchpoint_topics()
    registry = SchemaRegistryClient({"url": REGISTRY_URL})
    # A producer that owns no schema: it uses the contract file as it is, never registers it.
    v1 = AvroSerializer(
        registry, CONTRACT.read_text(), conf={"auto.register.schemas": False, "normalize.schemas": True}
    )
    # A team already on a newer compatible version registers it (the registry checks FULL_TRANSITIVE).
    v2 = AvroSerializer(registry, _newer_version(), conf={"auto.register.schemas": True, "normalize.schemas": True})
    breaking = AvroSerializer(registry, _breaking_version(), conf={"auto.register.schemas": True})

    events = _events()
    parsed = [from_json(obj) for obj in events]
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    for i, ev in enumerate(parsed):
        topic = topic_of[ev.touchpoint]
        ctx = SerializationContext(topic, MessageField.VALUE)
        record = ev.to_record()
        value = v2(record | {"channel": "app"}, ctx) if i % 2 else v1(record, ctx)
        _deliver(producer, topic, ev.source_id.encode(), value)
    with pytest.raises(SchemaRegistryError):  # refused by the registry before anything is sent
        breaking(parsed[0].to_record() | {"tenant": "t"}, SerializationContext(settings.topic_web, MessageField.VALUE))
    _deliver(producer, settings.topic_kiosk, b"junk", b'{"event_id": "not avro"}')

    expected = _replay_partition(events)
    worker = Worker(env, tmp_path / "worker.log").start()
    deserialize = AvroDeserializer(registry)
    try:

        async def converged() -> Any:
            records = await read_topic(kafka_bootstrap, settings.topic_resolved)
            state: dict[str, dict[str, Any]] = {}
            for m in records:
                rec = deserialize(m.value, SerializationContext(settings.topic_resolved, MessageField.VALUE))
                if rec["customer_id"] not in state or rec["version"] > state[rec["customer_id"]]["version"]:
                    state[rec["customer_id"]] = rec
            live = {c: r for c, r in state.items() if r["change"] not in ("ABSORBED", "ERASED")}
            try:
                return live if _stream_partition(parsed, live) == expected else None
            except AssertionError:
                return None

        await wait_for("Confluent-produced events to be resolved as replay does", converged, 120, worker)

        letters = await wait_for(
            "the junk record's dead letter",
            lambda: read_topic(kafka_bootstrap, settings.topic_deadletter),
            60,
            worker,
        )
        assert len(letters) == 1
        letter = deserialize(letters[0].value, SerializationContext(settings.topic_deadletter, MessageField.VALUE))
        assert (letter["source_topic"], letter["stage"]) == (settings.topic_kiosk, "decode")
        assert letter["code"] == "bad_marker"
        assert letter["value"] == b'{"event_id": "not avro"}' and letter["key"] == b"junk"
        assert describe(list(letters[0].headers), letter["value"]).code == "bad_marker"

        # Every touchpoint record but the junk one is read by Confluent's deserializer, v2 fields and all.
        seen: dict[str, dict[str, Any]] = {}
        junk = 0
        for topic in topic_of.values():
            for m in await read_topic(kafka_bootstrap, topic):
                if m.key == b"junk":
                    junk += 1
                    continue
                rec = deserialize(m.value, SerializationContext(topic, MessageField.VALUE))
                seen[rec["event_id"]] = rec
        assert junk == 1
        assert set(seen) == {ev.event_id for ev in parsed}
        assert sum("channel" in r for r in seen.values()) >= 1
    finally:
        worker.stop()
