"""The ordered stage's CPU per event in process, part by part: what `streams.sequencer` does per links record.

``python -m bench.ordered_stage [FILE] [--runs N] [--tree DIR ...] [--tick-events K] [--profile OUT]
[--plain | --both]``

The file (default: `irl generate --customers 20000 --seed 1`, bench/.data) is validated and
written into links batch records as triage writes them (`streams.linkbatch.encode_batches`,
2,000 events per fetch, as `bench.streaming`'s links log) with a tick after each
``--tick-events`` events whose clock is far past every event (the worker's wall clock on
generated history: each tick closes every window noted since the last). Then, timed with
`time.process_time` per part, the ordered stage's work with the per-customer stage over Kafka
(`IRL_CUSTOMER_STAGE=kafka`, the default) and the interactions topic on, as the worker runs:

* ``decode``: `events_of` of each batch record (the links log's JSON to `Interaction` values) and
  `founds_of` of its ``irl.found`` header (triage's findings; ``--plain``: none, the stage parses every event);
* ``events``: `Pipeline.on_events` in steps of `STEP_EVENTS` (the resolver, the batcher, the
  effect log's notes, the interactions' Avro);
* ``ticks``: the ticks' steps (`Pipeline.on_tick`: the effect log's flush, `Changelog.plan`);
* ``encode``: the effects of every step placed and encoded (`resolver.effect_feed.batches`,
  `encode_position`), as `Sequencer._effects_out`;
* ``snapshot``: `Pipeline.snapshot()` once per `SNAPSHOT_TAIL_EVENTS` events and once at the
  end (what each forked dump does, in process here), reported apart from the total.

Nothing is sent: the Kafka client's and Faust's costs are not here (`bench.streaming` has them).
With ``--tree`` each source tree runs in its own interpreter (alternating with this checkout,
``--runs`` times), on the same input, and the outputs' digest (every step's interactions and
effects records, with their partitions and positions, and the final snapshot) is compared.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import dataset, median, spawn_results

__all__ = ["main", "run"]

#: Events per links batch record (what triage forwards per fetch; `bench.streaming._fill_links`).
FETCH = 2_000
PARTS = ("decode", "events", "ticks", "encode")


#: Runs `run` with `resolver` and `streams` from another source tree (argv[1]), this file from ours (argv[2]).
def links_log(events_file: Path, tick_events: int, plain: bool = False) -> list[tuple[bytes, bytes, bytes | None]]:
    """(kind, value, ``irl.found`` header) of the links records for ``events_file``: batches of `FETCH`
    valid events with triage's findings (none with `plain`, or in a tree from before s40), ticks between."""
    from resolver.interaction import Limits, from_json, validate
    from streams.linkbatch import BATCH, TICK, encode_batches

    try:
        from resolver.config import ResolverConfig
        from resolver.identifiers import IdentifierParser
        from resolver.linking import found_of
        from streams.linkbatch import encode_found_batches, parser_fingerprint
    except ImportError:  # a tree from before triage sent its findings
        plain = True

    valid = []
    latest = 0
    with events_file.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                ev = from_json(json.loads(line), Limits())
                if not validate(ev):
                    valid.append(ev)
                    latest = max(latest, ev.occurred_at)
    out: list[tuple[bytes, bytes, bytes | None]] = []
    now = latest + 86_400_000  # a wall clock far past the history: a tick closes every window noted
    since = 0
    if not plain:
        parser, fingerprint = IdentifierParser(ResolverConfig()), parser_fingerprint(ResolverConfig())
    for i in range(0, len(valid), FETCH):
        fetched = valid[i : i + FETCH]
        if plain:
            out.extend((BATCH, v, None) for v in encode_batches(fetched))
        else:
            founds = [found_of(parser, e.touchpoint, e.source_id, e.phone, e.email, e.name) for e in fetched]
            out.extend((BATCH, v, f) for v, f in encode_found_batches(fetched, founds, fingerprint))
        since += len(fetched)
        if since >= tick_events:
            now += 500
            out.append((TICK, json.dumps({"now": now}).encode(), None))
            since = 0
    out.append((TICK, json.dumps({"now": now + 10_000}).encode(), None))
    return out


