"""A restart's quiet catch-up: the links records whose outputs are on the broker, applied without them.

links log   T B B T A B T B A T B T ...          (B: events, T: a tick, A: an operator action)
normal      |-- every step built, encoded, published -----------------------------|
quiet       |-- up to R: state only (and the ERASED records) --|R|-- as normal ----|
                                                                  ^ from here: the same steps, byte for
                                                                    byte, and the same snapshot bytes

The stage writes R (``snapshot/published`` in the state topic) only after the broker has
acknowledged every output up to it; a restart applies the tail up to R quietly.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import streams.pipeline
from resolver.config import ResolverConfig
from streams.linkbatch import ACTION, BATCH, TICK, decode_batch, encode_batches
from streams.pipeline import Pipeline, Step
from streams.sequencer import LinkRecord
from streams.snapshots import PUBLISHED_KEY, unpack_state
from tests.unit.test_sequencer import EVENTS, GRACE_MS, NOW, TOPIC_I, WINDOW_MS, FakeKafka, run, sequencer


def _steps(p: Pipeline, rec: LinkRecord, quiet: bool = False) -> list[Step]:
    if rec.kind == TICK:
        return list(p.on_tick(rec.offset, json.loads(rec.value)["now"], quiet=quiet))
    if rec.kind == ACTION:
        return list(p.on_action(rec.offset, json.loads(rec.value), quiet=quiet))
    return p.on_events(rec.offset, decode_batch(rec.value), quiet=quiet)


def _action(p: Pipeline, rng: random.Random, n: int, now: int) -> dict[str, Any] | None:
    """An erase, merge, split or block of customers the log has made so far (chosen from the state)."""
    cids = p.resolver.customer_ids()
    if len(cids) < 2:
        return None
    kind = rng.choice(["erase", "merge", "split", "block", "erase"])
    a, b = rng.sample(cids, 2)
    action: dict[str, Any] = {"action": kind, "customer_id": a, "action_id": f"a{n}", "actor": "t", "at": now}
    profile = p.resolver.profile(a)
    if kind == "merge":
        action["identifier"] = b
    elif kind in ("split", "block"):
        if profile is None or not profile.phones:
            return None
        action["identifier"] = profile.phones[0]
    return action


def rich_log(seed: int) -> list[LinkRecord]:
    """Batches (some events twice), ticks, and operator actions (erasures among them) chosen as the log grows."""
    rng = random.Random(seed)
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    out: list[LinkRecord] = []

    def add(kind: bytes, value: bytes) -> None:
        rec = LinkRecord(len(out), kind, value)
        out.append(rec)
        _steps(p, rec)

    now = NOW
    add(TICK, json.dumps({"now": now}).encode())
    i = 0
    while i < len(EVENTS):
        n = rng.randint(1, 25)
        chunk = EVENTS[i : i + n]
        if rng.random() < 0.2:
            chunk = chunk + chunk[:2]
        i += n
        (value,) = encode_batches(chunk, max_bytes=1 << 30)
        add(BATCH, value)
        if rng.random() < 0.4:
            now += 500 * rng.randint(1, 6)
            add(TICK, json.dumps({"now": now}).encode())
        if rng.random() < 0.15:
            action = _action(p, rng, len(out), now)
            if action is not None:
                add(ACTION, json.dumps(action).encode())
    add(TICK, json.dumps({"now": now + 60_000}).encode())
    return out


def _view(steps: Iterable[Step]) -> dict[str, Any]:
    """What a record's steps did to the state that the read models and the follow-ups see."""
    steps = list(steps)
    removed: dict[str, str | None] = {}
    for s in steps:
        removed.update(s.removed)
    return {
        "touched": set().union(*(s.touched for s in steps)) if steps else set(),
        "removed": removed,
        "forget": [f for s in steps for f in s.forget],
        "notes": [n for s in steps for n in s.notes],
        "closed": [w for s in steps for w in s.closed],
        "events": sum(s.events for s in steps),
        "duplicates": sum(s.duplicates for s in steps),
        "erased": [o for s in steps for r, o in zip(s.records, s.outputs, strict=True) if r["change"] == "ERASED"],
    }


def _full(step: Step) -> tuple[Any, ...]:
    return (
        step.offset,
        step.outputs,
        step.interactions,
        step.records,
        sorted(step.touched),
        sorted(step.removed.items()),
        step.forget,
        step.closed,
        step.notes,
        step.events,
        step.duplicates,
    )


def _replay(log: list[LinkRecord], quiet_through: int, cut: int) -> tuple[list[list[Step]], bytes, bytes]:
    """Every record's steps (quiet up to `quiet_through`), the snapshot right after `cut` and at the end."""
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, interactions_topic=TOPIC_I)
    out: list[list[Step]] = []
    at_cut = b""
    for rec in log:
        out.append(_steps(p, rec, quiet=rec.offset <= quiet_through))
        if rec.offset == cut:
            at_cut = p.snapshot()
    return out, at_cut, p.snapshot()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.floats(0.0, 1.0), chunk=st.sampled_from([2, 7, 200]))
