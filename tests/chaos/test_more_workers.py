"""Scenario 6: three workers give the state one worker gives, and one of three killed mid-run
loses nothing (its partitions move to the others, the single writer recovers from the table).

    w0 ══ready══════════════════════════════════▶
    w1 ══ready══════════X (killed, the resolver if it is not w0, not restarted)
    w2 ══ready══════════════════════════════════▶        state == replay == one worker's
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.synthetic import generate
from tests.integration.harness import Worker, create_project_topics, free_port, isolated_env, stall_report, wait_for

from .helpers import (
    CUSTOMERS,
    GROUP_ENV,
    Outcome,
    Restart,
    check_nothing_lost,
    duplicate_counts,
    publish,
    ready,
    records_out,
    replay_profiles,
    restored_count,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_three_workers_and_one_killed(kafka_bootstrap: str, chaos_redis_url: str, tmp_path: Path) -> None:
    events, _ = generate(customers=CUSTOMERS, seed=96)
    expected = replay_profiles(events)
    env = isolated_env(kafka_bootstrap, chaos_redis_url, **GROUP_ENV)
    settings = await create_project_topics(env)
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

        def resolving() -> list[Worker]:
            return [w for w in workers if ready(w).get("role") not in (None, "standby") and ready(w).get("recovered")]

        try:
            await wait_for("one of three workers to resolve", resolving, 120)
        except AssertionError as exc:  # a stalled rebalance shows in the groups and the logs
            raise AssertionError(f"{exc}\n{await stall_report(kafka_bootstrap, env, workers)}") from None
        half = len(events) // 2
        assert await publish(settings, events[:half]) == half
        await wait_for("a first batch", lambda: any(records_out(ready(w)) for w in workers), 120)
        # A rebalance (a worker joining late) can leave the links log with no owner for a moment.
        victim = await wait_for(
            "a worker holding the links log",
            lambda: next((w for w in workers if ready(w).get("role") not in (None, "standby")), None),
            120,
        )
        others = [w for w in workers if w is not victim]
        before = sum(restored_count(w) for w in others)
        t0 = time.monotonic()
        victim.stop(9)
        assert await publish(settings, events[half:]) == len(events) - half
        await wait_for("another worker to take over the single writer",
                       lambda: sum(restored_count(w) for w in others) > before, 120)  # fmt: skip
        takeover = round(time.monotonic() - t0, 2)

        _state, records, _ = await check_nothing_lost(settings, events, expected, others)
        raw, after = duplicate_counts(records)
        Outcome(
            "6-three-workers", len(events), "3 workers; the resolving one killed -9 mid-run", 0, len(records), raw,
            after, [Restart("resolver killed, another takes over", 0, takeover, 0.0, -1)],
        ).save()  # fmt: skip
    finally:
        for w in workers:
            w.stop()
