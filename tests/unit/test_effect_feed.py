"""The effects stream over Kafka: at least once from the ordered stage, exactly once into each partition.

links log      T B B T A B T B A T ...                  (B: events, T: a tick, A: an operator action)
clean run      Pipeline(customer_stage) ──▶ effects e(offset, index) ──▶ PartitionFeed x P ──▶ records
crashed runs   ──▶ e(0,0) .. e(k,i)  ✕   restore at s <= k (snapshot + pending effect log)
                                         ──▶ e(s+1,0) .. again, the same positions and customers ──▶ ...
partitions     skip what they applied (by position), crash too, restore their own snapshot
assert         after any restore point, effects for the same customers at the same positions
               that bring each partition to the clean run's inputs; the same records (one
               content per customer version) as the clean run
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import streams.pipeline
from resolver.config import ResolverConfig
from resolver.effect_feed import PartitionFeed, Position, batches, decode_position, encode_position, place, unbatch
from resolver.effects import Effect, EffectLog, Patched, Replaced, Seen, Tick
from resolver.interaction import from_json
from streams.pipeline import Pipeline
from streams.sequencer import LinkRecord
from streams.synthetic import generate
from tests.unit.test_customer_stage import _steps
from tests.unit.test_quiet_catchup import rich_log
from tests.unit.test_sequencer import GRACE_MS, WINDOW_MS

#: (partition, position of its first effect, value): a record of the effects topic (one partition's effects of a step)
Sent = tuple[int, Position, bytes]


def _effects(p: Pipeline, rec: LinkRecord, partitions: int = 1) -> list[Sent]:
    """The records of effects of one links record, as the ordered stage sends them (`batches`)."""
    ordinals = [0] * partitions
    return [sent for s in _steps(p, rec) for sent in batches(rec.offset, s.effects, ordinals)]


def _stage(snapshot: bytes | None = None) -> Pipeline:
    config = ResolverConfig()
    if snapshot is None:
        return Pipeline(config, WINDOW_MS, GRACE_MS, customer_stage=True)
    return Pipeline.from_snapshot(config, WINDOW_MS, GRACE_MS, snapshot, customer_stage=True)


def _clean(log: list[LinkRecord], partitions: int = 1) -> list[Sent]:
    p = _stage()
    return [sent for rec in log for sent in _effects(p, rec, partitions)]


def _to_partitions(sent: list[Sent], partitions: int) -> list[list[Sent]]:
    """What each partition of the effects topic holds."""
    out: list[list[Sent]] = [[] for _ in range(partitions)]
    for item in sent:
        out[item[0]].append(item)
    return out


def _decoded(items: list[Sent]) -> list[tuple[Position, Effect]]:
    return [placed for _p, pos, value in items for placed in unbatch(decode_position(encode_position(pos)), value)]


def _who(effect: Effect) -> tuple[str, str | None]:
    """What a position names whatever run sent it: the kind (an input whole or patched alike) and the customer."""
    kind = "input" if isinstance(effect, Replaced | Patched) else type(effect).__name__
    return kind, getattr(effect, "customer_id", None)


def _key(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cut=st.floats(0.0, 1.0),
    chunk=st.sampled_from([3, 200]),
    partitions=st.sampled_from([1, 3]),
)
def test_a_restore_at_any_offset_sends_effects_that_bring_partitions_to_the_clean_runs_state(
    seed: int, cut: float, chunk: int, partitions: int
) -> None:
    """A snapshot at any links offset (between two ticks too), loaded, then the tail: at every position an effect
    for the same customer (sent whole where the clean run sent a patch: the restored stage remembers no input),
    and partitions fed the clean run up to the snapshot, then the restored tail, publish the clean run's records
    and end with its inputs."""
    saved = streams.pipeline.CHUNK
    streams.pipeline.CHUNK = chunk
    try:
        log = rich_log(seed)
        clean = _clean(log, partitions)
        at = int(cut * (len(log) - 1))
        p = _stage()
        for rec in log[: at + 1]:
            _effects(p, rec, partitions)
        restored = _stage(p.snapshot())
        again = [sent for rec in log[at + 1 :] for sent in _effects(restored, rec, partitions)]
        for mine, theirs in zip(_to_partitions(again, partitions), _to_partitions(clean, partitions), strict=True):
            tail = [(pos, _who(e)) for pos, e in _decoded(theirs) if pos.offset > at]
            assert [(pos, _who(e)) for pos, e in _decoded(mine)] == tail
        for mine, theirs in zip(_to_partitions(again, partitions), _to_partitions(clean, partitions), strict=True):
            before = [s for s in theirs if s[1].offset <= at]
            one, two = PartitionFeed(), PartitionFeed()
            one.apply(_decoded(before))
            two.apply(_decoded(before))
            expected = [_key(r) for r in one.apply(_decoded(theirs[len(before) :]))]
            assert [_key(r) for r in two.apply(_decoded(mine))] == expected
            assert two.snapshot() == one.snapshot()
    finally:
        streams.pipeline.CHUNK = saved


def test_without_its_pending_log_a_restore_between_two_ticks_loses_effects() -> None:
    """The mutation the snapshot's effect log closes: customers touched before the snapshot, sent at the next tick."""
    events = [from_json(obj) for obj in generate(customers=30, seed=3)[0]]
    p = _stage()
    p.on_events(0, events)
    tick = [e for s in p.on_tick(1, 5) for e in s.effects]
    p = _stage()
    p.on_events(0, events)
    restored = _stage(p.snapshot())
    assert [e for s in restored.on_tick(1, 5) for e in s.effects] == tick
    forgetful = _stage(p.snapshot())
    forgetful.effect_log = EffectLog()
    lost = [e for s in forgetful.on_tick(1, 5) for e in s.effects]
    assert any(isinstance(e, Replaced) for e in tick)
    assert not any(isinstance(e, Replaced | Seen) for e in lost)  # the windows' records planned for nobody


