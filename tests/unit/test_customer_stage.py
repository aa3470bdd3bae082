"""The per-customer stage against today's one-process pipeline: the oracle that makes the split safe.

links log      T B B T A B T B A T ...            (B: events, T: a tick, A: an operator action)
one process    Pipeline ──▶ records of each closed window (profiles built in the ordered stage)
split          Pipeline(customer_stage) ──effects (bytes)──▶ by_partition(P) ──▶ CustomerStage x P
                                                                           └──▶ records, merged
assert         the same records for every links record (same set, versions, confidence, change ids),
               and after every links record the same profile for every live customer, P in {1, 2, 3}
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.pipeline
from resolver.changelog import Planned
from resolver.config import ResolverConfig
from resolver.customer_stage import CustomerStage, StageError
from resolver.effect_codec import by_partition, decode_effect, encode_effect, murmur2, partition_of
from resolver.effect_feed import batches, unbatch
from resolver.effects import Effect, EffectLog, Erased, Patched, Removed, Replaced, Seen, Tick, profile_from_input
from resolver.interaction import from_json
from resolver.resolver import Resolver
from resolver.window import Window
from streams.linkbatch import ACTION, BATCH, TICK, decode_batch, encode_batches
from streams.pipeline import Pipeline, Step
from streams.sequencer import LinkRecord
from streams.synthetic import generate
from tests.unit.test_quiet_catchup import rich_log
from tests.unit.test_sequencer import (
    GRACE_MS,
    WINDOW_MS,
    Crash,
    FakeKafka,
    check_against,
    clean_run,
    links_log,
    run,
    sequencer,
)


def _steps(p: Pipeline, rec: LinkRecord, quiet: bool = False) -> list[Step]:
    if rec.kind == TICK:
        return list(p.on_tick(rec.offset, json.loads(rec.value)["now"], quiet=quiet))
    if rec.kind == ACTION:
        return list(p.on_action(rec.offset, json.loads(rec.value), quiet=quiet))
    return p.on_events(rec.offset, decode_batch(rec.value), quiet=quiet)


def _key(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def check_split(
    log: list[LinkRecord],
    partitions: int,
    window_ms: int,
    grace_ms: int,
    *,
    every: int = 1,
    batched: bool = False,
    memory: int | None = None,
) -> int:
    """Run ``log`` through both; assert the same records per links record and the same profiles.

    Profiles are compared after every ``every``-th action or tick that closes a window (what was noted
    is sent to the partitions then, at the latest), and at the end. Returns how many records were published.
    ``batched``: the effects travel as the effects topic's records (`batches`, small ones:
    values cut often) instead of one by one; ``memory``: the ordered stage remembers the inputs
    it sent of at most that many customers (fewer `Patched`, more `Replaced`).
    """
    config = ResolverConfig()
    one = Pipeline(config, window_ms, grace_ms)
    split = Pipeline(config, window_ms, grace_ms, customer_stage=True)
    if memory is not None:
        assert split.effect_log is not None
        split.effect_log.memory = memory
    stages = [CustomerStage() for _ in range(partitions)]
    published = checks = 0
    for n, rec in enumerate(log):
        expected = sorted(_key(r) for s in _steps(one, rec) for r in s.records)
        if batched:
            ordinals = [0] * partitions
            parts: list[list[Effect]] = [[] for _ in range(partitions)]
            for s in _steps(split, rec):
                for p, pos, value in batches(rec.offset, s.effects, ordinals, max_bytes=600):
                    parts[p].extend(e for _pos, e in unbatch(pos, value))
        else:
            effects = [decode_effect(encode_effect(e)) for s in _steps(split, rec) for e in s.effects]
            parts = by_partition(effects, partitions)
        got: list[str] = []
        for stage, part in zip(stages, parts, strict=True):
            got.extend(_key(r) for r in stage.apply(part))
        assert sorted(got) == expected, f"records of links record {rec.offset}"
        published += len(expected)
        flushed = rec.kind == ACTION or any(isinstance(e, Tick) for part in parts for e in part)
        if flushed:  # an action, or a tick that closed a window: every partition holds its customers as of here
            checks += 1
            if checks % every == 0 or n == len(log) - 1:
                _same_customers(one.resolver, stages, partitions)
    return published


def _same_customers(resolver: Resolver, stages: list[CustomerStage], partitions: int) -> None:
    """Every live customer is in its partition with the resolver's profile, and no other customer is anywhere."""
    live = resolver.customer_ids()
    held = sorted(c for s in stages for c in s.customer_ids())
    assert held == live
    for cid in live:
        stage = stages[partition_of(cid, partitions)]
        assert stage.profile(cid) == resolver.profile(cid), cid
        assert stage.input(cid) == resolver.profile_input(cid), cid


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), partitions=st.sampled_from([1, 2, 3]), chunk=st.sampled_from([2, 7, 200]))
def test_split_over_partitions_publishes_what_one_process_publishes(seed: int, partitions: int, chunk: int) -> None:
    """Any log of events, ticks and actions (block, split, merge, erase): the same records, the same profiles."""
    saved = streams.pipeline.CHUNK
    streams.pipeline.CHUNK = chunk  # small chunks: windows published over several steps
    try:
        check_split(rich_log(seed), partitions, WINDOW_MS, GRACE_MS)
    finally:
        streams.pipeline.CHUNK = saved


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    partitions=st.sampled_from([1, 2, 3]),
    chunk=st.sampled_from([2, 200]),
    memory=st.sampled_from([0, 1, 5, 10_000]),
)
def test_patches_in_batches_publish_what_one_process_publishes(
    seed: int, partitions: int, chunk: int, memory: int
) -> None:
    """Effects as the effects topic carries them (a value per partition per step, cut small), customers sent as
    patches against what the ordered stage remembers sending (none, a few, all): the default mode's records and
    profiles, every partition's input equal to the resolver's."""
    saved = streams.pipeline.CHUNK
    streams.pipeline.CHUNK = chunk
    try:
        check_split(rich_log(seed), partitions, WINDOW_MS, GRACE_MS, batched=True, memory=memory)
    finally:
        streams.pipeline.CHUNK = saved


