"""What every chaos scenario needs: sizes, publishing, the oracles and the "nothing lost" check.

Two oracles, both computed in this process from what the broker holds:

* **replay**: `resolver.engine.Resolver` over the input file, in file order (`irl replay`): the
  final partition of events into customers the worker must reach;
* **clean run**: a fresh `streams.pipeline.Pipeline` fed the links topic the worker consumed
  (the same events and the same ticks, in log order) without any crash. Window boundaries
  depend on when the wall-clock ticks landed, so two real runs batch differently; the links
  log fixes them, and the single writer must publish exactly what this clean run publishes,
  whatever was killed or restarted while it ran.

    input file ──▶ touchpoints ──▶ triage ──▶ links log ──▶ resolve ──▶ resolved topic
        │                                        │                         │ dedup by change_id
        ▼                                        ▼                         ▼
      replay ═══ final customers ═══        clean run ════ records ═══ worker's records
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.interaction import from_json
from streams.app import resolver_config
from streams.linkbatch import events_of
from streams.pipeline import Pipeline
from streams.producer import InteractionProducer
from streams.settings import Settings
from streams.topics import links_topic_name
from tests.integration.harness import CUSTOMER_STAGE, Worker, read_topic, resolved_state, wait_for

FULL = os.environ.get("IRL_CHAOS_FULL") == "1"
#: generate(customers) gives about five events per customer: 10,000 -> ~50,500 events
CUSTOMERS = 10_000 if FULL else 400
#: time allowed for a worker to catch up after the last fault
CONVERGE_S = 900.0 if FULL else 150.0
#: Faust reads these from the environment: a killed member leaves the group after 10 s
#: instead of 60 s, so a restarted worker gets its partitions back sooner (see docs/reliability.md)
GROUP_ENV = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1", "BROKER_REBALANCE_TIMEOUT": "20"}
RESULTS = Path(os.environ.get("IRL_CHAOS_RESULTS", Path(__file__).resolve().parents[2] / "irl-data" / "chaos"))

_RESTORED = re.compile(rb"resolver state restored: (\d+) customers, applied offset (-?\d+), in ([0-9.]+)s")


def unique_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """First occurrence of each event id, in order."""
    return list({ev["event_id"]: ev for ev in reversed(list(events))}.values())[::-1]


Profiles = tuple[str, ...]


def _content(rec: dict[str, Any]) -> str:
    """A customer's identity content (identifiers and touchpoint ids), without its id."""
    sources = sorted(f"{s['touchpoint']}:{s['source_id']}" for s in rec["source_ids"])
    return json.dumps([sorted(rec["phones"]), sorted(rec["emails"]), sources])


def replay_profiles(events: Sequence[dict[str, Any]]) -> Profiles:
    """Every customer `irl replay` builds from `events` in this order, as sorted identity contents.

    Contents, not a map from touchpoint id to customer: one WhatsApp number can rightly be in
    two customers (a household sharing a phone), and ids depend on which event came first.
    """
    resolver = Resolver(ResolverConfig())
    for ev in events:
        resolver.apply(from_json(ev))
    out = []
    for cid in resolver.customer_ids():
        profile = resolver.profile(cid)
        if profile is not None:
            out.append(_content(profile.to_record()))
    return tuple(sorted(out))


def published_profiles(state: dict[str, dict[str, Any]]) -> Profiles:
    """The same view of the folded resolved topic (live customers' latest records)."""
    return tuple(sorted(_content(rec) for rec in state.values()))


def diff_profiles(got: Profiles, expected: Profiles) -> dict[str, int]:
    g, e = Counter(got), Counter(expected)
    return {
        "customers": len(got),
        "expected": len(expected),
        "missing": sum((e - g).values()),
        "extra": sum((g - e).values()),
    }


async def publish(settings: Settings, events: Sequence[dict[str, Any]], chunk: int = 2000) -> int:
    """Publish with the touchpoint producer (acks=all, idempotent); returns the events acknowledged."""
    acked = 0
    async with InteractionProducer(settings.kafka_bootstrap, settings.touchpoint_topics()) as producer:
        for i in range(0, len(events), chunk):
            acked += len(await producer.send_many(from_json(obj) for obj in events[i : i + chunk]))
    return acked


def records_out(body: dict[str, Any]) -> int:
    """Changelog records a worker has published, from its /ready body: the ordered stage's (default mode) and
    its per-customer stage's (``IRL_CUSTOMER_STAGE=kafka``, where the ordered stage publishes none)."""
    return int(body.get("records_published") or 0) + int(body.get("customer_records_published") or 0)


def ready(worker: Worker) -> dict[str, Any]:
    """The worker's /ready body ({} while it does not answer)."""
    try:
        return worker.get("/ready")[1]
    except OSError:
        return {}


