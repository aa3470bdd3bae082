"""s35 audit C3: `irl topics list` and `irl rebuild-redis` with Kafka away say so in one line, exit 3.

Both printed a 30-line aiokafka traceback and exited 1, where `irl deadletters`, `produce`,
`crm-sync` and `erasure-status` print `error: cannot reach Kafka at ...` and exit 3.
"""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from streams.cli import main


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed on return: nothing listens there


@pytest.mark.parametrize("args", [["topics", "list"], ["rebuild-redis"]])
def test_kafka_away_is_one_line_and_exit_3(args: list[str]) -> None:
    port = refused_port()
    env = {"IRL_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "IRL_DIGEST_KEY": "k" * 32}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 3, result.output
    assert isinstance(result.exception, SystemExit)  # not an exception escaping the command
    assert "Traceback" not in result.output
    assert f"error: cannot reach Kafka at 127.0.0.1:{port}: KafkaConnectionError" in result.output
