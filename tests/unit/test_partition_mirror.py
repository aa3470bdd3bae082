"""Each effects partition mirrors its own customers into the read model (``IRL_CUSTOMER_STAGE=kafka``).

effects p0   e e e e e e e e e e ...  ──▶ CustomerPartition 0 ──▶ PartitionMirror 0 ─┐
effects p1   e e e e e e e e e e ...  ──▶ CustomerPartition 1 ──▶ PartitionMirror 1 ─┼─▶ read model (fake):
effects p2   e e e e e e e e e e ...  ──▶ CustomerPartition 2 ──▶ PartitionMirror 2 ─┘   p.0, p.1, p.2 offsets
                                          crash, flush Redis, Redis ahead/behind the snapshot
oracle       a clean Pipeline without the stage: its live customers' profiles, the identifier index
             the stored profiles give (`holders`), and its aliases
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
from aiokafka import TopicPartition

from resolver.config import ResolverConfig
from resolver.customer_stage import CustomerStage
from resolver.effect_codec import partition_of
from resolver.profile import Profile
from streams.customer_loop import _CustomersLoop
from streams.customers import CustomerPartition
from streams.linkbatch import ACTION, TICK, decode_batch
from streams.mirror import PartitionMirror, RedisMirror
from streams.pipeline import Pipeline, Step
from streams.readmodel import Written, _decode_profile, _stored, holders, partition_field
from streams.runtime import Runtime
from streams.sequencer import LinkRecord
from streams.settings import Settings
from streams.web.auth import Scope
from streams.web.stats import StatsCollector
from tests.unit.test_customers import (
    PARTITIONS,
    RESOLVED,
    EffectsKafka,
    FakeCustomerKafka,
    _FakeConsumer,
    _LoopKafka,
    _Message,
    effects_sequencer,
)
from tests.unit.test_sequencer import GRACE_MS, WINDOW_MS, Crash, links_log, run


class InMemoryReadModel:
    """The read model's contract in memory: profiles, aliases, ``P:meta``; the index follows the profiles."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, str] = {}
        self.meta: dict[str, int] = {}
        self.writes = 0
        self.rebuilds: list[int] = []
        #: raise on every call (Redis down)
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("redis is down")

    def flushall(self) -> None:
        self.profiles, self.aliases, self.meta = {}, {}, {}

    def index(self) -> dict[str, str]:
        return holders(self.profiles.items())

    async def offset(self, field: str = "offset") -> int | None:
        self._check()
        return self.meta.get(field)

    async def apply_if_at(
        self,
        expect: int,
        profiles: Mapping[str, Written | None],
        removed: dict[str, str | None],
        offset: int,
        forget: Iterable[str] = (),
        field: str = "offset",
    ) -> bool:
        self._check()
        if self.meta.get(field) != expect:
            return False
        self._write(profiles, removed)
        self.meta[field] = offset
        self.writes += 1
        return True

    def _write(self, profiles: Mapping[str, Written | None], removed: dict[str, str | None]) -> None:
        for cid, profile in profiles.items():
            if profile is None:
                self.profiles.pop(cid, None)
            else:  # a `Profile` as Redis stores it (`_stored`) and reads it back
                self.profiles[cid] = _decode_profile(cid, _stored(profile)) if isinstance(profile, Profile) else profile
                self.aliases.pop(cid, None)  # a live customer has no alias
        for gone, survivor in removed.items():
            self.profiles.pop(gone, None)
            if survivor is None:
                self.aliases.pop(gone, None)
            else:
                self.aliases[gone] = survivor

    async def mark(self, offset: int, field: str = "offset") -> None:
        self.meta[field] = offset

    async def rebuild(self, profiles: Iterable[tuple[str, dict[str, Any]]], aliases: Any, offset: int) -> int:
        """The default mode's full rebuild (`RedisMirror.check`)."""
        self._check()
        self.flushall()
        written = dict(profiles)
        self._write(dict(written), {})
        self.aliases.update(aliases)
        self.meta["offset"] = offset
        return len(written)

    async def rebuild_partition(
        self,
        partition: int,
        mine: Callable[[str], bool],
        live: Callable[[str], bool],
        profiles: Iterable[tuple[str, dict[str, Any]]],
        offset: int,
        aliases: Iterable[tuple[str, str]] = (),
    ) -> int:
        self._check()
        self.meta.pop(partition_field(partition), None)
        for cid in [c for c in self.profiles if mine(c) and not live(c)]:
            del self.profiles[cid]
        kept = dict(aliases)
        for gone in [a for a in self.aliases if mine(a) and a not in kept]:
            del self.aliases[gone]
        written = dict(profiles)
        self._write(dict(written), {})
        self.aliases.update(kept)
        self.meta[partition_field(partition)] = offset
        self.rebuilds.append(partition)
        return len(written)


