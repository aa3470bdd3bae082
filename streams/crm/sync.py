"""The connector's loop: consume the resolved changelog (and the resolved interactions) into a CRM store.

One consumer, one group, both topics. Per fetched batch: decode, apply every record of both
topics in ONE database transaction (in a worker thread, so the consumer keeps its heartbeats),
then commit the consumer offsets. A crash between the two commits redelivers records that are
already applied; they are repeats, which change nothing (change_id, version; an interaction is
upserted by event id). The two topics interleave in any order: the CRM's rules do not depend on
it (streams.crm.apply, streams.crm.owners). Undecodable records are counted, logged by position
and reason (never by content) and skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from streams.codec import CodecError, codecs, decode_resolved, decode_resolved_interaction
from streams.crm.apply import apply_records
from streams.crm.errors import CrmSourceUnavailable
from streams.crm.model import Outcome
from streams.crm.store import CrmStore
from streams.kafka_auth import options
from streams.registry import RegistryError
from streams.topics import describe_topics

__all__ = ["BATCH_RECORDS", "SyncReport", "sync_crm"]

log = logging.getLogger(__name__)

#: How long a consumer may take to join its group before --until-idle counts it as idle anyway.
_JOIN_GRACE_S = 30.0


#: Records of both topics applied in one database transaction at most (`sync_crm`): a first sync of
#: a week's backlog commits and reports every batch instead of once after minutes.
BATCH_RECORDS = 2_000


@dataclass(slots=True)
class SyncReport:
    """What a run did. `records` counts every consumed changelog record, undecodable ones included;
    `interactions` every consumed interaction record."""

    records: int = 0
    applied: int = 0
    duplicate: int = 0
    stale: int = 0
    invalid: int = 0
    undecodable: int = 0
    interactions: int = 0
    #: interactions kept (new, or a copy naming another customer)
    interactions_stored: int = 0
    #: interactions already held (a redelivery)
    interactions_repeated: int = 0
    #: interactions of erased customers, not kept
    interactions_erased: int = 0
    interactions_invalid: int = 0
    interactions_undecodable: int = 0
    batches: int = 0
    elapsed_s: float = 0.0
    #: "idle", "max-records" or "stop" (a signal or the caller's stop event).
    stopped_by: str = ""

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def count_interaction(self, outcome: Outcome) -> None:
        name = _INTERACTION_COUNTERS[outcome]
        setattr(self, name, getattr(self, name) + 1)

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"{self.records} records in {self.batches} batches, {self.elapsed_s:.1f}s: "
            f"applied {self.applied}, repeats {self.duplicate}, stale {self.stale}, "
            f"invalid {self.invalid}, undecodable {self.undecodable}; "
            f"{self.interactions} interactions: stored {self.interactions_stored}, "
            f"repeats {self.interactions_repeated}, erased {self.interactions_erased}, "
            f"invalid {self.interactions_invalid}, undecodable {self.interactions_undecodable}"
        )


_INTERACTION_COUNTERS = {
    Outcome.APPLIED: "interactions_stored",
    Outcome.DUPLICATE: "interactions_repeated",
    Outcome.ERASED: "interactions_erased",
    Outcome.INVALID: "interactions_invalid",
    Outcome.STALE: "interactions_repeated",
}


async def sync_crm(
    store: CrmStore,
    *,
    bootstrap: str,
    topic: str,
    group: str,
    interactions_topic: str | None = None,
    until_idle_s: float | None = None,
    max_records: int | None = None,
    batch_records: int = BATCH_RECORDS,
    stop: asyncio.Event | None = None,
    on_batch: Callable[[SyncReport], None] | None = None,
    poll_ms: int = 500,
) -> SyncReport:
    """Apply `topic` (and `interactions_topic`, when given) to `store` as consumer group `group`,
    from the committed offsets (earliest if none).

    Returns when `stop` is set, after `until_idle_s` seconds without a record (counted from
    when partitions are assigned), or once `max_records` records (of both topics) are applied
    and committed. A batch (one database transaction, then the offsets' commit, then `on_batch`)
    holds at most `batch_records` records of both topics, so that a first sync of a long backlog
    commits and reports as it goes. Raises CrmSourceUnavailable when the broker or a topic is missing; store
    errors propagate (nothing of the failed batch is committed, on either side).
    """
    report = SyncReport()
    started = time.monotonic()
    stop = stop or asyncio.Event()
    topics = [topic] if interactions_topic is None else [topic, interactions_topic]
    try:
        counts = await asyncio.wait_for(describe_topics(bootstrap, topics), 20)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise CrmSourceUnavailable(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}") from exc
    for name in topics:
        if name not in counts:
            raise CrmSourceUnavailable(f"topic {name} does not exist on {bootstrap}")
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        **options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # A transactional producer's aborted batches must never reach the CRM.
        isolation_level="read_committed",
    )
    try:
        await consumer.start()
    except (KafkaError, OSError) as exc:
        await consumer.stop()
        raise CrmSourceUnavailable(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}") from exc
    idle_since: float | None = None
    try:
        while True:
            if stop.is_set():
                report.stopped_by = "stop"
                break
            left = batch_records if max_records is None else max_records - report.records - report.interactions
            if left <= 0:
                report.stopped_by = "max-records"
                break
            fetched = await consumer.getmany(timeout_ms=poll_ms, max_records=min(left, batch_records))
            now = time.monotonic()
            if not any(fetched.values()):
                if until_idle_s is not None:
                    if idle_since is None and (consumer.assignment() or now - started > _JOIN_GRACE_S):
                        idle_since = now
                    if idle_since is not None and now - idle_since >= until_idle_s:
                        report.stopped_by = "idle"
                        break
                continue
            await _apply(store, consumer, fetched, report, interactions_topic)
            idle_since = time.monotonic()
            report.elapsed_s = idle_since - started  # the progress line's time so far
            if on_batch is not None:
                on_batch(report)
    finally:
        report.elapsed_s = time.monotonic() - started
        await consumer.stop()
    return report


async def _apply(
    store: CrmStore,
    consumer: AIOKafkaConsumer,
    fetched: dict[TopicPartition, list[Any]],
    report: SyncReport,
    interactions_topic: str | None,
) -> None:
    records: list[dict[str, Any]] = []
    interactions: list[dict[str, Any]] = []
    offsets: dict[TopicPartition, int] = {}
    try:
        await codecs().prefetch(msg.value for batch in fetched.values() for msg in batch)
    except RegistryError as exc:  # nothing applied or committed: a restart reads these records again
        raise CrmSourceUnavailable(f"schema registry: {exc}") from exc
    for tp, batch in fetched.items():
        is_interaction = tp.topic == interactions_topic
        for msg in batch:
            try:
                if is_interaction:
                    interactions.append(decode_resolved_interaction(msg.value))
                else:
                    records.append(decode_resolved(msg.value))
            except CodecError as exc:
                if is_interaction:
                    report.interactions_undecodable += 1
                else:
                    report.undecodable += 1
                log.warning("skipping undecodable record %s[%d]@%d: %s", tp.topic, tp.partition, msg.offset, exc.reason)
        if batch:
            offsets[tp] = batch[-1].offset + 1
        if is_interaction:
            report.interactions += len(batch)
        else:
            report.records += len(batch)
    outcomes, kept = await asyncio.to_thread(apply_records, store, records, interactions)
    for outcome in outcomes:
        report.count(outcome)
    for outcome in kept:
        report.count_interaction(outcome)
    report.batches += 1
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, KafkaError) as exc:
        # A rebalance took the partitions: their next owner gets these records again, as repeats.
        log.warning("offset commit failed after the database commit (%s); records will be redelivered", exc)
