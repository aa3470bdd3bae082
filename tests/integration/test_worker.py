"""The running system: produce events, run a real worker, compare with `irl replay`.

produce ──▶ touchpoint topics ──▶ worker (subprocess) ──▶ irl.customers.resolved ──▶ fold
                                                 └──▶ Redis
the same file ──▶ resolver core (replay) ──▶ partition        == partition of the fold
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.interaction import Interaction, from_json
from streams.codec import decode_resolved_interaction
from streams.readmodel import RedisReadModel

from .harness import (
    BIN,
    Worker,
    create_project_topics,
    isolated_env,
    partition_by_source,
    read_topic,
    resolved_state,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = 1_764_410_400_000  # fixed event times: the windows are closed by the worker's wall clock


def _events() -> list[dict[str, Any]]:
    """A small story: one person over three touchpoints, a household, junk, a duplicate, a late event."""
    e: list[dict[str, Any]] = []

    def add(eid: str, tp: str, sid: str, t: int, **kw: Any) -> None:
        e.append(
            {
                "event_id": eid,
                "touchpoint": tp,
                "occurred_at": NOW + t,
                "source_id": sid,
                "interaction": kw.pop("interaction", "visit"),
                **kw,
            }
        )

    add("e1", "web", "u-1", 0, interaction="signup", email="Asha.Rao@Gmail.com", phone="098450-71623", name="Asha Rao")
    add("e2", "WHATSAPP", "919845071623", 1000, interaction="message")
    add("e3", "kiosk", "k-77", 2000, phone="+91 98450 71623", name="asha rao")
    add("e4", "web", "anon-5", 3000, email="asharao+shop@googlemail.com")
    add(
        "e5",
        "web",
        "u-2",
        4000,
        interaction="signup",
        email="vikram@example.org",
        phone="+44 7911 123456",
        name="Vikram S",
    )
    add("e6", "kiosk", "k-78", 5000, phone="1234567890", name="Someone")  # junk phone: never links
    add("e7", "kiosk", "k-79", 6000, phone="1234567890", name="Someone Else")
    add("e8", "WHATSAPP", "447911123456", 7000)
    e.append(dict(e[0]))  # duplicate send
    add("e9", "web", "u-3", -3_600_000, email="late@example.org")  # an hour late
    return e


def _replay_partition(events: list[dict[str, Any]]) -> set[frozenset[str]]:
    resolver = Resolver(ResolverConfig())
    parsed = [from_json(obj) for obj in events]
    for ev in parsed:
        resolver.apply(ev)
    groups: dict[str, set[str]] = {}
    for ev in parsed:
        cid = resolver.customer_of_event(ev.event_id)
        assert cid is not None
        groups.setdefault(cid, set()).add(ev.event_id)
    return {frozenset(g) for g in groups.values()}


def _stream_partition(events: list[Interaction], state: dict[str, dict[str, Any]]) -> set[frozenset[str]]:
    by_source = partition_by_source(state)
    groups: dict[str, set[str]] = {}
    for ev in events:
        cid = by_source.get((ev.touchpoint, ev.source_id))
        assert cid is not None, f"event {ev.event_id} ({ev.touchpoint}) is in no published customer"
        groups.setdefault(cid, set()).add(ev.event_id)
    return {frozenset(g) for g in groups.values()}


async def test_worker_matches_replay_and_mirrors_redis(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)
    events = _events()
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(ev) + "\n" for ev in events))
    produced = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
    assert produced.returncode == 0, produced.stderr.decode()

    expected = _replay_partition(events)
    # the story, as the core resolves it: one person over three touchpoints and a Gmail variant;
    # a UK customer on web and WhatsApp; a junk phone that links nobody; a late event alone
    assert expected == {
        frozenset({"e1", "e2", "e3", "e4"}),
        frozenset({"e5", "e8"}),
        frozenset({"e6"}),
        frozenset({"e7"}),
        frozenset({"e9"}),
    }
    parsed = [from_json(obj) for obj in events]
    worker = Worker(env, tmp_path / "worker.log").start()
    try:

        async def converged() -> Any:
            state, records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            try:
                return (state, records) if _stream_partition(parsed, state) == expected else None
            except AssertionError:
                return None

        state, records = await wait_for("the resolved topic to match replay", converged, 120, worker)

        # versions of each customer id go 1, 2, 3, ... without gaps, and change ids are unique
        versions: dict[str, list[int]] = {}
        for rec in records:
            versions.setdefault(rec["customer_id"], []).append(rec["version"])
        for cid, vs in versions.items():
            assert sorted(set(vs)) == list(range(1, max(vs) + 1)), (cid, vs)
        assert len({r["change_id"] for r in records}) == len({(r["customer_id"], r["version"]) for r in records})
        assert all(0.0 <= r["confidence"] <= 1.0 for r in records)

        # every accepted event once on the interactions topic, with a customer that leads to its own
        by_source = partition_by_source(state)
        absorbed = {r["customer_id"]: r["survivor_id"] for r in records if r["change"] == "ABSORBED"}

        async def interactions_complete() -> Any:
            got = [decode_resolved_interaction(m.value) for m in await read_topic(kafka_bootstrap, topic)]
            return got if len({g["event_id"] for g in got}) == len({ev.event_id for ev in parsed}) else None

        topic = settings.topic_interactions
        interactions = await wait_for("every event on the interactions topic", interactions_complete, 60, worker)
        assert sorted(g["event_id"] for g in interactions) == sorted({ev.event_id for ev in parsed})
        for g in interactions:
            cid = g["customer_id"]
            while cid in absorbed:
                cid = absorbed[cid]
            assert cid == by_source[(g["touchpoint"], g["source_id"])], g["event_id"]

        model = RedisReadModel.from_url(redis_url, prefix=settings.topic_prefix)
        try:

            async def redis_matches() -> bool:
                snap = await model.snapshot()
                return {c: (p["phones"], p["emails"], p["source_ids"]) for c, p in snap.items()} == {
                    c: (r["phones"], r["emails"], r["source_ids"]) for c, r in state.items()
                }

            await wait_for("Redis to equal the published state", redis_matches, 60, worker)
            await model.r.flushdb()
            await wait_for("the worker to rebuild a flushed Redis", redis_matches, 60, worker)
            some_phone = next(p for r in state.values() for p in r["phones"])
            assert await model.customer_of(f"phone:{some_phone}") in state
            status, ready = worker.get("/ready")
            assert status == 200 and ready["recovered"] is True

            # on demand, with no worker running: `irl rebuild-redis` reads the table's changelog
            worker.stop()
            await model.r.flushdb()
            rebuilt = subprocess.run(
                [str(BIN / "irl"), "rebuild-redis"], env=env, capture_output=True, text=True, timeout=120
            )
            assert rebuilt.returncode == 0, rebuilt.stderr
            assert await redis_matches(), "irl rebuild-redis did not restore the published state"
        finally:
            await model.close()
    finally:
        worker.stop()
