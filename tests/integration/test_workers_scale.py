"""Three workers give the same resolved state as `irl replay` (and so as one worker).

With three workers the single-writer partition may move while they join: each move is
a recovery from the table changelog plus the write-ahead record, so this also exercises
the restart path. Customers are compared by content (phones, emails, touchpoint ids),
since ids depend on which event came first and a household's shared WhatsApp number can
rightly sit in two customers.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from streams.synthetic import generate
from tests.chaos.helpers import published_profiles, replay_profiles

from .harness import BIN, Worker, create_project_topics, free_port, isolated_env, resolved_state, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_three_workers_match_replay(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    events, _truth = generate(customers=300, seed=11)
    expected = replay_profiles(events)
    assert len(expected) > 250  # a real population, not a trivial one

    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(ev) + "\n" for ev in events))

    workers = [
        Worker(
            {**env, "IRL_WEB_PORT": str(free_port()), "IRL_DATA_DIR": f"{env['IRL_DATA_DIR']}-{i}"},
            tmp_path / f"w{i}.log",
        )
        for i in range(3)
    ]
    for w in workers:
        w.start()
    try:
        produced = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
        assert produced.returncode == 0, produced.stderr.decode()

        async def converged() -> bool:
            for w in workers:
                if not w.alive():
                    raise AssertionError(f"a worker died:\n{w.log_tail()}")
            state, _records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            return published_profiles(state) == expected

        await wait_for("three workers to publish what replay builds", converged, 180)
    finally:
        for w in workers:
            w.stop()
