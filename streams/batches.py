"""Sending many records at once through the Faust app's own Kafka producer.

Faust's per-message `send` costs tens of microseconds of framework work per record;
the resolver writes several state records per event. `BatchSender` appends records to
aiokafka record batches instead (one request per partition per step), on the same
producer Faust flushes before it commits offsets, so at-least-once is unchanged:
nothing is committed before these records are on the broker.

Order: records sent to one partition through one `send` call keep their order, and
successive calls to the same partition are queued in call order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

__all__ = ["MAX_RECORD_BYTES", "BatchSender", "OutRecord"]

#: key, value, timestamp in epoch ms (None: now), headers
OutRecord = tuple[bytes | None, bytes | None, int | None, Sequence[tuple[str, bytes]]]


#: Largest record a stage's producer sends; the state topic takes as much (`streams.topics`).
MAX_RECORD_BYTES = 16 * 1024 * 1024

#: Keys whose partition is remembered per topic at most (the memo is cleared when full).
_MEMO_KEYS = 200_000


class BatchSender:
    """Batches records per partition on a Faust app's producer."""

    def __init__(self, app: Any, producer: AIOKafkaProducer | None = None) -> None:
        """Over `app`'s producer (a Faust app), or over `producer` (a process without one) when given."""
        self.app = app
        self._plain = producer
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        #: per topic, the partition of each key seen lately (murmur2 in Python costs microseconds a key)
        self._memo: dict[str, dict[bytes, int]] = {}

    def _producer(self) -> AIOKafkaProducer:
        if self._plain is not None:
            return self._plain
        producer: AIOKafkaProducer = self.app.producer._ensure_producer()
        return producer

    async def send(self, topic: str, partition: int, records: Iterable[OutRecord]) -> list[asyncio.Future[Any]]:
        """Queue `records` for one partition, in order; returns futures set on delivery."""
        producer = self._producer()
        futures: list[asyncio.Future[Any]] = []
        batch = producer.create_batch()
        count = 0
        for key, value, ts, headers in records:
            if batch.append(timestamp=ts, key=key, value=value, headers=list(headers)) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                count = 0
                if batch.append(timestamp=ts, key=key, value=value, headers=list(headers)) is None:
                    raise ValueError(f"a record for {topic} is larger than the producer's batch size")
            count += 1
        if count:
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    async def send_keyed(self, topic: str, records: Iterable[OutRecord]) -> list[asyncio.Future[Any]]:
        """Queue records partitioned by key exactly as the Java client does (murmur2)."""
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await self._producer().partitions_for(topic))
            self._memo[topic] = {}
        memo = self._memo[topic]
        if len(memo) > _MEMO_KEYS:
            memo.clear()
        by_partition: dict[int, list[OutRecord]] = {}
        for rec in records:
            key = rec[0]
            if key is None:
                raise ValueError("keyed records need a key")
            p = memo.get(key)
            if p is None:
                p = memo[key] = self._partitioner(key, partitions, partitions)
            by_partition.setdefault(p, []).append(rec)
        futures: list[asyncio.Future[Any]] = []
        for p in sorted(by_partition):
            futures.extend(await self.send(topic, p, by_partition[p]))
        return futures
