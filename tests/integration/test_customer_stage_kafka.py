"""The per-customer stage over Kafka (``IRL_CUSTOMER_STAGE=kafka``): one and two real workers.

touchpoints ──▶ triage ──▶ links log ──▶ ordered stage ──effects──▶ <app>-effects (3 partitions)
                                                                        │ <app>-customers group, every worker
                                                                        ▼
                                                         CustomerPartition x 3 ──▶ resolved topic
assert   the resolved topic, deduplicated by change_id, is what the default mode publishes for the
         same links log (a clean Pipeline over it, `tests.chaos.helpers.clean_run`), and its
         customers are `irl replay`'s
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streams.settings import Settings
from streams.synthetic import generate
from streams.topics import customers_state_topic_name, effects_topic_name
from tests.chaos.helpers import converged, replay_profiles

from .harness import BIN, Worker, create_project_topics, free_port, isolated_env, read_topic, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _workers(env: dict[str, str], tmp_path: Path, n: int) -> list[Worker]:
    return [
        Worker(
            {
                **env,
                "IRL_CUSTOMER_STAGE": "kafka",
                "IRL_WEB_PORT": str(free_port()),
                "IRL_DATA_DIR": f"{env['IRL_DATA_DIR']}-{i}",
                "IRL_WORKER_ID": f"w{i}",
            },
            tmp_path / f"w{i}.log",
        )
        for i in range(n)
    ]


async def _run(
    bootstrap: str,
    redis_url: str,
    tmp_path: Path,
    n: int,
    customers: int,
    seed: int,
    keep: bool = False,
    timeout_s: float = 180,
    **extra: str,
) -> list[Worker]:
    """``n`` workers in effects mode on generated data, until they published the default mode's changelog.

    ``keep``: the workers are left running (the caller stops them); else stopped.
    """
    events, _truth = generate(customers=customers, seed=seed)
    expected = replay_profiles(events)
    env = isolated_env(bootstrap, redis_url, **extra)
    settings = await create_project_topics(env)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(ev) + "\n" for ev in events))
    workers = _workers(env, tmp_path, n)
    for w in workers:
        w.start()
    done = False
    try:
        _produce(env, path)
        seen: dict[str, Any] = {}
        try:
            await wait_for(
                f"{n} worker(s) in effects mode to publish the default mode's changelog",
                lambda: converged(bootstrap, settings, workers, expected, seen),
                timeout_s,
                interval=1.0,
            )
        except AssertionError as exc:
            tails = "\n".join(f"--- worker {i}:\n{w.log_tail(80)}" for i, w in enumerate(workers))
            raise AssertionError(f"{exc}\nlast seen: {seen}\n{tails}") from None
        effects = await read_topic(bootstrap, effects_topic_name(settings))
        assert effects and {m.partition for m in effects} == {0, 1, 2}
        done = True
        return workers
    finally:
        for w in workers if not (keep and done) else ():
            w.stop()


@pytest.mark.parametrize("processes", ["1", "0"], ids=["own-process", "in-process"])
async def test_one_worker_in_effects_mode_publishes_the_default_modes_changelog(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, processes: str
) -> None:
    """The per-customer stage in a child process (the default), and in the worker's (IRL_TRIAGE_PROCESSES=0)."""
    workers = await _run(kafka_bootstrap, redis_url, tmp_path, 1, 300, 11, IRL_TRIAGE_PROCESSES=processes, keep=True)
    (worker,) = workers
    try:

        def reported() -> dict[str, Any] | None:  # the stage's counters, lag and journal reach the worker's views
            _status, ready = worker.get("/ready")
            _status, stats = worker.get("/stats")
            lag = {k: v for k, v in (stats.get("consumer_lag") or {}).items() if "-effects/" in k}
            published = ready.get("customer_records_published", 0)
            done = ready.get("effects_applied", 0) > 0 and published > 0 and ready.get("stalled") is False
            # the dashboard's journal of published changes counts what this worker's partitions published
            journal = sum((stats.get("changes") or {}).get("totals", {}).values())
            return lag if done and journal == published and len(lag) == 3 and not any(lag.values()) else None

        await wait_for("the per-customer stage's counters and lag in /ready and /stats", reported, 30, worker)
    finally:
        worker.stop()
    text = worker.log_path.read_text()
    assert "effects partition" in text
    assert ("per-customer stage process 0 started" in text) == (processes != "0")


async def test_a_killed_worker_resumes_from_the_partitions_snapshots_to_the_same_changelog(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    """kill -9 of a worker whose partitions stored snapshots, then a restart: the same changelog, no record lost."""
    events, _truth = generate(customers=300, seed=3)
    expected = replay_profiles(events)
    env = isolated_env(kafka_bootstrap, redis_url, IRL_SNAPSHOT_SECONDS="0.5")
    settings = await create_project_topics(env)
    half = len(events) // 2
    paths = [tmp_path / "first.jsonl", tmp_path / "second.jsonl"]
    for path, part in zip(paths, (events[:half], events[half:]), strict=True):
        path.write_text("".join(json.dumps(ev) + "\n" for ev in part))
    (worker,) = _workers(env, tmp_path, 1)
    worker.start()
    try:
        _produce(env, paths[0])
        await wait_for(
            "snapshots of the effects partitions",
            lambda: _stored(bootstrap=kafka_bootstrap, settings=settings),
            120,
            worker,
        )
        worker.stop(signal.SIGKILL)
        worker.start()
        _produce(env, paths[1])
        seen: dict[str, Any] = {}
        try:
            await wait_for(
                "the restarted worker to publish the default mode's changelog",
                lambda: converged(kafka_bootstrap, settings, [worker], expected, seen),
                180,
                interval=1.0,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlast seen: {seen}\n{worker.log_tail(80)}") from None
        loaded = re.findall(
            rb"effects partition \d: \d+ customers restored at offset (\d+)", worker.log_path.read_bytes()
        )
        assert len(loaded) >= 3, "the restarted worker loaded each partition's snapshot"
    finally:
        worker.stop()


async def _stored(bootstrap: str, settings: Settings) -> bool:
    """Every effects partition has a snapshot in the customers' state topic."""
    keys = {m.key for m in await read_topic(bootstrap, customers_state_topic_name(settings)) if m.value is not None}
    return {b"p0", b"p1", b"p2"} <= keys


def _produce(env: dict[str, str], path: Path) -> None:
    produced = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
    assert produced.returncode == 0, produced.stderr.decode()


@pytest.mark.parametrize("customers", [300, 5000], ids=["300-customers", "5000-customers"])
async def test_two_workers_share_the_effects_partitions_and_publish_the_same_changelog(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, customers: int
) -> None:
    """Two workers from the start; at 5,000 customers (about 25,000 events) too, as a deployment's backlog."""
    workers = await _run(kafka_bootstrap, redis_url, tmp_path, 2, customers, 5, keep=True, timeout_s=420)
    try:
        # Each holds effects partitions (3 partitions, 2 members) once both joined: the changelog may be
        # complete before the second one did.
        await wait_for(
            "both workers to hold effects partitions",
            lambda: all("effects partition" in w.log_path.read_text() for w in workers),
            60,
        )
    finally:
        for w in workers:
            w.stop()