def test_a_quiet_catch_up_leaves_the_same_state_and_the_same_future(seed: int, cut: float, chunk: int) -> None:
    """Normal apply vs. quiet up to R then normal: the same steps after R, byte for byte, the same snapshots."""
    saved = streams.pipeline.CHUNK
    streams.pipeline.CHUNK = chunk  # small chunks: windows published over several steps
    try:
        log = rich_log(seed)
        r = int(cut * (len(log) - 1))
        normal, normal_at_r, normal_end = _replay(log, -1, r)
        quiet, quiet_at_r, quiet_end = _replay(log, r, r)
    finally:
        streams.pipeline.CHUNK = saved
    assert quiet_at_r == normal_at_r, "the same state right after R"
    assert quiet_end == normal_end, "the same snapshot bytes at the end"
    for rec, n_steps, q_steps in zip(log, normal, quiet, strict=True):
        if rec.offset > r:
            assert [_full(s) for s in q_steps] == [_full(s) for s in n_steps], rec.offset
        else:
            assert _view(q_steps) == _view(n_steps), rec.offset
            assert not any(s.interactions for s in q_steps)
            assert all(r["change"] == "ERASED" for s in q_steps for r in s.records)


def test_the_rich_log_exercises_erasures_merges_and_windows_over_several_steps() -> None:
    """The log above is not trivial: it erases, merges, and (with small chunks) spreads windows over steps."""
    kinds: set[str] = set()
    for seed in range(4):
        for steps in _replay(rich_log(seed), -1, -1)[0]:
            kinds.update(r["change"] for s in steps for r in s.records)
    assert {"CREATED", "ERASED", "ABSORBED", "MERGED"} <= kinds


def _clean_by_record(log: list[LinkRecord]) -> dict[int, list[bytes]]:
    """What a clean run sends for each record: its changelog records, then its interactions."""
    p = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, interactions_topic=TOPIC_I)
    out: dict[int, list[bytes]] = {}
    for rec in log:
        steps = _steps(p, rec)
        out[rec.offset] = [v for s in steps for _k, v in s.outputs] + [v for s in steps for _k, v in s.interactions]
    return out


class WatchedKafka(FakeKafka):
    """FakeKafka that checks every ``snapshot/published`` mark against what the broker has."""

    def __init__(self, clean: dict[int, list[bytes]]) -> None:
        super().__init__()
        self.clean = clean
        self.marks: list[int] = []

    def sent(self) -> list[bytes]:
        return self.published + self.interactions_published

    async def send_state(self, records: list[tuple[bytes, bytes | None]]) -> None:
        for key, value in records:
            if key == PUBLISHED_KEY and value is not None:
                mark = json.loads(value)["offset"]
                have = set(self.sent())
                missing = [o for o, outs in self.clean.items() if o <= mark for v in outs if v not in have]
                assert not missing, f"published up to {mark} claimed with {len(missing)} records not sent"
                self.marks.append(mark)
        await super().send_state(records)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    stop=st.floats(0.2, 0.9),
    fetch=st.integers(1, 7),
    snapshot_every=st.sampled_from([2, 1000]),
)
def test_a_restarted_stage_sends_only_what_the_broker_lacks_and_ends_as_a_clean_run(
    seed: int, stop: float, fetch: int, snapshot_every: int
) -> None:
    """kill -9 after a prefix of the log: the restart sends the records after the mark, exactly, once."""
    log = rich_log(seed)
    clean = _clean_by_record(log)
    kafka = WatchedKafka(clean)
    cut = int(stop * len(log))

    async def scenario() -> tuple[int, int, tuple[int, int], int, bytes]:
        await run(sequencer(kafka), log[:cut], fetch, snapshot_every)
        stored = unpack_state(kafka.state)
        mark = stored.published
        at = -1 if stored.manifest is None else stored.manifest.offset
        sent = (len(kafka.published), len(kafka.interactions_published))
        second = sequencer(kafka)  # the first is gone without a word (kill -9)
        await run(second, log, fetch, snapshot_every)
        assert second.rt.pipeline is not None
        # A mark is written after a tick record that follows published outputs (a prefix without a
        # tick after its first events has none: nothing is claimed, the whole tail is sent again).
        kinds = [r.kind for r in log[:cut]]
        first = next((i for i, k in enumerate(kinds) if k == BATCH), len(kinds))
        if TICK in kinds[first + 1 :]:
            assert mark is not None, "the stage says how far its outputs are on the broker"
        return -1 if mark is None else mark, at, sent, second.rt.stats["steps_quiet"], second.rt.pipeline.snapshot()

    mark, at, sent, quiet_steps, end = asyncio.run(scenario())
    # The snapshot may be later than the mark: the records up to it are not applied again at all.
    after = [v for o in sorted(clean) if o > max(mark, at) for v in clean[o]]
    again = kafka.published[sent[0] :] + kafka.interactions_published[sent[1] :]
    assert sorted(again) == sorted(after), "the restart sends the outputs after the mark, and no others"
    assert [v for v in after if v in set(kafka.published)] == kafka.published[sent[0] :], "in order"
    assert set(kafka.sent()) == {v for outs in clean.values() for v in outs}
    assert _replay(log, -1, -1)[2] == end, "and ends in the state of a clean run"
    if at < mark:
        assert quiet_steps > 0
