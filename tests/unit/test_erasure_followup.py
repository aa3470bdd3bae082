"""The ordered stage's follow-up of an erasure, in process with fake ports (streams.sequencer).

links log   B T A T T ...        (B: both people's events, T: ticks, A: erase Meera)
follow-up   A applied ─▶ purge dead letters (her identifiers) ─▶ snapshot at once, stored with a receipt
                       ─▶ DeleteRecords: links before the snapshot, state before its first chunk ─▶ receipt written
A crash anywhere in between is finished by the next owner: before the snapshot, the erasure is applied
(and purged) again from the log; after it, the stored manifest names the deletions and receipts to redo.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from resolver.config import ResolverConfig
from resolver.interaction import Interaction
from streams.codec import decode_resolved
from streams.linkbatch import ACTION, BATCH, TICK, encode_batches
from streams.runtime import Runtime
from streams.sequencer import LinkRecord, Ports, Sequencer
from streams.settings import Settings
from streams.snapshots import MANIFEST_KEY, FoldedState, Manifest

from .test_sequencer import GRACE_MS, NOW, TOPIC_I, WINDOW_MS, Crash, FakeMirror, InlineSnapshot

EVENTS = [
    Interaction("m1", "WEB", NOW, "u-meera", "visit", "+91 98862 71453", "Meera.Iyer@GMail.com", "Meera Iyer"),
    Interaction("m2", "WHATSAPP", NOW + 1, "919886271453", "message"),
    Interaction("r1", "WEB", NOW + 2, "u-ravi", "visit", "+91 97318 62040", "ravi@example.net", "Ravi Kumar"),
]


def tick(offset: int, now: int) -> LinkRecord:
    return LinkRecord(offset, TICK, json.dumps({"now": now}).encode())


def erase(offset: int, cid: str) -> LinkRecord:
    action = {"action": "erase", "customer_id": cid, "action_id": "x1", "actor": "op", "reason": "t", "at": NOW + 9}
    return LinkRecord(offset, ACTION, json.dumps(action).encode())


class Kafka:
    """The state topic as a log with offsets; records of every deletion, purge and receipt."""

    def __init__(self) -> None:
        self.state_log: list[tuple[bytes, bytes | None]] = []
        self.published: list[tuple[bytes, bytes]] = []
        self.calls: list[tuple[str, Any]] = []
        self.receipts: dict[str, dict[str, Any]] = {}
        self.purge_fails = 0
        self.truncate_crashes = 0

    async def read_state(self) -> FoldedState:
        folded = FoldedState()
        for offset, (key, value) in enumerate(self.state_log):
            if value is None:
                folded.pop(key, None)
                folded.offsets.pop(key, None)
            else:
                folded[key], folded.offsets[key] = value, offset
        return folded

    async def send_state(self, records: list[tuple[bytes, bytes | None]]) -> list[int]:
        first = len(self.state_log)
        self.state_log.extend(records)
        if any(key == MANIFEST_KEY for key, _ in records):  # not a mark of what is published
            manifest = dict(self.state_log)[MANIFEST_KEY]
            assert manifest is not None
            self.calls.append(("snapshot", Manifest.decode(manifest).offset))
        return list(range(first, len(self.state_log)))

    async def publish(self, outputs: list[tuple[bytes, bytes]]) -> None:
        self.published.extend(outputs)

    async def nothing(self, *_args: Any) -> None:
        return None

    async def truncate(self, links_before: int, state_before: int | None) -> None:
        if self.truncate_crashes:
            self.truncate_crashes -= 1
            raise Crash
        self.calls.append(("truncate", (links_before, state_before)))

    async def purge(self, identifiers: list[str]) -> int:
        if self.purge_fails:
            self.purge_fails -= 1
            raise OSError("broker away")
        self.calls.append(("purge", sorted(identifiers)))
        return 1

    async def record(self, customer_id: str, receipt: dict[str, Any]) -> None:
        self.receipts[customer_id] = receipt


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stage(kafka: Kafka, clock: Clock, reseal_after_s: float | None = None) -> Sequencer:
    rt = Runtime(Settings())
    rt.owns_links = True
    ports = Ports(
        kafka.read_state,
        kafka.send_state,
        kafka.publish,
        kafka.nothing,
        kafka.nothing,
        kafka.nothing,
        FakeMirror(),
        truncate=kafka.truncate,
        purge_dead_letters=kafka.purge,
        record_erasure=kafka.record,
    )
    return Sequencer(
        rt,
        ResolverConfig(),
        WINDOW_MS,
        GRACE_MS,
        "irl.customers.resolved",
        ports,
        InlineSnapshot(),
        3600.0,  # the cadence never makes a snapshot due here: only erasures (and idleness) do
        clock=clock,
        interactions_topic=TOPIC_I,
        reseal_after_s=reseal_after_s,
    )


async def tend(seq: Sequencer, times: int = 1) -> None:
    """`Sequencer.tend`, then let the purge task it may have started run."""
    for _ in range(times):
        await seq.tend()
        for _ in range(5):
            await asyncio.sleep(0)


async def meera(seq: Sequencer, clock: Clock) -> str:
    """Apply both people's events and a tick; return Meera's customer id."""
    await seq.restore()
    (value,) = encode_batches(EVENTS, max_bytes=1 << 30)
    await seq.apply([LinkRecord(0, BATCH, value), tick(1, NOW + 10_000)], seq.rt.writer_epoch)
    pipeline = seq.rt.pipeline
    assert pipeline is not None
    (cid,) = [c for c, p in pipeline.mirror_records() if any(s["source_id"] == "u-meera" for s in p["source_ids"])]
    return cid


async def test_an_erasure_purges_then_snapshots_at_once_then_deletes_and_writes_a_receipt() -> None:
    kafka, clock = Kafka(), Clock()
    seq = stage(kafka, clock)
    cid = await meera(seq, clock)
    await seq.apply([erase(2, cid), tick(3, NOW + 20_000)], seq.rt.writer_epoch)
    await tend(seq)  # purge (a task)
    await tend(seq)  # start the snapshot at once (no cadence, not idle)
    await tend(seq)  # store it, delete, receipt
    assert [c[0] for c in kafka.calls] == ["purge", "snapshot", "truncate"]
    assert kafka.calls[0][1] == sorted(
        ["email:meeraiyer@gmail.com", "phone:+919886271453", "tp:WEB:u-meera", "tp:WHATSAPP:919886271453"]
    )
    written = dict(kafka.state_log)[MANIFEST_KEY]
    assert written is not None
    manifest = Manifest.decode(written)
    assert manifest.offset == 3 and [e["customer_id"] for e in manifest.erasures] == [cid]
    first_chunk = next(i for i, (k, _v) in enumerate(kafka.state_log) if k == manifest.chunk_keys()[0])
    assert kafka.calls[2][1] == (4, first_chunk)
    receipt = kafka.receipts[cid]
    assert receipt["action_offset"] == 2 and receipt["links_deleted_before"] == 4
    assert receipt["absorbed_ids"] == []  # her events made one customer: nothing absorbed into her
    assert receipt["dead_letters_purged"] == 1 and receipt["state_deleted_before"] == first_chunk
    text = json.dumps(receipt) + json.dumps(manifest.erasures)
    assert "99887" not in text and "meera" not in text.casefold() and "Meera" not in text
    assert seq.rt.stats["erasures_completed"] == 1
    # nothing more to do: no further deletion, and the next snapshot's manifest names no erasure
    await tend(seq, 3)
    assert [c[0] for c in kafka.calls].count("truncate") == 1


async def test_no_snapshot_with_the_erasure_is_stored_before_its_dead_letters_are_purged() -> None:
    kafka, clock = Kafka(), Clock()
    kafka.purge_fails = 2
    seq = stage(kafka, clock)
    cid = await meera(seq, clock)
    await seq.apply([erase(2, cid)], seq.rt.writer_epoch)
    for _ in range(3):
        await tend(seq)
        clock.now += 1.0  # within RETRY_S: not tried again yet
    assert not [c for c in kafka.calls if c[0] in ("snapshot", "truncate")]
    for _ in range(4):
        clock.now += 10.0
        await tend(seq)
    assert [c[0] for c in kafka.calls] == ["purge", "snapshot", "truncate"]
    assert cid in kafka.receipts


async def test_a_crash_before_the_deletions_is_finished_by_the_next_owner() -> None:
    kafka, clock = Kafka(), Clock()
    kafka.truncate_crashes = 1
    seq = stage(kafka, clock)
    cid = await meera(seq, clock)
    await seq.apply([erase(2, cid)], seq.rt.writer_epoch)
    await tend(seq, 2)
    try:
        await tend(seq)
    except Crash:
        pass
    assert cid not in kafka.receipts
    stored = [c for c in kafka.calls if c[0] == "snapshot"]
    again = stage(kafka, clock)  # the next owner, from the state topic alone
    assert await again.restore() == stored[-1][1] + 1
    await tend(again)
    assert kafka.calls[-1][0] == "truncate" and kafka.calls[-1][1][0] == stored[-1][1] + 1
    assert kafka.receipts[cid]["action_offset"] == 2


async def test_the_erased_record_is_sent_again_after_the_compaction_lag() -> None:
    kafka, clock = Kafka(), Clock()
    seq = stage(kafka, clock, reseal_after_s=30.0)
    cid = await meera(seq, clock)
    await seq.apply([erase(2, cid), tick(3, NOW + 60_000)], seq.rt.writer_epoch)
    erased = [(k, v) for k, v in kafka.published if decode_resolved(v)["change"] == "ERASED"]
    assert erased and erased[0][0] == cid.encode()
    assert not decode_resolved(erased[0][1])["phones"] and not decode_resolved(erased[0][1])["name"]
    await seq.tend()
    assert kafka.published.count(erased[0]) == 1
    clock.now += 31.0
    await seq.tend()
    assert kafka.published.count(erased[0]) == 2 and kafka.published[-1] == erased[0]
    assert seq.rt.stats["erased_resent"] == 1


def test_an_id_absorbed_into_a_customer_erased_in_the_same_window_ends_with_a_record_without_personal_data() -> None:
    """u-1 (A, published) and k-1 (B, published) join in one window; A is erased in that window.

    window    1: A CREATED     2: B CREATED     3: e3 joins B into A, erase A ──▶ A ERASED, B ERASED
    B's last record used to stay its CREATED (phone, email, name): kept for good by compaction and the CRM.
    """
    from resolver.config import ResolverConfig as Config
    from streams.pipeline import Pipeline

    pipeline = Pipeline(Config(), WINDOW_MS, GRACE_MS)
    out: list[dict[str, Any]] = []

    def take(steps: Any) -> None:
        out.extend(decode_resolved(v) for step in steps for _k, v in step.outputs)

    phone, email = "+91 98862 71453", "meera.iyer@gmail.com"
    take(pipeline.on_tick(0, NOW))
    take(pipeline.on_events(1, [Interaction("e1", "WEB", NOW, "u-1", "visit", phone, None, "Meera Iyer")]))
    take(pipeline.on_tick(2, NOW + 10_000))
    take(pipeline.on_events(3, [Interaction("e2", "KIOSK", NOW + 10_001, "k-1", "visit", None, email, "Meera")]))
    take(pipeline.on_tick(4, NOW + 20_000))
    take(pipeline.on_events(5, [Interaction("e3", "WEB", NOW + 20_001, "u-1", "visit", phone, email, "Meera Iyer")]))
    (survivor,) = pipeline.resolver.customer_ids()
    action = {"action": "erase", "customer_id": survivor, "action_id": "x", "actor": "o", "at": NOW + 20_002}
    take(pipeline.on_action(6, action))
    take(pipeline.on_tick(7, NOW + 40_000))
    last = {r["customer_id"]: r for r in out}
    assert len(last) == 2
    for record in last.values():
        assert record["change"] in ("ERASED", "ABSORBED"), record
        assert not (record["phones"] or record["emails"] or record["name"] or record["source_ids"]), record


async def test_the_stage_goes_on_applying_while_dead_letters_are_purged() -> None:
    """A large dead-letter topic takes seconds to read: the purge is a task, and no snapshot with the erasure
    reaches the state topic before it is done."""
    kafka, clock = Kafka(), Clock()
    seq = stage(kafka, clock)
    release = asyncio.Event()
    purge = kafka.purge

    async def slow(identifiers: list[str]) -> int:
        await release.wait()
        return await purge(identifiers)

    seq.ports.purge_dead_letters = slow
    cid = await meera(seq, clock)
    await seq.apply([erase(2, cid)], seq.rt.writer_epoch)
    await tend(seq)
    (value,) = encode_batches(
        [Interaction("z1", "WEB", NOW + 50, "u-z", "visit", None, "z@mail.org")], max_bytes=1 << 30
    )
    await seq.apply([LinkRecord(3, BATCH, value), tick(4, NOW + 30_000)], seq.rt.writer_epoch)
    assert seq.rt.applied_offset == 4
    clock.now += 5.0  # idle: a snapshot is started, and taken, but not stored while the purge runs
    await tend(seq, 3)
    assert not [c for c in kafka.calls if c[0] == "snapshot"]
    release.set()
    await tend(seq, 3)
    assert [c[0] for c in kafka.calls] == ["purge", "snapshot", "truncate"]
    assert kafka.calls[-1][1][0] == 5


async def test_a_block_or_a_split_is_no_erasure_though_the_read_model_forgets_an_identifier() -> None:
    kafka, clock = Kafka(), Clock()
    seq = stage(kafka, clock)
    cid = await meera(seq, clock)
    block = {"action": "block", "identifier": "Meera.Iyer@GMail.com", "action_id": "b1", "actor": "op", "reason": "t"}
    split = {"action": "split", "customer_id": cid, "identifier": "WHATSAPP:919886271453", "action_id": "s1"}
    records = [LinkRecord(2, ACTION, json.dumps(block).encode()), LinkRecord(3, ACTION, json.dumps(split).encode())]
    await seq.apply([*records, tick(4, NOW + 20_000)], seq.rt.writer_epoch)
    await tend(seq, 3)
    assert [c[0] for c in kafka.calls if c[0] != "snapshot"] == []  # no purge, no deletion, no receipt
    assert kafka.receipts == {} and seq.rt.stats.get("erasures_completed", 0) == 0


async def test_an_action_this_worker_queued_is_marked_applied_with_what_it_did() -> None:
    kafka, clock = Kafka(), Clock()
    seq = stage(kafka, clock)
    cid = await meera(seq, clock)
    seq.rt.stats["actions"] = [{"action": "erase", "action_id": "x1", "customer_id": cid, "status": "queued"}]
    await seq.apply([erase(2, cid), tick(3, NOW + 20_000)], seq.rt.writer_epoch)
    (entry,) = seq.rt.stats["actions"]
    assert entry["status"] == "applied" and entry["links_offset"] == 2
    assert any(cid in note and "erased" in note for note in entry["outcome"]), entry
