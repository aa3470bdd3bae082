"""Topics created by an earlier version get this version's settings (issue 17), keeping other overrides."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import PolicyViolationError

from streams.settings import Settings
from streams.topics import (
    _admin,
    create_topics,
    delete_records_before,
    ensure_project_topics,
    project_topics,
    state_topic_name,
    topic_settings_drift,
)

from .harness import isolated_env

pytestmark = [pytest.mark.integration]

#: What the version before issue 17 created.
OLD = {
    "state": {"cleanup.policy": "compact", "segment.bytes": str(16 * 1024 * 1024)},
    "touchpoint": {"retention.ms": "-1", "max.message.bytes": "2000000"},
    "resolved": {"retention.ms": str(7 * 86_400_000)},
}


async def _configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = _admin(bootstrap, {})
    await admin.start()
    try:
        out: dict[str, dict[str, str]] = {}
        for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names]):
            for _code, _msg, _type, name, entries, *_ in response.resources:
                out[name] = {e[0]: e[1] for e in entries}
        return out
    finally:
        await admin.close()


async def test_existing_topics_get_the_new_settings(kafka_bootstrap: str, redis_url: str) -> None:
    settings = Settings.from_env(isolated_env(kafka_bootstrap, redis_url))
    state = state_topic_name(settings)
    n = settings.touchpoint_partitions
    await create_topics(
        kafka_bootstrap,
        {state: 1, settings.topic_web: n, settings.topic_resolved: n},
        configs={state: OLD["state"], settings.topic_web: OLD["touchpoint"], settings.topic_resolved: OLD["resolved"]},
        security={},
    )
    with pytest.raises(PolicyViolationError):  # what an erasure met on a state topic of the old version
        await delete_records_before(kafka_bootstrap, {TopicPartition(state, 0): 0}, security={})

    drift = await topic_settings_drift(settings)
    assert "cleanup.policy" in drift[state] and "message.timestamp.type" in drift[settings.topic_web]
    assert "max.compaction.lag.ms" in drift[settings.topic_resolved]

    outcome = await ensure_project_topics(settings)
    assert {state, settings.topic_web, settings.topic_resolved} <= set(outcome.updated)
    assert state not in outcome.created
    specs = {s.name: dict(s.config) for s in project_topics(settings)}
    have = await _configs(kafka_bootstrap, [state, settings.topic_web, settings.topic_resolved])
    for name in (state, settings.topic_web, settings.topic_resolved):
        assert {k: have[name][k] for k in specs[name]} == specs[name], name
    assert have[settings.topic_web]["max.message.bytes"] == "2000000"  # an override of its own is kept
    await delete_records_before(kafka_bootstrap, {TopicPartition(state, 0): 0}, security={})  # now allowed

    again = await ensure_project_topics(settings)
    assert again.created == [] and again.updated == []
    assert await topic_settings_drift(settings) == {}
