"""`BatchSender.send_keyed` partitions by key as the Java client does, remembered keys included."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

import streams.batches as batches
from streams.batches import BatchSender


class _Batch:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def append(self, *, timestamp: Any, key: bytes, value: bytes, headers: Any) -> object:
        self.records.append((key, value))
        return object()


class _Producer:
    def __init__(self, partitions: int) -> None:
        self.n = partitions
        self.sent: list[tuple[int, list[Any]]] = []

    def create_batch(self) -> _Batch:
        return _Batch()

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.n))

    async def send_batch(self, batch: _Batch, topic: str, partition: int) -> asyncio.Future[Any]:
        self.sent.append((partition, batch.records))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class _App:
    def __init__(self, producer: _Producer) -> None:
        self.producer = self
        self._p = producer

    def _ensure_producer(self) -> _Producer:
        return self._p


@given(
    keys=st.lists(st.binary(min_size=1, max_size=24), min_size=1, max_size=60),
    partitions=st.integers(1, 12),
    memo_keys=st.integers(0, 20),
)
def test_every_record_goes_to_its_keys_murmur2_partition(keys: list[bytes], partitions: int, memo_keys: int) -> None:
    producer = _Producer(partitions)
    sender = BatchSender(_App(producer))
    old = batches._MEMO_KEYS
    batches._MEMO_KEYS = memo_keys  # a small memo is cleared now and then: the answers stay the same

    calls: list[list[tuple[int, list[Any]]]] = []

    async def run() -> None:
        for _ in range(2):  # the second time every key is remembered (or forgotten and computed again)
            await sender.send_keyed("t", [(k, b"%d" % i, None, ()) for i, k in enumerate(keys)])
            calls.append(producer.sent)
            producer.sent = []

    try:
        asyncio.run(run())
    finally:
        batches._MEMO_KEYS = old
    every = list(range(partitions))
    java = DefaultPartitioner()
    for sent in calls:
        got = [(p, key) for p, recs in sent for key, _ in recs]
        assert sorted(got) == sorted((java(k, every, every), k) for k in keys)
        for _p, recs in sent:  # a partition's records keep the order they were given in
            positions = [int(v) for _, v in recs]
            assert positions == sorted(positions)
