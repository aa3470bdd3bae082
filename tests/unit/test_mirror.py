"""The Redis mirror after a restore: behind Redis it writes nothing until it has passed Redis's offset.

links log   0 ........ 10 ........ 20 ........ 30
snapshot               ^ the stage restores here
Redis                              ^ Redis already holds the state at 20
mirror                 skip ------>| writes every customer touched since 10, once, then as usual
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable
from typing import Any

import pytest

import streams.sequencer
from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.linkbatch import ACTION, TICK, decode_batch
from streams.mirror import RedisMirror
from streams.pipeline import Pipeline, Step
from streams.runtime import Runtime
from streams.settings import Settings
from tests.unit.test_sequencer import GRACE_MS, WINDOW_MS, FakeKafka, links_log, run, sequencer

#: The ordered stage's mirror writes Redis with the per-customer stage off (over Kafka, the default, each effects
#: partition writes its own customers: tests/unit/test_partition_mirror.py).
OFF = Settings(customer_stage="0")


class FakeModel:
    """The read model's compare-and-set contract, in memory."""

    def __init__(self, offset: int | None, profiles: dict[str, dict[str, Any]]) -> None:
        self.at = offset
        self.profiles = dict(profiles)
        self.rebuilds = 0
        self.writes = 0
        self.aliases: dict[str, str] = {}

    async def offset(self) -> int | None:
        return self.at

    async def mark(self, offset: int) -> None:
        self.at = offset

    async def apply_if_at(
        self, expect: int, profiles: dict[str, Any], removed: dict[str, Any], offset: int, forget: Any = ()
    ) -> bool:
        if self.at != expect:
            return False
        for cid, profile in profiles.items():
            if profile is None:
                self.profiles.pop(cid, None)
            else:
                self.profiles[cid] = profile
        for gone in removed:
            self.profiles.pop(gone, None)
        self.at = offset
        self.writes += 1
        return True

    async def rebuild(self, profiles: Any, aliases: Any, offset: int) -> int:
        self.profiles = dict(profiles)
        self.aliases = dict(aliases)
        self.at = offset
        self.rebuilds += 1
        return len(self.profiles)


def steps_of(pipeline: Pipeline, records: Any) -> list[Step]:
    out: list[Step] = []
    for rec in records:
        if rec.kind == TICK:
            out += pipeline.on_tick(rec.offset, json.loads(rec.value)["now"])
        elif rec.kind == ACTION:
            out += pipeline.on_action(rec.offset, json.loads(rec.value))
        else:
            out += pipeline.on_events(rec.offset, decode_batch(rec.value))
    return out


def restored_stage(log: list[Any], offset: int, model: FakeModel) -> tuple[Runtime, Pipeline]:
    """A stage restored from a snapshot of `offset` (the log applied up to it), writing to `model`."""
    restored = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    steps_of(restored, log[: offset + 1])
    rt = Runtime(OFF)
    rt.pipeline = restored
    rt.applied_offset = offset
    rt.redis = model  # type: ignore[assignment]
    return rt, restored


def test_a_restored_stage_behind_redis_catches_up_without_a_rebuild() -> None:
    log = links_log(7)
    assert len(log) > 40
    ahead = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    steps_of(ahead, log[:31])  # Redis was written by the stage that got to offset 30
    model = FakeModel(30, dict(ahead.mirror_records()))

    rt, restored = restored_stage(log, 10, model)  # the snapshot is of offset 10
    mirror = RedisMirror(rt, OFF, interval_s=0.0)

    async def scenario() -> None:
        await mirror.resume(10)
        assert rt.redis_offset == 30 and model.writes == 0
        for step in steps_of(restored, log[11:30]):
            await mirror.step(step)
            rt.applied_offset = step.offset
        await mirror.check(False)
        assert model.writes == 0 and model.at == 30, "nothing written while the tail is behind Redis"
        for step in steps_of(restored, log[30:]):
            await mirror.step(step)
            rt.applied_offset = step.offset
        await mirror.check(False)

    asyncio.run(scenario())
    assert model.rebuilds == 0
    assert model.at == len(log) - 1
    assert model.profiles == dict(restored.mirror_records())


def test_a_redis_behind_the_restored_stage_is_rebuilt() -> None:
    log = links_log(8)
    model = FakeModel(5, {})
    rt, restored = restored_stage(log, 20, model)
    asyncio.run(RedisMirror(rt, OFF).resume(20))
    assert model.rebuilds == 1 and model.at == 20 and rt.redis_offset == 20
    assert model.profiles == dict(restored.mirror_records())


