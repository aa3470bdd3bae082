"""The Kafka side of the two stages: a consumer loop each, reading with ``getmany``.

Faust's agents pay the framework per record (docs/architecture.md, "Cost per event"); these
loops pay it per fetch. Each runs as a task of the Faust app and owns one aiokafka consumer:

* `run_triage`: group ``<app id>``, the touchpoint topics, static membership; commits a
  fetch's offsets once triage has put everything it caused on the broker, and what is done
  when partitions move.
* `run_sequencer`: group ``<app id>-sequencer``, the links log's one partition, static
  membership; never commits (the ordered stage keeps its offset in its state) and seeks to
  the next offset to apply whenever it takes the partition.

A bug in either stops the process (exit 70) before anything it did not finish is
committed or written: a restart reads on from there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaConnectionError, KafkaError

from streams.assignor import keep_owner
from streams.kafka_auth import client_options
from streams.linkbatch import FOUND_HEADER, header_of, kind_of
from streams.runtime import Runtime
from streams.sequencer import Fenced, LinkRecord, Sequencer
from streams.settings import Settings
from streams.triage import Consumed, Triage

__all__ = [
    "CLOCK_HOLD_S",
    "clock_held",
    "highwater",
    "run_sequencer",
    "run_triage",
    "sequencer_group",
    "start_client",
    "triage_read_up",
    "worker_instance",
]

log = logging.getLogger("irl.worker")

#: Records one triage fetch takes (of all its partitions).
TRIAGE_FETCH = 2000
#: Links records (batches, ticks, actions) one ordered-stage fetch takes.
SEQUENCER_FETCH = 50
#: Longest a taking-over ordered stage may spend restoring before the group thinks it dead.
RESTORE_TIMEOUT_S = 900
#: Longest a starting worker's clock waits for its triage to read what its partitions held (`clock_held`).
CLOCK_HOLD_S = 10.0


def clock_held(triage_caught_up: bool, since_start_s: float, hold_s: float = CLOCK_HOLD_S) -> bool:
    """Whether a worker's clock sends no tick yet: its triage has not read what was waiting, for at most `hold_s`.

    A tick closes every window whose end + grace it passes. A restarted worker's clock ticked
    as soon as Faust had started, before its triage (a child that imports and joins its group
    meanwhile) had forwarded the events that arrived while the worker was down: those events
    were then late for their window and went into the next one, a window later (seen in 8 of 8
    ``bench.kill_restart`` runs). Holding the ticks until triage has read up to where its
    partitions ended when it took them only moves window closes later; what they publish is
    still a function of the links log (windows close on ticks and actions only). Other workers'
    clocks go on meanwhile (ticks are idempotent), so it matters for a lone worker.
    """
    return not triage_caught_up and since_start_s < hold_s


async def triage_read_up(consumer: Any, ends: dict[Any, int]) -> bool:
    """True when the consumer's position in each partition of `ends` has reached that end (all records read)."""
    for tp, end in ends.items():
        if tp in consumer.assignment() and await consumer.position(tp) < end:
            return False
    return True


def sequencer_group(settings: Settings) -> str:
    return f"{settings.app_id}-sequencer"


def sequencer_assignors(holds_state: Callable[[], bool]) -> tuple[type[AbstractPartitionAssignor], ...]:
    """The ordered stage's assignors: the links log stays where its state is (`streams.assignor`).

    One only: aiokafka sends one JoinGroup per assignor it is given, and two made every
    rebalance of the group a pair of them (aio-libs/aiokafka#1168). It speaks "range", as
    workers of older versions in the group do.
    """
    return (keep_owner(holds_state),)


def worker_instance(settings: Settings) -> str:
    """This worker's static group member id: stable across its restarts, distinct between workers."""
    return f"{settings.app_id}-{settings.worker_id}"


def _consumer(settings: Settings, group: str, **extra: Any) -> AIOKafkaConsumer:
    session_ms = settings.session_timeout_seconds * 1000
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(1000, session_ms // 5),
        **client_options(settings),
        **extra,
    )


