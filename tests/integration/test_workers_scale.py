"""Three workers give the same resolved state as `irl replay` (and so as one worker).

With three workers the single-writer partition may move while they join: each move is
a recovery from the table changelog plus the write-ahead record, so this also exercises
the restart path.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.interaction import from_json
from streams.synthetic import generate

from .harness import (
    BIN,
    Worker,
    create_project_topics,
    free_port,
    isolated_env,
    partition_by_source,
    resolved_state,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _partition(events: list[dict[str, Any]], customer_of: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for ev in events:
        groups.setdefault(customer_of[ev["event_id"]], set()).add(ev["event_id"])
    return {frozenset(g) for g in groups.values()}


async def test_three_workers_match_replay(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    events, _truth = generate(customers=300, seed=11)
    parsed = [from_json(obj) for obj in events]
    resolver = Resolver(ResolverConfig())
    for ev in parsed:
        resolver.apply(ev)
    replay = {ev.event_id: resolver.customer_of_event(ev.event_id) or "" for ev in parsed}
    unique = list({ev["event_id"]: ev for ev in events}.values())
    expected = _partition(unique, replay)

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

        async def converged() -> Any:
            for w in workers:
                if not w.alive():
                    raise AssertionError(f"a worker died:\n{w.log_tail()}")
            state, _records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            try:
                by_source = partition_by_source(state)
            except AssertionError:
                return None  # read between two chunks of one window's batch: look again
            owner = {}
            for ev in unique:
                cid = by_source.get((ev["touchpoint"].upper(), ev["source_id"]))
                if cid is None:
                    return None
                owner[ev["event_id"]] = cid
            return _partition(unique, owner) == expected

        await wait_for("three workers to publish the replay partition", converged, 180)
    finally:
        for w in workers:
            w.stop()
