"""The project's topics, created with fixed partition counts (never by automatic creation).

Partition counts are part of the design: the touchpoint topics are the parallel stage;
the internal links topic has exactly one partition because one agent owns the union-find.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord

from streams.batches import MAX_RECORD_BYTES
from streams.contracts import Registration, register_contracts
from streams.kafka_auth import client_options, options
from streams.registry import RegistryClient, registry_client
from streams.settings import Settings

__all__ = [
    "STATE_CONFIG",
    "TopicSpec",
    "TopicsOutcome",
    "align_topic_configs",
    "bounded_retention",
    "compacted_changelog",
    "create_project_topics",
    "create_topics",
    "customers_state_topic_name",
    "delete_records_before",
    "describe_topics",
    "effects_topic_name",
    "end_offset",
    "ensure_project_topics",
    "erasures_topic_name",
    "links_topic_name",
    "project_contracts",
    "project_topics",
    "records_to_end",
    "register_project_contracts",
    "state_topic_name",
    "table_topic_name",
    "topic_settings_drift",
]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic the project owns."""

    name: str
    partitions: int
    purpose: str
    config: tuple[tuple[str, str], ...] = ()
    #: the Avro contract of its values (schemas/avro/<contract>), registered under `<name>-value`
    contract: str = ""


_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
#: The single writer's state: one partition, latest value per key, room for large chunks.
#: ``compact,delete`` with no time or size limit keeps the latest value per key as plain
#: compaction does, and lets the worker delete the records before its newest snapshot at once
#: (DeleteRecords is refused on a topic whose policy lacks ``delete``: docs/privacy.md). Small
#: segments, rolled at least hourly, and a low dirty ratio let the log cleaner and the deletion
#: reach the disk soon; a takeover reads about one snapshot, not history.
STATE_CONFIG = (
    ("cleanup.policy", "compact,delete"),
    ("retention.ms", "-1"),
    ("retention.bytes", "-1"),
    ("max.message.bytes", str(MAX_RECORD_BYTES)),
    ("segment.bytes", str(16 * 1024 * 1024)),
    ("segment.ms", str(_HOUR_MS)),
    ("min.cleanable.dirty.ratio", "0.2"),
)


def _ms(hours: float) -> int:
    return max(1000, int(hours * _HOUR_MS))


def bounded_retention(hours: float) -> tuple[tuple[str, str], ...]:
    """Delete records `hours` after the broker appended them, whatever timestamp the producer set.

    ``LogAppendTime``: touchpoint producers stamp records with the event time, and retention
    must not delete a replay of last month's events on arrival nor keep a record for ever
    because it claims a future time. A segment rolls at the latest a day (or the retention, if
    shorter) after its first record, so a record is gone at most retention + segment.ms + the
    broker's retention check interval (5 minutes by default) after it was appended.
    """
    ms = _ms(hours)
    return (
        ("cleanup.policy", "delete"),
        ("retention.ms", str(ms)),
        ("segment.ms", str(min(ms, _DAY_MS))),
        ("message.timestamp.type", "LogAppendTime"),
    )


def compacted_changelog(lag_hours: float) -> tuple[tuple[str, str], ...]:
    """Latest record per key, and every older one removed within `lag_hours` of being replaced.

    ``max.compaction.lag.ms`` makes a segment compactable that long after its first record
    and rolls the active segment on the first append after it (the active segment is never
    compacted), so an ERASED record replaces the customer's older records within about the
    lag once a later record reaches the partition (the worker sends one: docs/privacy.md).
    """
    ms = _ms(lag_hours)
    return (
        ("cleanup.policy", "compact"),
        ("max.compaction.lag.ms", str(ms)),
        ("segment.ms", str(ms)),
        ("min.cleanable.dirty.ratio", "0.1"),
    )


#: Room for what the worker writes of one touchpoint record, which may be larger than the record: a
#: touchpoint topic takes up to the broker's limit (1 MiB by default), a dead letter carries the
#: original value, key and headers (the headers twice), a links row is JSON, where a control
#: character of an attribute takes six bytes, and a resolved interaction adds its customer id. At the
#: broker's default such a send failed and the worker exited on it at every restart.
_ROOM = (("max.message.bytes", str(MAX_RECORD_BYTES)),)

