"""The real services answer: a topic on the broker, a message through aiokafka, and Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.topics import create_topics, describe_topics

pytestmark = pytest.mark.integration


async def test_topic_produce_consume_and_redis(kafka_bootstrap: str, unique_topic: str, redis_url: str) -> None:
    created = await create_topics(kafka_bootstrap, {unique_topic: 3})
    assert created == [unique_topic]
    assert await describe_topics(kafka_bootstrap, [unique_topic]) == {unique_topic: 3}
    # creating again is a no-op, and a different partition count is refused
    assert await create_topics(kafka_bootstrap, {unique_topic: 3}) == []
    with pytest.raises(RuntimeError, match="partitions"):
        await create_topics(kafka_bootstrap, {unique_topic: 4})

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(unique_topic, b"hello", key=b"k1", timestamp_ms=1_700_000_000_000)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(unique_topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (msg.value, msg.key, msg.partition, msg.timestamp) == (b"hello", b"k1", meta.partition, 1_700_000_000_000)

    r = aioredis.Redis.from_url(redis_url)
    try:
        await r.set("irl:test", msg.value)
        assert await r.get("irl:test") == b"hello"
    finally:
        await r.aclose()


async def test_auto_creation_is_off(kafka_bootstrap: str, unique_topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(Exception):  # noqa: B017 - aiokafka raises a timeout-type error
            await asyncio.wait_for(producer.send_and_wait(unique_topic, b"x"), timeout=10)
    finally:
        await producer.stop()
    assert await describe_topics(kafka_bootstrap, [unique_topic]) == {}
