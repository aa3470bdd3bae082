"""What the per-customer stage's effects cost: bytes per event, and the ordered stage's CPU with and without profiles.

``python -m bench.effects [--customers N] [--seed S] [--runs R] [--batch B]``

Generated data (`streams.synthetic.generate`, about 5 events per customer) in process,
applied as the ordered stage applies a backlog: steps of ``--batch`` events, a tick after
each (``--tick-every`` steps) at the latest event time (5-s windows, 1-s grace:
`bench/core_profile.py`'s ``pipeline``; ``--window-ms``), and a last tick that closes every
window. Timed per CPU second of this
process (`time.process_time`), medians of ``--runs``, the modes alternating:

* ``records``: today's ordered stage (`Pipeline`): resolver, batcher, profiles, changelog
  records and their Avro;
* ``effects``: `Pipeline(customer_stage=True)`: resolver, batcher, the profile inputs (or
  patches) and planned records, encoded as the ordered stage sends them (`batches`: one
  value per partition of ``--partitions`` per step);
* ``quiet``: `Pipeline` applying quietly: resolver, batcher and versions, no profile and no
  record (a floor: what deciding identities and windows costs);
* ``stage``: the per-customer side of ``effects`` in one partition: decoding the effects,
  `CustomerStage` (profiles, records) and the records' Avro; and the same per partition
  (``--partitions``, 6 as the worker's effects topic), each timed on its own (what each of as
  many cores would do).

Prints the figures as JSON lines and a summary.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
from collections.abc import Callable
from typing import Any

from bench.common import cpu_timed, synthetic_args
from resolver.changelog import Planned
from resolver.config import ResolverConfig
from resolver.effect_codec import encode_effect
from resolver.effect_feed import PartitionFeed, Position, batches, unbatch
from resolver.effects import Patched, Replaced, Seen
from resolver.interaction import Interaction, from_json
from streams.codec import encode_resolved
from streams.linkbatch import encode_batches
from streams.pipeline import Pipeline
from streams.synthetic import generate

TOPIC = "irl.customers.resolved"
#: the effects topic's partitions (``--partitions``; the worker's: the resolved topic's)
PARTITIONS = 6
#: a tick after this many steps (``--tick-every``); windows of ``--window-ms``
TICK_EVERY = 1
WINDOW_MS = 5_000


_KINDS: dict[type, str] = {Replaced: "replaced", Patched: "patched", Seen: "seen", Planned: "planned"}


def _drive(p: Pipeline, events: list[Interaction], batch: int, quiet: bool, sink: Callable[[Any], None]) -> None:
    last = 0
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        for step in p.on_events(i, chunk, quiet=quiet):
            sink(step)
        last = max(last, max(e.occurred_at for e in chunk))
        if (i // batch) % TICK_EVERY == TICK_EVERY - 1:
            for step in p.on_tick(i, last, quiet=quiet):
                sink(step)
    for step in p.on_tick(len(events), last + 10_000_000, quiet=quiet):
        sink(step)


def run_records(events: list[Interaction], batch: int) -> dict[str, Any]:
    out = {"records": 0}

    def sink(step: Any) -> None:
        out["records"] += len(step.outputs)

    _drive(Pipeline(ResolverConfig(), WINDOW_MS, 1_000), events, batch, False, sink)
    return out


def run_quiet(events: list[Interaction], batch: int) -> dict[str, Any]:
    _drive(Pipeline(ResolverConfig(), WINDOW_MS, 1_000), events, batch, True, lambda step: None)
    return {}


def run_effects(events: list[Interaction], batch: int) -> dict[str, Any]:
    """The ordered side; keeps the records of effects it would send (for ``stage``)."""
    sent: list[tuple[int, Position, bytes]] = []
    ordinals = [0] * PARTITIONS

    def sink(step: Any) -> None:
        if step.effects:
            sent.extend(batches(step.offset, step.effects, ordinals))

    _drive(Pipeline(ResolverConfig(), WINDOW_MS, 1_000, customer_stage=True), events, batch, False, sink)
    return {"_sent": sent}


def kinds(sent: list[tuple[int, Position, bytes]]) -> dict[str, Any]:
    """How many effects of each kind, and their bytes one by one (`encode_effect`; a batch's are fewer), untimed."""
    sizes = dict.fromkeys(("replaced", "patched", "seen", "planned", "other"), 0)
    counts = dict(sizes)
    for _p, pos, value in sent:
        for _pos, effect in unbatch(pos, value):
            kind = _KINDS.get(type(effect), "other")
            sizes[kind] += len(encode_effect(effect))
            counts[kind] += 1
    return {"bytes": sizes, "counts": counts, "records": len(sent), "wire_bytes": sum(len(v) for _p, _o, v in sent)}


def run_stage(values: list[tuple[Position, bytes]]) -> dict[str, Any]:
    stage = PartitionFeed()
    records = 0
    for pos, value in values:
        for record in stage.apply(unbatch(pos, value)):
            encode_resolved(record, TOPIC)
            records += 1
    return {"records": records}


def split(sent: list[tuple[int, Position, bytes]]) -> list[list[tuple[Position, bytes]]]:
    """The records of effects by partition, in order."""
    out: list[list[tuple[Position, bytes]]] = [[] for _ in range(PARTITIONS)]
    for p, pos, value in sent:
        out[p].append((pos, value))
    return out


def one_partition(sent: list[tuple[int, Position, bytes]]) -> list[tuple[Position, bytes]]:
    """Every partition's records for one stage (each customer's effects in order; positions renumbered)."""
    return [(Position(i, 0), value) for i, (_p, _pos, value) in enumerate(sent)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic_args(ap)
    ap.add_argument("--tick-every", type=int, default=1, help="steps between ticks")
    ap.add_argument("--window-ms", type=int, default=5_000)
    ap.add_argument("--partitions", type=int, default=6, help="the effects topic's partitions")
    args = ap.parse_args(argv)
    global TICK_EVERY, WINDOW_MS, PARTITIONS
    TICK_EVERY, WINDOW_MS, PARTITIONS = args.tick_every, args.window_ms, args.partitions
    events = [from_json(obj) for obj in generate(customers=args.customers, seed=args.seed)[0]]
    n = len(events)
    links_bytes = sum(len(v) for v in encode_batches(events, max_bytes=512 * 1024))
    cpu: dict[str, list[float]] = {"records": [], "effects": [], "quiet": [], "stage": []}
    parts: list[list[float]] = [[] for _ in range(args.partitions)]
    info: dict[str, Any] = {}
    for _ in range(args.runs):
        t, info["records"] = cpu_timed(lambda: run_records(events, args.batch))
        cpu["records"].append(t)
        t, info["quiet"] = cpu_timed(lambda: run_quiet(events, args.batch))
        cpu["quiet"].append(t)
        t, eff = cpu_timed(lambda: run_effects(events, args.batch))
        cpu["effects"].append(t)
        sent = eff.pop("_sent")
        info["effects"] = kinds(sent)
        t, info["stage"] = cpu_timed(functools.partial(run_stage, one_partition(sent)))
        cpu["stage"].append(t)
        for i, part in enumerate(split(sent)):
            t, _ = cpu_timed(functools.partial(run_stage, part))
            parts[i].append(t)
    us = {mode: statistics.median(ts) / n * 1e6 for mode, ts in cpu.items()}
    sizes = info["effects"]["bytes"]
    figures = {
        "customers": args.customers,
        "events": n,
        "batch": args.batch,
        "tick_every": args.tick_every,
        "window_ms": args.window_ms,
        "runs": args.runs,
        "cpu_us_per_event": {k: round(v, 2) for k, v in us.items()},
        "stage_us_per_event_by_partition": [round(statistics.median(ts) / n * 1e6, 2) for ts in parts],
        "records": info["records"]["records"],
        "stage_records": info["stage"]["records"],
        "effects_bytes_per_event": round(info["effects"]["wire_bytes"] / n, 1),
        "effect_records_per_event": round(info["effects"]["records"] / n, 3),
        "effects_bytes_per_event_one_by_one": {k: round(v / n, 1) for k, v in sizes.items()},
        "effects_per_event": {k: round(v / n, 3) for k, v in info["effects"]["counts"].items()},
        "links_bytes_per_event": round(links_bytes / n, 1),
    }
    print(json.dumps(figures))
    print(
        f"{n} events: ordered stage {us['records']:.1f} us/event today (profiles, records, Avro), "
        f"{us['effects']:.1f} with effects instead, {us['quiet']:.1f} quiet (identity and windows only); "
        f"per-customer stage {us['stage']:.1f} us/event in one partition, at most "
        f"{max(figures['stage_us_per_event_by_partition']):.1f} in each of {args.partitions}. Effects "
        f"{figures['effects_bytes_per_event']} B/event (links log {figures['links_bytes_per_event']} B/event)"
    )


if __name__ == "__main__":
    main()