def test_a_stage_restored_again_in_the_same_process_rewrites_what_redis_missed() -> None:
    """Redis at 20, steps to 30 noted but not flushed, the partition revoked and given back: the
    stage restores its snapshot of 25 in the same process. Redis misses 21..25: it must not be
    marked current at 25 (the customers only those steps touched would stay stale for good)."""
    log = links_log(9)
    first = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    rt = Runtime(OFF)
    rt.pipeline = first
    rt.applied_offset = -1
    model = FakeModel(None, {})
    rt.redis = model  # type: ignore[assignment]
    mirror = RedisMirror(rt, OFF, interval_s=3600.0)

    async def scenario() -> None:
        await mirror.resume(-1)  # empty Redis: rebuilt at -1
        for step in steps_of(first, log[:21]):
            await mirror.step(step)
        rt.applied_offset = 20
        await mirror.check(False)
        assert model.at == 20
        for step in steps_of(first, log[21:31]):
            await mirror.step(step)  # noted, not flushed
        rt.applied_offset = 30
        rt.pipeline = None  # revoked
        again = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
        steps_of(again, log[:26])  # the snapshot of 25
        rt.pipeline, rt.applied_offset = again, 25
        await mirror.resume(25)
        for step in steps_of(again, log[26:]):
            await mirror.step(step)
        rt.applied_offset = len(log) - 1
        await mirror.check(False)

    asyncio.run(scenario())
    assert model.at == len(log) - 1
    assert rt.pipeline is not None
    assert model.profiles == dict(rt.pipeline.mirror_records())


def test_a_step_of_an_earlier_offset_with_later_changes_is_written_after_redis_offset() -> None:
    """The first steps of a run of events carry the offset before the run, yet hold changes of the records in it.

    Redis at 30, the stage restored at 10: a step of offset 25 may hold events of records
    26 to 34 (one run of events cut into steps). Its customers must reach Redis once the
    stage has passed 30, even though its offset is not past it.
    """
    log = links_log(7)
    model = FakeModel(30, {})
    rt, restored = restored_stage(log, 10, model)
    mirror = RedisMirror(rt, OFF, interval_s=0.0)
    batches = [rec for rec in log[11:] if rec.kind not in (TICK, ACTION)]
    events = [e for rec in batches[:3] for e in decode_batch(rec.value)]

    async def scenario() -> set[str]:
        await mirror.resume(10)
        (step,) = restored.on_events(25, events)  # offset 25: a step before the run's last one
        step.holds_through = 34  # as `Sequencer._events` marks it
        await mirror.step(step)
        rt.applied_offset = 35
        (last,) = restored.on_events(35, [])
        await mirror.step(last)
        await mirror.check(False)
        return step.touched

    touched = asyncio.run(scenario())
    assert touched
    current = dict(restored.mirror_records())
    assert {cid: model.profiles.get(cid) for cid in touched} == {cid: current.get(cid) for cid in touched}


@pytest.mark.parametrize("seed", range(4))
def test_a_stage_restored_behind_redis_ends_with_redis_equal_to_its_state(seed: int) -> None:
    """The Sequencer with the Redis mirror: snapshot at S, Redis at R > S, runs of events cut into small steps.

    The steps holding only changes Redis has are not noted; every other one is, and Redis
    ends equal to the state, without a rebuild.
    """
    log = links_log(seed)
    kafka = FakeKafka()
    rng = random.Random(seed)
    s_at, r_at = len(log) // 4, len(log) // 2 + rng.randint(0, 5)

    async def scenario() -> tuple[FakeModel, Pipeline]:
        await run(sequencer(kafka), log[: s_at + 1], 3, 1)  # a snapshot at (about) S
        ahead = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
        steps_of(ahead, log[: r_at + 1])
        model = FakeModel(r_at, dict(ahead.mirror_records()))
        second = sequencer(kafka)
        second.rt.redis = model  # type: ignore[assignment]
        second.ports.mirror = RedisMirror(second.rt, OFF, interval_s=0.0)
        await run(second, log, 7, 1000)
        assert second.rt.pipeline is not None
        return model, second.rt.pipeline

    saved = streams.sequencer.STEP_EVENTS
    streams.sequencer.STEP_EVENTS = 5  # runs of events over several steps, some straddling R
    try:
        model, state = asyncio.run(scenario())
    finally:
        streams.sequencer.STEP_EVENTS = saved
    assert model.rebuilds == 0
    assert model.at == len(log) - 1
    assert model.profiles == dict(state.mirror_records())


