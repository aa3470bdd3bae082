"""The per-customer stage's own rate with 1, 2 and 3 workers: its effects topic filled, then consumed.

    python -m bench.customer_scale --customers 20000 --workers 1,2,3 [--runs 1]

The effects come from the ordered stage's logic in this process (`Pipeline(customer_stage=True)`
over a links log of batches of 2,000 events, a tick after each whose clock is 6 s (a window
and its grace) later than the one before, so that each tick closes the window the 2,000
events went to: a busy stream's), as the worker sends them (`resolver.effect_feed.batches`, the effects topic's 6
partitions, their positions far above any the workers' own ordered stage could send, whose
clock is off: ``IRL_TICK_SECONDS=3600``). For each count of workers: new topics, the workers
started with ``IRL_CUSTOMER_STAGE=kafka`` (each runs the stage in its child process) and
waited for until their group ``<app id>-customers`` is stable with every member in it; then
the effects are produced (timed apart, ``produce_s``; a few thousand records) and the clock
runs until the group's committed offsets reach every partition's end: each effect applied and
its records on the resolved topic. Rate: the log's events over that time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bench.common import KAFKA, Worker, bench_env, dataset, median, new_prefix, poll_until, workers
from bench.streaming import _irl, _tree_cpu_s, cleanup

#: Added to every links offset of the effects made here: the workers' own ordered stage (an empty links
#: log) sends effects only at smaller positions, which the partitions then skip.
OFFSET_BASE = 1 << 40
FILL = 2000
PARTITIONS = 6


def effects_of(events: Path, now_ms: int) -> dict[str, Any]:
    """The effects topic's records for the file: (partition, position, value), and what they hold."""
    from resolver.config import ResolverConfig
    from resolver.effect_feed import batches
    from resolver.interaction import Limits, from_json, validate
    from streams.pipeline import Pipeline

    p = Pipeline(ResolverConfig(), 5_000, 1_000, customer_stage=True)
    sent: list[tuple[int, Any, bytes]] = []
    offset = OFFSET_BASE
    batch: list[Any] = []
    n = planned = effects = 0

    def tick() -> None:
        nonlocal offset, planned, effects
        ordinals = [0] * PARTITIONS
        # A clock one window and its grace later each time: every tick closes the window before it.
        for step in p.on_tick(offset, now_ms + (offset - OFFSET_BASE) * 6_000):
            sent.extend(batches(offset, step.effects, ordinals))
            effects += len(step.effects)
            planned += sum(1 for e in step.effects if type(e).__name__ == "Planned")
        offset += 1

    with events.open(encoding="utf-8") as fh:
        for line in fh:
            ev = from_json(json.loads(line), Limits())
            if validate(ev):
                continue
            batch.append(ev)
            if len(batch) >= FILL:
                p.on_events(offset, batch)
                n += len(batch)
                offset += 1
                batch = []
                tick()
    if batch:
        p.on_events(offset, batch)
        n += len(batch)
        offset += 1
        tick()
    size = sum(len(v) for _p, _pos, v in sent)
    return {"events": n, "records": sent, "effects": effects, "planned": planned, "bytes": size}


