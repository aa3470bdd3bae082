"""Recovery at scale: a worker restarted on a large state, without streaming that state in first.

Loading a million events through the ordered stage takes longer than a benchmark should, so
the state is built offline: `streams.pipeline.Pipeline` over the generated file in steps of
1,000 events, one tick closing every window, and its snapshot written to the worker's state
topic exactly as the ordered stage writes it (`streams.snapshots`: chunks, then the manifest,
at links offset -1: the links log is empty). `irl rebuild-redis` brings Redis to the same
offset. Then one `irl worker` starts on it (cold start) and is killed with ``kill -9`` and
started again (a crash: static membership gives the restarted worker its partition back).
Each time is measured until `GET /ready` answers 200 as the writer.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from bench.common import KAFKA, Worker, bench_env, new_prefix, redis_url, workers
from bench.streaming import _irl, _recover, cleanup

__all__ = ["recovery_at_scale"]

_STEP = 1000
_FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01: every window is due


def _steps(pipeline: Any, events: Path) -> Iterator[Any]:
    """Every step the writer would write for `events` (offset -1: the links topic starts empty)."""
    from resolver.interaction import Limits, from_json

    batch: list[Any] = []
    limits = Limits()
    with events.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                batch.append(from_json(json.loads(line), limits))
            if len(batch) >= _STEP:
                yield from pipeline.on_events(-1, batch)
                batch = []
    if batch:
        yield from pipeline.on_events(-1, batch)
    yield from pipeline.on_tick(-1, _FAR_FUTURE_MS)


async def _seed(topic: str, events: Path) -> dict[str, Any]:
    """Build the state offline and write its snapshot into `topic` partition 0, as the ordered stage does."""
    from aiokafka import AIOKafkaProducer

    from streams.app import resolver_config
    from streams.pipeline import Pipeline
    from streams.settings import Settings
    from streams.snapshots import snapshot_records

    settings = Settings.from_env()
    pipeline = Pipeline(resolver_config(settings), settings.window_seconds * 1000, settings.grace_seconds * 1000)
    for _step in _steps(pipeline, events):
        pass
    t0 = time.monotonic()
    data = pipeline.snapshot()
    out: dict[str, Any] = {"snapshot_dump_s": time.monotonic() - t0, "snapshot_bytes": len(data)}
    _manifest, records = snapshot_records(data, -1, None)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, max_request_size=16 * 1024 * 1024, linger_ms=20)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, key=key, value=value, partition=0)
        await producer.flush()
        stats = pipeline.resolver.stats()
        out.update(identifiers=stats["identifiers"], customers=stats["customers"], events=stats["events"])
    finally:
        await producer.stop()
    out["state_records"] = len(records)
    return out


def _restore_parts(topic: str) -> dict[str, Any]:
    """The two parts of a takeover, timed in this process: fold the state topic, load the snapshot."""
    from streams.app import resolver_config
    from streams.pipeline import Pipeline
    from streams.settings import Settings
    from streams.snapshots import read_stored_state, unpack_state

    settings = Settings.from_env()
    t0 = time.monotonic()
    folded = asyncio.run(read_stored_state(KAFKA, topic, 900))
    read_s = time.monotonic() - t0
    t0 = time.monotonic()
    stored = unpack_state(folded)
    assert stored.data is not None
    Pipeline.from_snapshot(
        resolver_config(settings), settings.window_seconds * 1000, settings.grace_seconds * 1000, stored.data
    )
    return {"state_keys": len(folded), "read_state_s": read_s, "rebuild_resolver_s": time.monotonic() - t0}


def recovery_at_scale(events: Path, timeout: float = 900) -> dict[str, Any]:
    """Seed a worker's state from `events`, then time a cold start and a restart after kill -9."""
    prefix = new_prefix("r")
    env = bench_env(prefix)
    out: dict[str, Any] = {"prefix": prefix}
    saved = {k: os.environ.get(k) for k in env}
    try:
        _irl(env, "topics", "create")
        os.environ.update(env)  # the pipeline reads the same settings as the worker
        from streams.settings import Settings
        from streams.topics import state_topic_name

        t0 = time.monotonic()
        out.update(asyncio.run(_seed(state_topic_name(Settings.from_env()), events)))
        out["seed_s"] = time.monotonic() - t0
        out.update(_restore_parts(state_topic_name(Settings.from_env())))
        out["redis_rebuild_s"] = _irl(env, "rebuild-redis", timeout=timeout)
        w = Worker(env, f"{prefix}-w0")
        with workers([w]):
            t0 = time.monotonic()
            w.start()
            while time.monotonic() - t0 < timeout:
                w.check()
                status, body = w.ready()
                if status == 200 and body is not None and body.get("role") == "writer":
                    out["cold_start_s"] = time.monotonic() - t0
                    out["recovered_customers"] = body.get("customers")
                    break
                time.sleep(0.1)
            else:
                raise TimeoutError(f"worker not ready on the seeded state within {timeout:.0f}s")
            crash = _recover(w, timeout=timeout)
            out["recovery_s"] = crash["recovery_s"]
            out["redis_rebuilds_after_restart"] = crash["redis_rebuilds_after_restart"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cleanup(prefix)
        redis.Redis.from_url(redis_url()).flushdb()
    return out
