"""What mirroring Redis costs the ordered stage over Kafka (s31), and what it costs the partitions instead.

``python -m bench.mirror_cost [--customers N] [--runs R] [--batch B] [--flush-every F]``

In process, on generated data, as `bench.effects` drives the ordered stage (steps of
``--batch`` events, a tick after each, 5-s windows), CPU seconds of this process
(`time.process_time`) per event, medians of ``--runs``, the modes alternating:

* ``ordered``: `Pipeline(customer_stage=True)`, the ordered stage over Kafka as it now runs
  (identities, windows, effects encoded): it writes no Redis;
* ``ordered+mirror``: the same, plus what its `RedisMirror` did before (s31): every
  ``--flush-every`` steps (a 0.5-s flush at about 10k events/s), the profiles of the customers
  the steps touched built from the resolver and encoded into the write script's arguments
  (`streams.readmodel._ops`). The Redis round trip and the script are not in it (Redis's CPU);
  a backlog's flushes were written by a forked child, whose CPU is the machine's all the same;
* ``partitions+mirror``: the per-customer side that now does it, summed over the
  ``--partitions`` partitions: decoding effects, `CustomerStage`, records and their Avro, and
  per flush (the same cadence) the touched customers' profiles and the script's arguments;
  ``partitions`` the same without the mirror.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
from typing import Any

from bench.common import cpu_timed, synthetic_args
from bench.effects import WINDOW_MS, split
from resolver.config import ResolverConfig
from resolver.effect_feed import PartitionFeed, Position, batches, unbatch
from resolver.interaction import Interaction, from_json
from streams.codec import encode_resolved
from streams.mirror import _partition_profiles, _profiles
from streams.pipeline import Pipeline
from streams.readmodel import _ops
from streams.synthetic import generate

TOPIC = "irl.customers.resolved"


def run_ordered(
    events: list[Interaction], batch: int, flush_every: int, mirror: bool, partitions: int
) -> list[tuple[int, Position, bytes]]:
    """The ordered stage over Kafka; with ``mirror``, also what its Redis mirror built. Returns the effects sent."""
    p = Pipeline(ResolverConfig(), WINDOW_MS, 1_000, customer_stage=True)
    sent: list[tuple[int, Position, bytes]] = []
    ordinals = [0] * partitions
    touched: set[str] = set()
    removed: dict[str, str | None] = {}

    def sink(step: Any) -> None:
        if step.effects:
            sent.extend(batches(step.offset, step.effects, ordinals))
        if mirror:
            for cid, survivor in step.removed.items():
                touched.discard(cid)
                removed[cid] = survivor
            touched.update(step.touched)

    def flush() -> None:
        if mirror:
            _ops(_profiles(p, touched), removed, ())
            touched.clear()
            removed.clear()

    last = 0
    for steps, i in enumerate(range(0, len(events), batch), 1):
        chunk = events[i : i + batch]
        for step in p.on_events(i, chunk):
            sink(step)
        last = max(last, max(e.occurred_at for e in chunk))
        for step in p.on_tick(i, last):
            sink(step)
        if steps % flush_every == 0:
            flush()
    for step in p.on_tick(len(events), last + 10_000_000):
        sink(step)
    flush()
    return sent


def run_partition(values: list[tuple[Position, bytes]], flush_every: int, mirror: bool) -> int:
    """One partition: apply its records of effects, publish's Avro, and (``mirror``) its Redis writes' arguments."""
    feed = PartitionFeed()
    records = 0
    pending: set[str] = set()
    gone: dict[str, str | None] = {}
    for n, (pos, value) in enumerate(values, 1):
        for record in feed.apply(unbatch(pos, value)):
            encode_resolved(record, TOPIC)
            records += 1
        if mirror:
            touched, removed = feed.stage.take_changes()
            for cid, survivor in removed.items():
                pending.discard(cid)
                gone[cid] = survivor
            pending |= touched
            if n % flush_every == 0:
                _ops(_partition_profiles(feed.stage, pending), gone, ())
                pending, gone = set(), {}
    if mirror:
        _ops(_partition_profiles(feed.stage, pending), gone, ())
    return records


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic_args(ap)
    ap.add_argument("--flush-every", type=int, default=10, help="steps (of --batch events) per Redis flush")
    ap.add_argument("--partitions", type=int, default=6)
    args = ap.parse_args(argv)
    events = [from_json(obj) for obj in generate(customers=args.customers, seed=args.seed)[0]]
    n = len(events)
    cpu: dict[str, list[float]] = {"ordered": [], "ordered+mirror": [], "partitions": [], "partitions+mirror": []}
    for _ in range(args.runs):
        t, sent = cpu_timed(lambda: run_ordered(events, args.batch, args.flush_every, False, args.partitions))
        cpu["ordered"].append(t)
        t, _ = cpu_timed(lambda: run_ordered(events, args.batch, args.flush_every, True, args.partitions))
        cpu["ordered+mirror"].append(t)
        # a partition flushes once per record of effects it applies at most; one record per step and partition
        for mirror in (False, True):
            total = 0.0
            for part in split_by(sent, args.partitions):
                t, _ = cpu_timed(functools.partial(run_partition, part, args.flush_every, mirror))
                total += t
            cpu["partitions+mirror" if mirror else "partitions"].append(total)
    us = {k: round(statistics.median(v) / n * 1e6, 2) for k, v in cpu.items()}
    print(
        json.dumps({"customers": args.customers, "events": n, "flush_every": args.flush_every, "cpu_us_per_event": us})
    )
    print(
        f"{n} events: the ordered stage over Kafka {us['ordered']} us/event without Redis, "
        f"{us['ordered+mirror']} with its mirror's profiles and writes (s31); the partitions "
        f"{us['partitions']} without, {us['partitions+mirror']} with the mirror (summed over {args.partitions})"
    )


def split_by(sent: list[tuple[int, Position, bytes]], partitions: int) -> list[list[tuple[Position, bytes]]]:
    """`bench.effects.split` for ``partitions``."""
    import bench.effects

    bench.effects.PARTITIONS = partitions
    return split(sent)


if __name__ == "__main__":
    main()
