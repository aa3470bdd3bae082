"""`irl import` against the real broker and registry (issue 19): a realistic CRM export becomes CRM events
on their own topic, importing it again sends only duplicates, and the events read back from Kafka resolve
with the touchpoint events into the customers of the same people.

    irl generate --crm ─┬─ events.jsonl ──▶ irl produce ──▶ <prefix>.touchpoint.{web,whatsapp,kiosk}  ─┐
                        └─ crm_contacts.csv ▶ irl import (twice) ▶ <prefix>.touchpoint.crm            ─┤ read back
                                                                                  irl replay ◀─────────┘
Then a worker resolves the same topics: its published customers are replay's (identifiers and touchpoint
records of every customer, CRM record ids included).
"""

from __future__ import annotations

import csv
import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser
from resolver.interaction import UNKNOWN_TIME_MS, Interaction, from_json, to_json
from streams.codec import decode_interaction
from streams.registry import HttpRegistryClient, subject_of
from streams.schemas import default_repository
from streams.synthetic import CRM_MAP, generate_with_crm, write, write_crm
from tests.chaos.helpers import published_profiles, replay_profiles

from .harness import (
    BIN,
    REGISTRY_URL,
    Worker,
    create_project_topics,
    isolated_env,
    read_topic,
    resolved_state,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS = 400
SEED = 19


def _irl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "irl"), *args], env=env, capture_output=True, text=True, timeout=180)


async def _read_events(bootstrap: str, topic: str) -> list[tuple[Any, Interaction]]:
    return [(rec, decode_interaction(rec.value)) for rec in await read_topic(bootstrap, topic)]


def _dump(path: Path, events: list[Interaction]) -> None:
    path.write_text("".join(json.dumps(to_json(e), ensure_ascii=False) + "\n" for e in events), encoding="utf-8")


def _times(profile: dict[str, Any]) -> tuple[str, Any, Any]:
    """A customer's identity content (`tests.chaos.helpers`) with its first and last seen."""
    sources = sorted(f"{s['touchpoint']}:{s['source_id']}" for s in profile["source_ids"])
    return (
        json.dumps([sorted(profile["phones"]), sorted(profile["emails"]), sources]),
        profile["first_seen"],
        profile["last_seen"],
    )


def _by_content(row: tuple[str, Any, Any]) -> tuple[str, int, int]:
    return row[0], -1 if row[1] is None else row[1], -1 if row[2] is None else row[2]


def _assignments(path: Path) -> dict[str, str]:
    with path.open(newline="") as fh:
        return {row["event_id"]: row["customer_id"] for row in csv.DictReader(fh)}


