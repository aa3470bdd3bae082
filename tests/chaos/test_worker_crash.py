"""Scenario 1: kill -9 the worker three times mid-run (while it publishes a batch, just after
a window boundary, while events arrive) and restart it each time; nothing is lost.

    produce ─ part 1 ──────── part 2 ─────────────── part 3 (in flight) ───────────▶
    worker  ══ready══╪publishingX restart ══╪window closedX restart ══════X restart ══ converge
                     kill 1                 kill 2                       kill 3
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streams.synthetic import generate
from tests.integration.harness import Worker, create_project_topics, isolated_env, wait_for

from .helpers import (
    CUSTOMERS,
    GROUP_ENV,
    Outcome,
    check_nothing_lost,
    duplicate_counts,
    kill_and_restart,
    publish,
    ready,
    records_out,
    redis_equals,
    replay_profiles,
    sleep_until,
    unique_events,
    wait_ready,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_worker_killed_three_times_loses_nothing(
    kafka_bootstrap: str, chaos_redis_url: str, tmp_path: Path
) -> None:
    events, _truth = generate(customers=CUSTOMERS, seed=91)
    expected = replay_profiles(events)
    env = isolated_env(kafka_bootstrap, chaos_redis_url, **GROUP_ENV)
    settings = await create_project_topics(env)
    worker = Worker(env, tmp_path / "worker.log").start()
    restarts = []
    try:
        await wait_ready(worker)
        third = len(events) // 3
        assert await publish(settings, events[:third]) == third

        # 1: while a batch is being published (the records published move between two polls)
        base = records_out(ready(worker))
        await sleep_until("a batch being published", lambda: records_out(ready(worker)) > base, 120, worker)
        restarts.append(await kill_and_restart(worker, "while publishing a batch"))

        # 2: just after a window boundary (a window finished publishing)
        await wait_ready(worker)
        assert await publish(settings, events[third : 2 * third]) == third
        base = int(ready(worker).get("windows_published") or 0)
        await sleep_until(
            "a window to close", lambda: int(ready(worker).get("windows_published") or 0) > base, 120, worker
        )
        restarts.append(await kill_and_restart(worker, "just after a window boundary"))

        # 3: while events are still arriving and being triaged
        await wait_ready(worker)
        rest = events[2 * third :]
        sending = asyncio.create_task(publish(settings, rest, chunk=max(1, len(rest) // 8)))
        base = int(ready(worker).get("events_triaged") or 0)
        await sleep_until("events to arrive", lambda: int(ready(worker).get("events_triaged") or 0) > base, 120, worker)
        restarts.append(await kill_and_restart(worker, "while events arrive"))
        assert await sending == len(rest)

        state, records, _links = await check_nothing_lost(settings, events, expected, [worker])
        # The read model follows the published topic: each partition's mirror flushes at most every
        # interval (streams/mirror.py), so it is polled with a deadline, as scenario 3 does.
        await wait_for(
            "Redis to equal the published state",
            lambda: redis_equals(chaos_redis_url, settings.topic_prefix, state),
            60,
            worker,
        )
        raw, after = duplicate_counts(records)
        assert after == 0
        assert len(restarts) == 3
        Outcome(
            "1-worker-kill",
            len(events),
            "3 x kill -9 + restart",
            0,
            len(records),
            raw,
            after,
            restarts,
            {"distinct_events": len(unique_events(events)), "customers": len(state)},
        ).save()
    finally:
        worker.stop()
