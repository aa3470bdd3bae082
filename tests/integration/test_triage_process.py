"""Triage in processes of its own (`IRL_TRIAGE_PROCESSES`), against the real broker and registry.

The worker with two triage children resolves what `irl replay` resolves, counts what its
children triaged and dead-lettered, and its children never outlive it: not after a SIGTERM
to the worker alone, not after a ``kill -9``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from streams.synthetic import generate
from tests.chaos.helpers import published_profiles, replay_profiles

from .harness import BIN, Worker, create_project_topics, isolated_env, read_topic, resolved_state, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _children(pid: int) -> list[int]:
    """Live triage children of process `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        state = stat.rsplit(")", 1)[1].split()[0]
        if ppid == pid and state != "Z" and b"streams.triage_process" in cmdline:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _poison(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"not an avro record", key=b"poison")
    finally:
        await producer.stop()


async def _start_with_two_children(env: dict[str, str], log: Path) -> tuple[Worker, int, list[int]]:
    """A worker started with `env`, once its two triage children run: (worker, its pid, theirs)."""
    worker = Worker(env, log).start()
    assert worker.proc is not None
    pid = worker.proc.pid
    try:
        children = await wait_for(
            "two triage children", lambda: len(_children(pid)) == 2 and _children(pid), 60, worker
        )
    except BaseException:
        worker.stop()
        raise
    return worker, pid, list(children)


async def test_triage_children_resolve_count_and_die_with_the_worker(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    events, _truth = generate(customers=200, seed=5)
    expected = replay_profiles(events)
    assert len(expected) > 150

    env = isolated_env(kafka_bootstrap, redis_url, IRL_TRIAGE_PROCESSES="2")
    settings = await create_project_topics(env)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(ev) + "\n" for ev in events))
    worker, pid, children = await _start_with_two_children(env, tmp_path / "worker.log")
    try:
        produced = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
        assert produced.returncode == 0, produced.stderr.decode()
        await _poison(kafka_bootstrap, settings.topic_web)

        async def converged() -> bool:
            state, _records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            return bool(published_profiles(state) == expected)

        await wait_for("the worker to publish what replay builds", converged, 180, worker)

        def counted() -> dict[str, int] | None:
            status, body = worker.get("/ready")
            if status == 200 and body.get("events_triaged") == len(events) and body.get("dead_letters") == 1:
                return body
            return None

        body = await wait_for("the children's counts on /ready", counted, 30, worker)
        assert body["triage_processes"] == 2
        status, stats = worker.get("/stats")
        assert status == 200 and stats["worker"]["triage_processes"] == 2
        letters = await read_topic(kafka_bootstrap, settings.topic_deadletter)
        assert [m.key for m in letters] == [b"poison"]

        # SIGTERM to the worker alone: it stops its children, which commit and leave.
        os.kill(pid, signal.SIGTERM)
        assert worker.proc is not None
        worker.proc.wait(40)
        assert worker.proc.returncode == 0, worker.log_tail()
        await wait_for("the children to stop", lambda: not any(_alive(c) for c in children), 20)
        assert "triage process 0 stopped" in worker.log_path.read_text()
    finally:
        worker.stop()

    # kill -9 of the worker: its children die with it.
    worker, pid, children = await _start_with_two_children(env, tmp_path / "worker2.log")
    try:
        os.kill(pid, signal.SIGKILL)
        assert worker.proc is not None
        worker.proc.wait(10)
        await wait_for("the children to die with the worker", lambda: not any(_alive(c) for c in children), 20)
    finally:
        worker.stop()