def _steps(pipeline: Pipeline, rec: LinkRecord) -> list[Step]:
    if rec.kind == TICK:
        return list(pipeline.on_tick(rec.offset, json.loads(rec.value)["now"]))
    if rec.kind == ACTION:
        return list(pipeline.on_action(rec.offset, json.loads(rec.value)))
    return pipeline.on_events(rec.offset, decode_batch(rec.value))


def with_erasure(log: list[LinkRecord], seed: int) -> list[LinkRecord]:
    """``log`` with an erasure of a customer (one absorbed ids point at, if any) two thirds of the way in."""
    cut = 2 * len(log) // 3
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    survivors: dict[str, int] = {}
    for rec in log[:cut]:
        for step in _steps(pipeline, rec):
            for survivor in step.removed.values():
                if survivor is not None:
                    survivors[survivor] = survivors.get(survivor, 0) + 1
    live = pipeline.resolver.customer_ids()
    merged = [c for c in live if c in survivors]
    victim = (merged or live)[seed % len(merged or live)]
    action = {"action": "erase", "customer_id": victim, "action_id": "x1", "actor": "t", "at": 0}
    out = [*log[:cut], LinkRecord(cut, ACTION, json.dumps(action).encode())]
    out += [LinkRecord(r.offset + 1, r.kind, r.value) for r in log[cut:]]
    return out


