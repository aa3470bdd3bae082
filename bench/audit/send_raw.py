"""Send malformed records straight to the touchpoint topics, as a producer of its own would (Confluent's
serializer, docs/producing.md), bypassing `irl produce`'s validation: the worker must dead-letter each
with a reason. Prints what it sent; `irl deadletters` then lists them.

    python -m bench.audit.send_raw --prefix irl-s39aud1 --reuse-id web-0746a44fa1-2063
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

NOW_MS = 1_796_600_000_000  # 2026-12-07, fixed


def cases(reuse_id: str) -> list[tuple[str, dict[str, Any] | bytes, str]]:
    """(touchpoint, event or raw bytes, what the worker should say)."""
    base = {
        "touchpoint": "WEB",
        "occurred_at": NOW_MS - 3_600_000,
        "source_id": "ck_raw",
        "interaction": "page_view",
        "phone": None,
        "email": None,
        "name": None,
        "attributes": {},
    }
    return [
        ("web", {**base, "event_id": ""}, "empty event_id"),
        ("web", {**base, "event_id": "raw-2", "source_id": ""}, "empty source_id"),
        (
            "whatsapp",
            {
                **base,
                "event_id": "raw-3",
                "touchpoint": "WHATSAPP",
                "source_id": "919845011223",
                "occurred_at": 1_893_456_000_000,
                "name": "Future Person",
            },
            "time years ahead",
        ),
        (
            "kiosk",
            {**base, "event_id": "raw-4", "touchpoint": "KIOSK", "source_id": "LC1", "occurred_at": 1_700_000_000},
            "epoch seconds (1970)",
        ),
        (
            "kiosk",
            {
                **base,
                "event_id": "raw-5",
                "touchpoint": "KIOSK",
                "source_id": "LC2",
                "phone": "\u202e3261705489 19+",
                "name": "Asha Rao",
            },
            "phone with U+202E",
        ),
        (
            "web",
            {
                **base,
                "event_id": reuse_id,
                "source_id": "u996995",
                "interaction": "order",
                "phone": "+91 98450 71623",
                "name": "Someone Else",
            },
            "event id reused with other content",
        ),
        ("web", json.dumps({"event_id": "raw-7", "touchpoint": "WEB"}).encode(), "JSON text, not Avro"),
        (
            "kiosk",
            {**base, "event_id": "raw-8", "touchpoint": "WEB", "source_id": "LC3"},
            "WEB event on the kiosk topic",
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True, help="the deployment's IRL_TOPIC_PREFIX")
    ap.add_argument("--reuse-id", required=True, help="an event id already sent, to send again with other content")
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--registry", default="http://127.0.0.1:8081/apis/ccompat/v7")
    args = ap.parse_args()
    schema = (Path(__file__).resolve().parents[2] / "schemas/avro/customer_interaction/v2.avsc").read_text()
    registry = SchemaRegistryClient({"url": args.registry})
    serialize = AvroSerializer(registry, schema, conf={"auto.register.schemas": False, "normalize.schemas": True})
    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True})
    for topic_tp, ev, expected in cases(args.reuse_id):
        topic = f"{args.prefix}.touchpoint.{topic_tp}"
        if isinstance(ev, bytes):
            value, key = ev, b"raw"
        else:
            value = serialize(ev, SerializationContext(topic, MessageField.VALUE))
            key = ev["source_id"].encode()
        producer.produce(topic, key=key, value=value, timestamp=NOW_MS)
        print(f"sent to {topic}: {expected}")
    producer.flush(15)


if __name__ == "__main__":
    main()