async def _produce(topic: str, records: list[tuple[int, Any, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    from resolver.effect_feed import encode_position
    from streams.customers import POSITION_HEADER

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, max_request_size=4 * 1024 * 1024, linger_ms=20, acks="all")
    await producer.start()
    try:
        for p, pos, value in records:
            await producer.send(topic, value, partition=p, headers=[(POSITION_HEADER, encode_position(pos))])
        await producer.flush()
    finally:
        await producer.stop()


async def _group(group: str) -> tuple[str, int]:
    """(state, members) of a consumer group as the broker sees it."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        resp = (await admin.describe_consumer_groups([group]))[0]
        _error, _gid, state, _ptype, _protocol, members = resp.groups[0][:6]
        return str(state), len(members)
    finally:
        await admin.close()


async def _committed(group: str, topic: str) -> dict[int, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        got = await admin.list_consumer_group_offsets(group)
        return {tp.partition: om.offset for tp, om in got.items() if tp.topic == topic and om.offset >= 0}
    finally:
        await admin.close()


def _members_per_worker(env: dict[str, str]) -> int:
    """Members each worker of `env` puts in the per-customer group: its children (`IRL_CUSTOMER_PROCESSES`),
    or one (the stage in the worker's process, `IRL_TRIAGE_PROCESSES=0`)."""
    from streams.settings import Settings

    s = Settings.from_env(env)
    return s.customer_processes if s.triage_processes else 1


def customer_rate(
    made: dict[str, Any], n_workers: int, timeout: float = 900, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The per-customer stage of ``n_workers`` workers consuming the effects in ``made`` (`effects_of`).

    ``extra_env``: more settings of the workers (``IRL_CUSTOMER_PROCESSES``, say)."""
    prefix = new_prefix(f"cs{n_workers}")
    env = bench_env(prefix, IRL_CUSTOMER_STAGE="kafka", IRL_TICK_SECONDS="3600")
    env.update(extra_env or {})
    app = env["IRL_APP_ID"]
    members_per_worker = _members_per_worker(env)
    topic, group = f"{app}-effects", f"{app}-customers"
    ends = [0] * PARTITIONS
    for p, _pos, _v in made["records"]:
        ends[p] += 1
    try:
        _irl(env, "topics", "create")
        ws = [Worker(env, f"{prefix}-w{i}") for i in range(n_workers)]
        with workers(ws):
            for w in ws:
                w.start()

            def stable() -> bool:
                for w in ws:
                    w.check()
                state, members = asyncio.run(_group(group))
                return state == "Stable" and members == n_workers * members_per_worker

            poll_until(stable, 300, every=0.5, what=f"{n_workers} workers' members in a stable group {group}")
            time.sleep(2.0)  # the partitions load their (empty) snapshots and seek
            cpu0 = sum(_tree_cpu_s(w).get("customers", 0.0) for w in ws)
            t0 = time.monotonic()
            asyncio.run(_produce(topic, made["records"]))
            produced = time.monotonic() - t0

            def done() -> bool:
                for w in ws:
                    w.check()
                got = asyncio.run(_committed(group, topic))
                return all(got.get(p, 0) >= end for p, end in enumerate(ends))

            poll_until(done, timeout, every=0.1, what="every effect applied")
            seconds = time.monotonic() - t0
            cpu = sum(_tree_cpu_s(w).get("customers", 0.0) for w in ws) - cpu0
            time.sleep(1.0)  # the children report their counters every half second
            applied = sum(int((w.ready()[1] or {}).get("customer_records_published") or 0) for w in ws)
        return {
            "workers": n_workers,
            "members_per_worker": members_per_worker,
            "seconds": round(seconds, 2),
            "produce_s": round(produced, 2),
            "events_per_s": round(made["events"] / seconds),
            # the per-customer processes' CPU seconds while they consumed (user and system, /proc)
            "customers_cpu_s": round(cpu, 2),
            "records_published": applied,
        }
    finally:
        cleanup(prefix)


def scale_run(
    customers: int, counts: tuple[int, ...] = (1, 2, 3), runs: int = 1, processes: int | None = None
) -> dict[str, Any]:
    """`customer_rate` for each count of workers (``runs`` rounds, counts alternating), medians.

    ``processes``: each worker's per-customer processes (``IRL_CUSTOMER_PROCESSES``); None keeps the
    default (two per worker: one worker alone already fills this machine's two cores)."""
    made = effects_of(dataset(customers), int(time.time() * 1000))
    extra = None if processes is None else {"IRL_CUSTOMER_PROCESSES": str(processes)}
    rounds: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    for _ in range(runs):
        for n in counts:
            got = customer_rate(made, n, extra_env=extra)
            print(json.dumps(got), flush=True)
            rounds[n].append(got)
    return {
        "customers": customers,
        "events": made["events"],
        "effects": made["effects"],
        "effect_records": len(made["records"]),
        "effect_bytes_per_event": round(made["bytes"] / made["events"], 1),
        "planned": made["planned"],
        "runs": runs,
        "processes_per_worker": processes,
        "by_workers": [
            {
                "workers": n,
                "members": rounds[n][0]["workers"] * rounds[n][0]["members_per_worker"],
                "events_per_s": round(median([r["events_per_s"] for r in rounds[n]])),
                "seconds": median([r["seconds"] for r in rounds[n]]),
                "produce_s": median([r["produce_s"] for r in rounds[n]]),
                # the per-customer processes' CPU per event, all workers together: flat when the work divides
                "cpu_us_per_event": round(median([r["customers_cpu_s"] for r in rounds[n]]) / made["events"] * 1e6, 1),
                "rounds": [r["events_per_s"] for r in rounds[n]],
            }
            for n in counts
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--processes", type=int, help="per-customer processes per worker (default: the setting's)")
    args = parser.parse_args()
    counts = tuple(int(n) for n in args.workers.split(","))
    print(json.dumps(scale_run(args.customers, counts, args.runs, args.processes)))


if __name__ == "__main__":
    main()
