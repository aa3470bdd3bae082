"""Fixtures for the chaos scenarios: private services to break, and an isolated worker setup.

Faults that would hurt other tests (stopping the broker, FLUSHALL, restarting Redis) only
ever hit a private broker or Redis started here on their own ports, and stopped at the end.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import _reachable, flushed_database, local_redis_url
from tests.integration.harness import ROOT

#: ports of the private services (not the ones the shared services or other suites use)

PRIVATE_KAFKA_PORT = int(os.environ.get("IRL_CHAOS_KAFKA_PORT", "19292"))
PRIVATE_REDIS_PORT = int(os.environ.get("IRL_CHAOS_REDIS_PORT", "16733"))
#: the shared Redis database the chaos scenarios use (each test has its own key prefix too)
CHAOS_REDIS_DB = int(os.environ.get("IRL_CHAOS_REDIS_DB", "13"))


def kafka_script(action: str, port: int = PRIVATE_KAFKA_PORT) -> None:
    """scripts/kafka.sh ACTION for the private broker (start waits until it is ready)."""
    env = {**os.environ, "IRL_KAFKA_PORT": str(port), "IRL_KAFKA_CONTROLLER_PORT": str(port + 1)}
    done = subprocess.run(["scripts/kafka.sh", action], cwd=ROOT, env=env, capture_output=True, timeout=150)
    assert done.returncode == 0, f"kafka.sh {action} failed: {done.stderr.decode()[-2000:]}"


def redis_script(action: str, port: int = PRIVATE_REDIS_PORT) -> None:
    """scripts/redis.sh ACTION for the private Redis (no persistence: a restart empties it)."""
    env = {**os.environ, "IRL_REDIS_PORT": str(port)}
    done = subprocess.run(["scripts/redis.sh", action], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, f"redis.sh {action} failed: {done.stderr.decode()[-2000:]}"


@pytest.fixture
def private_kafka() -> Iterator[str]:
    """A broker of our own, fresh for the test; stopped and removed afterwards."""
    if _reachable(f"127.0.0.1:{PRIVATE_KAFKA_PORT}"):
        pytest.fail(f"port {PRIVATE_KAFKA_PORT} is taken: set IRL_CHAOS_KAFKA_PORT to a free port")
    kafka_script("clean")
    kafka_script("start")
    try:
        yield f"127.0.0.1:{PRIVATE_KAFKA_PORT}"
    finally:
        kafka_script("clean")


@pytest.fixture
def private_redis() -> Iterator[str]:
    """A Redis of our own (FLUSHALL and restarts are safe here); stopped afterwards."""
    if _reachable(f"127.0.0.1:{PRIVATE_REDIS_PORT}"):
        pytest.fail(f"port {PRIVATE_REDIS_PORT} is taken: set IRL_CHAOS_REDIS_PORT to a free port")
    redis_script("start")
    try:
        yield f"{local_redis_url(PRIVATE_REDIS_PORT)}/0"
    finally:
        redis_script("stop")


@pytest.fixture
def chaos_redis_url(_redis_server: str) -> Iterator[str]:
    """A database of the shared Redis, flushed before and after (never FLUSHALL)."""
    with flushed_database(f"{_redis_server}/{CHAOS_REDIS_DB}") as url:
        yield url
