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
from typing import Any

import pytest

from streams.synthetic import generate
from tests.chaos.helpers import diff_profiles, published_profiles, replay_profiles

from .harness import (
    BIN,
    Worker,
    create_project_topics,
    free_port,
    isolated_env,
    resolved_state,
    stall_report,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _publish_replays(
    workers: list[Worker], bootstrap: str, topic: str, expected: Any, last: dict[str, Any] | None = None
) -> bool:
    """True once the resolved topic holds what replay builds; fails when a worker died. `last`: the difference seen."""
    for w in workers:
        if not w.alive():
            raise AssertionError(f"a worker died:\n{w.log_tail()}")
    state, _records = await resolved_state(bootstrap, topic)
    got = published_profiles(state)
    if last is not None:
        last.update(diff_profiles(got, expected))
    return bool(got == expected)


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
            return await _publish_replays(workers, kafka_bootstrap, settings.topic_resolved, expected, last)

        last: dict[str, Any] = {}
        try:
            await wait_for("three workers to publish what replay builds", converged, 180)
        except AssertionError as exc:  # a stall shows in the workers' logs, not in the topic
            report = await stall_report(kafka_bootstrap, env, workers)
            raise AssertionError(f"{exc}\nlast seen: {last}\n{report}") from None

        # Every worker is ready, the two that never held the links log too: each reads Redis (a standby's
        # lookups answer from it), not only the writer (found by an audit: a standby said "redis": false).
        def all_ready() -> bool:
            try:
                return all(w.get("/ready")[0] == 200 for w in workers)
            except OSError:
                return False

        await wait_for("every worker, standbys too, to be ready", all_ready, 60)
    finally:
        for w in workers:
            w.stop()


async def test_a_joining_worker_leaves_the_links_log_with_its_state(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    """A second worker whose id sorts first joins a running one: the links log stays where its state is.

    Kafka's range assignor would hand it to the newcomer (first by member id), which would restore
    the snapshot; `streams.assignor` keeps it with the member holding the state, which parks its
    state through the rebalance and goes on without a restore.
    """
    events, _truth = generate(customers=200, seed=5)
    expected = replay_profiles(events)
    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)
    half = len(events) // 2
    paths = []
    for name, part in (("first", events[:half]), ("second", events[half:])):
        paths.append(tmp_path / f"{name}.jsonl")
        paths[-1].write_text("".join(json.dumps(ev) + "\n" for ev in part))

    def worker(worker_id: str) -> Worker:
        extra = {"IRL_WEB_PORT": str(free_port()), "IRL_DATA_DIR": f"{env['IRL_DATA_DIR']}-{worker_id}"}
        return Worker({**env, **extra, "IRL_WORKER_ID": worker_id}, tmp_path / f"{worker_id}.log")

    def produce(path: Path) -> None:
        done = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()

    owner, newcomer = worker("b-owner"), worker("a-newcomer")
    owner.start()
    try:
        produce(paths[0])

        async def applied_some() -> bool:
            if not owner.alive():
                raise AssertionError(f"the worker died:\n{owner.log_tail()}")
            try:
                _status, body = owner.get("/ready")
            except OSError:  # not listening yet
                return False
            return int(body.get("events_applied") or 0) > 0

        await wait_for("the first worker to apply events", applied_some, 120)
        newcomer.start()

        async def rebalanced() -> bool:
            owner_log, newcomer_log = (tmp_path / "b-owner.log").read_text(), (tmp_path / "a-newcomer.log").read_text()
            moved = owner_log.count("resolver state restored") > 1 or "resolver state restored" in newcomer_log
            return moved or "links log given back" in owner_log

        await wait_for("the newcomer to join and the links log to be assigned again", rebalanced, 120)
        produce(paths[1])

        async def converged() -> bool:
            return await _publish_replays([owner, newcomer], kafka_bootstrap, settings.topic_resolved, expected)

        await wait_for("two workers to publish what replay builds", converged, 180)
    finally:
        for w in (owner, newcomer):
            w.stop()
    owner_log = (tmp_path / "b-owner.log").read_text()
    newcomer_log = (tmp_path / "a-newcomer.log").read_text()
    if "links log revoked mid-step" not in owner_log:  # a revoke during a tick's step cannot keep the state
        assert "links log given back" in owner_log, "the owner went through a rebalance and kept its state"
        assert owner_log.count("resolver state restored") == 1, "restored once, at its start"
    assert "resolver state restored" not in newcomer_log, "the newcomer never took the links log"