def run(log: list[tuple[bytes, bytes, bytes | None]], digest: bool = False) -> dict[str, Any]:
    """Apply ``log`` as the ordered stage does; CPU seconds per part (and the outputs' digest)."""
    from resolver.config import ResolverConfig
    from resolver.effect_feed import batches, encode_position
    from streams.linkbatch import TICK, events_of
    from streams.pipeline import Pipeline
    from streams.sequencer import SNAPSHOT_TAIL_EVENTS, STEP_EVENTS

    founds_of: Callable[..., Any] | None = None
    parser_fingerprint: Callable[..., bytes] | None = None
    try:
        from streams.linkbatch import founds_of, parser_fingerprint
    except ImportError:  # a tree from before triage sent its findings
        pass

    clock = time.process_time
    cpu = dict.fromkeys((*PARTS, "snapshot"), 0.0)
    pipeline = Pipeline(
        ResolverConfig(),
        5_000,
        1_000,
        interactions_topic="irl.interactions.resolved",
        customer_stage=True,
    )
    h = hashlib.sha256()
    ordinals = [0] * 6
    counts: dict[str, Any] = {
        "events": 0, "effects": 0, "effect_records": 0, "effect_bytes": 0, "interactions": 0, "snapshots": 0
    }  # fmt: skip
    since_snapshot = 0

    def write(step: Any) -> None:
        t = clock()
        out = [(p, v, encode_position(pos)) for p, pos, v in batches(step.offset, step.effects, ordinals)]
        cpu["encode"] += clock() - t
        counts["effects"] += len(step.effects)
        counts["effect_records"] += len(out)
        counts["interactions"] += len(step.interactions)
        for p, v, pos in out:
            counts["effect_bytes"] += len(v)
            if digest:
                h.update(b"E%d:%s:%s" % (p, pos, v))
        if digest:
            for k, v in step.interactions:
                h.update(b"I" + k + b":" + v)

    def snapshot() -> None:
        t = clock()
        data = pipeline.snapshot()
        took = clock() - t
        cpu["snapshot"] += took
        counts["snapshots"] += 1
        counts.setdefault("snapshot_cpu_s_each", []).append(round(took, 3))
        counts["snapshot_bytes"] = len(data)
        if digest:
            counts["snapshot_sha256"] = hashlib.sha256(data).hexdigest()

    fingerprint = parser_fingerprint(ResolverConfig()) if parser_fingerprint is not None else b""
    for offset, (kind, value, header) in enumerate(log):
        if kind == TICK:
            ordinals = [0] * len(ordinals)
            ticking = pipeline.on_tick(offset, json.loads(value)["now"])
            while True:
                t = clock()
                step = next(ticking, None)
                cpu["ticks"] += clock() - t
                if step is None:
                    break
                write(step)
            continue
        t = clock()
        events = events_of(kind, value)
        founds = founds_of(header, fingerprint, len(events)) if header is not None and founds_of else None
        cpu["decode"] += clock() - t
        for i in range(0, len(events), STEP_EVENTS):
            t = clock()
            if founds is None:
                steps = pipeline.on_events(offset, events[i : i + STEP_EVENTS])
            else:
                steps = pipeline.on_events(offset, events[i : i + STEP_EVENTS], founds=founds[i : i + STEP_EVENTS])
            cpu["events"] += clock() - t
            for step in steps:
                write(step)
        counts["events"] += len(events)
        since_snapshot += len(events)
        if since_snapshot >= SNAPSHOT_TAIL_EVENTS:
            snapshot()
            since_snapshot = 0
    snapshot()
    from resolver import CORE_COMPILED

    counts["core_compiled"] = CORE_COMPILED
    return {"cpu": cpu, "counts": counts, "digest": h.hexdigest() if digest else None}


def _child(events_file: Path, tick_events: int, runs: int, profile: str | None, plain: bool = False) -> None:
    """In this interpreter: build the links log once, then ``runs`` timed runs; prints one JSON line per run."""
    from streams.gcpolicy import YOUNG

    log = links_log(events_file, tick_events, plain)
    gc.set_threshold(YOUNG)  # as the worker runs (`streams.gcpolicy`)
    for i in range(runs):
        gc.collect()
        prof = cProfile.Profile() if profile and i == runs - 1 else None
        if prof is not None:
            prof.enable()
        got = run(log, digest=i == 0)
        if prof is not None and profile:
            prof.disable()
            prof.dump_stats(profile)
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        print("RESULT " + json.dumps(got), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="?", type=Path, help="events file (default: generated, 20,000 customers)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tick-events", type=int, default=5_000, help="events between ticks (10k/s at 0.5-s ticks)")
    ap.add_argument("--tree", type=Path, action="append", default=[], help="another source tree to alternate with")
    ap.add_argument("--profile", help="cProfile this tree's last run into this file (read it with pstats)")
    ap.add_argument(
        "--plain", action="store_true", help="batches without triage's findings (the stage parses every event)"
    )
    ap.add_argument("--both", action="store_true", help="alternate this tree with and without triage's findings")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    events_file = args.events or dataset(20_000)
    if args.child:
        _child(events_file, args.tick_events, args.runs, args.profile, args.plain)
        return 0
    base = [str(events_file), "--tick-events", str(args.tick_events), "--child"]
    this: list[tuple[str, Path | None, list[str]]] = [("this", None, ["--plain"] if args.plain else [])]
    if args.both:
        this = [("this, triage's findings", None, []), ("this, parsing every event", None, ["--plain"])]
    trees = [*this, *((str(t), t, []) for t in args.tree)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in trees}
    for r in range(args.runs):
        # one interpreter per run and tree, alternating (the first run of each also digests its outputs)
        order = trees if r % 2 == 0 else trees[::-1]
        for name, tree, extra in order:
            # --profile: this tree's last run, in its child (where the work is)
            first = tree is None and name == this[0][0]
            profiled = ["--profile", args.profile] if args.profile and first and r == args.runs - 1 else []
            argv_child = [*base, "--runs", "1", *extra, *profiled]
            results[name].extend(spawn_results("bench.ordered_stage", "streams.pipeline", tree, argv_child))
    show: Callable[[float], str] = lambda s: f"{s:6.2f}"  # noqa: E731
    for name, runs in results.items():
        n = runs[0]["counts"]["events"]
        per = {p: median([x["cpu"][p] for x in runs]) for p in (*PARTS, "snapshot")}
        total = [sum(x["cpu"][p] for p in PARTS) for x in runs]
        print(
            f"{name}: {n} events, CPU s (median of {len(runs)}): "
            + " ".join(f"{p} {show(per[p])}" for p in (*PARTS, "snapshot"))
            + f" | total without snapshots {show(median(total))} = {median(total) / n * 1e6:.1f} us/event"
            + f" (runs {[round(t, 2) for t in total]}); snapshots {runs[0]['counts']['snapshots']}"
        )
        print(f"  counts {json.dumps(runs[0]['counts'])}")
        print(f"  digest {runs[0]['digest']}")
    digests = {name: runs[0]["digest"] for name, runs in results.items()}
    if len(trees) > 1:
        print("outputs " + ("byte-identical" if len(set(digests.values())) == 1 else f"DIFFER: {digests}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
