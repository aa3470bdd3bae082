"""Issue 17's done-when: an erasure on a running worker reaches every copy the project keeps.

    POST /customers/{id}/erase ─▶ links ─▶ ordered stage: erase ─▶ purge dead letters (that mention her)
                                                              ─▶ snapshot at once ─▶ DeleteRecords(links, state)
                                                              ─▶ receipt (<app>-erasures)
                                  window closes ─▶ ERASED on the resolved topic ─▶ sent again after the
                                  compaction lag (short here) ─▶ the cleaner drops her older records

Read to their ends afterwards: links, state, dead letters, receipts and Redis hold nothing of her
(any written form of her phone, her email, her name, her source ids) within seconds; the resolved
topic nothing after the compaction horizon; the unsalted SHA-256 of her phone is nowhere. Someone
else's data and dead letter are kept.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from resolver.effect_codec import partition_of
from resolver.graph import customer_id_for
from streams.mentions import ErasedPerson, mentions
from streams.topics import customers_state_topic_name, effects_topic_name, erasures_topic_name, state_topic_name

from .harness import BIN, Worker, create_project_topics, isolated_env, read_topic, resolved_state, visit, wait_for
from .test_actions import _post

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = int(time.time() * 1000) - 60_000
PHONE, NATIONAL = "+91 98862 71453", "9886271453"
EMAIL, NAME = "Meera.Iyer@Example.com", "Meera Iyer"
MEERA = ErasedPerson.from_identifiers(
    [
        f"phone:+91{NATIONAL}",
        f"email:{EMAIL.lower()}",
        "tp:WEB:u-meera",
        "tp:KIOSK:k-meera",
        "tp:WHATSAPP:91" + NATIONAL,
    ]
)


def _ev(eid: str, tp: str, sid: str, t: int, **kw: Any) -> dict[str, Any]:
    return visit(eid, tp, sid, NOW + t, **kw)


#: Her events in three rounds, each resolved before the next: two customers of hers (in different
#: partitions of the resolved and effects topics), then one event that merges them. Over Kafka the
#: absorbed id's effects partition holds her data too, and the erasure must reach it.
FIRST = "m1"


def _apart(prefix: str, other: str, partitions: int) -> str:
    """The first event id ``prefix<n>`` whose new customer's partition is not ``other``'s event's."""
    avoid = partition_of(customer_id_for(other), partitions)
    n = 0
    while partition_of(customer_id_for(f"{prefix}{n}"), partitions) == avoid:
        n += 1
    return f"{prefix}{n}"


def _rounds(partitions: int) -> list[list[dict[str, Any]]]:
    return [
        [
            _ev(FIRST, "web", "u-meera", 0, email=EMAIL, name=NAME),
            _ev("r1", "web", "u-ravi", 3000, email="ravi@example.net", phone="+91 97318 62040", name="Ravi Kumar"),
        ],
        [_ev(_apart("m3-", FIRST, partitions), "kiosk", "k-meera", 2000, phone="098862-71453", name="meera iyer")],
        [
            _ev("m4", "web", "u-meera", 4000, email=EMAIL, phone=PHONE, name=NAME),
            _ev("m2", "WHATSAPP", "91" + NATIONAL, 5000),
        ],
    ]