async def wait_ready(worker: Worker, timeout: float = 90.0) -> None:
    """Until the worker owns the single-writer partition and has recovered its state."""
    await wait_for(
        "the worker to recover and own the single writer",
        lambda: (b := ready(worker)).get("recovered") and b.get("role") not in (None, "standby"),
        timeout,
        worker,
    )


@dataclass
class Restart:
    """One kill -9 and restart of a worker: what it was doing, and how long recovery took."""

    when: str
    killed_at_published: int
    recovery_s: float
    restore_s: float
    applied_offset: int


def restored_count(worker: Worker) -> int:
    """How many times this worker's log says the resolver state was restored."""
    try:
        return len(_RESTORED.findall(worker.log_path.read_bytes()))
    except OSError:
        return 0


async def kill_and_restart(worker: Worker, when: str, timeout: float = 120.0) -> Restart:
    """SIGKILL the worker's process group, start it again, and time until its state is restored.

    Recovery time runs from the kill to the log line of the restored single writer (the
    consumer group must first drop the dead member: BROKER_SESSION_TIMEOUT).
    """
    published = records_out(ready(worker))
    before = restored_count(worker)
    t0 = time.monotonic()
    worker.stop(signal.SIGKILL)
    worker.start()

    def restored() -> Any:
        found = _RESTORED.findall(worker.log_path.read_bytes())
        return found[before] if len(found) > before else None

    _customers, offset, restore_s = await wait_for(
        f"the worker to recover after a kill ({when})", restored, timeout, worker
    )
    return Restart(when, published, round(time.monotonic() - t0, 2), float(restore_s), int(offset))


def header(msg: ConsumerRecord, name: str) -> bytes | None:
    for k, v in msg.headers or ():
        if k == name:
            return bytes(v)
    return None


def clean_run(settings: Settings, links: Sequence[ConsumerRecord]) -> list[dict[str, Any]]:
    """What a never-interrupted single writer publishes for this links log (decoded records, in order).

    Consecutive events are one `on_events` call. The worker cuts the log into other steps
    (fetches, crashes, restores from a snapshot); windows close only on ticks and actions,
    so what it publishes is the same.
    """
    config = resolver_config(settings)  # the worker's own: region, hub threshold, duplicate horizon
    pipeline = Pipeline(
        config, settings.window_seconds * 1000, settings.grace_seconds * 1000, resolved_topic=settings.topic_resolved
    )
    out: list[dict[str, Any]] = []
    batch: list[Any] = []
    last = -1

    def flush() -> None:
        nonlocal batch
        if batch:
            for step in pipeline.on_events(last, batch):
                out.extend(step.records)
            batch = []

    for msg in links:
        kind = header(msg, "irl.kind")
        if kind == b"tick":
            flush()
            for step in pipeline.on_tick(msg.offset, json.loads(msg.value)["now"]):
                out.extend(step.records)
        elif kind == b"action":
            flush()
            for step in pipeline.on_action(msg.offset, json.loads(msg.value)):
                out.extend(step.records)
        else:
            batch.extend(events_of(kind, msg.value))
        last = msg.offset
    flush()
    return out


async def converged(
    bootstrap: str, settings: Settings, workers: Sequence[Worker], expected: Profiles, seen: dict[str, Any]
) -> bool:
    """The resolved topic holds replay's customers (``expected``), and, deduplicated by change_id, exactly
    the records the default mode publishes for the links log (`clean_run`), content included.

    One poll for `wait_for`: raises when a worker died; notes in ``seen`` how far off it is.
    """
    for w in workers:
        if not w.alive():
            raise AssertionError(f"a worker died:\n{w.log_tail()}")
    state, records = await resolved_state(bootstrap, settings.topic_resolved)
    got = published_profiles(state)
    seen["replay"] = diff_profiles(got, expected)
    if got != expected:
        return False
    clean = {r["change_id"]: r for r in clean_run(settings, await read_topic(bootstrap, links_topic_name(settings)))}
    published = {r["change_id"]: r for r in records}
    seen["missing"], seen["unexpected"] = len(clean.keys() - published.keys()), len(published.keys() - clean.keys())
    seen["differ"] = sum(1 for k in clean.keys() & published.keys() if clean[k] != published[k])
    return published == clean


@dataclass
class Outcome:
    """What a run published, checked: the figures for docs/reliability.md."""

    scenario: str
    events: int
    faults: str
    lost: int
    raw_records: int
    duplicates_raw: int
    duplicates_after_dedup: int
    restarts: list[Restart] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        body = {
            **self.__dict__,
            "restarts": [r.__dict__ for r in self.restarts],
            "full": FULL,
            "customer_stage": CUSTOMER_STAGE,
        }
        (RESULTS / f"{self.scenario}.json").write_text(json.dumps(body, indent=2) + "\n")


