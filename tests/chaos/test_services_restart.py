"""Scenarios 2 and 3: the broker restarts mid-run; Redis is flushed and restarted empty mid-run.

Both use services of their own (tests/chaos/conftest.py), never the shared ones.

    broker  ══up══X stop ... start ══up══════════════▶   worker: keeps running, resumes by itself
    redis   ══up══ FLUSHALL ══ rebuilt ══X restart (empty) ══ rebuilt ══ equals the tables
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from streams.app import STOP_GRACE_S
from streams.synthetic import generate
from tests.integration.harness import Worker, create_project_topics, isolated_env, wait_for

from .conftest import kafka_script, redis_script
from .helpers import (
    CUSTOMERS,
    GROUP_ENV,
    Outcome,
    check_nothing_lost,
    duplicate_counts,
    publish,
    ready,
    records_out,
    redis_equals,
    replay_profiles,
    restored_count,
    wait_ready,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_broker_restart_mid_run(private_kafka: str, chaos_redis_url: str, tmp_path: Path) -> None:
    events, _ = generate(customers=CUSTOMERS, seed=92)
    expected = replay_profiles(events)
    env = isolated_env(private_kafka, chaos_redis_url, **GROUP_ENV)
    settings = await create_project_topics(env)
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        await wait_ready(worker)
        half = len(events) // 2
        assert await publish(settings, events[:half]) == half
        await wait_for("a first batch", lambda: records_out(ready(worker)) > 0, 120, worker)

        kafka_script("stop")
        down_since = time.monotonic()
        await wait_for("the worker to see the broker gone", lambda: ready(worker).get("kafka") is False, 60, worker)
        kafka_script("start")
        up_at = time.monotonic()
        published = records_out(ready(worker))
        assert await publish(settings, events[half:]) == len(events) - half
        await wait_for(
            "the worker to publish again",
            lambda: records_out(ready(worker)) > published and ready(worker).get("ready"),
            180,
            worker,
        )
        recovery = round(time.monotonic() - up_at, 2)

        _state, records, _ = await check_nothing_lost(settings, events, expected, [worker])
        assert worker.alive() and restored_count(worker) >= 1
        raw, after = duplicate_counts(records)
        assert after == 0
        Outcome(
            "2-broker-restart", len(events), "broker stop + start mid-run", 0, len(records), raw, after, [],
            {"broker_down_s": round(up_at - down_since, 2), "recovery_s": recovery,
             "worker_restores": restored_count(worker)},
        ).save()  # fmt: skip
    finally:
        worker.stop()


async def test_redis_flushed_and_restarted_mid_run(kafka_bootstrap: str, private_redis: str, tmp_path: Path) -> None:
    events, _ = generate(customers=CUSTOMERS, seed=93)
    expected = replay_profiles(events)
    env = isolated_env(kafka_bootstrap, private_redis, **GROUP_ENV)
    settings = await create_project_topics(env)
    worker = Worker(env, tmp_path / "worker.log").start()
    client = aioredis.Redis.from_url(private_redis)
    meta = f"{settings.topic_prefix}:meta"
    recoveries = {}
    try:
        await wait_ready(worker)
        third = len(events) // 3
        assert await publish(settings, events[:third]) == third
        await wait_for("Redis to hold customers", lambda: records_out(ready(worker)) > 0, 120, worker)

        # The default mode's mirror writes the links offset; over Kafka each effects partition writes its own
        # (docs/reliability.md, "The Redis read model after a fault").
        if env.get("IRL_CUSTOMER_STAGE") == "kafka":
            offsets = [f"p.{p}" for p in range(settings.touchpoint_partitions)]
        else:
            offsets = ["offset"]

        async def rebuilt_since(n: int) -> bool:
            held = await client.hmget(meta, offsets)
            return int(ready(worker).get("redis_rebuilds") or 0) > n and all(v is not None for v in held)

        rebuilds = int(ready(worker).get("redis_rebuilds") or 0)
        await client.flushall()
        t0 = time.monotonic()
        await wait_for("the worker to rebuild a flushed Redis", lambda: rebuilt_since(rebuilds), 60, worker)
        recoveries["flushall_s"] = round(time.monotonic() - t0, 2)

        assert await publish(settings, events[third : 2 * third]) == third
        rebuilds = int(ready(worker).get("redis_rebuilds") or 0)
        await client.aclose()
        redis_script("stop")
        redis_script("start")
        client = aioredis.Redis.from_url(private_redis)
        t0 = time.monotonic()
        await wait_for("the worker to rebuild a restarted Redis", lambda: rebuilt_since(rebuilds), 60, worker)
        recoveries["restart_s"] = round(time.monotonic() - t0, 2)

        assert await publish(settings, events[2 * third :]) == len(events) - 2 * third
        state, records, _ = await check_nothing_lost(settings, events, expected, [worker])
        await wait_for(
            "Redis to equal the published state",
            lambda: redis_equals(private_redis, settings.topic_prefix, state),
            60,
            worker,
        )
        raw, after = duplicate_counts(records)
        assert after == 0 and restored_count(worker) == 1
        Outcome(
            "3-redis-loss", len(events), "FLUSHALL + Redis restart without persistence", 0, len(records), raw, after,
            [], {**recoveries, "redis_rebuilds": ready(worker).get("redis_rebuilds")},
        ).save()  # fmt: skip
    finally:
        await client.aclose()
        worker.stop()


async def test_sigterm_without_broker_still_stops(private_kafka: str, chaos_redis_url: str, tmp_path: Path) -> None:
    """Faust's stop waits for ever on a final commit to an absent broker: the worker must exit anyway."""
    env = isolated_env(private_kafka, chaos_redis_url, **GROUP_ENV)
    await create_project_topics(env)
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        await wait_ready(worker)
        kafka_script("stop")
        await wait_for("the worker to see the broker gone", lambda: ready(worker).get("kafka") is False, 60, worker)
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        deadline = t0 + STOP_GRACE_S + 30
        while worker.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # polled against the deadline above
        code = worker.proc.poll()
        assert code is not None, f"the worker still runs {time.monotonic() - t0:.0f}s after SIGTERM"
        assert code in (0, 75), worker.log_tail()
        if code == 75:
            assert "did not stop within" in worker.log_tail(200)
    finally:
        worker.stop()
