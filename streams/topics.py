"""The project's topics, created with fixed partition counts (never by automatic creation).

Partition counts are part of the design: the touchpoint topics are the parallel stage;
the internal links topic has exactly one partition because one agent owns the union-find.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import Settings

__all__ = ["TopicSpec", "create_topics", "describe_topics", "project_topics"]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic the project owns."""

    name: str
    partitions: int
    purpose: str
    config: tuple[tuple[str, str], ...] = ()


def project_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic the worker reads or writes, with its fixed partition count."""
    n = settings.touchpoint_partitions
    internal = f"{settings.app_id}-links"
    return [
        TopicSpec(settings.topic_web, n, "touchpoint events from the web"),
        TopicSpec(settings.topic_whatsapp, n, "touchpoint events from WhatsApp"),
        TopicSpec(settings.topic_kiosk, n, "touchpoint events from in-store kiosks"),
        TopicSpec(internal, 1, "decoded events and ticks for the single-writer resolver"),
        TopicSpec(settings.topic_resolved, n, "resolved customer changelog for the CRM (key customer_id)"),
        TopicSpec(settings.topic_deadletter, 1, "undecodable or invalid records, original bytes and reason"),
    ]


async def create_topics(bootstrap: str, topics: dict[str, int], replication: int = 1) -> list[str]:
    """Create each `name: partitions` that does not exist yet; return the names created.

    An existing topic with a different partition count is an error: co-partitioning and
    the single-writer design depend on the counts.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = await _partition_counts(admin, list(topics))
        for name, count in existing.items():
            if count != topics[name]:
                raise RuntimeError(f"topic {name} has {count} partitions, expected {topics[name]}")
        wanted = [NewTopic(name, p, replication) for name, p in topics.items() if name not in existing]
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


async def describe_topics(bootstrap: str, names: list[str]) -> dict[str, int]:
    """Partition count of each named topic that exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
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