async def check_nothing_lost(
    settings: Settings,
    sent: Sequence[dict[str, Any]],
    expected: Profiles,
    workers: Sequence[Worker],
    timeout: float = CONVERGE_S,
    clean: bool = True,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[ConsumerRecord]]:
    """Wait until the worker(s) caught up, then assert the issue's definition of nothing lost.

    1. every acknowledged valid event reached the single writer (the links log);
    2. the published state holds exactly the customers replay builds (identifiers and
       touchpoint ids of every live customer);
    3. after dedup by change_id the resolved topic equals the clean run of the links log
       (windows close on ticks and actions only, so however the worker cut the log into
       steps; ``clean`` False skips it), and a repeated (customer id, version) is always the
       same bytes;
    4. versions of each customer id go 1, 2, 3, ... without gaps.

    Returns the folded state, every published record (raw, with duplicates) and the links log.
    """
    bootstrap = settings.kafka_bootstrap
    links_topic = f"{settings.app_id}-links"
    valid_ids = {ev["event_id"] for ev in sent}

    def alive() -> None:
        if not any(w.alive() for w in workers):
            raise AssertionError("every worker died:\n" + "\n".join(w.log_tail(30) for w in workers))

    async def partition_reached() -> Any:
        alive()
        state, records = await resolved_state(bootstrap, settings.topic_resolved)
        got = published_profiles(state)
        if got == expected:
            return True
        last.update(records=len(records), **diff_profiles(got, expected))
        return None

    last: dict[str, Any] = {}
    try:
        await wait_for("the published state to equal replay", partition_reached, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast seen: {last}") from None

    async def equals_clean_run() -> Any:
        alive()
        links = await read_topic(bootstrap, links_topic)
        clean_records = clean_run(settings, links) if clean else []
        state, records = await resolved_state(bootstrap, settings.topic_resolved)
        published = {r["change_id"] for r in records}
        wanted = {r["change_id"] for r in clean_records} if clean else published
        last.update(missing=len(wanted - published), unexpected=len(published - wanted))
        if published == wanted and published_profiles(state) == expected:
            return state, records, links, clean_records
        return None

    try:
        state, records, links, clean_records = await wait_for(
            "the resolved topic (deduplicated) to equal the clean run", equals_clean_run, timeout
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast seen: {last}") from None
    triaged = {ev.event_id for m in links for ev in events_of(header(m, "irl.kind"), m.value)}
    assert valid_ids <= triaged, f"{len(valid_ids - triaged)} acknowledged events never reached the resolver"

    by_version: dict[tuple[str, int], set[str]] = {}
    for r in records:
        by_version.setdefault((r["customer_id"], r["version"]), set()).add(r["change_id"])
    forked = {k: v for k, v in by_version.items() if len(v) > 1}
    assert not forked, f"a customer version was published with different content: {list(forked.items())[:3]}"
    assert len(clean_records) == len({r["change_id"] for r in clean_records}), "the clean run repeats a change id"
    versions: dict[str, list[int]] = {}
    for cid, v in by_version:
        versions.setdefault(cid, []).append(v)
    gaps = {cid: sorted(vs) for cid, vs in versions.items() if sorted(vs) != list(range(1, len(vs) + 1))}
    assert not gaps, f"versions with gaps: {list(gaps.items())[:3]}"
    return state, records, links


def duplicate_counts(records: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """(raw duplicates, duplicates left after dedup by change_id)."""
    counts = Counter(r["change_id"] for r in records)
    raw = sum(n - 1 for n in counts.values())
    deduped = list(dict.fromkeys(r["change_id"] for r in records))
    return raw, len(deduped) - len(set(deduped))


async def redis_equals(redis_url: str, prefix: str, state: dict[str, dict[str, Any]]) -> bool:
    """True when the Redis read model holds exactly the published live customers' data."""
    from streams.readmodel import RedisReadModel

    model = RedisReadModel.from_url(redis_url, prefix=prefix)
    try:
        snap = await model.snapshot()
    except Exception:
        return False
    finally:
        await model.close()
    return {c: (p["phones"], p["emails"], p["source_ids"]) for c, p in snap.items()} == {
        c: (r["phones"], r["emails"], r["source_ids"]) for c, r in state.items()
    }


async def sleep_until(what: str, check: Any, timeout: float, worker: Worker | None = None) -> Any:
    """`wait_for` with a finer poll, for catching a worker in the act (publishing, after a boundary)."""
    return await wait_for(what, check, timeout, worker, interval=0.02)
