"""An erasure's purge of the dead-letter topic: the records that mention the person become unreadable.

Kafka cannot delete one record from the middle of a partition. So, per partition: read it to
the end it has now (E); if no record before E mentions the person (`streams.mentions`),
nothing is written; otherwise every record before E that does *not* mention the person is
appended again after E (same key, value, headers and timestamp: a copy keeps its
``irl.source.*`` headers and its DeadLetter value, so it still says where it came from, and is
not kept longer than the original), and once the broker has the copies, the records before
E are deleted (DeleteRecords; the topic's cleanup policy includes ``delete``). Nothing else
is lost: a dead letter written meanwhile lands after E and is kept.

A crash between the copies and the deletion leaves some dead letters twice (and the person's
still there); the erasure is applied again from the links log by the next owner, and its
purge deletes them then (`streams.sequencer`: the snapshot that ends an erasure is stored only
after its purge).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from streams.batches import OutRecord
from streams.codec import CodecError, decode_dead_letter, decode_interaction
from streams.kafka_auth import options
from streams.mentions import ErasedPerson, mentions
from streams.topics import delete_records_before, describe_topics

__all__ = ["PurgeResult", "purge_dead_letters", "texts_of"]

log = logging.getLogger("irl.worker")

#: Longest the purge may spend reading one partition of the dead-letter topic.
_READ_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How many dead letters were scanned, deleted (they mention the person) and copied (kept)."""

    scanned: int
    purged: int
    copied: int


def texts_of(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> Iterator[bytes | str | None]:
    """Everything of a dead letter that may carry personal data, for `streams.mentions.mentions`.

    The raw key, value and header values; and, where they decode, the original record's
    key, bytes and headers, and the fields of the original event (each whole, so a source id
    is compared as the whole field).
    """
    yield key
    yield value
    for _name, raw in headers:
        yield raw
    try:
        letter = decode_dead_letter(value)
    except CodecError:
        return
    original = letter.get("value")
    yield letter.get("key")
    yield original
    for header in letter.get("headers") or ():
        yield header.get("value")
    try:
        event = decode_interaction(original)
    except Exception:
        return
    yield from (event.source_id, event.phone, event.email, event.name)
    yield from (str(v) for v in dict(event.attributes).values())


async def purge_dead_letters(
    bootstrap: str,
    topic: str,
    person: ErasedPerson,
    send: Callable[[int, list[OutRecord]], Awaitable[None]],
    *,
    prefetch: Callable[[list[bytes | None]], Awaitable[None]] | None = None,
    security: Mapping[str, Any] | None = None,
) -> PurgeResult:
    """Make every dead letter of `topic` that mentions `person` unreadable; keep every other one.

    `send(partition, records)` appends records to that partition of `topic` and returns once
    the broker has them; `prefetch` fetches the writer schemas of values (the originals inside
    dead letters). Raises KafkaError (and LookupError when the topic is missing): the caller
    tries again.
    """
    if not person:
        return PurgeResult(0, 0, 0)
    count = (await describe_topics(bootstrap, [topic], security=security)).get(topic, 0)
    if not count:
        raise LookupError(f"topic {topic} does not exist")
    scanned = purged = copied = 0
    cut: dict[TopicPartition, int] = {}
    for partition in range(count):
        tp = TopicPartition(topic, partition)
        records, end = await _read_partition(bootstrap, tp, security)
        if prefetch is not None and records:
            await prefetch([r.value for r in records])
        keep = [r for r in records if not mentions(person, texts_of(r.key, r.value, list(r.headers or ())))]
        scanned += len(records)
        if len(keep) == len(records):
            continue
        await send(partition, [(r.key, r.value, r.timestamp, list(r.headers or ())) for r in keep])
        cut[tp] = end
        purged += len(records) - len(keep)
        copied += len(keep)
    await delete_records_before(bootstrap, cut, security=security)
    return PurgeResult(scanned, purged, copied)


async def _read_partition(
    bootstrap: str, tp: TopicPartition, security: Mapping[str, Any] | None
) -> tuple[list[ConsumerRecord], int]:
    """The records of one partition from its start to the end it has now, and that end."""
    extra = options() if security is None else security
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **extra)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[ConsumerRecord] = []
        deadline = time.monotonic() + _READ_TIMEOUT_S
        while await consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {tp.topic} did not finish within {_READ_TIMEOUT_S:.0f}s")
            got = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
            out.extend(r for r in got.get(tp, []) if r.offset < end)
        return out, end
    finally:
        await consumer.stop()
