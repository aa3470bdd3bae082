"""The ordered stage in process: a links log through `Sequencer` with fake ports, crashed and resumed.

links log   B B T B A B T B B T ...          (B: a batch of events, T: a tick, A: an action)
run 1       |--apply--|snapshot|--apply--X    (X: the process dies: anywhere, even mid-publish)
run 2                 restore ─▶ tail ─────▶  to the end
oracle      a clean Pipeline over the whole log: the same records, deduplicated by change_id,
            and one content per (customer id, version)
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import from_json
from resolver.linking import found_of
from streams.codec import decode_resolved
from streams.linkbatch import (
    ACTION,
    BATCH,
    TICK,
    decode_batch,
    encode_batches,
    encode_found_batches,
    founds_of,
    parser_fingerprint,
)
from streams.pipeline import Pipeline, Step
from streams.runtime import Runtime
from streams.sequencer import IDLE_SNAPSHOT_S, Fenced, LinkRecord, Ports, Sequencer, snapshot_due
from streams.settings import Settings
from streams.snapshots import (
    CHUNK_BYTES,
    MANIFEST_KEY,
    PUBLISHED_KEY,
    BackgroundSnapshot,
    snapshot_records,
    unpack_state,
)
from streams.state_store import InMemoryStateLog, encode_wal
from streams.synthetic import generate

WINDOW_MS, GRACE_MS = 2000, 1000
TOPIC_I = "irl.interactions.resolved"
NOW = 1_800_000_000_000
#: Live events, 150 ms apart from NOW: their times close 2-s windows between ticks, where the cut of the
#: log into fetches would decide a window's records if windows closed on event time alone.
EVENTS = [
    dataclasses.replace(from_json(obj), occurred_at=NOW + 150 * i)
    for i, obj in enumerate(generate(customers=80, seed=12)[0])
]


def links_log(seed: int, found: ResolverConfig | None = None) -> list[LinkRecord]:
    """Batches of events (some sent twice), ticks between them, and one split action.

    `found`: each batch carries triage's findings (`streams.linkbatch.encode_found_batches`) by a
    parser of this configuration, under its fingerprint."""
    rng = random.Random(seed)
    out: list[LinkRecord] = [LinkRecord(0, TICK, json.dumps({"now": NOW}).encode())]
    now = NOW
    i = 0
    while i < len(EVENTS):
        n = rng.randint(1, 25)
        chunk = EVENTS[i : i + n]
        if rng.random() < 0.2:
            chunk = chunk + chunk[:2]  # a duplicate triaged twice
        i += n
        if found is None:
            (value,) = encode_batches(chunk, max_bytes=1 << 30)
            out.append(LinkRecord(len(out), BATCH, value))
        else:
            parser = IdentifierParser(found)
            founds = [found_of(parser, e.touchpoint, e.source_id, e.phone, e.email, e.name) for e in chunk]
            ((value, header),) = encode_found_batches(chunk, founds, parser_fingerprint(found), max_bytes=1 << 30)
            out.append(LinkRecord(len(out), BATCH, value, header))
        if rng.random() < 0.4:
            now += 500 * rng.randint(1, 6)
            out.append(LinkRecord(len(out), TICK, json.dumps({"now": now}).encode()))
    action = {"action": "block", "identifier": "email:nobody@example.com", "action_id": "a1", "actor": "t", "at": now}
    out.append(LinkRecord(len(out), ACTION, json.dumps(action).encode()))
    out.append(LinkRecord(len(out), TICK, json.dumps({"now": now + 60_000}).encode()))
    return out


def clean_run(log: list[LinkRecord], interactions: list[bytes] | None = None) -> list[bytes]:
    """What one uninterrupted pipeline publishes for `log` (encoded records in order; interactions appended)."""
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS, interactions_topic=TOPIC_I)
    out: list[bytes] = []
    for rec in log:
        if rec.kind == TICK:
            steps: Iterable[Step] = pipeline.on_tick(rec.offset, json.loads(rec.value)["now"])
        elif rec.kind == ACTION:
            steps = pipeline.on_action(rec.offset, json.loads(rec.value))
        else:
            from streams.linkbatch import decode_batch

            steps = pipeline.on_events(rec.offset, decode_batch(rec.value))
        for step in steps:
            out.extend(v for _k, v in step.outputs)
            if interactions is not None:
                interactions.extend(v for _k, v in step.interactions)
    return out


class Crash(Exception):
    """The process dies here."""


class FakeKafka:
    """The state topic as a dict (compacted), the resolved topic as a list; can die after N publishes.

    Queued sends (`queue_publish`, `queue_interactions`) reach the broker in queue order in
    tasks of their own, as acknowledgements arrive while the stage goes on; `hold` keeps
    them from arriving until `release`. A death (`die_after`) loses whatever was queued after it.
    """

    def __init__(self) -> None:
        self.state: dict[bytes, bytes] = {}
        self.published: list[bytes] = []
        self.interactions_published: list[bytes] = []
        self.die_after: int | None = None
        #: the process died at `die_after`: nothing queued reaches the broker any more
        self.dead = False
        #: when set, queued records wait (unacknowledged) until `release`
        self.hold: asyncio.Event | None = None
        #: refuse queued records with this error instead of taking them
        self.refuse: Exception | None = None
        #: how many queued sends the broker has not acknowledged yet
        self.unacked = 0
        self._last: asyncio.Future[None] | None = None
        #: which process (`sequencer`) queues now; what an earlier one queued never arrives
        self.process = 0

    def release(self) -> None:
        assert self.hold is not None
        self.hold.set()

    async def queue_publish(self, outputs: list[tuple[bytes, bytes]]) -> list[asyncio.Future[None]]:
        return [self._queue(outputs, self.publish)]

    async def queue_interactions(self, records: list[tuple[bytes, bytes]]) -> list[asyncio.Future[None]]:
        return [self._queue(records, self.interactions)]

    def _queue(self, records: list[tuple[bytes, bytes]], take: Any) -> asyncio.Future[None]:
        """One send, taken by the broker after every send queued before it (a producer's order)."""
        before = self._last
        self._last = asyncio.ensure_future(self._arrive(records, take, before, self.process))
        return self._last

    async def _arrive(
        self, records: list[tuple[bytes, bytes]], take: Any, before: asyncio.Future[None] | None, process: int
    ) -> None:
        self.unacked += 1
        try:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own sender's to read
            if self.hold is not None:
                await self.hold.wait()
            if self.dead or process != self.process:
                return  # queued by a process that died: lost with it
            if self.refuse is not None:
                raise self.refuse
            try:
                await take(records)
            except Crash:
                self.dead = True
                raise
        finally:
            self.unacked -= 1

    async def read_state(self) -> dict[bytes, bytes]:
        return dict(self.state)

    async def send_state(self, records: list[tuple[bytes, bytes | None]]) -> None:
        for key, value in records:
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value

    async def publish(self, outputs: list[tuple[bytes, bytes]]) -> None:
        for _key, value in outputs:
            if self.die_after is not None and len(self.published) >= self.die_after:
                raise Crash
            self.published.append(value)

    async def interactions(self, records: list[tuple[bytes, bytes]]) -> None:
        self.interactions_published.extend(v for _k, v in records)

    async def nothing(self, *_args: Any) -> None:
        return None


class FakeMirror:
    def __init__(self) -> None:
        self.offsets: list[int] = []

    async def step(self, step: Step) -> None:
        self.offsets.append(step.offset)

    async def resume(self, applied: int) -> None:
        return None

    async def check(self, force: bool) -> None:
        return None


class InlineSnapshot:
    """`BackgroundSnapshot` without the fork: the snapshot is taken at once and handed over on the next poll."""

    def __init__(self) -> None:
        self.done: tuple[int, bytes, float] | None = None

    @property
    def running(self) -> bool:
        return False

    def start(self, pipeline: Pipeline, offset: int) -> None:
        self.done = (offset, pipeline.snapshot(), 0.0)

    def poll(self) -> tuple[int, bytes, float] | None:
        done, self.done = self.done, None
        return done

    def abandon(self) -> None:
        self.done = None


def sequencer(
    kafka: FakeKafka, interval_s: float = 0.0, queued: bool = True, customer_partitions: int = 0
) -> Sequencer:
    """A stage on `kafka` (a new process: a death before is over).

    `queued`: sends are not awaited one by one (as in the worker). `customer_partitions`:
    `IRL_CUSTOMER_STAGE`.
    """
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
        queue_publish=kafka.queue_publish if queued else None,
        queue_interactions=kafka.queue_interactions if queued else None,
    )
    topic = "irl.customers.resolved"
    return Sequencer(
        rt,
        ResolverConfig(),
        WINDOW_MS,
        GRACE_MS,
        topic,
        ports,
        InlineSnapshot(),
        interval_s,
        interactions_topic=TOPIC_I,
        customer_partitions=customer_partitions,
    )


