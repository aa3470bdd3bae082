"""Fixtures for the real services: one broker and one Redis per session, isolation per test.

The services are started by `make test` / `.ci/run` (scripts/services.sh); these fixtures
check that they answer and fail loudly when they do not: nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Generated for the test run: what builds the core state needs a digest key (issue 17).
os.environ.setdefault("IRL_DIGEST_KEY", secrets.token_hex(32))

KAFKA = os.environ.get("IRL_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ROOT = Path(__file__).resolve().parents[1]


def local_redis_url(port: int | None = None) -> str:
    """The URL of the local Redis on `port` (IRL_REDIS_PORT, 6379), its password included.

    `scripts/redis.sh url` knows it (the local Redis requires a password, issue 17); the
    database part is left off.
    """
    env = dict(os.environ)
    if port is not None:
        env["IRL_REDIS_PORT"] = str(port)
    done = subprocess.run(["scripts/redis.sh", "url"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/redis.sh url failed: {done.stderr[-500:]}")
    return done.stdout.strip().rsplit("/", 1)[0]


#: Redis databases handed out to tests, one at a time per process (flushed before and after).
_REDIS_DB = int(os.environ.get("IRL_TEST_REDIS_DB", "9"))


def _reachable(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap address of the real broker; fails the test when it is not running."""
    first = KAFKA.split(",")[0]
    if not _reachable(first):
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run `make up` (or `make test`, which starts it)")
    return KAFKA


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> str:
    """A fresh topic name per test (not created: create it with the partitions you need)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]
    return f"test-{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def _redis_server() -> str:
    url = os.environ.get("IRL_TEST_REDIS_URL") or local_redis_url()
    hostport = url.split("//", 1)[1].split("/", 1)[0].rpartition("@")[2]
    if not _reachable(hostport):
        pytest.fail(f"Redis is not reachable at {hostport}: run `make up` (or `make test`, which starts it)")
    return url.rstrip("/")


@contextlib.contextmanager
def flushed_database(url: str) -> Iterator[str]:
    """Yield `url` (a Redis database) flushed before and after: never FLUSHALL, so tests share one server."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_url(_redis_server: str) -> Iterator[str]:
    """URL of a Redis database flushed before and after the test."""
    with flushed_database(f"{_redis_server}/{_REDIS_DB}") as url:
        yield url


def _hypothesis_profile() -> None:
    """No per-example deadline: these machines are shared, and a slow example is not a wrong one."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("irl", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("irl")


_hypothesis_profile()
