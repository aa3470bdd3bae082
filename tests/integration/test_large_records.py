"""Records as large as a touchpoint topic accepts never stop the worker.

A touchpoint topic takes records up to the broker's limit (about 1 MiB by default). What triage
writes for one of them can be larger: a dead letter carries the original value, key and headers
(the headers twice: in its body and as ``irl.original.*``), and a valid event's links row is JSON,
where each control character of an attribute (allowed there) takes six bytes (``\\u0001``). Before
the links, dead-letter, effects and interactions topics allowed ``MAX_RECORD_BYTES``, each of these
records made triage's send fail (MessageSizeTooLarge): the worker exited (70), and every restart
read the same uncommitted record and exited again.

    touchpoint ── valid, 256 KB, control chars ──▶ triage ──▶ links row of 1.5 MB ──▶ resolved
              ── invalid, 1 MiB ─────────────────▶ triage ──▶ dead letter > 1 MiB
              ── invalid, 0.5 MB + 0.5 MB header ▶ triage ──▶ dead letter of 1.5 MB
              ── invalid, 5 MiB + 6 MiB header ──▶ triage ──▶ dead letter truncated under 16 MiB
                 (the touchpoint topic raised to 12 MiB: the whole copy would be 17 MiB)
              ── valid, small ───────────────────▶ triage ──▶ links ──▶ resolved
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from resolver.interaction import Interaction, Limits, validate
from streams.batches import MAX_RECORD_BYTES
from streams.codec import decode_dead_letter, encode_interaction
from streams.deadletter import TRUNCATED
from streams.linkbatch import events_of
from streams.topics import align_topic_configs, links_topic_name
from tests.integration.harness import Worker, create_project_topics, isolated_env, read_topic, wait_for

pytestmark = pytest.mark.integration

NOW = int(time.time() * 1000)
#: The broker's default limit of a record batch (message.max.bytes): what a touchpoint topic accepts.
BROKER_DEFAULT = 1_048_588


def _ready(worker: Worker) -> dict[str, object] | None:
    try:
        status, body = worker.get("/ready")
    except OSError:  # not listening yet
        return None
    return body if status == 200 else None


def _kind(headers: object) -> bytes | None:
    for name, value in headers or ():  # type: ignore[attr-defined]
        if name == "irl.kind":
            return bytes(value)
    return None


async def test_records_near_the_broker_limit_are_resolved_or_dead_lettered_and_the_worker_stays_up(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)
    web = settings.topic_web
    control = Interaction(
        "big-control", "WEB", NOW - 3, "big-src", "visit", attributes={f"k{j:02d}": "\x01" * 4000 for j in range(64)}
    )
    assert validate(control, Limits()) == []  # valid by the contract: control characters are free text there
    huge = encode_interaction(Interaction("big-name", "WEB", NOW - 2, "big-src-2", "visit", name="D" * 1_048_300), web)
    halves = encode_interaction(Interaction("big-hdr", "WEB", NOW - 1, "big-src-3", "visit", name="C" * 500_000), web)
    after = Interaction("after-0", "WEB", NOW, "after-src", "visit", email="after.zero@example.org")
    assert len(huge) < BROKER_DEFAULT - 200  # the touchpoint topic takes it
    # An operator raised the touchpoint topic's limit: its copy in a dead letter (value, key, the
    # headers twice) would pass the dead-letter topic's 16 MiB, and its send would fail.
    await align_topic_configs(kafka_bootstrap, {web: {"max.message.bytes": str(12 << 20)}})
    giant_event = Interaction("big-giant", "WEB", NOW - 1, "big-src-4", "visit", name="G" * (5 << 20))
    giant = encode_interaction(giant_event, web)
    giant_header = [("blob", b"g" * (6 << 20))]

    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        await wait_for("a ready worker", lambda: _ready(worker), 90, worker)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=MAX_RECORD_BYTES)
        await producer.start()
        try:
            await producer.send_and_wait(web, encode_interaction(control, web), key=b"big-src", partition=0)
            await producer.send_and_wait(web, huge, key=b"big-src-2", partition=0)
            await producer.send_and_wait(web, halves, key=b"big-src-3", partition=0, headers=[("blob", b"h" * 500_000)])
            await producer.send_and_wait(web, giant, key=b"big-src-4", partition=0, headers=giant_header)
            await producer.send_and_wait(web, encode_interaction(after, web), key=b"after-src", partition=0)
        finally:
            await producer.stop()

        async def linked() -> list[Interaction]:
            records = await read_topic(kafka_bootstrap, links_topic_name(settings))
            return [e for r in records if r.value is not None for e in events_of(_kind(r.headers), r.value)]

        async def both_linked() -> list[Interaction] | None:
            events = await linked()
            return events if {"big-control", "after-0"} <= {e.event_id for e in events} else None

        events = await wait_for("both valid events in the links log", both_linked, 90, worker)
        assert [e for e in events if e.event_id == "big-control"] == [control]

        async def dead() -> list[tuple[dict[str, Any], dict[str, bytes]]] | None:
            records = await read_topic(kafka_bootstrap, settings.topic_deadletter)
            letters = [(decode_dead_letter(r.value), dict(r.headers)) for r in records]
            return letters if len(letters) >= 3 else None

        found = await wait_for("three dead letters", dead, 60, worker)
        letters = [d for d, _ in found]
        assert [(d["value"], d["stage"], d["code"]) for d in letters[:2]] == [
            (huge, "validate", "invalid"),
            (halves, "validate", "invalid"),
        ]
        assert letters[1]["headers"] == [{"name": "blob", "value": b"h" * 500_000}]
        # The giant one: truncated, with the reason, where it came from and how big it was.
        cut, headers = found[2]
        assert (cut["stage"], cut["code"], cut["source_topic"], cut["headers"]) == ("validate", "invalid", web, [])
        assert cut["value"] == giant  # the value alone fits: the headers are what is left out
        assert headers[TRUNCATED] == f"value={len(giant)} key=9 headers={4 + (6 << 20)} count=1".encode()
        assert "dead letter truncated" in cut["error"] and f"{len(giant)} bytes of value" in cut["error"]
        await wait_for("both applied", lambda: (_ready(worker) or {}).get("events_applied") == 2, 60, worker)
        assert worker.alive()
    finally:
        worker.stop()
