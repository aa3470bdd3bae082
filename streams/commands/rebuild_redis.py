"""`irl rebuild-redis`: rebuild the Redis read model from the worker's table changelog."""

from __future__ import annotations

import asyncio
import time

import click
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.settings import Settings, SettingsError
from streams.topics import describe_topics

__all__ = ["command", "read_state"]


async def read_state(bootstrap: str, topic: str, timeout_s: float = 60.0) -> dict[str, str]:
    """Fold a compacted table changelog into its current key -> value state (tombstones delete)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        count = (await describe_topics(bootstrap, [topic])).get(topic, 0)
        partitions = range(count)
        if not count:
            raise click.ClickException(f"topic {topic} does not exist: has the worker ever run?")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        state: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        while await _behind(consumer, tps, ends):
            if time.monotonic() > deadline:
                raise click.ClickException(f"reading {topic} did not finish within {timeout_s:.0f}s")
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                for rec in records:
                    if rec.key is None:
                        continue
                    key = rec.key.decode()
                    if rec.value is None:
                        state.pop(key, None)
                    else:
                        state[key] = rec.value.decode()
        return state
    finally:
        await consumer.stop()


async def _rebuild(settings: Settings) -> tuple[int, int]:
    from streams.app import resolver_config
    from streams.pipeline import Pipeline
    from streams.readmodel import RedisReadModel
    from streams.state_store import InMemoryStateLog

    topic = f"{settings.app_id}-irl-state-changelog"
    log = InMemoryStateLog(await read_state(settings.kafka_bootstrap, topic))
    wal = log.redo()
    offset = -1 if wal is None else wal.offset
    pipeline = Pipeline(
        resolver_config(settings), settings.window_seconds * 1000, settings.grace_seconds * 1000, log.records()
    )
    model = RedisReadModel.from_url(settings.redis_url, prefix=settings.topic_prefix)
    try:
        n = await model.rebuild(pipeline.mirror_records(), (), offset)
    finally:
        await model.close()
    return n, offset


@click.command("rebuild-redis")
def command() -> None:
    """Replace the Redis read model with the state in the worker's Faust table."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    t0 = time.monotonic()
    n, offset = asyncio.run(_rebuild(settings))
    click.echo(f"rebuilt Redis: {n} customers at links offset {offset} in {time.monotonic() - t0:.1f}s")


async def _behind(consumer: AIOKafkaConsumer, tps: list[TopicPartition], ends: dict[TopicPartition, int]) -> bool:
    """True while any partition's position is before the end offset taken at the start."""
    for tp in tps:
        if await consumer.position(tp) < ends[tp]:
            return True
    return False