async def test_a_crm_export_imported_twice_resolves_with_the_touchpoint_events(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    env = isolated_env(kafka_bootstrap, redis_url)
    settings = await create_project_topics(env)  # what `irl topics create` does, the CRM topic included
    crm_topic = settings.topic_crm
    assert crm_topic == f"{env['IRL_TOPIC_PREFIX']}.touchpoint.crm"
    registry = HttpRegistryClient(REGISTRY_URL)
    versions = default_repository().versions("customer_interaction")
    assert registry.versions(subject_of(crm_topic)) == [v.version for v in versions]
    assert registry.compatibility(subject_of(crm_topic)) == "FULL_TRANSITIVE"

    events, truth, rows, crm_truth = generate_with_crm(CUSTOMERS, SEED)
    for row in rows[::10]:  # a contact without a date (audit s36, A11): its time is unknown, not the file's
        row["Created Date"] = ""
    undated = {row["ContactId"] for row in rows if not row["Created Date"]}
    data = tmp_path / "data"
    write(data, events, truth)
    write_crm(data, rows, crm_truth)
    produced = _irl(env, "produce", str(data / "events.jsonl"))
    assert produced.returncode == 0, produced.stderr

    export = data / "crm_contacts.csv"
    first = _irl(env, "import", str(export), "--map", CRM_MAP, "--events-out", str(tmp_path / "first.jsonl"))
    assert first.returncode == 0, first.stderr
    assert f"sent {len(rows)} (crm {len(rows)}); rejected 0; failed 0; blank 0; {len(rows)} rows" in first.stdout
    for row in rows[:50]:  # stderr names columns, never a value
        for value in (row["Mobile"], row["Email"], row["Full Name"]):
            assert not value.strip() or value.strip() not in first.stderr
    once = await _read_events(kafka_bootstrap, crm_topic)
    written = [from_json(json.loads(line)) for line in (tmp_path / "first.jsonl").read_text().splitlines()]
    assert sorted((e for _, e in once), key=lambda e: e.event_id) == sorted(written, key=lambda e: e.event_id)
    assert undated and {e.source_id for _, e in once if e.occurred_at == UNKNOWN_TIME_MS} == undated
    for record, event in once:
        assert event.touchpoint == "CRM" and event.interaction == "crm_import"
        # the topic keeps records by append time (issue 17): the broker stamps them; the event time is in the value
        assert record.key == event.source_id.encode() and record.timestamp_type == 1

    second = _irl(env, "import", str(export), "--map", CRM_MAP)
    assert second.returncode == 0, second.stderr
    twice = await _read_events(kafka_bootstrap, crm_topic)
    assert len(twice) == 2 * len(once)
    assert sorted(e.event_id for _, e in twice) == sorted(2 * [e.event_id for _, e in once])  # only duplicates

    # What Kafka holds, replayed: the touchpoint topics and the CRM topic (both imports), as read back.
    touchpoint_events = [
        e for tp, topic in settings.touchpoint_topics().items() if tp != "CRM"
        for _, e in await _read_events(kafka_bootstrap, topic)
    ]  # fmt: skip
    assert len({e.event_id for e in touchpoint_events}) == len(truth)
    replayed: dict[str, dict[str, str]] = {}
    for tag, crm_events in (("once", [e for _, e in once]), ("twice", [e for _, e in twice])):
        _dump(tmp_path / f"kafka-{tag}.jsonl", touchpoint_events + crm_events)
        out = [f"--{kind}={tmp_path / f'{tag}.{kind}'}" for kind in ("assignments", "profiles", "rejects")]
        result = _irl(env, "replay", str(tmp_path / f"kafka-{tag}.jsonl"), *out)
        assert result.returncode == 0, result.stderr
        replayed[tag] = _assignments(tmp_path / f"{tag}.assignments")
    assert replayed["once"] == replayed["twice"]  # importing the file again changed nothing
    customer = replayed["once"]

    # The oracle: a contact sharing a normalised phone or email with touchpoint events of the same
    # person resolves into a customer holding those events.
    person = dict(truth) | {e.event_id: dict(crm_truth)[e.source_id] for _, e in once}
    parser = IdentifierParser(ResolverConfig())
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in touchpoint_events:
        for key in parser.extract(e).keys:
            if key[0] in "pe":
                holders[person[e.event_id], key].add(customer[e.event_id])
    sharing = joined = 0
    for _, contact in once:
        shared = [k for k in parser.extract(contact).keys if (person[contact.event_id], k) in holders]
        if shared:
            sharing += 1
            joined += customer[contact.event_id] in set().union(*(holders[person[contact.event_id], k] for k in shared))
    assert sharing > CUSTOMERS / 3
    assert joined / sharing >= 0.98
    # ... and no contact joins a customer made only of someone else's events.
    people_of: dict[str, set[str]] = defaultdict(set)
    for e in touchpoint_events:
        people_of[customer[e.event_id]].add(person[e.event_id])
    strays = [
        c
        for _, c in once
        if people_of[customer[c.event_id]] and person[c.event_id] not in people_of[customer[c.event_id]]
    ]
    assert len(strays) <= len(once) // 100

    # The resolved customers carry the CRM's record ids among their source ids: what the CRM merges.
    profiles = [json.loads(line) for line in (tmp_path / "once.profiles").read_text().splitlines()]
    held = {p["customer_id"]: [s["source_id"] for s in p["source_ids"] if s["touchpoint"] == "CRM"] for p in profiles}
    assert sorted(i for ids in held.values() for i in ids) == sorted({e.source_id for _, e in once})
    assert sum(1 for ids in held.values() if len(ids) >= 2) > 10

    # An undated contact moves no customer's first or last seen: a customer of undated contacts
    # alone has neither, and no customer's times are the unknown time.
    times = {p["customer_id"]: (p["first_seen"], p["last_seen"]) for p in profiles}
    only_undated = [
        p["customer_id"]
        for p in profiles
        if all(s["touchpoint"] == "CRM" and s["source_id"] in undated for s in p["source_ids"])
    ]
    assert only_undated and all(times[cid] == (None, None) for cid in only_undated)
    assert UNKNOWN_TIME_MS not in {t for pair in times.values() for t in pair}

    # The worker reads the CRM topic with the touchpoint topics and publishes replay's customers,
    # with replay's first and last seen.
    expected = replay_profiles([to_json(e) for e in touchpoint_events + [e for _, e in once]])
    lines = (tmp_path / "once.profiles").read_text().splitlines()
    expected_times = sorted((_times(json.loads(line)) for line in lines), key=_by_content)
    worker = Worker(env, tmp_path / "worker.log").start()
    try:

        async def published() -> Any:
            state, _records = await resolved_state(kafka_bootstrap, settings.topic_resolved)
            if published_profiles(state) != expected:
                return None
            return True if sorted(map(_times, state.values()), key=_by_content) == expected_times else None

        await wait_for("the worker's customers to equal replay's, CRM contacts included", published, 180, worker)
    finally:
        worker.stop()


async def test_importing_into_a_missing_topic_exits_3(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, redis_url)  # topics never created
    export = tmp_path / "c.csv"
    export.write_text("ContactId,Mobile\n003A1,98450 71623\n", encoding="utf-8")
    result = _irl(env, "import", str(export), "--map", "id=ContactId,phone=Mobile")
    assert result.returncode == 3
    assert f"{env['IRL_TOPIC_PREFIX']}.touchpoint.crm" in result.stderr and "irl topics create" in result.stderr