def test_generated_history_in_batches_with_patches_splits_equal() -> None:
    """Realistic data with actions, batched, patched: most customers come back, and are sent as patches."""
    published = check_split(history_log(300, 8), 3, 15 * 60_000, 60_000, every=5, batched=True)
    assert published > 300


def history_log(customers: int, seed: int, *, actions: bool = True) -> list[LinkRecord]:
    """`irl generate` data as the links log carries it: batches in arrival order, ticks at the events' clock.

    Event times are as generated (days of history, late and out-of-order arrivals); with
    ``actions``, operator actions (block, split, merge, erase, dismiss) of customers made so far.
    """
    rng = random.Random(seed)
    events = [from_json(obj) for obj in generate(customers=customers, seed=seed)[0]]
    shadow = Pipeline(ResolverConfig(), 15 * 60_000, 60_000)
    out: list[LinkRecord] = []

    def add(kind: bytes, value: bytes) -> None:
        rec = LinkRecord(len(out), kind, value)
        out.append(rec)
        _steps(shadow, rec)

    i = 0
    while i < len(events):
        chunk = events[i : i + rng.randint(1, 60)]
        i += len(chunk)
        (value,) = encode_batches(chunk, max_bytes=1 << 30)
        add(BATCH, value)
        if rng.random() < 0.5:
            add(TICK, json.dumps({"now": max(e.occurred_at for e in chunk)}).encode())
        if actions and rng.random() < 0.05:
            action = _action(shadow.resolver, rng, len(out))
            if action is not None:
                add(ACTION, json.dumps(action).encode())
    add(TICK, json.dumps({"now": max(e.occurred_at for e in events) + 3_600_000}).encode())
    return out


def _action(resolver: Resolver, rng: random.Random, n: int) -> dict[str, Any] | None:
    cids = resolver.customer_ids()
    if len(cids) < 2:
        return None
    kind = rng.choice(["erase", "merge", "split", "block", "dismiss", "merge"])
    a, b = rng.sample(cids, 2)
    action: dict[str, Any] = {"action": kind, "customer_id": a, "action_id": f"a{n}", "actor": "t", "at": 0}
    profile = resolver.profile(a)
    if kind in ("merge", "dismiss"):
        action["identifier"] = b
    elif kind in ("split", "block"):
        if profile is None or not (profile.phones or profile.emails):
            return None
        action["identifier"] = (profile.phones or profile.emails)[0]
    return action


@pytest.mark.parametrize("partitions", [1, 2, 3])
def test_generated_history_with_actions_splits_equal(partitions: int) -> None:
    """Realistic data (households, hubs, near phones, typos; days of event time) with operator actions."""
    published = check_split(history_log(300, 7), partitions, 15 * 60_000, 60_000, every=5)
    assert published > 300


def test_generated_history_without_actions_splits_equal() -> None:
    published = check_split(history_log(600, 3, actions=False), 3, 15 * 60_000, 60_000, every=10)
    assert published > 600


def test_a_profile_from_its_input_alone_equals_the_resolvers() -> None:
    """`profile_from_input` (no graph) against `Resolver.profile` for every customer of generated data."""
    r = Resolver(ResolverConfig())
    for obj in generate(customers=500, seed=5)[0]:
        r.apply(from_json(obj))
    for cid in r.customer_ids():
        inp = r.profile_input(cid)
        assert inp is not None
        assert profile_from_input(inp) == r.profile(cid), cid
    assert r.profile_input("no such customer") is None


