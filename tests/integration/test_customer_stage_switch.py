"""Switching a deployment's per-customer stage over Kafka on and off again (issue 15, "Switching over").

events ─▶ worker, stage off ─ stop ─▶ events ─▶ worker, IRL_CUSTOMER_STAGE=kafka ─ stop ─▶ events
       ─▶ worker, stage off ─ stop ─▶ events ─▶ worker, kafka
after each phase: the resolved topic deduplicated by change_id is what a clean Pipeline without the
stage publishes for the links log so far (`tests.chaos.helpers.clean_run`), and its customers are
`irl replay`'s of the events so far; at the end, each effects partition's snapshot holds exactly the
live customers of its partition (none that left while the stage was off)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from resolver.effect_codec import partition_of
from resolver.effect_feed import PartitionFeed
from streams.customer_state import stored_snapshot
from streams.linkbatch import KIND_HEADER, TICK
from streams.settings import Settings
from streams.snapshots import MANIFEST_KEY, Manifest
from streams.synthetic import generate
from streams.topics import customers_state_topic_name, links_topic_name, state_topic_name
from tests.chaos.helpers import converged, replay_profiles

from .harness import BIN, Worker, create_project_topics, free_port, isolated_env, read_topic, resolved_state, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The stage of each phase's worker (off, over Kafka, off again, over Kafka again) and how it ends: stopped once
#: it published everything, or killed (-9) as soon as its ordered stage applied the whole links log (over
#: Kafka: the per-customer stage may not have applied every effect; the next worker, off, must apply them).
PHASES = [("0", "stop"), ("kafka", "kill"), ("0", "stop"), ("kafka", "stop")]


def _produce(env: dict[str, str], path: Path, events: list[dict[str, Any]]) -> None:
    import subprocess

    path.write_text("".join(json.dumps(ev) + "\n" for ev in events))
    out = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()


def _child_pids(log: Path, before: str, count: int) -> list[int] | None:
    """The pids of the worker's ``count`` per-customer stage processes it logged since ``before`` was the log's
    text (None until every one is logged)."""
    found = re.findall(r"per-customer stage process \d+ started \(pid (\d+)\)", log.read_text()[len(before) :])
    return [int(pid) for pid in found] if len(found) >= count else None


async def _applied_all(bootstrap: str, settings: Settings, worker: Worker) -> bool:
    """The worker's ordered stage applied the links log to its end, sent effects and stored a snapshot there."""
    try:
        _status, ready = worker.get("/ready")
    except OSError:  # not listening yet
        return False
    links = await read_topic(bootstrap, links_topic_name(settings))
    applied = ready.get("applied_offset")
    if not links or applied != links[-1].offset or int(ready.get("effects_published") or 0) == 0:
        return False
    last_events = max((m.offset for m in links if dict(m.headers or ()).get(KIND_HEADER) != TICK), default=-1)
    folded = {m.key: m.value for m in await read_topic(bootstrap, state_topic_name(settings))}
    manifest = folded.get(MANIFEST_KEY)
    return manifest is not None and Manifest.decode(manifest).offset >= last_events


async def _partition_customers(bootstrap: str, settings: Settings) -> dict[int, set[str]]:
    """The customers each effects partition's stored snapshot holds."""
    folded: dict[bytes, bytes] = {}
    for m in await read_topic(bootstrap, customers_state_topic_name(settings)):
        if m.value is None:
            folded.pop(m.key, None)
        else:
            folded[m.key] = m.value
    out: dict[int, set[str]] = {}
    for p in range(settings.touchpoint_partitions):
        stored = stored_snapshot(folded, p)
        if stored is not None:
            out[p] = set(PartitionFeed.from_snapshot(stored[1]).stage.customer_ids())
    return out


@pytest.mark.parametrize("customers", [400, 4000], ids=["400-customers", "4000-customers"])
async def test_switching_the_stage_over_kafka_on_and_off_keeps_the_changelog_and_the_customers(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, customers: int
) -> None:
    events, _truth = generate(customers=customers, seed=17)
    cut = [len(events) * i // len(PHASES) for i in range(len(PHASES) + 1)]
    env = isolated_env(kafka_bootstrap, redis_url, IRL_SNAPSHOT_SECONDS="0.5", IRL_WORKER_ID="w0")
    env["IRL_WEB_PORT"] = str(free_port())
    settings = await create_project_topics(env)
    log = tmp_path / "worker.log"
    took: list[str] = []
    for n, (stage, end) in enumerate(PHASES):
        part = events[cut[n] : cut[n + 1]]
        _produce(env, tmp_path / f"events-{n}.jsonl", part)
        expected = replay_profiles(events[: cut[n + 1]])
        t0 = time.monotonic()
        already = log.read_text() if log.exists() else ""
        worker = Worker({**env, "IRL_CUSTOMER_STAGE": stage}, log).start()
        seen: dict[str, Any] = {}
        if end == "kill":
            # Its per-customer stage is held (SIGSTOP, every child) until the ordered stage applied the whole links
            # log and stored a snapshot there: the effects of this phase are on the broker, none applied.
            children = await wait_for(
                f"phase {n}'s per-customer stage processes",
                lambda: _child_pids(log, already, Settings.from_env(env).customer_processes),  # noqa: B023
                60,
                worker,
            )
            for child in children:
                os.kill(child, signal.SIGSTOP)
            await wait_for(
                f"phase {n}'s ordered stage to apply the whole links log and store a snapshot there",
                lambda: _applied_all(kafka_bootstrap, settings, worker),  # noqa: B023 - awaited here
                180,
                worker,
                interval=0.2,
            )
            _status, ready = worker.get("/ready")
            worker.stop(signal.SIGKILL)  # its process group: the held children too
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            took.append(
                f"phase {n} ({stage}, {len(part)} events) killed after {time.monotonic() - t0:.1f}s with "
                f"{ready.get('customer_records_published')} records of the per-customer stage published"
            )
            continue
        try:
            await wait_for(
                f"phase {n} (stage {stage}) to publish the clean run's changelog and replay's customers",
                lambda: converged(kafka_bootstrap, settings, [worker], expected, seen),  # noqa: B023 - awaited here
                180,
                interval=1.0,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlast seen: {seen}\n{worker.log_tail(80)}") from None
        finally:
            worker.stop()
        took.append(f"phase {n} ({stage}, {len(part)} events) {time.monotonic() - t0:.1f}s")
    drained = "written over Kafka are not applied" in log.read_text()
    print("\nswitch-over:", "; ".join(took), f"; the stage off applied effects left over Kafka: {drained}")
    state, _records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
    live = set(state)
    held = await _partition_customers(kafka_bootstrap, settings)
    assert set(held) == set(range(settings.touchpoint_partitions)), "every effects partition stored a snapshot"
    for p, ids in held.items():
        mine = {c for c in live if partition_of(c, settings.touchpoint_partitions) == p}
        assert ids == mine, (p, len(ids - mine), len(mine - ids))
