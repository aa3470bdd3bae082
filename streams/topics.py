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
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord

from streams.contracts import Registration, register_contracts
from streams.kafka_auth import client_options, options
from streams.registry import RegistryClient, registry_client
from streams.settings import Settings

__all__ = [
    "TopicSpec",
    "create_project_topics",
    "create_topics",
    "describe_topics",
    "project_contracts",
    "project_topics",
    "records_to_end",
    "register_project_contracts",
    "state_topic_name",
    "table_topic_name",
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


#: Touchpoint records carry the event time as their Kafka timestamp (producers set it to
#: occurred_at). Time-based retention would then delete a replay of last month's events the
#: moment they arrive, so these topics are kept by size only.
_KEEP_BY_SIZE = (("retention.ms", "-1"),)
#: The single writer's state (the write-ahead log behind the `irl-state` table): one partition,
#: latest value per key, room for large steps. Small segments and a low dirty ratio let the
#: log cleaner compact most of it, so a takeover reads about one record per key, not history.
STATE_CONFIG = (
    ("cleanup.policy", "compact"),
    ("max.message.bytes", str(16 * 1024 * 1024)),
    ("segment.bytes", str(16 * 1024 * 1024)),
    ("min.cleanable.dirty.ratio", "0.2"),
)
#: Internal and output topics are stamped with the append time by our own producers.
_WEEK = (("retention.ms", str(7 * 24 * 3600 * 1000)),)


def state_topic_name(settings: Settings) -> str:
    """The single writer's state topic (the name the Faust table's changelog had: state carries over)."""
    return f"{settings.app_id}-irl-state-changelog"


def table_topic_name(settings: Settings) -> str:
    """The `irl-state` table's own Faust changelog: declared, never written (see streams.state_store)."""
    return f"{settings.app_id}-irl-state-table-changelog"


def project_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic the worker reads or writes, with its fixed partition count and settings."""
    n = settings.touchpoint_partitions
    internal = f"{settings.app_id}-links"
    return [
        TopicSpec(state_topic_name(settings), 1, "the ordered stage's snapshots, chunked (compacted)", STATE_CONFIG),
        TopicSpec(table_topic_name(settings), 1, "the irl-state table's Faust changelog (stays empty)", STATE_CONFIG),
        TopicSpec(settings.topic_web, n, "touchpoint events from the web", _KEEP_BY_SIZE, _EVENTS),
        TopicSpec(settings.topic_whatsapp, n, "touchpoint events from WhatsApp", _KEEP_BY_SIZE, _EVENTS),
        TopicSpec(settings.topic_kiosk, n, "touchpoint events from in-store kiosks", _KEEP_BY_SIZE, _EVENTS),
        TopicSpec(settings.topic_crm, n, "contacts of an existing CRM (irl import)", _KEEP_BY_SIZE, _EVENTS),
        TopicSpec(internal, 1, "batches of validated events, ticks and actions for the ordered stage", _WEEK),
        TopicSpec(
            settings.topic_resolved, n, "resolved customer changelog for the CRM (key customer_id)", _WEEK, _RESOLVED
        ),
        TopicSpec(
            settings.topic_interactions,
            n,
            "every accepted interaction with its customer, as applied (key customer_id)",
            _WEEK,
            _INTERACTIONS,
        ),
        TopicSpec(
            settings.topic_deadletter, 1, "undecodable or invalid records, original bytes and reason", _WEEK, _DEAD
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


async def create_project_topics(settings: Settings) -> list[str]:
    """Create every topic of `project_topics(settings)` with its partitions and settings."""
    specs = project_topics(settings)
    return await create_topics(
        settings.kafka_bootstrap,
        {s.name: s.partitions for s in specs},
        configs={s.name: dict(s.config) for s in specs},
        security=client_options(settings),
    )


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
