"""The Kafka side of the per-customer stage (``IRL_CUSTOMER_STAGE=kafka``): one consumer loop on every worker.

Group ``<app id>-customers``, the effects topic, static membership (the worker's member
name, as its other groups). On assignment each partition loads its snapshot and the
consumer seeks to the offset after it; a revocation waits for the fetch in flight (its
records published, its offsets committed). Records go out on the worker's producer
(`streams.batches.BatchSender`), so the Avro encoding is the ordered stage's
(`streams.codec.encode_resolved`). A bug stops the process (exit 70) before its offsets are
committed: a restart reads on from its snapshot and the commit (`streams.customers`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from resolver.effect_feed import Position, encode_position
from streams.batches import BatchSender
from streams.customer_state import SnapshotFormatError
from streams.customers import POSITION_HEADER, CustomerPartition, CustomerPorts, EffectRecord
from streams.kafka_auth import client_options
from streams.loops import Delegating, highwater, start_client, worker_instance
from streams.mirror import PartitionMirror
from streams.readmodel import RedisReadModel
from streams.runtime import Runtime
from streams.settings import Settings
from streams.snapshots import read_stored_state
from streams.stall import StallWatch, task_stacks
from streams.topics import customers_state_topic_name, delete_records_before, effects_topic_name

__all__ = ["CUSTOMERS_FETCH", "CustomersKafka", "customers_group", "run_customers"]

log = logging.getLogger("irl.worker")

#: Records of effects one fetch takes (of all the worker's effects partitions). A record holds a partition's
#: effects of one step (tens to hundreds): 200 are a few thousand effects, a fraction of a second to apply,
#: so a fetch's records are published (and the counters move) steadily.
CUSTOMERS_FETCH = 200
#: Longest a taking-over member may spend reading the state topic.
_RESTORE_TIMEOUT_S = 900.0
#: a clean stop stores the held partitions' snapshots within this long (the worker kills a child after 12 s)
_STOP_SNAPSHOT_S = 8.0
#: A record without a position header (never written by this version): placed before every other.
_NO_POSITION = encode_position(Position(-1, 0))


def customers_group(settings: Settings) -> str:
    return f"{settings.app_id}-customers"


class CustomersKafka:
    """The per-customer stage's ports over the worker's producer and its own consumer."""

    def __init__(self, sender: BatchSender, settings: Settings) -> None:
        self.sender = sender
        self.settings = settings
        self.effects = effects_topic_name(settings)
        self.state = customers_state_topic_name(settings)
        self.consumer: AIOKafkaConsumer | None = None

    def ports(self) -> CustomerPorts:
        return CustomerPorts(
            self.read_state, self.send_state, self.publish, self.commit, self.committed, truncate=self.truncate
        )

    async def truncate(self, partition: int, effects_before: int, state_before: int | None) -> None:
        """Delete an effects partition's records, and its state partition's, before these offsets (DeleteRecords)."""
        s = self.settings
        before = {TopicPartition(self.effects, partition): effects_before}
        if state_before is not None:
            before[TopicPartition(self.state, partition)] = state_before
        await delete_records_before(s.kafka_bootstrap, before, security=client_options(s))

    async def read_state(self) -> Mapping[bytes, bytes]:
        s = self.settings
        return await read_stored_state(
            s.kafka_bootstrap, self.state, timeout_s=_RESTORE_TIMEOUT_S, security=client_options(s)
        )

    async def send_state(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> int | None:
        """Send an effects partition's state records to the state partition of its number; the first one's offset."""
        futures = await self.sender.send(self.state, partition, [(k, v, None, ()) for k, v in records])
        batches = await asyncio.gather(*futures)  # one future per record batch: its first record's metadata
        return int(batches[0].offset) if batches else None

    async def publish(self, records: list[tuple[bytes, bytes]]) -> None:
        topic = self.settings.topic_resolved
        await asyncio.gather(*await self.sender.send_keyed(topic, [(k, v, None, ()) for k, v in records]))

    async def commit(self, partition: int, offset: int) -> None:
        if self.consumer is None:
            return
        try:
            await self.consumer.commit({TopicPartition(self.effects, partition): offset})
        except (CommitFailedError, KafkaError) as exc:  # applied again by the next owner: the same records
            log.warning("the per-customer stage could not commit (%s)", type(exc).__name__)

    async def committed(self, partition: int) -> int | None:
        assert self.consumer is not None
        got = await self.consumer.committed(TopicPartition(self.effects, partition))
        return got if isinstance(got, int) and got >= 0 else None


class _CustomersLoop:
    def __init__(self, settings: Settings, rt: Runtime, kafka: CustomersKafka, instance: str | None = None) -> None:
        self.settings = settings
        #: the static member name in the group (None: the worker's own)
        self.instance = instance
        self.rt = rt
        self.kafka = kafka
        self.lock = asyncio.Lock()
        self.parts: dict[int, CustomerPartition] = {}
        self.consumer: AIOKafkaConsumer | None = None
        #: per effects partition held: has it applied anything while effects waited (`stalled`)
        self.watches: dict[int, StallWatch] = {}
        #: each held partition's log end as the broker last said (`_refresh_ends`, every second): a fetch's
        #: high-water mark alone is as old as the fetch, and read 0 lag while effects waited (a busy loop)
        self.ends: dict[int, int] = {}
        #: assignments loaded so far (`on_assigned`): a fetch begun before the last one is not applied (`apply_fetch`)
        self.assignments = 0
        #: the Redis read model the partitions mirror their customers to (one client for all; made on first use)
        self.redis: RedisReadModel | None = None

    def _model(self) -> RedisReadModel:
        if self.redis is None:
            s = self.settings
            self.redis = RedisReadModel.from_url(s.redis_url, s.topic_prefix, s.redis_ca_file)
        return self.redis

    def note_offsets(self) -> None:
        """Put each held partition's applied offset and the one its part of Redis holds in the stats (`/stats`)."""
        self.rt.stats["redis_partitions"] = {
            str(p): {"applied": part.applied, "redis": None if part.mirror is None else part.mirror.at}
            for p, part in sorted(self.parts.items())
        }

    async def on_revoked(self, revoked: Any) -> None:
        async with self.lock:  # the fetch in flight publishes and commits first
            for tp in revoked:
                self.parts.pop(tp.partition, None)
            self.note_offsets()

    async def on_assigned(self, assigned: Any) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        log.info("effects partitions assigned: %s", sorted(tp.partition for tp in assigned))
        async with self.lock:
            try:
                folded = await self.kafka.read_state()
                for tp in sorted(assigned):
                    part = CustomerPartition(
                        tp.partition,
                        self.kafka.ports(),
                        self.settings.topic_resolved,
                        self.rt.stats,
                        self.settings.snapshot_seconds,
                        reseal_after_s=self.settings.resolved_compaction_lag_hours * 3600 + 1.0,
                        on_published=self.rt.on_published,
                        mirror=PartitionMirror(
                            tp.partition, self.settings.touchpoint_partitions, self._model, self.rt.stats
                        ),
                    )
                    consumer.seek(tp, await part.load(folded))
                    self.parts[tp.partition] = part
                self.assignments += 1
                self.note_offsets()
            except SnapshotFormatError as exc:  # a newer worker's snapshot: said plainly, never misread
                _die(f"restoring the per-customer stage ({exc})", self.rt)
            except Exception:
                _die("restoring the per-customer stage", self.rt)

    async def apply_fetch(self, data: Mapping[Any, Sequence[Any]], assignments: int) -> None:
        """Apply a fetch to the partitions held, then store their snapshots when due. Under `lock`.

        ``assignments``: `self.assignments` when the fetch began. The consumer fetches while
        `on_assigned` reads the state topic, from the group's committed offset, which is past
        the snapshot's: those records, applied, would skip the effects between the two (a
        partition's quiet catch-up; found by the chaos suite's kill -9, a `Planned` for a
        customer whose input was never applied). A fetch begun before the last assignment was
        loaded is dropped, and its partitions sought back to the offset after the last applied.
        """
        consumer = self.consumer
        held = [(tp, part) for tp in sorted(data) if (part := self.parts.get(tp.partition)) is not None]
        if assignments != self.assignments:
            assert consumer is not None
            for tp, part in held:
                consumer.seek(tp, part.applied + 1)
            if held:
                log.info("the per-customer stage dropped a fetch begun before its partitions were loaded")
            return
        # Each partition applies in turn; their publishes then wait for the broker together.
        await asyncio.gather(*(part.apply([_record(m) for m in data[tp]]) for tp, part in held))
        for p, part in self.parts.items():
            await part.tend(behind=self._behind(p, part))
        self.note_offsets()

    def _behind(self, partition: int, part: CustomerPartition) -> bool:
        """Effects wait after the last one the partition applied (the broker's or the last fetch's log end)."""
        consumer = self.consumer
        if consumer is None:
            return False
        end = self._end(consumer, TopicPartition(self.kafka.effects, partition))
        return end is not None and end > part.applied + 1

    def stalled(self, now: float) -> list[int]:
        """The partitions held (and loaded) that applied nothing for `IRL_STALL_SECONDS` while effects waited.

        The longest any of them has applied nothing while effects waited goes to the stats
        (``customers_stalled_s``: `/ready` turns 503 from half the limit, as for the ordered stage).
        """
        consumer = self.consumer
        if consumer is None:
            return []
        out: list[int] = []
        longest = 0.0
        for tp in sorted(consumer.assignment()):
            part = self.parts.get(tp.partition)
            if part is None:
                continue  # loading: its restore is the group's to time out
            end = self._end(consumer, tp)  # None: not fetched yet, unknown, never waiting
            watch = self.watches.setdefault(tp.partition, StallWatch(self.settings.stall_seconds))
            if watch.observe(now, part.applied, end):
                out.append(tp.partition)
            longest = max(longest, watch.stalled_for(now))
        self.rt.stats["customers_stalled_s"] = round(longest, 1)
        return out

    async def _watch(self) -> None:
        """Never stall silently: a partition with effects waiting that applies nothing for `IRL_STALL_SECONDS`
        ends the process (75), as the ordered stage's watch does; a restart reads on from its snapshot."""
        while not self.rt.stopping.is_set():
            await asyncio.sleep(min(5.0, self.settings.stall_seconds / 4))
            stalled = self.stalled(time.monotonic())
            if stalled:
                log.critical(
                    "the per-customer stage applied nothing for %d s with effects waiting (partitions %s); "
                    "exiting so that a restart reads on from its snapshots. Tasks:\n%s",
                    self.settings.stall_seconds,
                    stalled,
                    task_stacks(),
                )
                logging.shutdown()
                os._exit(75)

    async def _store_on_stop(self) -> None:
        """A clean stop stores the snapshot of every held partition that changed since its last (within
        `_STOP_SNAPSHOT_S`), so that a restart reads no tail; a stop that cannot is logged, never fatal:
        the snapshot before it and the effects after it restore the same state."""
        async with self.lock:
            try:
                stored = await asyncio.wait_for(
                    asyncio.gather(*(part.close() for part in self.parts.values())), _STOP_SNAPSHOT_S
                )
            except Exception as exc:  # a stop never fails on it
                log.warning("the per-customer stage stopped without storing its snapshots (%r)", exc)
                return
        if any(stored):
            log.info("the per-customer stage stored %d snapshots on stopping", sum(stored))

    def _end(self, consumer: AIOKafkaConsumer, tp: Any) -> int | None:
        """The partition's log end: the later of the last fetch's high-water mark and the broker's last answer."""
        got = [e for e in (highwater(consumer, tp), self.ends.get(tp.partition)) if e is not None]
        return max(got) if got else None

    async def _refresh_ends(self) -> None:
        """Every second, ask the broker where each held partition ends (for `lag` and the stall watch)."""
        while not self.rt.stopping.is_set():
            consumer = self.consumer
            held = sorted(consumer.assignment()) if consumer is not None else []
            if consumer is not None and held:
                try:
                    ends = await consumer.end_offsets(held)
                except Exception:  # a rebalance or a broker away: the fetches' marks meanwhile
                    ends = {}
                self.ends = {tp.partition: int(end) for tp, end in ends.items() if tp in consumer.assignment()}
            await asyncio.sleep(1.0)

    def lag(self) -> dict[str, int] | None:
        """Effects not yet applied per assigned partition (``topic/partition``; None: no consumer yet)."""
        consumer = self.consumer
        if consumer is None:
            return None
        out: dict[str, int] = {}
        for tp in sorted(consumer.assignment()):
            part = self.parts.get(tp.partition)
            end = self._end(consumer, tp)
            if part is not None and end is not None:
                out[f"{tp.topic}/{tp.partition}"] = max(0, end - part.applied - 1)
        return out

    async def run(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=customers_group(s),
            group_instance_id=self.instance or worker_instance(s),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_seconds * 1000,
            heartbeat_interval_ms=max(1000, s.session_timeout_seconds * 200),
            max_poll_interval_ms=int(_RESTORE_TIMEOUT_S * 1000),
            max_poll_records=CUSTOMERS_FETCH,
            **client_options(s),
        )
        self.consumer = self.kafka.consumer = consumer
        consumer.subscribe([self.kafka.effects], listener=Delegating(self))
        self.rt.lag_sources.append(self.lag)
        if not await start_client(consumer, "the per-customer stage's consumer", self.rt.stopping):
            return
        done = asyncio.Event()
        self.rt.stages_done.append(done)
        watch = asyncio.ensure_future(self._watch())
        ends = asyncio.ensure_future(self._refresh_ends())
        try:
            while not self.rt.stopping.is_set():
                assignments = self.assignments
                data = await consumer.getmany(timeout_ms=200, max_records=CUSTOMERS_FETCH)
                try:
                    async with self.lock:
                        await self.apply_fetch(data, assignments)
                except Exception:
                    _die("the per-customer stage", self.rt)
                    return
            await self._store_on_stop()
        finally:
            watch.cancel()
            ends.cancel()
            await consumer.stop()
            if self.redis is not None:
                await self.redis.close()
            done.set()


def _record(m: Any) -> EffectRecord:
    position = next((v for k, v in m.headers or () if k == POSITION_HEADER), _NO_POSITION)
    return EffectRecord(m.offset, position, m.value)


def _die(what: str, rt: Runtime) -> None:
    if rt.stopping.is_set():
        log.info("%s stopped with the worker", what)
        return
    log.critical("%s failed; exiting so that a restart reads on from its snapshot", what, exc_info=True)
    logging.shutdown()
    os._exit(70)


async def run_customers(settings: Settings, rt: Runtime, sender: BatchSender, instance: str | None = None) -> None:
    """Build the records of the effects partitions this worker (or this child of it) holds, until the worker stops.

    ``instance``: the static member name in the group (a child's, `streams.customer_process.child_instance`);
    None: the worker's own.
    """
    await _CustomersLoop(settings, rt, CustomersKafka(sender, settings), instance).run()