def test_effects_travel_as_bytes_and_come_back_equal() -> None:
    r = Resolver(ResolverConfig())
    for obj in generate(customers=50, seed=2)[0]:
        r.apply(from_json(obj))
    effects: list[Effect] = [Replaced(c, i) for c in r.customer_ids() if (i := r.profile_input(c)) is not None]
    ids = r.customer_ids()
    inp0 = r.profile_input(ids[0])
    assert inp0 is not None
    effects += [
        Seen(ids[0], inp0.evidence[0]),
        Removed("a", "b"),
        Erased("c"),
        Tick(5),
        Planned("d", "MERGED", 3, Window(0, 10), None, ("e", "f")),
        Planned("g", "ABSORBED", 2, Window(0, 10), "h"),
    ]
    for effect in effects:
        assert decode_effect(encode_effect(effect)) == effect
    with pytest.raises(ValueError):
        decode_effect(b'["z"]')


def test_partitions_are_kafkas_default_partitioner() -> None:
    """murmur2 as Kafka computes it (vectors from Kafka's UtilsTest), and aiokafka's if it has one."""
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107
    from aiokafka.partitioner import murmur2 as theirs

    for i in range(300):
        key = f"c{i:x}-{'x' * (i % 7)}".encode()
        assert murmur2(key) & 0x7FFFFFFF == theirs(key) & 0x7FFFFFFF
    assert all(0 <= partition_of(f"c{i}", 3) < 3 for i in range(100))
    assert {partition_of(f"c{i}", 3) for i in range(100)} == {0, 1, 2}


def test_a_tick_goes_to_every_partition_and_the_rest_to_one() -> None:
    effects: list[Effect] = [Erased("x"), Tick(1), Removed("y", "x")]
    parts = by_partition(effects, 3)
    assert all(Tick(1) in p for p in parts)
    assert sum(len(p) for p in parts) == 5
    assert Erased("x") in parts[partition_of("x", 3)]


def test_a_record_planned_without_the_customers_input_is_an_error() -> None:
    with pytest.raises(StageError):
        CustomerStage().apply([Planned("c", "CREATED", 1, Window(0, 10))])


def test_the_stage_snapshot_loads_back_to_the_same_profiles() -> None:
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, customer_stage=True)
    stage = CustomerStage()
    events = [from_json(obj) for obj in generate(customers=40, seed=9)[0]]
    later = 1 << 45  # a tick that closes every window: what was noted is sent
    for i in range(0, len(events), 50):
        (step,) = p.on_events(i, events[i : i + 50])
        assert not step.effects  # noted: sent at the next tick that closes a window
        stage.apply(e for s in p.on_tick(i, later + i * WINDOW_MS) for e in s.effects)
    loaded = CustomerStage.from_snapshot(stage.snapshot())
    assert loaded.now == later + i * WINDOW_MS
    assert loaded.customer_ids() == stage.customer_ids() == p.resolver.customer_ids()
    assert all(loaded.profile(c) == stage.profile(c) for c in stage.customer_ids())
    touched, removed = stage.take_changes()
    assert touched == set(stage.customer_ids())
    assert removed and not removed.keys() & touched  # merges among them: the absorbed ids left
    assert stage.take_changes() == (set(), {})


def test_an_effect_log_sends_every_customer_a_status_change_shows_on() -> None:
    """A status change (a hub, a shared phone, a near link) shows on every customer holding evidence with the key.

    The graph names them (`Graph.forget_profiles`) and the flush sends their inputs. (In generated
    data the outcomes named them all anyway: 0 beyond them in 3,000 customers; this is the net.)
    """
    r = Resolver(ResolverConfig())
    log = EffectLog()
    r.flush_effects(log)
    g = r._g
    shown = 0
    for obj in generate(customers=300, seed=1)[0]:
        log.note(r.apply(from_json(obj)))
        named = {c for c in g.shown or () if c in g.cust}
        shown += len(named)
        sent = {e.customer_id for e in r.flush_effects(log) if isinstance(e, Replaced | Patched)}
        assert named <= sent
    assert shown > 0


def test_effects_leave_a_pipelines_records_and_snapshot_unchanged() -> None:
    """Switching the per-customer stage on changes what a step carries, not the ordered stage's state."""
    log = rich_log(3)
    a = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    b = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, customer_stage=True)
    for rec in log:
        sa, sb = _steps(a, rec), _steps(b, rec)
        assert not any(s.effects for s in sa)
        assert not any(s.records or s.outputs for s in sb)
        assert [s.closed for s in sa if s.closed] == [s.closed for s in sb if s.closed]
    # b's snapshot adds its effect log (format 2); loaded without effects, it is a's byte for byte.
    assert b.snapshot()[4] == 2 and a.snapshot()[4] == 1
    assert Pipeline.from_snapshot(ResolverConfig(), WINDOW_MS, GRACE_MS, b.snapshot()).snapshot() == a.snapshot()
    restored = Pipeline.from_snapshot(ResolverConfig(), WINDOW_MS, GRACE_MS, b.snapshot(), customer_stage=True)
    assert restored.effect_log is not None
    assert restored.snapshot() == b.snapshot()