def default_read_model(log: list[LinkRecord]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """What the default mode's mirror leaves for ``log``: (profiles, index, aliases), whatever its flushes."""
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    aliases: dict[str, str] = {}
    for rec in log:
        for step in _steps(pipeline, rec):
            for gone, survivor in step.removed.items():
                if survivor is None:
                    aliases.pop(gone, None)
                else:
                    aliases[gone] = survivor
            for cid in step.erased_absorbed:  # an erasure takes the aliases that named the person
                aliases.pop(cid, None)
            for cid in step.touched:
                aliases.pop(cid, None)
    profiles = dict(pipeline.mirror_records())
    return profiles, holders(profiles.items()), aliases


def effects_of(log: list[LinkRecord]) -> EffectsKafka:
    """The effects topic a clean ordered stage in effects mode fills for ``log``."""
    kafka = EffectsKafka()
    asyncio.run(run(effects_sequencer(kafka), log, 5, 3))
    return kafka


def partition(
    kafka: FakeCustomerKafka,
    p: int,
    model: InMemoryReadModel,
    interval_s: float = 0.0,
    clock: Any = None,
    snapshot_s: float = 0.0,
) -> CustomerPartition:
    stats = Runtime(Settings()).stats
    extra = {} if clock is None else {"clock": clock}
    mirror = PartitionMirror(p, PARTITIONS, lambda: model, stats, interval_s=interval_s, **extra)
    return CustomerPartition(p, kafka.ports(), RESOLVED, stats, snapshot_interval_s=snapshot_s, mirror=mirror, **extra)


async def drive(part: CustomerPartition, records: list[Any], fetch: int, snapshot_every: int) -> None:
    """What the Kafka loop does: load, seek, fetches, `tend` after each (a snapshot every few)."""
    position = await part.load(await part.ports.read_state())
    fetches = 0
    while position < len(records):
        batch = records[position : position + fetch]
        await part.apply(batch)
        position = batch[-1].offset + 1
        fetches += 1
        await part.tend(force=fetches % snapshot_every == 0)
    await part.tend(force=True)


def assert_equal(model: InMemoryReadModel, expected: tuple[dict[str, Any], dict[str, str], dict[str, str]]) -> None:
    """The model holds the expected profiles, index and aliases (after a partition's rebuild too: each partition
    writes the aliases of its absorbed ids, `CustomerStage.aliases`)."""
    profiles, index, aliases = expected
    assert model.profiles.keys() == profiles.keys()
    assert model.profiles == profiles
    assert model.index() == index
    assert model.aliases == aliases


@pytest.mark.parametrize("seed", range(4))
def test_partitions_in_any_order_leave_the_default_modes_read_model(seed: int) -> None:
    """Partitions fed in any interleaving, fetch sizes and flush intervals: the default mode's read model."""
    rng = random.Random(seed)
    log = with_erasure(links_log(seed), seed)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()

    async def scenario() -> None:
        parts = [partition(kafka, p, model) for p in range(PARTITIONS)]
        positions = [await part.load({}) for part in parts]
        records = [effects.partition(p) for p in range(PARTITIONS)]
        while any(pos < len(recs) for pos, recs in zip(positions, records, strict=True)):
            p = rng.choice([p for p in range(PARTITIONS) if positions[p] < len(records[p])])
            batch = records[p][positions[p] : positions[p] + rng.randint(1, 6)]
            await parts[p].apply(batch)
            positions[p] = batch[-1].offset + 1
            await parts[p].tend(force=rng.random() < 0.3)
        for part in parts:
            await part.tend(force=True)
            assert model.meta[partition_field(part.partition)] == part.applied
        assert not model.rebuilds[PARTITIONS:], "only the first load of each partition rebuilds (an empty model)"

    asyncio.run(scenario())
    assert_equal(model, expected)
    assert any(cid in model.aliases for cid in expected[2]), "the log absorbs customers"


def test_a_flush_writes_each_customer_touched_since_the_last_once() -> None:
    """Coalescing: with a long interval, many fetches become a few writes; the end is the same."""
    log = links_log(5)
    expected = default_read_model(log)
    effects = effects_of(log)
    now = [0.0]
    coalesced, eager = InMemoryReadModel(), InMemoryReadModel()

    async def scenario(model: InMemoryReadModel, interval: float) -> None:
        for p in range(PARTITIONS):
            part = partition(FakeCustomerKafka(), p, model, interval, lambda: now[0], snapshot_s=1e9)
            await part.load({})
            records = effects.partition(p)
            for i in range(len(records)):
                await part.apply(records[i : i + 1])
                now[0] += 0.1
                await part.tend()
            await part.mirror.flush(part.feed.stage, force=True)  # type: ignore[union-attr]

    asyncio.run(scenario(eager, 0.0))
    asyncio.run(scenario(coalesced, 1.0))
    assert_equal(eager, expected)
    assert_equal(coalesced, expected)
    assert coalesced.writes * 5 <= eager.writes, (coalesced.writes, eager.writes)


def test_a_flushed_redis_is_rebuilt_by_each_partition_from_its_own_state() -> None:
    log = links_log(6)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()

    async def scenario() -> None:
        parts = [partition(kafka, p, model) for p in range(PARTITIONS)]
        for part in parts:
            await part.load({})
        half = [len(effects.partition(p)) // 2 for p in range(PARTITIONS)]
        for p, part in enumerate(parts):
            await part.apply(effects.partition(p)[: half[p]])
            await part.tend()
        model.flushall()  # FLUSHALL, or a Redis restarted without its data
        model.rebuilds.clear()
        for p, part in enumerate(parts):
            await part.apply(effects.partition(p)[half[p] :])
            await part.tend(force=True)
        assert sorted(model.rebuilds) == list(range(PARTITIONS)), "each partition rebuilt its part once"

    asyncio.run(scenario())
    assert_equal(model, expected)


def erased_absorbed(log: list[LinkRecord]) -> set[str]:
    """The ids an erasure in ``log`` took with the person (absorbed into her before): none may keep an alias."""
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    return {cid for rec in log for step in _steps(pipeline, rec) for cid in step.erased_absorbed}


@pytest.mark.parametrize("seed", range(3))
def test_a_flushed_redis_rebuilt_by_the_partitions_holds_every_alias_and_none_of_an_erased_survivor(
    seed: int,
) -> None:
    """FLUSHALL once every effect is applied and snapshotted: each partition rebuilds its part from its own state,
    the aliases of its absorbed ids with it (so a standby answers an absorbed id as the writer); the ids absorbed
    into the erased customer get none. Then a restart from the snapshots (the aliases kept in them) and a second
    FLUSHALL: the same.

    effects p   0 ............................ end
    snapshot                                    ^ stored (aliases in it)
    Redis       written as it goes ........... FLUSHALL ─ rebuild ─ restart ─ FLUSHALL ─ rebuild
    """
    log = with_erasure(links_log(seed + 30), seed)
    expected = default_read_model(log)
    gone_with_her = erased_absorbed(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()
    held: list[list[tuple[str, str]]] = []
    now = [0.0]

    async def scenario() -> None:
        parts = [partition(kafka, p, model, clock=lambda: now[0]) for p in range(PARTITIONS)]
        for p, part in enumerate(parts):
            await drive(part, effects.partition(p), 5, 2)
        for restart in range(2):
            model.flushall()
            model.rebuilds.clear()
            now[0] += 3.0  # past the idle partitions' check interval
            for part in parts:
                await part.tend()
            assert sorted(model.rebuilds) == list(range(PARTITIONS)), restart
            assert_equal(model, expected)
            held.append([a for part in parts for a in part.feed.stage.aliases()])
            parts = [partition(kafka, p, model, clock=lambda: now[0]) for p in range(PARTITIONS)]
            for part in parts:
                await part.load(await kafka.read_state())

    asyncio.run(scenario())
    assert expected[2], "the log absorbs customers"
    assert not gone_with_her & model.aliases.keys()
    assert sorted(held[0]) == sorted(held[1]) == sorted(expected[2].items())
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    for rec in log:
        _steps(pipeline, rec)
    assert sorted(held[0]) == pipeline.mirror_aliases(), "the partitions' aliases together: `Resolver.aliases`"
    if seed == 0:
        assert gone_with_her, "the erased customer had absorbed ids"


def test_a_stage_snapshot_keeps_its_aliases_and_one_written_before_them_loads_without() -> None:
    """The stage's snapshot holds its aliases (`Removed` lines after the inputs, s34); one written before s34
    (inputs only) loads with the same inputs and no aliases."""
    effects, kafka, model = effects_of(with_erasure(links_log(31), 1)), FakeCustomerKafka(), InMemoryReadModel()
    parts = [partition(kafka, p, model) for p in range(PARTITIONS)]
    for p, part in enumerate(parts):
        asyncio.run(drive(part, effects.partition(p), 5, 2))
    stage = max((part.feed.stage for part in parts), key=lambda st: len(st.aliases()))
    assert stage.aliases(), "a partition with absorbed ids"
    again = CustomerStage.from_snapshot(stage.snapshot())
    assert again.aliases() == stage.aliases() and again.snapshot() == stage.snapshot()
    old = b"\n".join(line for line in stage.snapshot().split(b"\n") if not line.startswith(b'["a"'))
    assert old != stage.snapshot()
    loaded = CustomerStage.from_snapshot(old)
    assert loaded.aliases() == []
    assert loaded.customer_ids() == stage.customer_ids() and loaded.now == stage.now
    assert all(loaded.input(c) == stage.input(c) for c in stage.customer_ids())


def test_redis_down_then_back_is_rebuilt_and_the_stage_goes_on() -> None:
    log = links_log(7)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()
    now = [0.0]

    async def scenario() -> None:
        parts = [partition(kafka, p, model, clock=lambda: now[0]) for p in range(PARTITIONS)]
        for part in parts:
            await part.load({})
        model.down = True
        for p, part in enumerate(parts):
            records = effects.partition(p)
            await part.apply(records[: len(records) // 2])
            await part.tend()
            assert part.mirror is not None and part.mirror.at is None
        model.down = False
        for p, part in enumerate(parts):
            now[0] += 10.0  # past the retry interval
            await part.apply(effects.partition(p)[len(effects.partition(p)) // 2 :])
            await part.tend(force=True)
        assert kafka.published, "the records went out while Redis was down"

    asyncio.run(scenario())
    assert_equal(model, expected)


def test_a_redis_that_answers_again_is_rebuilt_within_the_probe_not_the_retry_interval() -> None:
    """Redis restarted: each partition rebuilds its part at the next probe (1 s), not up to `retry_s` (5 s) later.

    Redis  up ── down (stop) ── up (start) ─────────────────────────▶
    tries         x   x (failed: unreachable)  probe ok ─▶ rebuild at +1 s, not at +5 s
    """
    log = links_log(5)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()
    now = [0.0]

    async def scenario() -> None:
        # no snapshot meanwhile: a snapshot's forced flush would rebuild whatever the clock says
        parts = [partition(kafka, p, model, clock=lambda: now[0], snapshot_s=1e9) for p in range(PARTITIONS)]
        for part in parts:
            await part.load({})
        model.rebuilds.clear()  # each empty part written at its load
        model.down = True
        for p, part in enumerate(parts):
            await part.apply(effects.partition(p))
            await part.tend()
            assert part.mirror is not None and part.mirror.at is None
        model.down = False
        now[0] += 0.5
        for part in parts:
            await part.tend()  # too soon to ask again
        assert model.rebuilds == []
        now[0] += 0.5  # the probe's interval, well within the retry interval (5 s)
        for part in parts:
            await part.tend()
        assert sorted(model.rebuilds) == list(range(PARTITIONS))

    asyncio.run(scenario())
    assert_equal(model, expected)


class _RefusingReadModel(InMemoryReadModel):
    """Answers, but its first rebuild of each partition fails (not a connection error: Redis refused the writes)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[int] = set()

    async def rebuild_partition(self, partition: int, *args: Any, **kwargs: Any) -> int:
        if partition not in self.refused:
            self.refused.add(partition)
            raise RuntimeError("OOM command not allowed when used memory > 'maxmemory'")
        return await super().rebuild_partition(partition, *args, **kwargs)


def test_a_rebuild_that_redis_refused_waits_the_retry_interval_not_the_probe() -> None:
    log = links_log(5)
    effects = effects_of(log)
    model, kafka = _RefusingReadModel(), FakeCustomerKafka()
    now = [0.0]

    async def scenario() -> None:
        # no snapshot meanwhile: a snapshot's forced flush would rebuild whatever the clock says
        parts = [partition(kafka, p, model, clock=lambda: now[0], snapshot_s=1e9) for p in range(PARTITIONS)]
        for part in parts:
            await part.load({})  # a first rebuild each, refused
        assert model.rebuilds == []
        for p, part in enumerate(parts):
            await part.apply(effects.partition(p))
            now[0] += 0.2
            await part.tend()
        now[0] += 2.0  # past the probe, before the retry: Redis answers, but a rebuild is not tried again yet
        for part in parts:
            await part.tend()
        assert model.rebuilds == []
        now[0] += 5.0
        for part in parts:
            await part.tend()
        assert sorted(model.rebuilds) == list(range(PARTITIONS))

    asyncio.run(scenario())


@pytest.mark.parametrize("seed", range(3))
def test_a_crash_between_the_redis_write_and_the_snapshot_resumes_ahead_without_a_rebuild(seed: int) -> None:
    """Redis holds partition p at offset R, its stored snapshot is older (S < R): a restart writes nothing up to R.

    effects p   0 ........ S ........ R ........ end
    snapshot               ^ the partition restores here
    Redis                             ^ flushed up to R before the crash
    mirror                 skip ----->| then every customer changed after R, as usual
    """
    rng = random.Random(seed)
    log = with_erasure(links_log(seed + 10), seed)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()

    async def scenario() -> None:
        for p in range(PARTITIONS):
            records = effects.partition(p)
            s = rng.randint(1, len(records) // 3)
            r = rng.randint(s + 1, 2 * len(records) // 3)
            first = partition(kafka, p, model)
            await first.load(await kafka.read_state())
            await first.apply(records[:s])
            await first.tend(force=True)  # the snapshot at S (Redis flushed up to it first)
            await first.apply(records[s:r])
            await first.mirror.flush(first.feed.stage, force=True)  # type: ignore[union-attr]
            assert model.meta[partition_field(p)] == r - 1
            # the process dies here: Redis at R - 1, the snapshot at S - 1
            rebuilds, writes = len(model.rebuilds), model.writes
            again = partition(kafka, p, model)
            await again.load(await kafka.read_state())
            assert again.applied == s - 1 and again.mirror is not None and again.mirror.at == r - 1
            await again.apply(records[s:r])  # the tail Redis holds: nothing written
            await again.tend()
            assert model.writes == writes and len(model.rebuilds) == rebuilds
            await drive(again, records, rng.randint(1, 5), 2)
            assert len(model.rebuilds) == rebuilds, "Redis ahead of the snapshot is caught up, not rebuilt"

    asyncio.run(scenario())
    assert_equal(model, expected)


def test_a_redis_behind_the_snapshot_rebuilds_that_partitions_part_only() -> None:
    """Redis restored from an older dump: the partition's part (profiles and aliases) is rebuilt, the other
    partitions' left as they are."""
    log = links_log(8)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()

    async def scenario() -> None:
        for p in range(PARTITIONS):
            await drive(partition(kafka, p, model), effects.partition(p), 4, 2)
        assert_equal(model, expected)
        # partition 1's part as it was long ago: its offset behind its snapshot, a customer of it missing,
        # a stale one of it present
        mine = [c for c in model.profiles if partition_of(c, PARTITIONS) == 1]
        theirs = {c: p for c, p in model.profiles.items() if partition_of(c, PARTITIONS) != 1}
        del model.profiles[mine[0]]
        stale = next(c for i in range(100) if partition_of(c := f"c_stale_{i}", PARTITIONS) == 1)
        model.profiles[stale] = {"customer_id": stale, "phones": ["+910000000000"]}
        model.aliases[stale] = "c_erased_since"  # an alias of one of its ids its state no longer holds: deleted
        model.meta[partition_field(1)] = 0
        model.rebuilds.clear()
        part = partition(kafka, 1, model)
        await part.load(await kafka.read_state())
        assert model.rebuilds == [1]
        assert {c: p for c, p in model.profiles.items() if partition_of(c, PARTITIONS) != 1} == theirs

    asyncio.run(scenario())
    assert_equal(model, expected)


def test_a_crash_mid_publish_then_restart_leaves_the_same_read_model() -> None:
    """A partition dies in its publish (after Redis may have moved); its restart ends with the clean read model."""
    log = with_erasure(links_log(9), 1)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()
    rng = random.Random(9)

    async def scenario() -> None:
        for p in range(PARTITIONS):
            records = effects.partition(p)
            for _ in range(2):
                kafka.die_after = len(kafka.published) + rng.randint(0, 30)
                try:
                    await drive(partition(kafka, p, model), records, rng.randint(1, 6), rng.randint(1, 3))
                except Crash:
                    pass
            kafka.die_after = None
            await drive(partition(kafka, p, model), records, rng.randint(1, 6), 2)

    asyncio.run(scenario())
    assert_equal(model, expected)


def test_an_idle_partition_notices_a_flushed_redis_and_rebuilds() -> None:
    log = links_log(4)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, kafka = InMemoryReadModel(), FakeCustomerKafka()
    now = [0.0]

    async def scenario() -> None:
        parts = [partition(kafka, p, model, clock=lambda: now[0]) for p in range(PARTITIONS)]
        for p, part in enumerate(parts):
            await part.load({})
            await part.apply(effects.partition(p))
            await part.tend(force=True)
        assert_equal(model, expected)
        model.flushall()
        for part in parts:
            await part.tend()  # nothing applied since: no write, and too soon to look
        assert model.profiles == {}
        now[0] += 3.0
        for part in parts:
            await part.tend()

    asyncio.run(scenario())
    assert_equal(model, expected)


def test_a_partition_taken_over_level_with_redis_still_notices_a_flush() -> None:
    """A partition handed to another worker before any snapshot: the new holder loads nothing (offset -1) and finds
    Redis ahead at the last effect the old holder wrote; once it has applied that far it is level, and a FLUSHALL
    while it is idle is noticed and rebuilt (it stayed in the "ahead" state for good: CI, 2 workers, 2026-12-06)."""
    log = links_log(4)
    expected = default_read_model(log)
    effects = effects_of(log)
    model, now = InMemoryReadModel(), [0.0]

    async def scenario() -> None:
        for p in range(PARTITIONS):  # the first holders: write Redis up to their last effect, no snapshot
            first = partition(FakeCustomerKafka(), p, model, clock=lambda: now[0])
            await first.load({})
            await first.apply(effects.partition(p))
            await first.mirror.flush(first.feed.stage, force=True)  # type: ignore[union-attr]
        assert_equal(model, expected)
        takers = [partition(FakeCustomerKafka(), p, model, clock=lambda: now[0]) for p in range(PARTITIONS)]
        for p, part in enumerate(takers):
            await part.load({})  # no snapshot: offset -1, Redis ahead
            await part.apply(effects.partition(p))  # quietly or not, the same state up to Redis's offset
        model.flushall()
        now[0] += 3.0
        for part in takers:
            await part.tend()

    asyncio.run(scenario())
    assert_equal(model, expected)


@pytest.mark.parametrize("seed", range(3))
def test_the_default_modes_mirror_at_any_flush_boundaries_leaves_what_the_partitions_leave(seed: int) -> None:
    """`RedisMirror` (the ordered stage's, default mode) flushed at random steps, and the partitions over Kafka
    for the same log: the same profiles, index and aliases (the rule does not depend on who writes when)."""
    rng = random.Random(seed)
    log = with_erasure(links_log(seed + 20), seed)
    expected = default_read_model(log)
    default = InMemoryReadModel()

    async def default_mode() -> None:
        rt = Runtime(Settings(customer_stage="0"))
        rt.pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
        rt.redis = default  # type: ignore[assignment]
        mirror = RedisMirror(rt, Settings(customer_stage="0"), interval_s=1e9, fork_at=None)
        await mirror.resume(-1)  # an empty Redis: rebuilt (empty) at once
        for rec in log:
            for step in _steps(rt.pipeline, rec):
                await mirror.step(step)
                rt.applied_offset = step.offset
                if rng.random() < 0.3:
                    await mirror.flush(force=True)
        await mirror.check(False)

    asyncio.run(default_mode())
    assert_equal(default, expected)
    partitions, kafka = InMemoryReadModel(), FakeCustomerKafka()
    effects = effects_of(log)

    async def kafka_mode() -> None:
        for p in range(PARTITIONS):
            await drive(partition(kafka, p, partitions), effects.partition(p), rng.randint(1, 5), 3)

    asyncio.run(kafka_mode())
    assert (partitions.profiles, partitions.index(), partitions.aliases) == (
        default.profiles,
        default.index(),
        default.aliases,
    )
    assert any(" " in held for held in default.index().values()) or seed > 0, "a shared identifier in the data"


def test_stats_show_each_held_partitions_applied_and_redis_offsets() -> None:
    """`/stats` over Kafka: the ordered stage's ``redis_offset`` says nothing (it writes no Redis), so each effects
    partition this worker holds shows the last effects offset it applied and the one its part of Redis holds
    (``P:meta.p.<n>`` as its mirror last wrote it; None while Redis is unreachable or behind, to be rebuilt)."""
    log = links_log(4)
    effects = effects_of(log)
    model = InMemoryReadModel()
    settings = dataclasses.replace(Settings(), snapshot_seconds=0.0)  # a snapshot (and so a Redis write) per fetch
    rt = Runtime(settings)
    held = [0, 2]
    records = {p: effects.partition(p) for p in held}
    consumer = _FakeConsumer({p: len(records[p]) for p in held})

    async def scenario() -> None:
        loop = _CustomersLoop(settings, rt, _LoopKafka(FakeCustomerKafka()))
        loop.consumer = consumer
        loop.redis = model  # type: ignore[assignment]
        await loop.on_assigned({TopicPartition("t-effects", p) for p in held})
        assert rt.stats["redis_partitions"] == {"0": {"applied": -1, "redis": -1}, "2": {"applied": -1, "redis": -1}}
        half = {p: len(records[p]) // 2 for p in held}
        fetch = {TopicPartition("t-effects", p): [_Message(r) for r in records[p][: half[p]]] for p in held}
        await loop.apply_fetch(fetch, loop.assignments)
        assert rt.stats["redis_partitions"] == {str(p): {"applied": half[p] - 1, "redis": half[p] - 1} for p in held}
        assert {f: model.meta[f] for f in (partition_field(p) for p in held)} == {
            partition_field(p): half[p] - 1 for p in held
        }
        model.down = True  # Redis away: each partition's part is unknown until rebuilt
        rest = {TopicPartition("t-effects", p): [_Message(r) for r in records[p][half[p] :]] for p in held}
        await loop.apply_fetch(rest, loop.assignments)
        assert rt.stats["redis_partitions"] == {str(p): {"applied": len(records[p]) - 1, "redis": None} for p in held}
        await loop.on_revoked({TopicPartition("t-effects", 0)})
        assert list(rt.stats["redis_partitions"]) == ["2"]
        rt.stats["redis_partitions"] = {"10": {"applied": 4, "redis": 4}, "2": {"applied": 9, "redis": None}}
        shown = (await StatsCollector(rt).snapshot(Scope.READ))["worker"]["redis_partitions"]
        assert list(shown) == ["2", "10"] and shown["2"] == {"applied": 9, "redis": None}

    asyncio.run(scenario())