def clean_aliases(steps: Iterable[Step], aliases: dict[str, str] | None = None) -> dict[str, str]:
    """The aliases the mirror's steps leave (``aliases`` updated, or a new dict; also the rule of
    `tests/integration/test_readmodel_modes.clean_read_model`): each absorbed id's survivor, until
    the id is live again, or it or its survivor is erased."""
    aliases = {} if aliases is None else aliases
    for step in steps:
        for gone, survivor in step.removed.items():
            if survivor is None:
                aliases.pop(gone, None)
            else:
                aliases[gone] = survivor
        for cid in [*step.erased_absorbed, *step.touched]:
            aliases.pop(cid, None)
    return aliases


def _ev(i: int, source: str, **kw: Any) -> Interaction:
    return Interaction(f"evt-{i}", "WEB", 1_700_000_000_000 + i, source, "visit", **kw)


#: C absorbed into B, then B into A (a chain of two hops: C's alias names B); Lata's two ids joined,
#: then Lata erased (her absorbed id's alias goes with her).
ABSORBING = [
    _ev(1, "ck-a", phone="98222 10001", name="Kiran Das"),
    _ev(2, "ck-b", email="kiran.das@gmail.com", name="Kiran Das"),
    _ev(3, "ck-c", email="kiran.d@yahoo.com", name="Kiran Das"),
    _ev(4, "ck-c", email="kiran.das@gmail.com"),
    _ev(5, "ck-l1", phone="98333 20002", name="Lata Iyer"),
    _ev(6, "ck-l2", email="lata.iyer@gmail.com", name="Lata Iyer"),
    _ev(7, "ck-l3", phone="98333 20002", email="lata.iyer@gmail.com", name="Lata Iyer"),
]


def test_a_rebuild_writes_the_aliases_of_absorbed_ids() -> None:
    """A standby follows Redis's aliases: a rebuild from the state writes them with the profiles,
    as the steps wrote them (before, a rebuild wrote none: /customers/{absorbed id} answered 404)."""
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    steps: list[Step] = []
    first: dict[str, str | None] = {}
    for offset, event in enumerate(ABSORBING):
        steps += pipeline.on_events(offset, [event])
        first[event.event_id] = pipeline.resolver.customer_of_event(event.event_id)
    steps += pipeline.on_events(7, [_ev(8, "ck-x", email="kiran.das@gmail.com", phone="98222 10001")])
    resolver = pipeline.resolver
    lata = resolver.customer_of_event("evt-7")
    assert lata is not None
    erase = {"action": "erase", "customer_id": lata, "action_id": "x1", "actor": "t", "reason": "r", "at": 1}
    steps += pipeline.on_action(8, erase)
    expected = clean_aliases(steps)
    kiran = resolver.customer_of_event("evt-1")
    assert kiran is not None and len(resolver.absorbed_into(kiran)) >= 2, "the scenario absorbs ids into Kiran"
    assert expected and all(resolver.current_id(gone) == kiran for gone in expected)
    assert set(expected) == set(resolver.absorbed_into(kiran))
    b, c = first["evt-2"], first["evt-3"]
    assert b != c and expected.get(c or "") == b and expected.get(b or "") == kiran, "C into B, then B into A"

    assert dict(resolver.aliases()) == expected
    model = FakeModel(None, {})
    rt = Runtime(OFF)
    rt.pipeline = pipeline
    rt.applied_offset = 8
    rt.redis = model  # type: ignore[assignment]
    asyncio.run(RedisMirror(rt, OFF, fork_at=None).check(True))
    assert model.rebuilds == 1 and model.at == 8
    assert model.aliases == expected
    assert model.profiles == dict(pipeline.mirror_records())


@pytest.mark.parametrize("seed", range(3))
def test_the_resolvers_aliases_are_what_the_steps_left(seed: int) -> None:
    log = links_log(seed)
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    steps = steps_of(pipeline, log)
    expected = clean_aliases(steps)
    assert dict(pipeline.mirror_aliases()) == expected
    assert [gone for gone, _ in pipeline.mirror_aliases()] == sorted(expected)
