"""The per-customer stage over Kafka in process: the ordered stage sends effects, partitions build the records.

links log   B B T B A B T ...  ──▶ Sequencer (effects mode) ──▶ effects topic (P partitions, fake)
                                     crashes, restores, sends its tail's effects again
effects p   e e e e e e ...    ──▶ CustomerPartition ──▶ resolved topic (fake)
                                     crashes after a publish and before its commit, restores its snapshot
oracle      a clean Pipeline without the stage: the same records, deduplicated by change_id,
            and one content per (customer id, version)
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping

import pytest
from aiokafka import TopicPartition

from resolver.changelog import Planned
from resolver.config import ResolverConfig
from resolver.effect_codec import encode_effect, encode_effects, murmur2, partition_of
from resolver.effect_feed import Position, batches, decode_position, encode_position, place
from resolver.effects import Effect, Erased, Replaced, Tick
from resolver.interaction import from_json
from resolver.resolver import Resolver
from resolver.window import Window
from streams.batches import BatchSender
from streams.codec import decode_resolved
from streams.customer_loop import CustomersKafka, _CustomersLoop
from streams.customer_state import stored_snapshot
from streams.customers import BEHIND_SNAPSHOTS, POSITION_HEADER, CustomerPartition, CustomerPorts, EffectRecord
from streams.linkbatch import TICK
from streams.pipeline import Pipeline
from streams.runtime import Runtime
from streams.sequencer import EffectOut, LinkRecord, Ports, Sequencer
from streams.settings import Settings
from streams.snapshots import PUBLISHED_KEY
from tests.unit.test_customer_stage import _steps
from tests.unit.test_sequencer import (
    GRACE_MS,
    NOW,
    TOPIC_I,
    WINDOW_MS,
    Crash,
    FakeKafka,
    FakeMirror,
    InlineSnapshot,
    check_against,
    clean_run,
    links_log,
    run,
)

RESOLVED = "irl.customers.resolved"
PARTITIONS = 3


class EffectsKafka(FakeKafka):
    """`FakeKafka` with the effects topic; the process dies once it has taken `die_after_effects` effects."""

    def __init__(self) -> None:
        super().__init__()
        self.effects: list[EffectOut] = []
        self.die_after_effects: int | None = None

    async def queue_effects(self, effects: list[EffectOut]) -> list[asyncio.Future[None]]:
        return [self._queue(effects, self._take_effects)]  # type: ignore[arg-type]

    async def _take_effects(self, effects: list[EffectOut]) -> None:
        for effect in effects:
            if self.die_after_effects is not None and len(self.effects) >= self.die_after_effects:
                raise Crash
            self.effects.append(effect)

    def partition(self, p: int) -> list[EffectRecord]:
        """Effects partition ``p`` as the broker holds it (a record per partition per step)."""
        held = [(pos, value) for part, value, pos in self.effects if part == p]
        return [EffectRecord(offset, pos, value) for offset, (pos, value) in enumerate(held)]


def _partition(key: bytes) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def effects_sequencer(kafka: EffectsKafka) -> Sequencer:
    """An ordered stage in effects mode on ``kafka`` (a new process: a death before is over)."""
    kafka.dead, kafka._last, kafka.process = False, None, kafka.process + 1
    rt = Runtime(Settings())
    rt.owns_links = True
    ports = Ports(
        kafka.read_state,
        kafka.send_state,
        kafka.publish,
        kafka.interactions,
        kafka.nothing,
        kafka.nothing,
        FakeMirror(),
        queue_publish=kafka.queue_publish,
        queue_interactions=kafka.queue_interactions,
        queue_effects=kafka.queue_effects,
    )
    return Sequencer(
        rt,
        ResolverConfig(),
        WINDOW_MS,
        GRACE_MS,
        RESOLVED,
        ports,
        InlineSnapshot(),
        0.0,
        interactions_topic=TOPIC_I,
        effects_topic="t-effects",
        effect_partitions=PARTITIONS,
    )


class FakeCustomerKafka:
    """The customers' state topic as a dict, the resolved topic as a list, the group's commits; can die."""

    def __init__(self) -> None:
        self.state: dict[bytes, bytes] = {}
        self.published: list[bytes] = []
        self.commits: dict[int, int] = {}
        self.state_sent = 0
        #: the process dies at the publish of the record after this many (None: never)
        self.die_after: int | None = None

    def ports(self) -> CustomerPorts:
        return CustomerPorts(self.read_state, self.send_state, self.publish, self.commit, self.committed)

    async def read_state(self) -> Mapping[bytes, bytes]:
        return dict(self.state)

    async def send_state(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> int | None:
        for key, value in records:
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.state_sent += len(records)
        return 17  # the first record's offset, as the fake broker says

    async def publish(self, records: list[tuple[bytes, bytes]]) -> None:
        for _key, value in records:
            if self.die_after is not None and len(self.published) >= self.die_after:
                raise Crash  # the records before it are on the broker; the commit never happens
            self.published.append(value)

    async def commit(self, partition: int, offset: int) -> None:
        self.commits[partition] = offset

    async def committed(self, partition: int) -> int | None:
        return self.commits.get(partition)


async def run_partition(
    kafka: FakeCustomerKafka, p: int, records: list[EffectRecord], fetch: int, snapshot_every: int
) -> CustomerPartition:
    """What the Kafka loop does for one partition: load, seek, fetches, a snapshot now and then."""
    part = CustomerPartition(p, kafka.ports(), RESOLVED, Runtime(Settings()).stats, snapshot_interval_s=0.0)
    position = await part.load(await kafka.read_state())
    fetches = 0
    while position < len(records):
        batch = records[position : position + fetch]
        await part.apply(batch)
        position = batch[-1].offset + 1
        fetches += 1
        if fetches % snapshot_every == 0:
            await part.tend()
    return part


def _effect_count(log: list[LinkRecord]) -> int:
    """How many records of effects a clean run sends for ``log`` (one per partition per step)."""
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, customer_stage=True)
    count = 0
    for rec in log:
        ordinals = [0] * PARTITIONS
        count += sum(len(batches(rec.offset, s.effects, ordinals)) for s in _steps(p, rec))
    return count


def _crashing_ordered_stage(log: list[LinkRecord], rng: random.Random) -> EffectsKafka:
    kafka = EffectsKafka()
    expected = _effect_count(log)

    async def scenario() -> None:
        for _ in range(3):  # three deaths, each after a random number of effects on the broker
            kafka.die_after_effects = len(kafka.effects) + rng.randint(0, max(1, expected // 4))
            with pytest.raises(Crash):
                await run(effects_sequencer(kafka), log, rng.randint(1, 7), rng.randint(1, 4))
        kafka.die_after_effects = None
        await run(effects_sequencer(kafka), log, rng.randint(1, 7), rng.randint(1, 4))

    asyncio.run(scenario())
    return kafka


@pytest.mark.parametrize("seed", range(5))
def test_both_stages_crash_and_resume_to_a_clean_runs_records(seed: int) -> None:
    rng = random.Random(seed)
    log = links_log(seed)
    clean = clean_run(log)
    effects = _crashing_ordered_stage(log, rng)
    assert not effects.published, "in effects mode the ordered stage builds no record"
    positions = [(p, decode_position(pos)) for p, _v, pos in effects.effects]
    assert positions != sorted(set(positions)), "some effects were sent twice (the scenario's point)"
    kafka = FakeCustomerKafka()

    async def scenario() -> None:
        for p in range(PARTITIONS):
            records = effects.partition(p)
            for _ in range(2):  # each partition dies twice, each time mid-publish
                kafka.die_after = len(kafka.published) + rng.randint(0, 40)
                try:
                    await run_partition(kafka, p, records, rng.randint(1, 30), rng.randint(1, 3))
                except Crash:
                    pass
            kafka.die_after = None
            await run_partition(kafka, p, records, rng.randint(1, 30), rng.randint(1, 3))

    asyncio.run(scenario())
    check_against(clean, kafka.published)


def test_a_crash_after_the_publish_and_before_the_commit_sends_the_same_bytes_again() -> None:
    """The records of a fetch are on the broker, its offsets not committed: a restart sends them again, equal."""
    log = links_log(1)
    clean = clean_run(log)
    effects = _crashing_ordered_stage(log, random.Random(1))
    records = effects.partition(0)
    kafka = FakeCustomerKafka()

    async def publish_then_die(batch: list[tuple[bytes, bytes]]) -> None:
        await FakeCustomerKafka.publish(kafka, batch)
        if len(kafka.published) > 30:
            raise Crash  # after the broker took them, before `commit`

    async def scenario() -> list[bytes]:
        dying = CustomerPartition(0, kafka.ports(), RESOLVED, Runtime(Settings()).stats, snapshot_interval_s=0.0)
        dying.ports.publish = publish_then_die
        await dying.load(await kafka.read_state())
        with pytest.raises(Crash):
            for i in range(0, len(records), 10):
                await dying.apply(records[i : i + 10])
                await dying.tend()
        before = list(kafka.published)
        stored = stored_snapshot(kafka.state, 0)
        assert stored is not None and stored[0].offset < kafka.commits.get(0, 0) + 10
        await run_partition(kafka, 0, records, 10, 1)
        return before

    before = asyncio.run(scenario())
    again = kafka.published[len(before) :]
    assert set(again) & set(before[-5:]), "the uncommitted fetch's records were sent again"
    check_against(
        [v for v in clean if partition_of(decode_resolved(v)["customer_id"], PARTITIONS) == 0], kafka.published
    )


def test_a_restart_applies_the_committed_effects_quietly() -> None:
    """Effects below the group's committed offset had their records acknowledged: nothing sent for them again."""
    log = links_log(3)
    effects = _crashing_ordered_stage(log, random.Random(3))
    records = effects.partition(1)
    kafka = FakeCustomerKafka()

    async def scenario() -> None:
        await run_partition(kafka, 1, records[: len(records) // 2], 5, 10_000)  # never a snapshot
        sent = len(kafka.published)
        assert sent > 0 and not kafka.state
        part = await run_partition(kafka, 1, records[: len(records) // 2], 5, 10_000)
        assert len(kafka.published) == sent, "the committed part was published again"
        assert part.applied == len(records) // 2 - 1
        await run_partition(kafka, 1, records, 5, 10_000)

    asyncio.run(scenario())
    one = FakeCustomerKafka()
    asyncio.run(run_partition(one, 1, records, 7, 3))
    assert kafka.published == one.published


def test_the_published_mark_waits_for_the_effects_and_a_restore_does_not_send_them_again() -> None:
    log = links_log(2)
    kafka = EffectsKafka()

    async def scenario() -> None:
        kafka.hold = asyncio.Event()
        seq = effects_sequencer(kafka)
        await seq.restore()
        applying = asyncio.ensure_future(seq.apply(log, seq.rt.writer_epoch))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while kafka.unacked < 3 and not applying.done() and loop.time() < deadline:
            await asyncio.sleep(0)
        assert not applying.done() and PUBLISHED_KEY not in kafka.state, "no mark before the effects are acked"
        kafka.release()
        await applying
        assert PUBLISHED_KEY in kafka.state
        sent = len(kafka.effects)
        again = effects_sequencer(kafka)  # a restart with no snapshot: the whole log is its tail
        kafka.hold = None
        await run(again, log, 5, 10_000)
        resent = len(kafka.effects) - sent
        # Only the records after the last tick (none send effects) are applied loudly: nothing again.
        assert resent == 0, f"{resent} effects sent again though the mark covered them"
        assert again.rt.stats["steps_quiet"] > 0

    asyncio.run(scenario())


def test_an_erasure_leaves_the_effects_partition_and_its_erased_record_is_sent_again_later() -> None:
    """Erased: a snapshot at once, the effects before it deleted; the ERASED record sent again after the lag."""
    resolver = Resolver(ResolverConfig())
    event = from_json(
        {"event_id": "e1", "touchpoint": "WEB", "source_id": "u1", "occurred_at": NOW, "interaction": "v"}
    )
    cid = resolver.apply(event).customer_id
    assert cid is not None
    inp = resolver.profile_input(cid)
    assert inp is not None
    effects: list[Effect] = [
        Replaced(cid, inp),
        Tick(20),
        Planned(cid, "CREATED", 1, Window(0, 10)),
        Erased(cid),
        Planned(cid, "ERASED", 2, Window(10, 20)),
    ]
    records = [EffectRecord(i, encode_position(pos), encode_effect(e)) for i, (pos, e) in enumerate(place(7, effects))]
    kafka = FakeCustomerKafka()
    truncated: list[tuple[int, int, int | None]] = []

    async def truncate(partition: int, before: int, state_before: int | None) -> None:
        truncated.append((partition, before, state_before))

    now = [0.0]
    ports = kafka.ports()
    ports.truncate = truncate

    def partition() -> CustomerPartition:
        stats = Runtime(Settings()).stats
        return CustomerPartition(0, ports, RESOLVED, stats, 3600.0, clock=lambda: now[0], reseal_after_s=60.0)

    async def scenario() -> None:
        part = partition()
        await part.load(kafka.state)
        await part.apply(records)
        assert [decode_resolved(v)["change"] for v in kafka.published] == ["CREATED", "ERASED"]
        assert await part.tend(), "a snapshot at once after an erasure, whatever the interval"
        assert truncated == [(0, 5, 17)]
        assert not (await part.tend()) and truncated == [(0, 5, 17)]
        now[0] = 61.0
        await part.tend()
        assert kafka.published[-1] == kafka.published[1], "the ERASED record again, byte for byte"
        # A restart whose catch-up is quiet (the records committed) sends it again later too.
        restarted = partition()
        kafka.state.clear()
        await restarted.load(kafka.state)
        await restarted.apply(records)
        assert len(kafka.published) == 3
        now[0] = 200.0
        await restarted.tend()
        assert kafka.published[-1] == kafka.published[1]

    asyncio.run(scenario())


def test_an_idle_stage_sends_no_effects_and_ticks_alone_take_no_snapshot() -> None:
    """Ticks that close no window (an idle worker's clock) send nothing and set no mark; a partition that applied
    ticks alone (the ones sent with a window's effects) moves no records: no snapshot."""
    log = [LinkRecord(i, TICK, json.dumps({"now": NOW + 1000 * i}).encode()) for i in range(20)]
    kafka = EffectsKafka()
    customers = FakeCustomerKafka()
    ticks = [EffectRecord(i, encode_position(Position(i, 0)), encode_effects([Tick(NOW + i)])) for i in range(20)]

    async def scenario() -> None:
        await run(effects_sequencer(kafka), log, 3, 10_000)
        assert not kafka.effects and PUBLISHED_KEY not in kafka.state
        part = CustomerPartition(0, customers.ports(), RESOLVED, Runtime(Settings()).stats, snapshot_interval_s=0.0)
        await part.load(customers.state)
        await part.apply(ticks)
        assert part.applied == len(ticks) - 1 and customers.commits == {0: len(ticks)}
        assert not await part.tend() and not customers.state
        assert await part.tend(force=True) and stored_snapshot(customers.state, 0) is not None

    asyncio.run(scenario())


def test_a_partition_behind_its_effects_waits_to_store_its_snapshot_until_it_has_caught_up() -> None:
    """A backlog: effects wait after the last applied. The partition's snapshot (every customer of it encoded) waits
    too, up to `BEHIND_SNAPSHOTS` intervals, so a slow backlog does not pay it every interval; once caught up it is
    stored at the next `tend`, and the same records come out either way.

        clock s      0     5     10    ...   29    30          (interval 5 s)
        behind       yes   yes   yes         yes   -> stored (6 intervals)
        caught up                     -> stored at once
    """
    log = links_log(3)
    records = _crashing_ordered_stage(log, random.Random(3)).partition(1)
    now = [0.0]

    def partition(kafka: FakeCustomerKafka) -> CustomerPartition:
        stats = Runtime(Settings()).stats
        return CustomerPartition(1, kafka.ports(), RESOLVED, stats, snapshot_interval_s=5.0, clock=lambda: now[0])

    async def scenario() -> None:
        kafka = FakeCustomerKafka()
        part = partition(kafka)
        await part.load({})
        half = len(records) // 2
        await part.apply(records[:half])
        now[0] = 5.0
        assert not await part.tend(behind=True), "a snapshot while effects wait"
        now[0] = 5.0 * BEHIND_SNAPSHOTS - 0.1
        assert not await part.tend(behind=True) and not kafka.state
        now[0] = 5.0 * BEHIND_SNAPSHOTS
        assert await part.tend(behind=True), "no snapshot after BEHIND_SNAPSHOTS intervals"
        stored = stored_snapshot(kafka.state, 1)
        assert stored is not None and stored[0].offset == half - 1
        await part.apply(records[half:])
        now[0] += 5.0
        assert await part.tend(behind=False), "caught up: the snapshot is stored at once"
        stored = stored_snapshot(kafka.state, 1)
        assert stored is not None and stored[0].offset == len(records) - 1
        always = FakeCustomerKafka()
        await run_partition(always, 1, records, 7, 1)
        assert kafka.published == always.published

    asyncio.run(scenario())


class _FakeConsumer:
    """What `stalled`, `lag` and `apply_fetch` use of an aiokafka consumer: assignment, partition ends, seeks."""

    def __init__(self, ends: dict[int, int]) -> None:
        self.ends = ends
        self.sought: list[tuple[int, int]] = []

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought.append((tp.partition, offset))

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t-effects", p) for p in self.ends}

    def highwater(self, tp: TopicPartition) -> int:
        return self.ends[tp.partition]


def test_a_partition_that_applies_nothing_while_effects_wait_is_a_stall() -> None:
    """t=0        t=60       t=119      t=120                     (IRL_STALL_SECONDS=120)
    p0  applied 4, end 9 ─────────────────▶ stalled           (nothing moved while effects waited)
    p1  applied 4, end 5 ─────────────────▶ never             (nothing waits: end is applied + 1)
    """
    settings = Settings.from_env({"IRL_STALL_SECONDS": "120"})
    loop = _CustomersLoop(settings, Runtime(settings), CustomersKafka(BatchSender(None), settings))
    loop.consumer = _FakeConsumer({0: 9, 1: 5})
    for p in (0, 1):
        part = CustomerPartition(p, FakeCustomerKafka().ports(), RESOLVED, Runtime(settings).stats)
        part.applied = 4
        loop.parts[p] = part
    assert loop.stalled(0.0) == [] and loop.stalled(60.0) == [] and loop.stalled(119.0) == []
    assert loop.rt.stats["customers_stalled_s"] == 119.0  # /ready says 503 from half the limit (test_web_views)
    assert loop.stalled(120.0) == [0]
    assert loop.lag() == {"t-effects/0": 4, "t-effects/1": 0}
    loop.parts[0].applied = 8  # it moved: the clock starts again, and nothing waits any more
    assert loop.stalled(500.0) == [] and loop.stalled(10_000.0) == []
    assert loop.rt.stats["customers_stalled_s"] == 0.0


class _BrokerEnds(_FakeConsumer):
    """A consumer whose last fetch's high-water marks are stale: the broker's log ends further (`end_offsets`)."""

    def __init__(self, fetched: dict[int, int], broker: dict[int, int]) -> None:
        super().__init__(fetched)
        self.broker = broker

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.broker[tp.partition] for tp in tps}


def test_lag_and_stalls_read_the_brokers_log_end_not_only_the_last_fetchs() -> None:
    """A busy loop fetched long ago: its high-water mark says caught up while effects wait (an audit saw 0 lag on
    every partition and 17% of the records unpublished). The broker's end, asked every second, says otherwise."""
    settings = Settings.from_env({"IRL_STALL_SECONDS": "120"})
    rt = Runtime(settings)
    loop = _CustomersLoop(settings, rt, CustomersKafka(BatchSender(None), settings))
    consumer = _BrokerEnds({0: 5, 1: 5}, {0: 40, 1: 5})
    loop.consumer = consumer
    for p in (0, 1):
        part = CustomerPartition(p, FakeCustomerKafka().ports(), RESOLVED, rt.stats)
        part.applied = 4
        loop.parts[p] = part
    assert loop.lag() == {"t-effects/0": 0, "t-effects/1": 0}  # what the fetch alone says

    async def one_refresh() -> None:
        task = asyncio.ensure_future(loop._refresh_ends())
        await asyncio.sleep(0.05)
        rt.stopping.set()
        await task

    asyncio.run(one_refresh())
    assert loop.lag() == {"t-effects/0": 35, "t-effects/1": 0}
    assert loop.stalled(0.0) == [] and loop.stalled(120.0) == [0], "effects waited and nothing moved: a stall"


def test_published_records_reach_the_journal_only_once_the_broker_has_them() -> None:
    """The views' journal (`rt.on_published`) hears of a fetch's records after its publish, never of a failed one."""
    log = links_log(4)
    effects = _crashing_ordered_stage(log, random.Random(4))
    records = effects.partition(2)
    kafka = FakeCustomerKafka()
    heard: list[dict[str, object]] = []

    async def scenario() -> None:
        part = CustomerPartition(2, kafka.ports(), RESOLVED, Runtime(Settings()).stats, on_published=heard.extend)
        await part.load(await kafka.read_state())
        kafka.die_after = 5
        with pytest.raises(Crash):
            for i in range(0, len(records), 3):
                await part.apply(records[i : i + 3])
        assert len(heard) < len(kafka.published) == 5, "the failed fetch's records were told to the journal"
        assert [r["change_id"] for r in heard] == [
            decode_resolved(v)["change_id"] for v in kafka.published[: len(heard)]
        ]

    asyncio.run(scenario())
    heard.clear()
    whole = FakeCustomerKafka()

    async def clean() -> None:
        part = CustomerPartition(2, whole.ports(), RESOLVED, Runtime(Settings()).stats, on_published=heard.extend)
        await part.load({})
        for i in range(0, len(records), 4):
            await part.apply(records[i : i + 4])

    asyncio.run(clean())
    assert whole.published and [r["change_id"] for r in heard] == [
        decode_resolved(v)["change_id"] for v in whole.published
    ]


class _Message:
    """A fetched record as `_CustomersLoop` reads it (offset, headers, value)."""

    def __init__(self, record: EffectRecord) -> None:
        self.offset, self.value = record.offset, record.value
        self.headers = [(POSITION_HEADER, record.position)]


class _LoopKafka(CustomersKafka):
    """The loop's Kafka ports over a `FakeCustomerKafka`."""

    def __init__(self, fake: FakeCustomerKafka) -> None:
        super().__init__(BatchSender(None), Settings())
        self.fake = fake

    def ports(self) -> CustomerPorts:
        return self.fake.ports()

    async def read_state(self) -> Mapping[bytes, bytes]:
        return await self.fake.read_state()


def test_a_fetch_begun_before_the_partitions_were_loaded_is_dropped_and_read_again() -> None:
    """The chaos suite's kill -9 (IRL_CUSTOMER_STAGE=kafka): the consumer fetched from the group's committed
    offset while `on_assigned` read the state topic; applied after the load, that fetch skipped the effects
    between the snapshot and the commit (here: a `Planned` for a customer without input, the process ended).

        effects p   0 ......... s | s+1 ........ c-1 | c ........... end
        first life  applied, snapshot at s | applied, committed c | ✕ killed
        restart     load s, seek s+1   fetch begun before the load: c..  dropped, sought back to s+1
                                        next fetch: s+1 .. end applied  ==> the clean run's records
    """
    log = links_log(6)
    clean = clean_run(log)
    effects = _crashing_ordered_stage(log, random.Random(6))
    p = 1
    records = effects.partition(p)
    snap, commit = len(records) // 4, len(records) // 2
    kafka = FakeCustomerKafka()
    settings = Settings()
    consumer = _FakeConsumer({p: len(records)})
    tp = TopicPartition("t-effects", p)

    async def scenario() -> None:
        first = CustomerPartition(p, kafka.ports(), RESOLVED, Runtime(settings).stats, snapshot_interval_s=1e9)
        await first.load({})
        await first.apply(records[:snap])
        assert await first.tend(force=True)
        await first.apply(records[snap:commit])
        stored = stored_snapshot(kafka.state, p)
        assert kafka.commits[p] == commit and stored is not None and stored[0].offset == snap - 1
        loop = _CustomersLoop(settings, Runtime(settings), _LoopKafka(kafka))
        loop.consumer = consumer
        begun = loop.assignments  # a fetch begins ...
        await loop.on_assigned({tp})  # ... while the partition is loaded and sought
        assert consumer.sought == [(p, snap)] and loop.parts[p].applied == snap - 1
        sent = len(kafka.published)
        stale = {tp: [_Message(r) for r in records[commit:]]}  # read from the committed offset
        await loop.apply_fetch(stale, begun)
        assert len(kafka.published) == sent and loop.parts[p].applied == snap - 1, "the stale fetch was applied"
        assert consumer.sought[-1] == (p, snap)
        for i in range(snap, len(records), 7):
            await loop.apply_fetch({tp: [_Message(r) for r in records[i : i + 7]]}, loop.assignments)
        assert loop.parts[p].applied == len(records) - 1

    asyncio.run(scenario())
    check_against(
        [v for v in clean if partition_of(decode_resolved(v)["customer_id"], PARTITIONS) == p], kafka.published
    )


def test_a_clean_stop_stores_the_snapshot_of_every_partition_that_changed() -> None:
    """CI s38 (tests/integration/test_customer_stage_switch.py): a worker stopped right after its records were
    out left partition 0's snapshot 176 customers behind, for the next owner to read the tail again. A clean
    stop stores each held partition's snapshot when effects other than ticks were applied since its last; a
    partition with nothing new stores none; the next owner restores at the last effect."""
    log = links_log(4)
    effects = _crashing_ordered_stage(log, random.Random(4))
    kafka = FakeCustomerKafka()
    settings = Settings()
    loop = _CustomersLoop(settings, Runtime(settings), _LoopKafka(kafka))

    async def scenario() -> None:
        for p in (0, 1):
            part = CustomerPartition(p, kafka.ports(), RESOLVED, loop.rt.stats, snapshot_interval_s=1e9)
            await part.load({})
            records = effects.partition(p)
            await part.apply(records)
            assert not await part.tend(), "stored before the stop: nothing left for it to show"
            loop.parts[p] = part
        assert stored_snapshot(kafka.state, 0) is None
        await loop._store_on_stop()
        for p in (0, 1):
            stored = stored_snapshot(kafka.state, p)
            assert stored is not None and stored[0].offset == len(effects.partition(p)) - 1
        before = dict(kafka.state)
        await loop._store_on_stop()
        assert kafka.state == before, "a stop with nothing new stored a snapshot again"
        restarted = CustomerPartition(0, kafka.ports(), RESOLVED, loop.rt.stats)
        assert await restarted.load(kafka.state) == len(effects.partition(0))
        assert restarted.feed.stage.customer_ids() == loop.parts[0].feed.stage.customer_ids()

    asyncio.run(scenario())