def _produce(env: dict[str, str], path: Path, events: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    out = subprocess.run([str(BIN / "irl"), "produce", str(path)], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()


def _hers(blobs: list[Any]) -> bool:
    """Her phone (any form), email, source ids, name, or an unsalted digest of her phone."""
    if mentions(MEERA, blobs):
        return True
    text = " ".join(b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b) for b in blobs if b)
    return "meera" in text.casefold() or any(d in text for d in _plain_digests())


def _plain_digests() -> set[str]:
    forms = [f"+91{NATIONAL}", f"91{NATIONAL}", NATIONAL, f"p:+91{NATIONAL}", f"irl-suppress:p:+91{NATIONAL}"]
    full = {hashlib.sha256(f.encode()).hexdigest() for f in forms}
    return full | {d[:32] for d in full}


async def _topic_has_her(bootstrap: str, topic: str) -> list[int]:
    return [
        r.offset
        for r in await read_topic(bootstrap, topic)
        if _hers([r.key, r.value, *(v for _k, v in r.headers or ())])
    ]


async def _partitions_with_her(bootstrap: str, topic: str) -> set[int]:
    records = await read_topic(bootstrap, topic)
    return {r.partition for r in records if _hers([r.key, r.value, *(v for _k, v in r.headers or ())])}


async def _redis_has_her(url: str) -> list[str]:
    r = aioredis.Redis.from_url(url)
    found: list[str] = []
    try:
        async for key in r.scan_iter(count=1000):
            kind = await r.type(key)
            if kind == b"hash":
                items = await r.hgetall(key)
                blobs = [key, *(x for kv in items.items() for x in kv)]
            elif kind == b"string":
                blobs = [key, await r.get(key)]
            else:
                blobs = [key]
            if _hers(blobs):
                found.append(key.decode())
    finally:
        await r.aclose()
    return found


async def test_an_erasure_reaches_every_copy(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, redis_url, IRL_RESOLVED_COMPACTION_LAG_HOURS="0.004")  # 14.4 s
    admin = env["IRL_WEB_ADMIN_TOKEN"]
    settings = await create_project_topics(env)
    rounds = _rounds(settings.touchpoint_partitions)
    _produce(env, tmp_path / "events-1.jsonl", rounds[0])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:  # two records no decoder reads: one about her, one about Ravi
        await producer.send_and_wait(settings.topic_web, b"\x07not avro: call Meera on 098862 71453", key=b"x")
        await producer.send_and_wait(settings.topic_web, b"\x07not avro: Ravi +91 97318 62040", key=b"y")
    finally:
        await producer.stop()
    worker = Worker(env, tmp_path / "worker.log").start()
    bootstrap, links = kafka_bootstrap, f"{settings.app_id}-links"
    try:

        async def sources() -> dict[str, set[str]]:
            state, _ = await resolved_state(bootstrap, settings.topic_resolved)
            return {c: {s["source_id"] for s in r["source_ids"]} for c, r in state.items()}

        async def first_round() -> str | None:
            got = await sources()
            hers = [c for c, s in got.items() if "u-meera" in s]
            dead = len(await read_topic(bootstrap, settings.topic_deadletter))
            return hers[0] if len(hers) == 1 and dead == 2 and any("u-ravi" in s for s in got.values()) else None

        first = await wait_for("her first customer and both dead letters", first_round, 120, worker)
        _produce(env, tmp_path / "events-2.jsonl", rounds[1])

        async def second_round() -> str | None:
            hers = [c for c, s in (await sources()).items() if "k-meera" in s]
            return hers[0] if len(hers) == 1 and hers[0] != first else None

        second = await wait_for("her second customer, apart", second_round, 120, worker)
        parts = settings.touchpoint_partitions
        assert partition_of(first, parts) != partition_of(second, parts), "the test needs them in two partitions"
        _produce(env, tmp_path / "events-3.jsonl", rounds[2])

        async def her_id() -> str | None:
            state, _ = await resolved_state(bootstrap, settings.topic_resolved)
            ids = {c for c, r in state.items() for s in r["source_ids"] if s["source_id"] in ("u-meera", "k-meera")}
            ravi = any(s["source_id"] == "u-ravi" for r in state.values() for s in r["source_ids"])
            dead = len(await read_topic(bootstrap, settings.topic_deadletter))
            return ids.pop() if len(ids) == 1 and ravi and dead == 2 else None

        cid = await wait_for("both people and both dead letters", her_id, 120, worker)

        async def stored() -> bool:  # a snapshot that holds her, so that the checks below can see her
            return bool(await _topic_has_her(bootstrap, state_topic_name(settings)))

        await wait_for("a snapshot of her", stored, 60, worker)
        for topic in (links, settings.topic_deadletter, settings.topic_resolved):
            assert await _topic_has_her(bootstrap, topic), f"the test cannot see her in {topic}"
        if env.get("IRL_CUSTOMER_STAGE") == "kafka":  # her effects in the absorbed id's partition too
            held = await _partitions_with_her(bootstrap, effects_topic_name(settings))
            assert held >= {partition_of(first, parts), partition_of(second, parts)}, held
        assert await _redis_has_her(redis_url), "the test cannot see her in Redis"

        t0 = time.monotonic()
        status, body = _post(worker, f"/customers/{cid}/erase", {"reason": "ticket 17"}, admin)
        assert status == 202, body

        async def gone_from_own_copies() -> dict[str, Any] | None:
            found = {
                "links": await _topic_has_her(bootstrap, links),
                "state": await _topic_has_her(bootstrap, state_topic_name(settings)),
                "dead letters": await _topic_has_her(bootstrap, settings.topic_deadletter),
                "receipts": await _topic_has_her(bootstrap, erasures_topic_name(settings)),
                # the per-customer stage over Kafka (IRL_TEST_CUSTOMER_STAGE=kafka; empty otherwise)
                "effects": await _topic_has_her(bootstrap, effects_topic_name(settings)),
                "customers' state": await _topic_has_her(bootstrap, customers_state_topic_name(settings)),
                "redis": await _redis_has_her(redis_url),
            }
            receipts = await read_topic(bootstrap, erasures_topic_name(settings))
            done = any(r.key == cid.encode() for r in receipts)
            return None if any(found.values()) or not done else found

        await wait_for("her data to leave links, state, dead letters and Redis", gone_from_own_copies, 60, worker)
        own_s = time.monotonic() - t0
        kept = await read_topic(bootstrap, settings.topic_deadletter)
        assert len(kept) == 1 and b"Ravi" in kept[0].value  # Ravi's dead letter is kept, with its origin
        assert dict(kept[0].headers)["irl.source.topic"] == settings.topic_web.encode()
        for folder in (Path(env["IRL_DATA_DIR"]) / "snapshots").glob("*/*"):
            assert not _hers([folder.read_bytes()]), folder

        # An id no erasure reached (mistyped here) is said to be one, not left "pending" for ever.
        typo = subprocess.run([str(BIN / "irl"), "erasure-status", "c_0"], env=env, capture_output=True, timeout=120)
        assert typo.returncode == 4 and b"no erasure of c_0 is known" in typo.stdout, typo
        early = subprocess.run([str(BIN / "irl"), "erasure-status", cid], env=env, capture_output=True, timeout=120)
        assert early.returncode == 2, early.stderr.decode()  # the resolved topic is not compacted yet
        lines = early.stdout.decode().splitlines()
        print("\n" + early.stdout.decode() + early.stderr.decode())  # ids and offsets only (docs/privacy.md's example)
        assert any(line.startswith("links log") and " done " in line for line in lines), lines
        assert any(line.startswith("effects topic") and " done " in line for line in lines), lines
        assert any(line.startswith("resolved topic") and " pending" in line for line in lines), lines

        # Compaction rolls a partition's segment on its first record after the lag: the worker sends
        # her ERASED again for hers; the absorbed id's partition needs traffic of its own, as a live
        # deployment has (docs/privacy.md). Other people's events whose customers land there, then.
        absorbed = {partition_of(c, parts) for c in (first, second) if c != cid} - {partition_of(cid, parts)}
        traffic = iter(range(10_000))

        async def resolved_clean() -> bool:
            if not await _topic_has_her(bootstrap, settings.topic_resolved):
                return True
            for p in absorbed:
                eid = next(f"o{n}" for n in traffic if partition_of(customer_id_for(f"o{n}"), parts) == p)
                _produce(env, tmp_path / "traffic.jsonl", [_ev(eid, "web", f"u-{eid}", 9000, name="Asha Rao")])
            return False

        await wait_for("the resolved topic to be compacted", resolved_clean, 180, worker, interval=2.0)
        resolved_s = time.monotonic() - t0
        state, _ = await resolved_state(bootstrap, settings.topic_resolved)
        assert any(s["source_id"] == "u-ravi" for r in state.values() for s in r["source_ids"])

        report = subprocess.run(
            [str(BIN / "irl"), "erasure-status", cid, "--json"], env=env, capture_output=True, timeout=120
        )
        rows = {row["copy"]: row for row in map(json.loads, report.stdout.decode().splitlines())}
        copies = ["dead letters", "links log", "state topic", "redis read model", "resolved topic"]
        for copy in [*copies, "effects topic", "customers' state"]:
            assert rows[copy]["state"] == "done", (copy, rows[copy])
        assert rows["touchpoint topics"]["state"] == "pending" and rows["touchpoint topics"]["until_ms"]
        assert report.returncode == 2  # touchpoints and interactions wait for their retention
        assert not _hers([worker.log_path.read_bytes()]), "the worker logged her data"
        print(f"\nerasure: own copies clean {own_s:.1f}s after the request; resolved topic {resolved_s:.1f}s")
    finally:
        worker.stop()