def test_an_event_taken_in_place_sends_one_piece_of_evidence_not_the_whole_customer() -> None:
    """Repeats and evidence re-seeing a customer's identifiers are sent as `Seen`; the partition's input stays equal."""
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, customer_stage=True)
    stage = CustomerStage()
    events = [from_json(obj) for obj in generate(customers=200, seed=4)[0]]
    kinds: dict[str, int] = {}
    for i in range(0, len(events), 40):
        p.on_events(i, events[i : i + 40])
        for step in p.on_tick(i, (1 << 45) + i * WINDOW_MS):  # every window closes: what was noted is sent
            for effect in step.effects:
                kinds[type(effect).__name__] = kinds.get(type(effect).__name__, 0) + 1
            stage.apply(step.effects)
    assert kinds["Seen"] > 0 and kinds["Replaced"] > 0
    for cid in p.resolver.customer_ids():
        assert stage.input(cid) == p.resolver.profile_input(cid)


@pytest.mark.parametrize("seed", range(4))
def test_the_worker_with_the_stage_in_process_crashes_and_resumes_to_a_clean_runs_records(seed: int) -> None:
    """`IRL_CUSTOMER_STAGE=3`: crashes at random publishes, restores (the partitions seeded from the
    snapshot's resolver), quiet catch-ups; the resolved topic equals a clean run without the stage."""
    rng = random.Random(seed)
    log = links_log(seed)
    clean = clean_run(log, [])
    kafka = FakeKafka()

    async def scenario() -> None:
        for _ in range(3):
            kafka.die_after = len(kafka.published) + rng.randint(0, max(1, len(clean) // 3))
            with pytest.raises(Crash):
                await run(sequencer(kafka, customer_partitions=3), log, rng.randint(1, 7), rng.randint(1, 4))
        kafka.die_after = None
        await run(sequencer(kafka, customer_partitions=3), log, rng.randint(1, 7), rng.randint(1, 4))

    asyncio.run(scenario())
    check_against(clean, kafka.published)


@pytest.mark.parametrize("quiet_from", [None, 0.5])
def test_a_pipeline_with_the_stage_in_process_sends_the_same_bytes(quiet_from: float | None) -> None:
    """Every links record's outputs, byte for byte and in order, with and without the in-process stage (and quietly)."""
    log = rich_log(5)
    cut = len(log) if quiet_from is None else int(quiet_from * len(log))
    a = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    b = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, customer_partitions=2)
    for rec in log:
        quiet = rec.offset < cut and quiet_from is not None
        out_a = [o for s in _steps(a, rec, quiet) for o in s.outputs]
        out_b = [o for s in _steps(b, rec, quiet) for o in s.outputs]
        assert out_b == out_a, rec.offset
        if rec.offset == len(log) // 3:  # a restore halfway: the partitions start empty
            b = Pipeline.from_snapshot(ResolverConfig(), WINDOW_MS, GRACE_MS, b.snapshot(), customer_partitions=2)
    assert Pipeline.from_snapshot(ResolverConfig(), WINDOW_MS, GRACE_MS, b.snapshot()).snapshot() == a.snapshot()


def test_an_erased_customer_s_names_leave_the_stage_s_name_memos() -> None:
    """The per-customer stage builds profiles (display names memoised by typed name): an erasure drops them."""
    from resolver import display_name as dn
    from resolver.interaction import Interaction

    r = Resolver(ResolverConfig())
    r.apply(Interaction("w1", "WEB", 1_700_000_000_000, "u-1", "signup", "+91 94470 12345", None, "Zora Quillfeather"))
    r.apply(Interaction("w2", "WEB", 1_700_000_001_000, "u-1", "visit", None, None, "ZORAVAR quillfeather"))
    (cid,) = r.customer_ids()
    inp = r.profile_input(cid)
    assert inp is not None
    stage = CustomerStage()
    stage.apply([Replaced(cid, inp)])
    assert stage.profile(cid) is not None

    def held() -> list[str]:
        keys = [k for memo in (dn._MEMO, dn._SHAPES, dn._SCRIPTS) for k in memo] + [v for v in dn._MEMO.values() if v]
        return [k for k in keys if "quillfeather" in k.casefold()]  # a name no other test writes

    assert held()
    stage.apply([Erased(cid)])
    assert held() == []
