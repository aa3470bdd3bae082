"""A revoked ordered stage keeps its state when the links log comes straight back to it.

    owner     apply ... revoke ─ park ─ join ─ assigned again ─ resume_parked ─ apply ...
    snapshot  (none taken)                  state topic unchanged? yes: no restore
                                                                  no: restore as before

And the assignor that makes the links log come back: it stays with the member holding the state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from hypothesis import given
from hypothesis import strategies as st

import streams.sequencer as sequencer_module
from streams.assignor import HOLDING, PROTOCOL, choose_owner, keep_owner
from streams.loops import _SequencerListener, sequencer_assignors
from streams.sequencer import Sequencer
from streams.stall import rebalance_limit, rebalance_overdue, revoke_overdue
from tests.unit.test_sequencer import FakeKafka, check_against, clean_run, links_log, sequencer


class CountingKafka(FakeKafka):
    """The fake state topic with an end offset (one per record sent) and a count of full reads."""

    def __init__(self) -> None:
        super().__init__()
        self.end = 0
        self.reads = 0

    async def read_state(self) -> dict[bytes, bytes]:
        self.reads += 1
        return await super().read_state()

    async def send_state(self, records: list[tuple[bytes, bytes | None]]) -> None:
        self.end += len(records)
        await super().send_state(records)

    async def state_end(self) -> int:
        return self.end


def parking_stage(kafka: CountingKafka) -> Sequencer:
    seq = sequencer(kafka)
    seq.ports = dataclasses.replace(seq.ports, state_end=kafka.state_end)
    return seq


async def given_back(seq: Sequencer) -> int:
    """The rebalance hands the links log back: what the Kafka loop does."""
    seq.rt.owns_links = True
    seq.assigned(True)
    position = await seq.resume_parked()
    return position if position is not None else await seq.restore()


@pytest.mark.parametrize("seed", [1, 4])
def test_a_partition_given_back_goes_on_from_the_parked_state(seed: int) -> None:
    log = links_log(seed)
    clean = clean_run(log)
    kafka = CountingKafka()
    seq = parking_stage(kafka)

    async def scenario() -> None:
        await seq.restore()
        await seq.apply(log[:20], seq.rt.writer_epoch)
        await seq.tend()
        await seq.tend()  # a snapshot stored: the state topic has an end to compare
        kept = seq.rt.pipeline
        await seq.revoke()
        assert seq.rt.pipeline is None and seq.holds_state, "parked, not dropped"
        assert await given_back(seq) == 20
        assert seq.rt.pipeline is kept and seq.rt.recovered
        await seq.apply(log[20:], seq.rt.writer_epoch)

    asyncio.run(scenario())
    assert kafka.reads == 1, "no restore after the first"
    check_against(clean, kafka.published)
    assert set(kafka.published) == set(clean)


def test_a_state_topic_that_moved_meanwhile_means_a_restore() -> None:
    log = links_log(2)
    clean = clean_run(log)
    kafka = CountingKafka()
    seq = parking_stage(kafka)

    async def scenario() -> None:
        await seq.restore()
        await seq.apply(log[:25], seq.rt.writer_epoch)
        await seq.revoke()
        other = parking_stage(kafka)  # another worker owned the links log meanwhile and stored a snapshot
        await other.restore()
        await other.apply(log[:30], other.rt.writer_epoch)
        await other.tend()
        await other.tend()
        assert await given_back(seq) == 30, "restored from the other owner's snapshot"
        assert not seq.holds_state or seq.rt.pipeline is not None
        await seq.apply(log[30:], seq.rt.writer_epoch)

    asyncio.run(scenario())
    assert kafka.reads == 3
    check_against(clean, kafka.published)


def test_a_state_given_to_another_worker_is_dropped() -> None:
    kafka = CountingKafka()
    seq = parking_stage(kafka)

    async def scenario() -> None:
        await seq.restore()
        await seq.apply(links_log(3)[:10], seq.rt.writer_epoch)
        await seq.revoke()
        assert seq.holds_state
        seq.assigned(False)
        assert not seq.holds_state
        assert await seq.resume_parked() is None

    asyncio.run(scenario())


def test_a_step_cut_short_by_the_revoke_is_not_parked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sequencer_module, "STEP_EVENTS", 1)  # the loop runs between every two events
    log = links_log(5)
    kafka = CountingKafka()
    seq = parking_stage(kafka)

    async def scenario() -> None:
        await seq.restore()
        batch = next(r for r in log if r.kind == b"batch" and len(json.loads(r.value)) >= 3)
        applying = asyncio.ensure_future(seq.apply([dataclasses.replace(batch, offset=0)], seq.rt.writer_epoch))
        await asyncio.sleep(0)  # the first event's step is applied; the stage yields
        await seq.revoke()
        with pytest.raises(sequencer_module.Fenced):
            await applying
        assert not seq.holds_state, "a pipeline cut mid-record is never taken back"

    asyncio.run(scenario())


def test_a_stage_without_a_state_end_never_parks() -> None:
    kafka = CountingKafka()
    seq = sequencer(kafka)  # no state_end port

    async def scenario() -> None:
        await seq.restore()
        await seq.apply(links_log(6)[:10], seq.rt.writer_epoch)
        await seq.revoke()
        assert not seq.holds_state

    asyncio.run(scenario())


# -- the assignor ------------------------------------------------------------------------------


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.sampled_from([HOLDING, b""]), min_size=1, max_size=6))
def test_the_owner_is_a_member_holding_the_state_when_there_is_one(members: dict[str, bytes]) -> None:
    owner = choose_owner(members)
    holding = sorted(m for m, d in members.items() if d == HOLDING)
    assert owner == (holding[0] if holding else min(members))
    assert choose_owner(dict(reversed(list(members.items())))) == owner, "any leader picks the same"


class _Cluster:
    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}


def _holder(holds: dict[str, bool], member: str) -> Callable[[], bool]:
    return lambda: holds.get(member, False)


def test_the_assignor_gives_the_links_log_to_the_member_holding_the_state() -> None:
    holds = {"w2": True}
    metas: dict[str, Any] = {}
    for member in ("w0", "w1", "w2"):
        cls = keep_owner(_holder(holds, member))
        metas[member] = cls.metadata(["links"])
    assert [metas[m].user_data for m in ("w0", "w1", "w2")] == [b"", b"", HOLDING]
    got = keep_owner(lambda: False).assign(_Cluster(), metas)
    assert got["w2"].assignment == [("links", [0])]
    assert got["w0"].assignment == [] and got["w1"].assignment == []
    fresh = {m: ConsumerProtocolMemberMetadata(0, ["links"], b"") for m in ("w1", "w0")}
    assert keep_owner(lambda: False).assign(_Cluster(), fresh)["w0"].assignment == [("links", [0])]


def test_a_revoke_under_way_is_visible_to_the_stall_watch_until_it_ends() -> None:
    kafka = CountingKafka()
    seq = parking_stage(kafka)

    async def scenario() -> None:
        await seq.restore()
        assert seq.rt.revoke_started is None
        await seq.rt.writer_lock.acquire()  # a step in flight that does not end
        revoking = asyncio.ensure_future(seq.revoke())
        await asyncio.sleep(0)  # one turn of the loop: the revoke starts, notes its start, waits for the lock
        started = seq.rt.revoke_started
        assert started is not None and not revoking.done()
        # (a hair past the limit: started + s - started can come out just under s in floating point)
        assert revoke_overdue(started, started + seq.rt.settings.stall_seconds + 1e-6, seq.rt.settings.stall_seconds)
        assert not revoke_overdue(started, started + 1.0, seq.rt.settings.stall_seconds)
        seq.rt.writer_lock.release()  # the step ends: the revoke finishes and says so
        await asyncio.wait_for(revoking, 5)
        assert seq.rt.revoke_started is None

    asyncio.run(scenario())


def test_no_revoke_under_way_is_never_overdue() -> None:
    assert not revoke_overdue(None, 1e9, 10.0)


def test_the_ordered_stage_names_one_assignor_speaking_range() -> None:
    """aiokafka sends one JoinGroup per assignor (aio-libs/aiokafka#1168): two made every rebalance a pair."""
    assignors = sequencer_assignors(lambda: False)
    assert len(assignors) == 1
    assert assignors[0].name == PROTOCOL == "range"  # what older workers in the group speak


def test_a_rebalance_is_timed_from_its_revoke_to_its_assignment_and_ends_the_worker_only_when_stuck() -> None:
    """The group of the ordered stage stuck in a rebalance leaves every worker idle: the stall watch ends this one."""
    kafka = CountingKafka()
    seq = parking_stage(kafka)
    rt = seq.rt
    tp = TopicPartition("links", 0)
    listener = _SequencerListener(rt, seq, tp)

    async def scenario() -> None:
        await listener.on_partitions_revoked(set())  # the first join: nothing to give back
        started = rt.rebalance_started
        assert started is not None
        await listener.on_partitions_revoked(set())  # a join again within the same rebalance keeps its start
        assert rt.rebalance_started == started
        await listener.on_partitions_assigned({tp})
        assert rt.rebalance_started is None and rt.owns_links

    asyncio.run(scenario())
    limit = rebalance_limit(rt.settings.stall_seconds)
    assert limit >= 300.0, "a broker restart is not a stall"
    assert limit > rt.settings.stall_seconds + rt.settings.session_timeout_seconds, "a stuck revoke ends first"
    assert rebalance_overdue(0.0, limit, rt.settings.stall_seconds)
    assert not rebalance_overdue(0.0, limit - 1.0, rt.settings.stall_seconds)
    assert not rebalance_overdue(None, 1e9, rt.settings.stall_seconds)
