"""Issue 17 (low): `irl worker` with Kafka away says so in one line naming the setting, within a bound.

A port that accepted TCP but never answered left the worker silently stuck; a refused port
printed a 35-line traceback that did not name IRL_KAFKA_BOOTSTRAP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

IRL = str(Path(sys.executable).parent / "irl")
TIMEOUT_S = 2.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed on return: nothing listens there


def start_worker(bootstrap: str, tmp_path: Path) -> tuple[int, str, float]:
    """Run `irl worker` (default registry: the Kafka check comes first and never reaches it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRL_")}
    env.update(
        IRL_KAFKA_BOOTSTRAP=bootstrap,
        IRL_KAFKA_CONNECT_TIMEOUT_SECONDS=str(TIMEOUT_S),
        IRL_DIGEST_KEY="k" * 32,
        IRL_DATA_DIR=str(tmp_path),
        IRL_WEB_PORT=str(refused_port()),
    )
    t0 = time.monotonic()
    try:
        done = subprocess.run([IRL, "worker"], env=env, capture_output=True, text=True, timeout=TIMEOUT_S + 25)
    except subprocess.TimeoutExpired:
        pytest.fail(f"irl worker still running {TIMEOUT_S + 25:.0f}s after start with Kafka at {bootstrap}")
    return done.returncode, done.stderr, time.monotonic() - t0


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("irl worker: ")]


def test_a_silent_kafka_port_stops_the_worker_in_one_line_within_the_bound(silent_port: int, tmp_path: Path) -> None:
    code, stderr, took = start_worker(f"127.0.0.1:{silent_port}", tmp_path)
    assert code != 0
    assert _error_lines(stderr) == [
        f"Error: IRL_KAFKA_BOOTSTRAP=127.0.0.1:{silent_port}: no Kafka broker answered within 2s "
        "(the port accepts connections but says nothing?)"
    ]
    assert took < TIMEOUT_S + 15


def test_a_refused_kafka_port_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    port = refused_port()
    code, stderr, _ = start_worker(f"127.0.0.1:{port}", tmp_path)
    assert code != 0
    lines = _error_lines(stderr)
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines == [
        f"Error: IRL_KAFKA_BOOTSTRAP=127.0.0.1:{port}: cannot reach a Kafka broker "
        "(connection refused or closed at every address)"
    ]