#: The dead letters: seven days from when they died. ``CreateTime``: a purge (an erasure) copies
#: the records it keeps with their original timestamps, so a copy is not kept longer.
_DEAD_CONFIG = (
    ("cleanup.policy", "delete"),
    ("retention.ms", str(7 * _DAY_MS)),
    ("segment.ms", str(_DAY_MS)),
    ("message.timestamp.type", "CreateTime"),
    *_ROOM,
)


def links_topic_name(settings: Settings) -> str:
    """The links log: triage's batches, ticks and operator actions, in the order they are applied."""
    return f"{settings.app_id}-links"


def state_topic_name(settings: Settings) -> str:
    """The single writer's state topic (the name the Faust table's changelog had: state carries over)."""
    return f"{settings.app_id}-irl-state-changelog"


def erasures_topic_name(settings: Settings) -> str:
    """Receipts of completed erasures, by customer id (no personal data; `irl erasure-status`)."""
    return f"{settings.app_id}-erasures"


def effects_topic_name(settings: Settings) -> str:
    """The ordered stage's effects for the per-customer stage (``IRL_CUSTOMER_STAGE=kafka``), key customer id.

    As many partitions as the resolved topic: murmur2 of a customer id puts its effects and its
    records in partitions of the same number.
    """
    return f"{settings.app_id}-effects"


def customers_state_topic_name(settings: Settings) -> str:
    """The per-customer stage's snapshots: effects partition p's (chunks and a manifest) in its partition p.

    One partition each, so that an erasure deletes the older snapshots of its partition alone (DeleteRecords).
    """
    return f"{settings.app_id}-customers-state"


#: Erasure receipts: the latest per customer id, kept for good (they hold no personal data).
_RECEIPTS_CONFIG = (("cleanup.policy", "compact"), ("retention.ms", "-1"))


def table_topic_name(settings: Settings) -> str:
    """The `irl-state` table's own Faust changelog: declared, never written (see streams.state_store)."""
    return f"{settings.app_id}-irl-state-table-changelog"


def project_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic the worker reads or writes, with its fixed partition count and settings."""
    n = settings.touchpoint_partitions
    internal = links_topic_name(settings)
    kept = bounded_retention(settings.touchpoint_retention_hours)
    links = bounded_retention(7 * 24) + _ROOM
    interactions = bounded_retention(settings.interactions_retention_hours) + _ROOM
    resolved = compacted_changelog(settings.resolved_compaction_lag_hours)
    return [
        TopicSpec(state_topic_name(settings), 1, "the ordered stage's snapshots, chunked (compacted)", STATE_CONFIG),
        TopicSpec(table_topic_name(settings), 1, "the irl-state table's Faust changelog (stays empty)", STATE_CONFIG),
        TopicSpec(settings.topic_web, n, "touchpoint events from the web", kept, _EVENTS),
        TopicSpec(settings.topic_whatsapp, n, "touchpoint events from WhatsApp", kept, _EVENTS),
        TopicSpec(settings.topic_kiosk, n, "touchpoint events from in-store kiosks", kept, _EVENTS),
        TopicSpec(settings.topic_crm, n, "contacts of an existing CRM (irl import)", kept, _EVENTS),
        TopicSpec(erasures_topic_name(settings), 1, "receipts of completed erasures (compacted)", _RECEIPTS_CONFIG),
        TopicSpec(internal, 1, "batches of validated events, ticks and actions for the ordered stage", links),
        TopicSpec(
            effects_topic_name(settings),
            n,
            "the ordered stage's effects for the per-customer stage (IRL_CUSTOMER_STAGE=kafka; key customer_id)",
            links,
        ),
        TopicSpec(
            customers_state_topic_name(settings),
            n,
            "the per-customer stage's snapshots, chunked, in the partition of their effects partition's number",
            STATE_CONFIG,
        ),
        TopicSpec(
            settings.topic_resolved,
            n,
            "resolved customer changelog for the CRM (key customer_id, compacted)",
            resolved,
            _RESOLVED,
        ),
        TopicSpec(
            settings.topic_interactions,
            n,
            "every accepted interaction with its customer, as applied (key customer_id)",
            interactions,
            _INTERACTIONS,
        ),
        TopicSpec(
            settings.topic_deadletter,
            1,
            "undecodable or invalid records, original bytes and reason",
            _DEAD_CONFIG,
            _DEAD,
        ),
    ]


_EVENTS, _RESOLVED, _DEAD, _INTERACTIONS = (
    "customer_interaction",
    "resolved_customer",
    "dead_letter",
    "resolved_interaction",
)


def project_contracts(settings: Settings) -> dict[str, str]:
    """Each topic with a public contract (touchpoints, resolved, dead letters) and its contract's name.

    The internal topics (links, state) carry the worker's private records and are not registered.
    """
    return {s.name: s.contract for s in project_topics(settings) if s.contract}


async def register_project_contracts(settings: Settings, client: RegistryClient | None = None) -> list[Registration]:
    """Register every contract under its topics' subjects (see streams.contracts), off the event loop."""
    reg = client if client is not None else registry_client(settings)
    return await asyncio.to_thread(register_contracts, reg, project_contracts(settings))