def test_a_snapshot_without_an_effect_log_sends_every_customer() -> None:
    """Switching the stage over Kafka on: the partitions hold nobody, so the first flush sends everyone whole."""
    events = [from_json(obj) for obj in generate(customers=30, seed=3)[0]]
    off = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    off.on_events(0, events)
    on = _stage(off.snapshot())
    sent = [e for s in on.on_tick(2, 1 << 45) for e in s.effects]  # the windows close: the effects go first
    assert sorted(e.customer_id for e in sent if isinstance(e, Replaced)) == off.resolver.customer_ids()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    partitions=st.sampled_from([1, 2, 3]),
    crashes=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)), max_size=3),
    feed_crash=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_partitions_fed_at_least_once_publish_the_clean_runs_records(
    seed: int,
    partitions: int,
    crashes: list[tuple[float, float, float]],
    feed_crash: tuple[float, float],
) -> None:
    """The ordered stage crashes (after sending any prefix of its effects) and restores from an earlier
    snapshot; each partition crashes too and restores its own snapshot. The records: the clean run's."""
    log = rich_log(seed)
    clean = _clean(log, partitions)
    expected = _records(clean, partitions, None)
    topic = _crashed_topic(log, crashes, partitions)
    placed = [(part, pos) for part, pos, _value in clean]
    assert list(dict.fromkeys((part, pos) for part, pos, _v in topic)) == placed  # every one, some twice or more
    got = _records(topic, partitions, feed_crash)
    assert set(got) == set(expected), "the deduplicated records differ from a clean run's"
    versions: dict[tuple[str, int], set[str]] = {}
    for key in got:
        rec = json.loads(key)
        versions.setdefault((rec["customer_id"], rec["version"]), set()).add(key)
    assert all(len(v) == 1 for v in versions.values()), "one customer version with two contents"


def _crashed_topic(log: list[LinkRecord], crashes: list[tuple[float, float, float]], partitions: int) -> list[Sent]:
    """The effects topic after ordered-stage runs that each died: (how far it got, snapshot point, sent prefix).

    A stored snapshot's effects are all on the broker (the stage snapshots only what `apply`
    settled), so the broker holds at least them and any prefix of what was sent after.
    """
    topic: list[Sent] = []
    start, snapshot = 0, None  # the next record to apply, and the snapshot of the record before it
    for far, snap, prefix in crashes:
        p = _stage(snapshot)
        end = start + int(far * (len(log) - start))  # applied records [start, end)
        at = start + int(snap * (end - start))  # its last snapshot, of the records before `at`
        sent: list[Sent] = []
        held = 0  # effects of the records before `at`
        taken = snapshot
        for rec in log[start:end]:
            sent.extend(_effects(p, rec, partitions))
            if rec.offset + 1 == at:
                taken, held = p.snapshot(), len(sent)
        topic.extend(sent[: held + int(prefix * (len(sent) - held))])
        if taken is not snapshot:
            start, snapshot = at, taken
    p = _stage(snapshot)
    topic.extend(sent for rec in log[start:] for sent in _effects(p, rec, partitions))
    return topic


def _records(topic: list[Sent], partitions: int, crash: tuple[float, float] | None) -> list[str]:
    """Every record the partitions publish from the topic; with ``crash``, each partition dies once and restores."""
    out: list[str] = []
    for items in _to_partitions(topic, partitions):
        decoded = _decoded(items)
        feed = PartitionFeed()
        if crash is None:
            out.extend(_key(r) for r in feed.apply(decoded))
            continue
        died = int(crash[0] * len(decoded))
        stored = int(crash[1] * died)  # its snapshot was taken after `stored` effects of the partition
        out.extend(_key(r) for r in feed.apply(decoded[:stored]))
        snapshot = feed.snapshot()
        out.extend(_key(r) for r in feed.apply(decoded[stored:died]))
        feed = PartitionFeed.from_snapshot(snapshot)
        out.extend(_key(r) for r in feed.apply(decoded[stored:]))
    return out


def test_positions_travel_as_twelve_bytes_and_order_by_offset_then_index() -> None:
    assert decode_position(encode_position(Position(41230, 7))) == Position(41230, 7)
    assert len(encode_position(Position(2**40, 2**31))) == 12
    assert Position(3, 9) < Position(4, 0) < Position(4, 1)
    items = place(5, [Tick(1), Tick(2)], start=3)
    assert [p for p, _ in items] == [Position(5, 3), Position(5, 4)]


def test_a_feed_applies_an_effect_once_however_often_it_comes() -> None:
    rng = random.Random(1)
    log = rich_log(1)
    clean = _decoded(_clean(log))
    once = PartitionFeed()
    expected = [_key(r) for r in once.apply(clean)]
    twice = PartitionFeed()
    got: list[str] = []
    i = 0
    while i < len(clean):  # fetches that each re-read an earlier stretch, as after the ordered stage restored
        n = rng.randint(1, 40)
        back = rng.randint(0, min(i, 30))
        got.extend(_key(r) for r in twice.apply(clean[i - back : i + n]))
        i += n
    assert got == expected
    assert twice.last == once.last == clean[-1][0]
    assert PartitionFeed.from_snapshot(twice.snapshot()).snapshot() == once.snapshot()
