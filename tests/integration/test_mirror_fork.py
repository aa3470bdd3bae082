"""The Redis mirror's forked flushes on a real Redis: the same read model as writing in process.

A flush of many customers (a backlog) is written by a forked child while the stage goes on;
customers noted meanwhile wait for the next flush. Whatever the cut, Redis ends equal to the
state's own records at the last offset, and a Redis moved under the child is rebuilt.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from resolver.config import ResolverConfig
from resolver.interaction import from_json
from streams.linkbatch import TICK
from streams.mirror import RedisMirror
from streams.pipeline import Pipeline
from streams.readmodel import RedisReadModel, holders
from streams.runtime import Runtime
from streams.settings import Settings
from streams.synthetic import generate
from tests.unit.test_mirror import steps_of
from tests.unit.test_sequencer import GRACE_MS, WINDOW_MS, links_log

pytestmark = pytest.mark.integration

PREFIX = "irlforktest"


def _stage(url: str, fork_at: int | None) -> tuple[Runtime, RedisMirror, Pipeline]:
    settings = Settings(redis_url=url, topic_prefix=PREFIX, customer_stage="0")  # the ordered stage writes Redis
    rt = Runtime(settings)
    rt.pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    rt.applied_offset = -1
    return rt, RedisMirror(rt, settings, interval_s=0.0, fork_at=fork_at), rt.pipeline


async def _read(url: str) -> dict[str, Any]:
    model = RedisReadModel.from_url(url, PREFIX)
    try:
        return {"offset": await model.offset(), "profiles": await model.snapshot()}
    finally:
        await model.close()


async def _settle(mirror: RedisMirror, timeout: float = 30.0) -> None:
    """Ticks until nothing is left to write (a child's pause included): what a quiet stage's next ticks do."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        await mirror._wait()
        await mirror.check(False)
        if not mirror.pending():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the mirror kept forking with nothing new to write")


async def _apply(rt: Runtime, mirror: RedisMirror, pipeline: Pipeline, log: list[Any]) -> None:
    """Each record of `log` through the pipeline, its steps noted by the mirror (no ticks' checks)."""
    for rec in log:
        for step in steps_of(pipeline, [rec]):
            await mirror.step(step)
        rt.applied_offset = rec.offset


async def _drive(rt: Runtime, mirror: RedisMirror, pipeline: Pipeline, log: list[Any]) -> dict[str, Any]:
    """Every step of `log` through the mirror, a check on every tick; then until no child writes."""
    await mirror.resume(-1)
    for rec in log:
        for step in steps_of(pipeline, [rec]):
            await mirror.step(step)
        rt.applied_offset = rec.offset
        if rec.kind == TICK:
            await mirror.check(False)
    await _settle(mirror)
    return await _read(rt.settings.redis_url)


@pytest.mark.parametrize("seed", [3, 11])
def test_forked_flushes_leave_the_same_read_model_as_flushes_in_process(redis_url: str, seed: int) -> None:
    log = links_log(seed)
    forked = _stage(redis_url, fork_at=1)  # every flush with a customer in it forks
    got = asyncio.run(_drive(*forked, log))
    rt, mirror, pipeline = forked
    assert rt.stats["redis_rebuilds"] == 1, "one rebuild of the empty model at the start, none after"
    assert got["offset"] == len(log) - 1
    assert got["profiles"] == dict(pipeline.mirror_records())
    assert mirror._child is None
    assert rt.stats["redis_child_flushes"] >= 2, "flushes were written by children (how many depends on their speed)"

    redis.Redis.from_url(redis_url).flushdb()
    in_process = _stage(redis_url, fork_at=None)
    assert asyncio.run(_drive(*in_process, log)) == got


def test_a_redis_moved_under_the_child_is_rebuilt(redis_url: str) -> None:
    log = links_log(5)
    rt, mirror, pipeline = _stage(redis_url, fork_at=1)
    mirror.fork_gap = 0.0  # no pause after the first child: the second half's flush forks at once
    client = redis.Redis.from_url(redis_url)

    async def scenario() -> None:
        await mirror.resume(-1)
        half = len(log) // 2
        await _apply(rt, mirror, pipeline, log[:half])
        await mirror._wait()
        client.hset(f"{PREFIX}:meta", "offset", 999_999)  # someone else's write: not the offset we hold
        await _apply(rt, mirror, pipeline, log[half:])
        await mirror._wait()
        assert rt.redis_offset is None, "the child found Redis at another offset and wrote nothing"
        await _settle(mirror)

    asyncio.run(scenario())
    assert rt.stats["redis_rebuilds"] == 2
    assert rt.redis_offset == len(log) - 1
    got = asyncio.run(_read(redis_url))
    assert got["offset"] == len(log) - 1
    assert got["profiles"] == dict(pipeline.mirror_records()) and got["profiles"]


def test_a_flush_that_cannot_fork_is_written_in_process(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr("streams.mirror.os.fork", no_fork)
    log = links_log(7)
    rt, mirror, pipeline = _stage(redis_url, fork_at=1)
    got = asyncio.run(_drive(rt, mirror, pipeline, log))
    assert rt.stats["redis_child_flushes"] == 0 and rt.stats["redis_rebuilds"] == 1
    assert got["offset"] == len(log) - 1
    assert got["profiles"] == dict(pipeline.mirror_records())


def test_a_forked_flush_pauses_the_next_and_redis_claims_nothing_meanwhile(redis_url: str) -> None:
    log = links_log(3)
    rt, mirror, pipeline = _stage(redis_url, fork_at=1)
    mirror.fork_gap = 1e6  # the pause after the first child lasts the whole test

    async def scenario() -> None:
        await mirror.resume(-1)
        half = len(log) // 2
        await _apply(rt, mirror, pipeline, log[:half])
        await mirror._wait()
        written = rt.redis_offset
        assert written is not None and rt.stats["redis_child_flushes"] == 1
        for rec in log[half:]:
            for step in steps_of(pipeline, [rec]):
                await mirror.step(step)
            rt.applied_offset = rec.offset
            await mirror.check(False)
        # Paused: the customers noted since wait, and Redis still says the offset it holds.
        assert mirror.pending() and mirror._child is None
        assert rt.stats["redis_child_flushes"] == 1
        assert (await _read(redis_url))["offset"] == written < rt.applied_offset
        mirror.fork_gap = 0.0
        mirror._fork_resume_at = 0.0
        await _settle(mirror)
        assert rt.stats["redis_child_flushes"] == 2, "the customers that waited went in one flush"

    asyncio.run(scenario())
    assert rt.stats["redis_rebuilds"] == 1
    got = asyncio.run(_read(redis_url))
    assert got["offset"] == len(log) - 1
    assert got["profiles"] == dict(pipeline.mirror_records()) and got["profiles"]


def _grown(url: str, fork_at: int | None, customers: int) -> tuple[Runtime, RedisMirror, Pipeline]:
    """A stage whose state holds `customers` generated customers' events (applied at offsets 0, 1, ...)."""
    rt, mirror, pipeline = _stage(url, fork_at)
    events = [from_json(obj) for obj in generate(customers=customers, seed=2)[0]]
    for i in range(0, len(events), 500):
        pipeline.on_events(i // 500, events[i : i + 500])
        rt.applied_offset = i // 500
    return rt, mirror, pipeline


async def _resume_watched(rt: Runtime, mirror: RedisMirror) -> dict[str, Any]:
    """`resume` over an empty Redis (a rebuild), with a task ticking every 5 ms beside it: how long `resume`
    held the loop, and how often the task ran while a child rebuilt, until the rebuild is written."""
    loop = asyncio.get_running_loop()
    seen = {"ticks_while_child": 0, "resume_s": 0.0, "child_s": 0.0}
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            child = mirror._child
            if child is not None and child.rebuild:
                seen["ticks_while_child"] += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    t0 = loop.time()
    await mirror.resume(rt.applied_offset)
    seen["resume_s"] = loop.time() - t0
    await asyncio.wait_for(mirror._wait(), timeout=120)
    seen["child_s"] = loop.time() - t0
    done.set()
    await task
    return seen


def test_a_rebuild_of_many_customers_runs_in_a_child_and_the_loop_goes_on(redis_url: str) -> None:
    """The s32 audit's F6: a rebuild of 11.7k customers held the ordered stage's loop for 21.9 s (its
    group's session expired). Of `fork_at` customers or more, a forked child rebuilds while the loop runs
    other tasks, and Redis ends as the in-process rebuild leaves it: the state's records at its offset."""
    rt, mirror, pipeline = _grown(redis_url, fork_at=1_000, customers=3_000)
    assert pipeline.resolver.customer_count() >= 1_000
    seen = asyncio.run(_resume_watched(rt, mirror))
    assert seen["ticks_while_child"] >= 3, seen  # in process (before): 0, resume held the loop throughout
    assert rt.stats["redis_rebuilds"] == 1 and rt.redis_offset == rt.applied_offset
    forked = asyncio.run(_read(redis_url))
    assert forked["offset"] == rt.applied_offset
    assert forked["profiles"] == dict(pipeline.mirror_records()) and forked["profiles"]
    forked_index = asyncio.run(_index(redis_url))
    assert forked_index == holders(pipeline.mirror_records())

    redis.Redis.from_url(redis_url).flushdb()
    rt2, mirror2, _ = _grown(redis_url, fork_at=None, customers=3_000)
    in_process = asyncio.run(_resume_watched(rt2, mirror2))
    assert in_process["ticks_while_child"] == 0 and rt2.stats["redis_rebuilds"] == 1
    assert asyncio.run(_read(redis_url)) == forked
    assert asyncio.run(_index(redis_url)) == forked_index


def test_steps_applied_while_a_child_rebuilds_are_written_on_top(redis_url: str) -> None:
    log = links_log(7)
    rt, mirror, pipeline = _stage(redis_url, fork_at=1)
    client = redis.Redis.from_url(redis_url)

    async def scenario() -> None:
        await mirror.resume(-1)
        half = len(log) // 2
        await _apply(rt, mirror, pipeline, log[:half])
        await _settle(mirror)
        client.hset(f"{PREFIX}:meta", "offset", 999_999)  # a Redis restored from another dump
        await mirror.check(False)  # a rebuild, in a child: the stage goes on meanwhile
        assert mirror._child is not None and mirror._child.rebuild and rt.redis_offset is None
        await _apply(rt, mirror, pipeline, log[half:])
        await _settle(mirror)

    asyncio.run(scenario())
    assert rt.stats["redis_rebuilds"] == 2
    got = asyncio.run(_read(redis_url))
    assert got["offset"] == rt.redis_offset == len(log) - 1
    assert got["profiles"] == dict(pipeline.mirror_records()) and got["profiles"]
    assert asyncio.run(_index(redis_url)) == holders(pipeline.mirror_records())


async def _index(url: str) -> dict[str, str]:
    model = RedisReadModel.from_url(url, PREFIX)
    try:
        return await model.index()
    finally:
        await model.close()