async def start_client(client: Any, what: str, stopping: asyncio.Event, first_delay: float = 0.5) -> bool:
    """Start an aiokafka client, asking again while no broker answers; False when `stopping` is set first.

    A broker restarting while a stage starts (a triage process starts after its worker) is
    waited for, as the running stages wait for it, instead of ending the process.
    """
    delay = first_delay
    while not stopping.is_set():
        try:
            await client.start()
            return True
        except KafkaConnectionError as exc:
            log.warning("%s: no broker answers (%s); trying again in %.1fs", what, type(exc).__name__, delay)
            try:
                await asyncio.wait_for(stopping.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 5.0)
    return False


def _die(what: str, rt: Runtime) -> None:
    if rt.stopping.is_set():  # the worker stops: its producer may be gone already; nothing was committed
        log.info("%s stopped with the worker", what)
        return
    log.critical("%s failed; exiting so that a restart reads on from the last commit", what, exc_info=True)
    logging.shutdown()
    os._exit(70)


class RebalanceOwner(Protocol):
    """A consumer loop that handles its own revocations and assignments."""

    async def on_revoked(self, revoked: Any) -> None: ...

    async def on_assigned(self, assigned: Any) -> None: ...


class Delegating(ConsumerRebalanceListener):  # type: ignore[misc]
    """A rebalance listener handing both callbacks to its loop (`RebalanceOwner`)."""

    def __init__(self, owner: RebalanceOwner) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.owner.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.on_assigned(assigned)


class _TriageLoop:
    def __init__(self, settings: Settings, rt: Runtime, triage: Triage, instance: str) -> None:
        self.settings = settings
        self.instance = instance
        self.rt = rt
        self.triage = triage
        self.lock = asyncio.Lock()
        #: next offset per partition, triaged but not yet committed
        self.done: dict[TopicPartition, int] = {}
        #: next offset per partition to triage (for the lag)
        self.position: dict[TopicPartition, int] = {}
        self.consumer: AIOKafkaConsumer | None = None
        #: where each partition ended when triage first took partitions (None: not yet asked; `catch_up`)
        self.start_ends: dict[TopicPartition, int] | None = None
        self.joined = False

    async def commit(self, only: Any = None) -> None:
        consumer = self.consumer
        offsets = {tp: o for tp, o in self.done.items() if only is None or tp in only}
        if consumer is None or not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:  # read again by the next owner: a no-op there
            log.warning("triage could not commit (%s); those records will be triaged again", type(exc).__name__)
        for tp in offsets:
            if self.done.get(tp) == offsets[tp]:
                del self.done[tp]

    def lag(self) -> dict[str, int] | None:
        """Records not yet triaged per assigned touchpoint partition."""
        consumer = self.consumer
        if consumer is None:
            return None
        out: dict[str, int] = {}
        for tp in sorted(consumer.assignment()):
            high = highwater(consumer, tp)
            at = self.position.get(tp)
            if high is not None and at is not None:
                out[f"{tp.topic}/{tp.partition}"] = max(0, high - at)
        return out

    async def on_assigned(self, assigned: Any) -> None:
        self.rt.assigned = True
        self.joined = True
        log.info("triage partitions assigned: %d", len(assigned))

    async def on_revoked(self, revoked: Any) -> None:
        async with self.lock:  # the fetch in flight finishes its sends first
            await self.commit(set(revoked))
            for tp in revoked:
                self.done.pop(tp, None)

    async def catch_up(self, consumer: AIOKafkaConsumer) -> None:
        """Note (`rt.triage_caught_up`) once triage has read every record its first partitions held then."""
        if self.rt.triage_caught_up or not self.joined:
            return
        try:
            if self.start_ends is None:
                held = sorted(consumer.assignment())
                self.start_ends = dict(await consumer.end_offsets(held)) if held else {}
            if await triage_read_up(consumer, self.start_ends):
                self.rt.triage_caught_up = True
                log.info("triage has read what its partitions held at start: the clock may tick")
        except Exception as exc:  # a rebalance or the broker away: the clock's hold ends by itself
            log.info("triage could not tell whether it has read up (%s)", type(exc).__name__)

    async def run(self) -> None:
        s = self.settings
        consumer = _consumer(s, s.app_id, group_instance_id=self.instance, max_poll_records=TRIAGE_FETCH)
        self.consumer = consumer
        self.rt.lag_sources.append(self.lag)
        consumer.subscribe(list(s.touchpoint_topics().values()), listener=Delegating(self))
        if not await start_client(consumer, "triage's consumer", self.rt.stopping):
            return
        done = asyncio.Event()
        self.rt.stages_done.append(done)
        try:
            while not self.rt.stopping.is_set():
                data = await consumer.getmany(timeout_ms=200, max_records=TRIAGE_FETCH)
                if not data:
                    await self.catch_up(consumer)
                    continue
                async with self.lock:
                    records = [
                        Consumed(m.topic, m.partition, m.offset, m.key, m.value, list(m.headers or ()))
                        for tp in sorted(data)
                        for m in data[tp]
                    ]
                    try:
                        await self.triage.process(records)
                    except Exception:
                        _die("triage", self.rt)
                        return
                    for tp, msgs in data.items():
                        self.done[tp] = self.position[tp] = msgs[-1].offset + 1
                await self.commit()
                await self.catch_up(consumer)
        finally:
            await consumer.stop()
            done.set()