async def run(seq: Sequencer, log: list[LinkRecord], fetch: int, snapshot_every: int) -> None:
    """What the Kafka loop does: restore, seek, then fetches of `fetch` records, tending snapshots between."""
    position = await seq.restore()
    fetches = 0
    while position < len(log):
        records = log[position : position + fetch]
        await seq.apply(records, seq.rt.writer_epoch)
        position = records[-1].offset + 1
        fetches += 1
        if fetches % snapshot_every == 0:
            await seq.tend()  # starts one
            await seq.tend()  # stores it


def check_against(clean: list[bytes], published: list[bytes]) -> None:
    assert set(published) == set(clean), "the deduplicated resolved topic differs from a clean run"
    versions: dict[tuple[str, int], set[bytes]] = {}
    for value in published:
        rec = decode_resolved(value)
        versions.setdefault((rec["customer_id"], rec["version"]), set()).add(value)
    forked = [k for k, v in versions.items() if len(v) > 1]
    assert not forked, f"one customer version published with two contents: {forked[:3]}"


@pytest.mark.parametrize("queued", [True, False], ids=["queued", "awaited"])
@pytest.mark.parametrize("seed", range(6))
def test_crash_anywhere_and_resume_from_the_snapshot_and_the_tail(seed: int, queued: bool) -> None:
    rng = random.Random(seed)
    log = links_log(seed)
    clean_interactions: list[bytes] = []
    clean = clean_run(log, clean_interactions)
    assert len(clean) > 50
    kafka = FakeKafka()

    async def scenario() -> None:
        for _ in range(3):  # three crashes, each at a random publish, each run cut into other fetches
            kafka.die_after = len(kafka.published) + rng.randint(0, max(1, len(clean) // 3))
            with pytest.raises(Crash):
                await run(sequencer(kafka, queued=queued), log, rng.randint(1, 7), rng.randint(1, 4))
        kafka.die_after = None
        await run(sequencer(kafka, queued=queued), log, rng.randint(1, 7), rng.randint(1, 4))

    asyncio.run(scenario())
    check_against(clean, kafka.published)
    assert set(kafka.interactions_published) == set(clean_interactions)
    manifest = unpack_state(kafka.state).manifest
    assert manifest is not None and manifest.offset <= len(log) - 1


@pytest.mark.parametrize("fingerprint", ["own", "another parser's"])
@pytest.mark.parametrize("seed", range(3))
def test_triage_findings_change_nothing_over_crashes_and_resumes(seed: int, fingerprint: str) -> None:
    """Batches carrying triage's findings publish what a clean run parsing every event publishes,
    over crashes and restores; findings of another parser (another configuration: other keys for the
    same phones, which taken would change the customers) are not taken."""
    rng = random.Random(seed)
    config = ResolverConfig() if fingerprint == "own" else ResolverConfig(default_region="US")
    log = links_log(seed, found=config)
    if fingerprint != "own":  # the other parser's findings differ: taking them would show
        parsed = [decode_batch(r.value) for r in log if r.kind == BATCH]
        assert any(
            founds_of(r.found, parser_fingerprint(config), len(p))
            != [
                found_of(IdentifierParser(ResolverConfig()), e.touchpoint, e.source_id, e.phone, e.email, e.name)
                for e in p
            ]
            for r, p in zip([r for r in log if r.kind == BATCH], parsed, strict=True)
        )
    clean_interactions: list[bytes] = []
    clean = clean_run(links_log(seed), clean_interactions)
    kafka = FakeKafka()

    async def scenario() -> None:
        for _ in range(2):
            kafka.die_after = len(kafka.published) + rng.randint(0, max(1, len(clean) // 3))
            with pytest.raises(Crash):
                await run(sequencer(kafka), log, rng.randint(1, 7), rng.randint(1, 4))
        kafka.die_after = None
        last = sequencer(kafka)
        await run(last, log, rng.randint(1, 7), rng.randint(1, 4))
        parsed_again = last.rt.stats["events_parsed_again"]
        assert parsed_again == 0 if fingerprint == "own" else parsed_again > 0

    asyncio.run(scenario())
    check_against(clean, kafka.published)
    assert set(kafka.interactions_published) == set(clean_interactions)


def test_steps_go_on_while_the_broker_acknowledges_and_apply_returns_once_it_has_all() -> None:
    log = links_log(2)
    clean_interactions: list[bytes] = []
    clean = clean_run(log, clean_interactions)
    kafka = FakeKafka()

    async def scenario() -> None:
        kafka.hold = asyncio.Event()
        seq = sequencer(kafka)
        await seq.restore()
        applying = asyncio.ensure_future(seq.apply(log, seq.rt.writer_epoch))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while kafka.unacked < 3 and not applying.done() and loop.time() < deadline:
            await asyncio.sleep(0)
        assert kafka.unacked >= 3, "later steps were queued while the first waited for the broker"
        assert not applying.done(), "apply does not return before the broker has every output"
        assert PUBLISHED_KEY not in kafka.state, "no mark claims outputs the broker has not acknowledged"
        kafka.release()
        await applying
        assert kafka.unacked == 0 and seq.rt.applied_offset == len(log) - 1

    asyncio.run(scenario())
    check_against(clean, kafka.published)
    assert set(kafka.interactions_published) == set(clean_interactions)

    awaited = FakeKafka()  # each send awaited before the next step: the order the broker must see

    async def one_by_one() -> None:
        seq = sequencer(awaited, queued=False)
        await seq.restore()
        await seq.apply(log, seq.rt.writer_epoch)

    asyncio.run(one_by_one())
    assert kafka.published == awaited.published, "changelog records reach the broker in the same order"
    assert kafka.interactions_published == awaited.interactions_published


def test_a_send_the_broker_refuses_fails_the_apply_and_nothing_claims_it() -> None:
    log = links_log(4)
    kafka = FakeKafka()
    kafka.refuse = RuntimeError("NotEnoughReplicas")

    async def scenario() -> None:
        seq = sequencer(kafka)
        await seq.restore()
        with pytest.raises(RuntimeError, match="NotEnoughReplicas"):
            await seq.apply(log, seq.rt.writer_epoch)
        await seq.tend()
        await seq.tend()

    asyncio.run(scenario())
    assert not kafka.published and PUBLISHED_KEY not in kafka.state
    assert MANIFEST_KEY not in kafka.state, "no snapshot stored over outputs the broker refused"


def test_snapshot_due_by_the_tail_in_a_backlog_by_the_clock_when_keeping_up() -> None:
    # (changes, age of the last snapshot, seconds since the last change, interval, tail, behind)
    assert not snapshot_due(0, 100.0, 100.0, 5.0, 1000, behind=False), "nothing changed"
    assert snapshot_due(1, 0.0, IDLE_SNAPSHOT_S, 5.0, 1000, behind=True), "idle after changes: at once"
    assert snapshot_due(1, 5.0, 0.0, 5.0, 1000, behind=False), "keeping up: every interval"
    assert not snapshot_due(999, 60.0, 0.0, 5.0, 1000, behind=True), "a backlog: not by the clock"
    assert snapshot_due(1000, 0.1, 0.0, 5.0, 1000, behind=True), "a backlog: by its tail"
    assert snapshot_due(1000, 0.1, 0.0, 5.0, 1000, behind=False), "the tail bound holds when keeping up too"


@pytest.mark.parametrize("behind", [True, False], ids=["backlog", "keeping-up"])
def test_a_backlog_snapshots_by_its_tail_not_by_the_clock(behind: bool) -> None:
    """A slow backlog takes a snapshot per `snapshot_tail_events` events; keeping up, one per interval."""
    log = links_log(2)
    kafka = FakeKafka()
    seq = sequencer(kafka, interval_s=1.0)
    now = [1000.0]

    def clock() -> float:  # time goes by as the stage works: 0.4 s each look, so never a second idle
        now[0] += 0.4
        return now[0]

    seq.clock = clock
    seq.snapshot_tail_events = 60
    if behind:
        seq.rt.links_position = lambda: len(log) + 100  # a backlog: more records wait than the stage reads here
    started: list[tuple[int, int]] = []  # (links offset, events applied) at each snapshot's start
    snapshots = seq.snapshots
    assert isinstance(snapshots, InlineSnapshot)
    start = snapshots.start

    def counting(pipeline: Pipeline, offset: int) -> None:
        started.append((offset, seq.rt.stats["events_applied"] + seq.rt.stats["duplicates"]))
        start(pipeline, offset)

    snapshots.start = counting  # type: ignore[method-assign]

    async def scenario() -> None:
        position = await seq.restore()
        while position < len(log) - 1:  # the last record stays unread: the stage never idles here
            records = log[position : min(position + 3, len(log) - 1)]
            await seq.apply(records, seq.rt.writer_epoch)
            position = records[-1].offset + 1
            await seq.tend()
            await seq.tend()

    asyncio.run(scenario())
    applied = [n for _offset, n in started]
    gaps = [b - a for a, b in itertools.pairwise(applied)]
    assert len(started) >= 3
    if behind:
        # Each snapshot after the first waits for a tail of 60 changes (events; a few actions and ticks count too).
        assert all(g >= 60 - 10 for g in gaps), gaps
        assert len(started) <= applied[-1] // 50 + 1
    else:
        assert min(gaps) < 50, "keeping up, the clock (1-s interval) takes them sooner"


def test_a_resumed_stage_replays_only_the_tail_after_its_snapshot() -> None:
    log = links_log(1)
    kafka = FakeKafka()
    first = sequencer(kafka)

    async def scenario() -> tuple[int, int]:
        await run(first, log[:40], 5, 1)
        stored = unpack_state(kafka.state).manifest
        assert stored is not None
        second = sequencer(kafka)
        start = await second.restore()
        assert second.rt.pipeline is not None
        # The restored state answers as the first one did at the snapshot's offset.
        assert first.rt.pipeline is not None
        return start, stored.offset

    start, offset = asyncio.run(scenario())
    assert start == offset + 1
    assert offset >= 35  # a snapshot after each fetch: at most one fetch behind


def test_every_accepted_event_is_published_once_with_its_customer() -> None:
    """Duplicates within the horizon are not published again; each interaction names its event's customer."""
    from streams.codec import decode_resolved_interaction

    log = links_log(5)
    interactions: list[bytes] = []
    clean_run(log, interactions)
    decoded = [decode_resolved_interaction(v) for v in interactions]
    ids = [d["event_id"] for d in decoded]
    assert sorted(ids) == sorted({e.event_id for e in EVENTS}), "each accepted event exactly once"
    replay = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    for rec in log:
        if rec.kind == BATCH:
            from streams.linkbatch import decode_batch

            replay.on_events(rec.offset, decode_batch(rec.value))
    # The CRM's rule (docs/crm-connector.md): the live customer holding the interaction's touchpoint
    # record; of several (a shared number), the one its customer id was absorbed into or still is.
    resolver = replay.resolver
    holders: dict[tuple[str, str], set[str]] = {}
    for cid in resolver.customer_ids():
        profile = resolver.profile(cid)
        assert profile is not None
        for ref in profile.to_record()["source_ids"]:
            holders.setdefault((ref["touchpoint"], ref["source_id"]), set()).add(cid)
    moved = 0
    for d in decoded:
        candidates = holders[(d["touchpoint"], d["source_id"])]
        current = resolver.current_id(d["customer_id"])
        chosen = next(iter(candidates)) if len(candidates) == 1 else current
        assert chosen == resolver.customer_of_event(d["event_id"]), d["event_id"]
        moved += current != chosen
    assert moved > 0, "the log re-resolves some customer: a split moves interactions"
    first = next(d for d in decoded if d["event_id"] == EVENTS[0].event_id)
    assert (first["touchpoint"], first["source_id"], first["occurred_at"]) == (
        EVENTS[0].touchpoint,
        EVENTS[0].source_id,
        EVENTS[0].occurred_at,
    )


def test_a_revoked_stage_writes_nothing() -> None:
    log = links_log(2)
    kafka = FakeKafka()
    seq = sequencer(kafka)

    async def scenario() -> None:
        await seq.restore()
        await seq.apply(log[:10], seq.rt.writer_epoch)
        epoch = seq.rt.writer_epoch
        await seq.revoke()
        before = (dict(kafka.state), list(kafka.published))
        with pytest.raises(Fenced):
            await seq.apply(log[10:], epoch)
        await seq.tend()
        assert (kafka.state, kafka.published) == before
        assert seq.rt.pipeline is None and not seq.rt.owns_links

    asyncio.run(scenario())


def test_the_older_state_format_is_read_and_replaced_by_a_snapshot() -> None:
    """A state topic of per-key records and a write-ahead record: its step's outputs go out again, then a snapshot."""
    log = links_log(3)
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    # The older worker tracked changes (the pipeline no longer does: it keeps snapshots).
    pipeline.resolver = type(pipeline.resolver)(ResolverConfig())
    pipeline.batcher = type(pipeline.batcher)(WINDOW_MS, GRACE_MS)
    pipeline.changelog = type(pipeline.changelog)()
    legacy = InMemoryStateLog()
    last: Step | None = None
    from streams.linkbatch import decode_batch

    for rec in log[:30]:
        if rec.kind == TICK:
            steps: Iterable[Step] = pipeline.on_tick(rec.offset, json.loads(rec.value)["now"])
        elif rec.kind == BATCH:
            steps = pipeline.on_events(rec.offset, decode_batch(rec.value))
        else:
            continue
        for step in steps:
            for owner, part in (("r/", pipeline.resolver), ("b/", pipeline.batcher), ("c/", pipeline.changelog)):
                step.changes.update({owner + k: v for k, v in part.drain_changes().items()})
            legacy.write(step)
            last = step
    assert last is not None
    kafka = FakeKafka()
    kafka.state = {k.encode(): v.encode() for k, v in legacy.data.items()}
    seq = sequencer(kafka)

    async def scenario() -> int:
        start = await seq.restore()
        await seq.tend()
        await seq.tend()
        return start

    start = asyncio.run(scenario())
    assert start == last.offset + 1
    assert kafka.published == [v for _k, v in last.outputs]
    assert set(kafka.state) == {MANIFEST_KEY, *unpack_state(kafka.state).manifest.chunk_keys()}  # type: ignore[union-attr]
    assert json.loads(kafka.state[MANIFEST_KEY])["offset"] == last.offset
    assert callable(encode_wal)  # the format the older worker wrote


def test_snapshot_records_chunk_and_replace_the_previous_snapshot() -> None:
    data = bytes(random.Random(4).getrandbits(8) for _ in range(CHUNK_BYTES * 2 + 17))
    first, records = snapshot_records(data, 10, None)
    assert first.chunks == 3
    state: dict[bytes, bytes] = {k: v for k, v in records if v is not None}
    assert unpack_state(state).data == data
    second, records = snapshot_records(b"small", 20, first, forget=[b"r/old"])
    state[b"r/old"] = b"x"
    for key, value in records:
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    assert set(state) == {MANIFEST_KEY, *second.chunk_keys()}
    assert unpack_state(state).data == b"small"
    del state[second.chunk_keys()[0]]
    with pytest.raises(ValueError, match="missing"):
        unpack_state(state)


def test_background_snapshot_takes_the_snapshot_in_a_child(tmp_path: Path) -> None:
    pipeline = Pipeline(ResolverConfig(), WINDOW_MS, GRACE_MS)
    pipeline.on_events(0, EVENTS[:200])
    expected = pipeline.snapshot()
    snap = BackgroundSnapshot(tmp_path)
    snap.start(pipeline, 7)
    assert snap.running
    pipeline.on_events(1, EVENTS[200:300])  # the parent goes on; the child has the state at offset 7
    done = None
    for _ in range(600):
        done = snap.poll()
        if done is not None:
            break
        asyncio.run(asyncio.sleep(0.05))  # polling, with a deadline
    assert done is not None, "the snapshot child did not finish within 30 s"
    offset, data, _took = done
    assert offset == 7 and data == expected
    assert not snap.running and not list(tmp_path.iterdir())


_SLOW_SNAPSHOT_PARENT = """
import sys, time
from pathlib import Path
from streams.snapshots import BackgroundSnapshot

class Slow:
    def snapshot(self):
        time.sleep(120)  # a long dump (as under load): the child outlives its parent unless it dies with it
        return b""

snap = BackgroundSnapshot(Path(sys.argv[1]))
snap.start(Slow(), 3)
print(snap._child[0], flush=True)
time.sleep(120)
"""


def test_a_snapshot_child_dies_with_its_worker(tmp_path: Path) -> None:
    """kill -9 of the worker mid-snapshot ends the dump too: it holds the worker's sockets (its web port)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SNAPSHOT_PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child), "the snapshot child is running"
        parent.kill()
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the snapshot child outlived its worker"
    finally:
        parent.kill()
        parent.wait(timeout=30)


def _alive(pid: int) -> bool:
    """The process runs (not gone, not a zombie waiting to be reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def test_windows_closed_after_the_idle_snapshot_are_snapshotted_too() -> None:
    """A backlog's last event, its idle snapshot, then the tick that closes its windows: a second snapshot.

    Without it a restart would replay that tick: every window of the backlog closed and
    every customer published again before a fresh event's window (bench: 12 s after kill -9).
    A tick that closes nothing is no change: an idle stage does not snapshot on every tick.
    """
    now = [0.0]
    kafka = FakeKafka()
    seq = sequencer(kafka, interval_s=3600.0)
    seq.clock = lambda: now[0]
    (batch,) = encode_batches(EVENTS[:30], max_bytes=1 << 30)
    ticks = [json.dumps({"now": NOW + ms}).encode() for ms in (0, 60_000, 61_000)]
    log = [LinkRecord(0, TICK, ticks[0]), LinkRecord(1, BATCH, batch)]

    async def scenario() -> list[int]:
        stored: list[int] = []

        async def tend() -> None:
            await seq.tend()  # starts one when due
            await seq.tend()  # stores it
            manifest = unpack_state(kafka.state).manifest
            if manifest is not None and (not stored or stored[-1] != manifest.offset):
                stored.append(manifest.offset)

        await seq.restore()
        await seq.apply(log, seq.rt.writer_epoch)
        now[0] += 2.0  # idle after the events
        await tend()
        published = len(kafka.published)
        await seq.apply([LinkRecord(2, TICK, ticks[1])], seq.rt.writer_epoch)  # closes the windows
        assert len(kafka.published) > published
        now[0] += 2.0
        await tend()
        await seq.apply([LinkRecord(3, TICK, ticks[2])], seq.rt.writer_epoch)  # closes nothing
        now[0] += 2.0
        await tend()
        return stored

    assert asyncio.run(scenario()) == [1, 2]


@pytest.mark.parametrize("seed", range(3))
def test_events_applied_counts_each_event_of_the_log_once_over_restores_in_one_process(seed: int) -> None:
    """The partition revoked and given back twice to the same process: each restore applies the
    tail after its snapshot again, and ``events_applied`` / ``duplicates`` still count each event
    of the log once (s33 audit A6: /ready said 41,764 for 32,264). Fetches of other sizes after
    each restore cut batches across the offset counted up to.

        links log   0 ......... a ......... b ......... end
        process     |--- apply, snapshot ---|  revoke, restore at the snapshot <= b: the tail again
                                      |--- apply ---|  revoke, restore again, apply to the end
    """
    log = links_log(seed)
    rng = random.Random(seed)
    clean = sequencer(FakeKafka())
    asyncio.run(run(clean, log, 5, 1))
    applied, duplicates = clean.rt.stats["events_applied"], clean.rt.stats["duplicates"]
    assert applied > 0 and duplicates > 0, "the log has duplicates"

    kafka = FakeKafka()
    seq = sequencer(kafka)

    async def scenario() -> None:
        position = await seq.restore()
        cuts = [*sorted(rng.sample(range(len(log) // 4, len(log) - 1), 2)), len(log)]
        for cut in cuts:
            while position < cut:
                records = log[position : min(cut, position + rng.randint(1, 9))]
                await seq.apply(records, seq.rt.writer_epoch)
                position = records[-1].offset + 1
                if rng.random() < 0.3:
                    await seq.tend()  # starts a snapshot
                    await seq.tend()  # stores it
            if cut == len(log):
                break
            await seq.revoke()  # given back: a restore in the same process, from the last snapshot
            seq.rt.owns_links = True
            seq.assigned(True)
            position = await seq.restore()
            assert position <= cut

    asyncio.run(scenario())
    assert seq.rt.applied_offset == len(log) - 1
    assert (seq.rt.stats["events_applied"], seq.rt.stats["duplicates"]) == (applied, duplicates)
