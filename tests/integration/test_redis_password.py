"""The local Redis requires a password, and the worker names IRL_REDIS_URL when it lacks it (issue 17, low).

A Redis of our own on a private port (``IRL_TEST_PRIVATE_REDIS_PORT``, 16790) with its own
secrets directory, started and stopped by `scripts/redis.sh` as `make up` does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import _reachable
from tests.integration.harness import BIN, ROOT, isolated_env

PORT = int(os.environ.get("IRL_TEST_PRIVATE_REDIS_PORT", "16790"))


def _script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["scripts/redis.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def redis_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for scripts/redis.sh on the private port; the server is stopped afterwards."""
    if _reachable(f"127.0.0.1:{PORT}"):
        pytest.fail(f"port {PORT} is taken: set IRL_TEST_PRIVATE_REDIS_PORT to a free port")
    env = {
        **{k: v for k, v in os.environ.items() if k != "IRL_REDIS_PASSWORD"},
        "IRL_REDIS_PORT": str(PORT),
        "IRL_REDIS_HOME": str(tmp_path / "redis"),
        "IRL_SECRETS_DIR": str(tmp_path / "secrets"),
    }
    try:
        yield env
    finally:
        _script(env, "stop")


def test_started_redis_requires_the_generated_password(redis_env: dict[str, str], tmp_path: Path) -> None:
    started = _script(redis_env, "start")
    assert started.returncode == 0, started.stderr
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=PORT).ping()
    url = _script(redis_env, "url").stdout.strip()
    password = (tmp_path / "secrets" / "redis-password").read_text()
    assert len(password) == 64
    assert url == f"redis://:{password}@127.0.0.1:{PORT}/0"
    assert redis.Redis.from_url(url).ping()
    # the password never shows on the command line of the server
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert password not in ps


def test_a_running_redis_without_password_gets_one(redis_env: dict[str, str], tmp_path: Path) -> None:
    run = tmp_path / "redis" / f"run-{PORT}"
    run.mkdir(parents=True)
    # as an older scripts/redis.sh started it: no password
    subprocess.run(
        [
            *("redis-server", "--bind", "127.0.0.1", "--port", str(PORT), "--daemonize", "yes"),
            *("--pidfile", str(run / "redis.pid"), "--save", "", "--dir", str(run)),
        ],
        check=True,
        timeout=30,
    )
    client = redis.Redis(port=PORT)
    _wait_for_ping(client)
    started = _script(redis_env, "start")
    assert started.returncode == 0, started.stderr
    assert "password set" in started.stderr
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=PORT).ping()
    assert redis.Redis.from_url(_script(redis_env, "url").stdout.strip()).ping()


def test_worker_names_redis_url_when_the_password_is_wrong_or_missing(
    redis_env: dict[str, str], kafka_bootstrap: str
) -> None:
    assert _script(redis_env, "start").returncode == 0
    for url in (f"redis://127.0.0.1:{PORT}/0", f"redis://:not-the-password-4711@127.0.0.1:{PORT}/0"):
        env = isolated_env(kafka_bootstrap, url)
        done = subprocess.run([str(BIN / "irl"), "worker"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode != 0, done.stderr[-2000:]
        assert "IRL_REDIS_URL=" in done.stderr and "scripts/redis.sh url" in done.stderr, done.stderr[-2000:]
        assert "not-the-password-4711" not in done.stderr
        assert "Traceback" not in done.stderr


def _wait_for_ping(client: redis.Redis, deadline_s: float = 20.0) -> None:
    import time

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"Redis on port {PORT} did not answer within {deadline_s}s")