async def run_triage(settings: Settings, rt: Runtime, triage: Triage, instance: str | None = None) -> None:
    """Triage the touchpoint topics until cancelled, as static member `instance` (default: the worker's name)."""
    await _TriageLoop(settings, rt, triage, instance or worker_instance(settings)).run()


class _SequencerListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, rt: Runtime, sequencer: Sequencer, tp: TopicPartition) -> None:
        self.rt = rt
        self.sequencer = sequencer
        self.tp = tp

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # A rebalance begins (the first join too): the stall watch ends one that never ends.
        if self.rt.rebalance_started is None:
            self.rt.rebalance_started = time.monotonic()
        # Another worker may own the links log next. Fence this stage and let the step in
        # flight finish its sends, so that the next owner, which can only be assigned after
        # this returns, reads every record this one wrote.
        if self.tp in revoked:
            await self.sequencer.revoke()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.rt.rebalance_started = None
        self.rt.owns_links = self.tp in assigned
        log.info("ordered stage: links log assigned (%s)", "held here" if self.rt.owns_links else "held elsewhere")
        self.sequencer.assigned(self.rt.owns_links)
        self.rt.assigned = True


async def run_sequencer(settings: Settings, rt: Runtime, sequencer: Sequencer, links_topic: str) -> None:
    """Apply the links log whenever this worker holds its partition, until cancelled."""
    tp = TopicPartition(links_topic, 0)
    consumer = _consumer(
        settings,
        sequencer_group(settings),
        group_instance_id=worker_instance(settings),
        max_poll_interval_ms=RESTORE_TIMEOUT_S * 1000,
        max_poll_records=SEQUENCER_FETCH,
        partition_assignment_strategy=sequencer_assignors(lambda: sequencer.holds_state),
    )
    rt.links_position = lambda: highwater(consumer, tp)

    def lag() -> dict[str, int] | None:
        end = highwater(consumer, tp) if rt.owns_links else None
        return None if end is None else {f"{links_topic}/0": max(0, end - rt.applied_offset - 1)}

    rt.lag_sources.append(lag)
    consumer.subscribe([links_topic], listener=_SequencerListener(rt, sequencer, tp))
    await consumer.start()
    done = asyncio.Event()
    rt.stages_done.append(done)
    try:
        while not rt.stopping.is_set():
            if rt.owns_links and rt.pipeline is None:
                try:
                    given_back = await sequencer.resume_parked()
                    consumer.seek(tp, given_back if given_back is not None else await sequencer.restore())
                except Fenced:
                    continue
                except Exception:
                    _die("restoring the ordered stage", rt)
                    return
            data = await consumer.getmany(timeout_ms=200, max_records=SEQUENCER_FETCH)
            msgs = data.get(tp)
            try:
                if msgs and rt.owns_links and rt.pipeline is not None:
                    records = [
                        LinkRecord(m.offset, kind_of(m.headers), m.value, header_of(m.headers, FOUND_HEADER))
                        for m in msgs
                    ]
                    await sequencer.apply(records, rt.writer_epoch)
                await sequencer.tend()
            except Fenced:
                log.info("links partition revoked (or the worker stops) mid-batch: the rest is applied again later")
            except Exception:
                _die("the ordered stage", rt)
                return
    finally:
        await consumer.stop()
        done.set()


def highwater(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The partition's high-water mark, None while unknown (not assigned, or no fetch yet)."""
    try:
        got = consumer.highwater(tp)
    except Exception:  # not assigned, or no fetch yet: unknown
        return None
    return got if isinstance(got, int) and got >= 0 else None
