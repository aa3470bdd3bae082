"""The real services answer: a topic on the broker, a message through aiokafka, and Redis."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.topics import create_topics, describe_topics

pytestmark = pytest.mark.integration


async def test_topic_produce_consume_and_redis(kafka_bootstrap: str, unique_topic: str, redis_url: str) -> None:
    created = await create_topics(kafka_bootstrap, {unique_topic: 3})
    assert created == [unique_topic]
    assert await describe_topics(kafka_bootstrap, [unique_topic]) == {unique_topic: 3}
    # creating again is a no-op, and a different partition count is refused
    assert await create_topics(kafka_bootstrap, {unique_topic: 3}) == []
    with pytest.raises(RuntimeError, match="partitions"):
        await create_topics(kafka_bootstrap, {unique_topic: 4})

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(unique_topic, b"hello", key=b"k1", timestamp_ms=1_700_000_000_000)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(unique_topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (msg.value, msg.key, msg.partition, msg.timestamp) == (b"hello", b"k1", meta.partition, 1_700_000_000_000)

    r = aioredis.Redis.from_url(redis_url)
    try:
        await r.set("irl:test", msg.value)
        assert await r.get("irl:test") == b"hello"
    finally:
        await r.aclose()


async def test_auto_creation_is_off(kafka_bootstrap: str, unique_topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(Exception):  # noqa: B017 - aiokafka raises a timeout-type error
            await asyncio.wait_for(producer.send_and_wait(unique_topic, b"x"), timeout=10)
    finally:
        await producer.stop()
    assert await describe_topics(kafka_bootstrap, [unique_topic]) == {}


def _registry_sh(action: str, **env: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        ["scripts/registry.sh", action], cwd=root, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_registry_sh_uses_a_registry_that_answers_and_refuses_a_port_that_is_not_one() -> None:
    """The registry services.sh started answers; a second start does not start another; a taken port is named."""
    status = _registry_sh("status")
    assert status.returncode == 0, status.stderr
    again = _registry_sh("start")
    assert again.returncode == 0 and ("already running" in again.stderr or "using it" in again.stderr), again.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        refused = _registry_sh("start", IRL_REGISTRY_PORT=port, IRL_REGISTRY_READY_TIMEOUT="5")
        assert refused.returncode == 1 and "not a schema registry" in refused.stderr, refused.stderr
        down = _registry_sh("status", IRL_REGISTRY_PORT=port)
        assert down.returncode == 1 and "not running" in down.stderr


def test_down_stops_only_the_postgres_this_clone_started(tmp_path: Path) -> None:
    """PostgreSQL's cluster is shared by every clone: `down` in another clone must leave it running (issue 17)."""
    root = Path(__file__).resolve().parents[2]
    clone = tmp_path / "clone"
    shutil.copytree(root / "scripts", clone / "scripts")
    pg = str(root / "scripts" / "postgres.sh")
    shared = subprocess.run([pg, "status"], capture_output=True, text=True, timeout=60)
    assert shared.returncode == 0, "make test starts PostgreSQL: " + shared.stderr
    # Nothing of the copy's own runs; ports nobody uses, so its Kafka, registry and Redis are "not running".
    env = {**os.environ, "IRL_KAFKA_PORT": "1", "IRL_REDIS_PORT": "2", "IRL_REGISTRY_PORT": "3", "PYTHON": "/bin/false"}
    down = subprocess.run(
        [str(clone / "scripts" / "services.sh"), "down"], env=env, capture_output=True, text=True, timeout=120
    )
    assert down.returncode == 0, down.stderr
    assert "not started by this clone; left running" in down.stderr
    assert subprocess.run([pg, "status"], capture_output=True, timeout=60).returncode == 0
    # A cluster this clone did start (its marker) is stopped by its own `down`.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    # Where the postgres OS user can reach it (as postgres.sh's own default), not under pytest's tmp.
    home = Path("/var/tmp") / f"irl-pg-test-{port}"
    private = {**env, "IRL_PG_PORT": port, "IRL_PG_HOME": str(home)}
    try:
        started = subprocess.run(
            [str(clone / "scripts" / "postgres.sh"), "start"], env=private, capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stderr
        (clone / ".cache").mkdir(exist_ok=True)
        (clone / ".cache" / "postgres.started-here").touch()
        down = subprocess.run(
            [str(clone / "scripts" / "services.sh"), "down"], env=private, capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 0 and "postgres: stopped" in down.stderr, down.stderr
        assert not (clone / ".cache" / "postgres.started-here").exists()
        gone = subprocess.run([str(clone / "scripts" / "postgres.sh"), "status"], env=private, capture_output=True)
        assert gone.returncode == 1
        assert subprocess.run([pg, "status"], capture_output=True, timeout=60).returncode == 0
    finally:
        subprocess.run([str(clone / "scripts" / "postgres.sh"), "stop"], env=private, capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)
