"""Switching the per-customer stage over Kafka off and on again: the partitions end with the live customers only.

    links log   [ part A ................ | part B ............ | part C .................. ]
    ordered     stage over Kafka           stage off (format 1   from that snapshot, over Kafka:
                (effects to partitions)    snapshots, no log)    Reset, everyone whole, the tail
    partitions  inputs of A's customers    (nothing arrives)     must hold exactly the live customers

Without the `Reset`, customers absorbed or erased during part B stay in their partitions (and
in their snapshots) for good: an erased person's input among them. With it, every partition
holds the resolver's input for each of its live customers and nothing else, and the records
of part C are the default mode's for the same links records.
"""

from __future__ import annotations

import pytest

from resolver.config import ResolverConfig
from resolver.customer_stage import CustomerStage
from resolver.effect_codec import by_partition, decode_effect, encode_effect
from resolver.effects import Reset
from streams.linkbatch import TICK
from streams.pipeline import Pipeline
from tests.unit.test_customer_stage import _key, _same_customers, _steps
from tests.unit.test_quiet_catchup import rich_log
from tests.unit.test_sequencer import GRACE_MS, WINDOW_MS

PARTITIONS = 3


@pytest.mark.parametrize("seed", [1, 4, 9])
def test_a_switch_from_the_stage_off_resets_the_partitions_then_sends_every_live_customer(seed: int) -> None:
    log = rich_log(seed)
    a, b = len(log) // 3, 2 * len(log) // 3
    config = ResolverConfig()
    one = Pipeline(config, WINDOW_MS, GRACE_MS)  # the default mode over the whole log: the oracle
    kafka = Pipeline(config, WINDOW_MS, GRACE_MS, customer_stage=True)
    stages = [CustomerStage() for _ in range(PARTITIONS)]

    def feed(p: Pipeline, rec_index: int) -> list[str]:
        rec = log[rec_index]
        effects = [decode_effect(encode_effect(e)) for s in _steps(p, rec) for e in s.effects]
        got: list[str] = []
        for stage, part in zip(stages, by_partition(effects, PARTITIONS), strict=True):
            got.extend(_key(r) for r in stage.apply(part))
        return sorted(got)

    for i in range(a):
        expected = sorted(_key(r) for s in _steps(one, log[i]) for r in s.records)
        assert feed(kafka, i) == expected
    off = Pipeline.from_snapshot(config, WINDOW_MS, GRACE_MS, kafka.snapshot())  # the stage switched off
    for i in range(a, b):
        assert sorted(_key(r) for s in _steps(off, log[i]) for r in s.records) == sorted(
            _key(r) for s in _steps(one, log[i]) for r in s.records
        )
    back = Pipeline.from_snapshot(config, WINDOW_MS, GRACE_MS, off.snapshot(), customer_stage=True)
    first = True
    for i in range(b, len(log)):
        expected = sorted(_key(r) for s in _steps(one, log[i]) for r in s.records)
        steps = _steps(back, log[i])
        effects = [e for s in steps for e in s.effects]
        if first and effects:  # the first flush after the switch starts with the Reset
            assert isinstance(effects[0], Reset) and sum(isinstance(e, Reset) for e in effects) == 1
            first = False
        else:
            assert not any(isinstance(e, Reset) for e in effects)
        got: list[str] = []
        for stage, part in zip(stages, by_partition(effects, PARTITIONS), strict=True):
            got.extend(_key(r) for r in stage.apply([decode_effect(encode_effect(e)) for e in part]))
        assert sorted(got) == expected, f"records of links record {log[i].offset}"
    assert not first, "the tail flushed nothing: the test needs a tick or an action after the switch"
    _same_customers(one.resolver, stages, PARTITIONS)
    # the Reset dropped the aliases the partitions held: the ordered stage sent every alias again after it
    held = sorted(a for stage in stages for a in stage.aliases())
    assert held == one.mirror_aliases() and held, "the partitions' aliases together: `Resolver.aliases`"