async def create_topics(
    bootstrap: str,
    topics: dict[str, int],
    replication: int = 1,
    configs: dict[str, dict[str, str]] | None = None,
    *,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create each `name: partitions` that does not exist yet (with `configs[name]`); return the names created.

    An existing topic with a different partition count is an error: co-partitioning and
    the single-writer design depend on the counts. `security`: aiokafka's security options
    (default: the process's, `streams.kafka_auth.options()`), as for every function here.
    """
    admin = _admin(bootstrap, security)
    await admin.start()
    try:
        existing = await _partition_counts(admin, list(topics))
        for name, count in existing.items():
            if count != topics[name]:
                raise RuntimeError(f"topic {name} has {count} partitions, expected {topics[name]}")
        configs = configs or {}
        wanted = [
            NewTopic(name, p, replication, topic_configs=configs.get(name, {}))
            for name, p in topics.items()
            if name not in existing
        ]
        created: list[str] = []
        for topic in wanted:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()


async def delete_records_before(
    bootstrap: str, before: Mapping[TopicPartition, int], *, security: Mapping[str, Any] | None = None
) -> dict[TopicPartition, int]:
    """Make every record of each partition before `before[tp]` unreadable (Kafka's DeleteRecords).

    Returns each partition's new log start offset. An offset at or below the current start
    changes nothing. Raises PolicyViolationError when a topic's cleanup.policy lacks
    ``delete`` (run `irl topics create` to give it this version's settings).
    """
    if not before:
        return {}
    admin = _admin(bootstrap, security)
    await admin.start()
    try:
        starts: dict[TopicPartition, int] = await admin.delete_records(
            {tp: RecordsToDelete(offset) for tp, offset in before.items()}
        )
        return starts
    finally:
        await admin.close()


def _admin(bootstrap: str, security: Mapping[str, Any] | None) -> AIOKafkaAdminClient:
    extra = options() if security is None else security
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000, **extra)


async def describe_topics(
    bootstrap: str, names: list[str], *, security: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Partition count of each named topic that exists."""
    admin = _admin(bootstrap, security)
    await admin.start()
    try:
        return await _partition_counts(admin, names)
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    present = set(await admin.list_topics())
    ask = [n for n in names if n in present]
    if not ask:
        return {}
    out: dict[str, int] = {}
    for desc in await admin.describe_topics(ask):
        if desc.get("error_code", 0) == 0:
            out[desc["topic"]] = len(desc["partitions"])
    return out


@dataclass(frozen=True, slots=True)
class TopicsOutcome:
    """What `ensure_project_topics` did: the topics it created and those whose settings it changed."""

    created: list[str]
    updated: list[str]


async def ensure_project_topics(settings: Settings) -> TopicsOutcome:
    """Create every topic of `project_topics(settings)`; give existing ones the settings of their spec.

    A topic created by an earlier version keeps its partitions (a different count is an error)
    but gets this version's settings (retention, compaction, timestamp type: docs/privacy.md);
    overrides it has for other keys are kept.
    """
    specs = project_topics(settings)
    configs = {s.name: dict(s.config) for s in specs}
    security = client_options(settings)
    created = await create_topics(
        settings.kafka_bootstrap, {s.name: s.partitions for s in specs}, configs=configs, security=security
    )
    existing = {name: cfg for name, cfg in configs.items() if name not in created and cfg}
    updated = await align_topic_configs(settings.kafka_bootstrap, existing, security=security)
    return TopicsOutcome(created, updated)


async def create_project_topics(settings: Settings) -> list[str]:
    """Create every topic of `project_topics(settings)` and align existing ones; return the names created."""
    return (await ensure_project_topics(settings)).created


async def topic_settings_drift(settings: Settings) -> dict[str, list[str]]:
    """Each existing project topic whose settings differ from its spec, with the keys that differ.

    `irl worker` warns about them at start: an erasure needs the state topic's ``delete``
    policy, and retention and compaction are what bound every copy (docs/privacy.md).
    """
    wanted = {s.name: dict(s.config) for s in project_topics(settings) if s.config}
    admin = _admin(settings.kafka_bootstrap, client_options(settings))
    await admin.start()
    try:
        current = await _topic_overrides(admin, list(wanted))
    finally:
        await admin.close()
    drift: dict[str, list[str]] = {}
    for name, have in current.items():
        keys = sorted(k for k, v in wanted[name].items() if have.get(k) != v)
        if keys:
            drift[name] = keys
    return drift


#: DescribeConfigs' source of a value set on the topic itself.
_TOPIC_OVERRIDE = 1


async def align_topic_configs(
    bootstrap: str, configs: Mapping[str, Mapping[str, str]], *, security: Mapping[str, Any] | None = None
) -> list[str]:
    """Give each existing topic the `configs[topic]` values it lacks; return the names changed.

    AlterConfigs replaces a topic's whole set of overrides, so the overrides it has for other
    keys are sent along and kept. Raises RuntimeError naming the topic when the broker refuses.
    """
    if not configs:
        return []
    admin = _admin(bootstrap, security)
    await admin.start()
    try:
        current = await _topic_overrides(admin, list(configs))
        changed: list[str] = []
        for name, want in configs.items():
            have = current.get(name)
            if have is None or all(have.get(k) == v for k, v in want.items()):
                continue
            merged = {**have, **want}
            for response in await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, merged)]):
                for error_code, error_message, *_ in response.resources:
                    if error_code:
                        raise RuntimeError(f"topic {name}: the broker refused its settings ({error_message})")
            changed.append(name)
        return changed
    finally:
        await admin.close()


async def _topic_overrides(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    """The settings set on each existing topic itself (not the broker's defaults)."""
    present = set(await admin.list_topics())
    ask = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names if n in present]
    if not ask:
        return {}
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(ask):
        for error_code, _message, _type, name, entries, *_ in response.resources:
            if error_code == 0:
                out[name] = {e[0]: e[1] for e in entries if e[3] == _TOPIC_OVERRIDE and e[1] is not None}
    return out


async def end_offset(
    bootstrap: str, topic: str, partition: int = 0, *, security: Mapping[str, Any] | None = None
) -> int:
    """The offset the next record of `topic`'s `partition` will get (a ListOffsets request)."""
    extra = options() if security is None else security
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **extra)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def records_to_end(
    bootstrap: str,
    topic: str,
    timeout_s: float = 60.0,
    *,
    security: Mapping[str, Any] | None = None,
    start: int | None = None,
) -> AsyncIterator[ConsumerRecord]:
    """Every record of `topic` from the beginning (or `start`) to the end offsets taken at the start, by partition.

    Raises LookupError when the topic does not exist and TimeoutError when reading takes
    longer than `timeout_s`. Commits nothing (no consumer group).
    """
    count = (await describe_topics(bootstrap, [topic], security=security)).get(topic, 0)
    if not count:
        raise LookupError(f"topic {topic} does not exist")
    extra = options() if security is None else security
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **extra)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        if start is not None:
            for tp in tps:
                if start > await consumer.position(tp):
                    consumer.seek(tp, start)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {topic} did not finish within {timeout_s:.0f}s")
                got = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
                for rec in got.get(tp, []):
                    if rec.offset < ends[tp]:
                        yield rec
    finally:
        await consumer.stop()
