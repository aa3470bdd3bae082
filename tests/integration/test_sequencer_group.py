"""The ordered stage's consumer group on a real broker: one protocol, agreed with older workers.

The links log's assignor speaks "range" (`streams.assignor`): a worker of an older version,
which names range alone, joins the same group without an inconsistent-protocol error, and
exactly one of them holds the links log.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from streams.loops import sequencer_assignors

pytestmark = pytest.mark.integration


async def _assigned(consumers: list[AIOKafkaConsumer], timeout: float = 60.0) -> list[set[TopicPartition]]:
    """Each consumer's assignment once every one has one and the partition is owned (polling, with a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        await asyncio.gather(*(c.getmany(timeout_ms=100) for c in consumers))
        got = [set(c.assignment()) for c in consumers]
        if all(c._subscription.subscription.assignment is not None for c in consumers) and set().union(*got):
            return got
    raise AssertionError(f"the group did not settle within {timeout:.0f}s")


async def test_an_older_range_only_worker_and_this_one_share_the_group(kafka_bootstrap: str) -> None:
    tag = f"t{uuid.uuid4().hex[:10]}"
    topic, group = f"{tag}-links", f"{tag}-sequencer"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    def member(instance: str, strategy: tuple[type, ...]) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            group_instance_id=instance,
            enable_auto_commit=False,
            partition_assignment_strategy=strategy,
        )

    older = member(f"{tag}-a-old", (RangePartitionAssignor,))
    newer = member(f"{tag}-z-new", sequencer_assignors(lambda: True))
    await older.start()
    await newer.start()
    try:
        got = await _assigned([older, newer])
        tp = TopicPartition(topic, 0)
        # Who leads decides who owns it (range: the first member id; this version: the holder); one does.
        assert [tp in a for a in got].count(True) == 1, f"exactly one member holds the links log: {got}"
    finally:
        await older.stop()
        await newer.stop()