def test_a_pending_reset_survives_a_snapshot_before_its_flush() -> None:
    """Restored between the switch and its first flush (a format-2 snapshot then), the Reset still goes first."""
    log = rich_log(2)
    config = ResolverConfig()
    off = Pipeline(config, WINDOW_MS, GRACE_MS)
    for rec in log[: len(log) // 2]:
        _steps(off, rec)
    back = Pipeline.from_snapshot(config, WINDOW_MS, GRACE_MS, off.snapshot(), customer_stage=True)
    again = Pipeline.from_snapshot(config, WINDOW_MS, GRACE_MS, back.snapshot(), customer_stage=True)
    for p in (back, again):
        effects = [e for rec in log[len(log) // 2 :] for s in _steps(p, rec) for e in s.effects]
        assert isinstance(effects[0], Reset)
    # once flushed, a snapshot (format 2) asks for none: a later restart sends no Reset
    later = Pipeline.from_snapshot(config, WINDOW_MS, GRACE_MS, again.snapshot(), customer_stage=True)
    tick = [rec for rec in log if rec.kind == TICK][-1]
    assert not [e for s in _steps(later, tick) for e in s.effects if isinstance(e, Reset)]


def test_a_partition_that_applies_a_reset_snapshots_at_once_and_deletes_what_it_held_before() -> None:
    """Stale inputs may be an erased person's: as after an erasure, the effects and snapshots before go."""
    import asyncio

    from resolver.effect_codec import encode_effect as enc
    from resolver.effect_feed import PartitionFeed, encode_position, place
    from resolver.effects import Effect, Replaced, Tick
    from resolver.interaction import from_json
    from resolver.resolver import Resolver
    from streams.customer_state import stored_snapshot
    from streams.customers import CustomerPartition, EffectRecord
    from streams.runtime import Runtime
    from streams.settings import Settings
    from tests.unit.test_customers import RESOLVED, FakeCustomerKafka
    from tests.unit.test_sequencer import NOW

    resolver = Resolver(ResolverConfig())
    ids = []
    for n in (1, 2):
        event = {"event_id": f"e{n}", "touchpoint": "WEB", "source_id": f"u{n}", "occurred_at": NOW, "interaction": "v"}
        cid = resolver.apply(from_json(event)).customer_id
        assert cid is not None
        ids.append(cid)
    inputs = [resolver.profile_input(c) for c in ids]
    assert inputs[0] is not None and inputs[1] is not None
    stale, live = ids
    effects: list[Effect] = [Replaced(stale, inputs[0]), Tick(10), Reset(), Replaced(live, inputs[1]), Tick(20)]
    records = [EffectRecord(i, encode_position(pos), enc(e)) for i, (pos, e) in enumerate(place(7, effects))]
    kafka = FakeCustomerKafka()
    truncated: list[tuple[int, int, int | None]] = []

    async def truncate(partition: int, before: int, state_before: int | None) -> None:
        truncated.append((partition, before, state_before))

    ports = kafka.ports()
    ports.truncate = truncate

    async def scenario() -> None:
        part = CustomerPartition(0, ports, RESOLVED, Runtime(Settings()).stats, 3600.0, clock=lambda: 0.0)
        await part.load(kafka.state)
        await part.apply(records)
        assert await part.tend(), "a snapshot at once after a Reset, whatever the interval"
        assert truncated and truncated[0][:2] == (0, len(records))
        stored = stored_snapshot(kafka.state, 0)
        assert stored is not None
        assert PartitionFeed.from_snapshot(stored[1]).stage.customer_ids() == [live]

    asyncio.run(scenario())


@pytest.mark.parametrize("seed", range(4))
def test_a_switch_after_a_crash_sends_the_tail_again_in_the_new_mode(seed: int) -> None:
    """The published mark of one mode does not let the other apply its tail quietly.

    off:    ──records──▶ resolved        mark at m (records of the links log up to m on the broker)
    ✕ crash, restart with the stage over Kafka from the snapshot before m
    kafka:  the tail up to m applied quietly would send no effect (not even the Reset and the whole
            customers): partitions without inputs. It is sent again, and the partitions publish
            the clean run's records (the off mode's, again: duplicates of the same bytes).
    """
    import asyncio
    import random

    from streams.snapshots import PUBLISHED_KEY
    from tests.unit.test_customers import (
        EffectsKafka,
        FakeCustomerKafka,
        effects_sequencer,
        run_partition,
    )
    from tests.unit.test_sequencer import Crash, check_against, clean_run, links_log, run, sequencer

    rng = random.Random(seed)
    log = links_log(seed)
    clean = clean_run(log)
    kafka = EffectsKafka()

    async def ordered() -> None:
        kafka.die_after = len(clean) // 3 + rng.randint(0, len(clean) // 3)  # records published before the death
        with pytest.raises(Crash):
            await run(sequencer(kafka), log, rng.randint(2, 6), rng.randint(3, 6))
        kafka.die_after = None
        assert PUBLISHED_KEY in kafka.state, "the off mode marked what it published"
        await run(effects_sequencer(kafka), log, rng.randint(2, 6), 4)

    asyncio.run(ordered())
    customers = FakeCustomerKafka()
    held: list[str] = []

    async def partitions() -> None:
        for p in range(PARTITIONS):
            part = await run_partition(customers, p, kafka.partition(p), rng.randint(1, 20), 2)
            held.extend(part.feed.stage.customer_ids())

    asyncio.run(partitions())
    check_against(clean, kafka.published + customers.published)
    one = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    for rec in log:
        _steps(one, rec)
    assert sorted(held) == one.resolver.customer_ids()
