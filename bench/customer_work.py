"""The per-customer stage's CPU per event, part by part, in process (issue 15).

``python -m bench.customer_work [--customers N] [--runs R] [--tree DIR ...] [--profile OUT]``

The ordered stage's effects of a generated file (`bench.common.dataset`, 20,000 customers,
about 101k events) as `bench.customer_scale` makes them (a busy stream's: batches of 2,000
events, a tick after each that closes every window, 5-s windows, 1-s grace, 6 partitions)
are made once by this checkout and cached under ``bench/.data/`` (`EFFECTS_FORMAT`: the
wire bytes and positions of every effects record). Then the records are read in fetches of
`CUSTOMERS_FETCH` (200) as the consumer loop reads them, each partition's part of a fetch
applied as `streams.customers.CustomerPartition` applies it, each part timed on its own with
`time.process_time`:

* ``decode``: `decode_position` and `unbatch` (the effects' JSON into `Effect` values);
* ``apply``: `PartitionFeed.apply` (inputs, patches, profiles and the planned records);
* ``avro``: `encode_resolved` of every record (the changelog's Avro);
* ``journal``: `JournalFeed.record` of the records (the views' journal, in the child's reports);
* ``mirror``: after every ``--flush-every`` fetches, what `PartitionMirror.flush`
  computes before Redis: `take_changes`, the touched customers' profiles and the script's
  arguments (`streams.readmodel._ops`); no Redis call;
* ``snapshot``: one `PartitionFeed.snapshot` and `snapshot_records` of each partition at
  the end (a backlog stores about one per partition: `BEHIND_SNAPSHOTS`), reported per event
  of the whole file like the others.

The outputs of every part (records' bytes, the script's arguments, the snapshots' records)
go into one SHA-256 per part, so two trees' runs show that they produce the same bytes.
The collector runs at ``--gc-young`` (the per-customer child's pace since s38: 50,000; 700 is
CPython's default, the child's before). With ``--tree`` each tree runs in its own interpreter,
alternating with this checkout; the effects file is this checkout's (the wire format is the
same). Prints ``RESULT`` JSON lines and a summary of medians; ``partition_us_per_event`` is
the whole `CustomerPartition.apply` (`run_partitions`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, spawn_results

__all__ = ["main", "run"]

PARTS = ("decode", "apply", "avro", "journal", "mirror", "snapshot")
TOPIC = "irl.customers.resolved"
#: bump when the cached file's layout changes
EFFECTS_FORMAT = 1
#: the ordered stage's clock at its first tick (`bench.customer_scale.effects_of`: each tick 6 s later)
NOW_MS = 1_800_000_000_000

#: (partition, offset, ordinal, value): every effects record, in the order the ordered stage sent them
Sent = list[tuple[int, int, int, bytes]]


def effects_file(customers: int, seed: int) -> Path:
    """The cached effects of the generated file (made by this checkout's ordered stage the first time)."""
    path = ROOT / "bench" / ".data" / f"effects-v{EFFECTS_FORMAT}-c{customers}-s{seed}.pickle"
    if not path.exists():
        from bench.common import dataset
        from bench.customer_scale import OFFSET_BASE, effects_of

        made = effects_of(dataset(customers, seed), NOW_MS)
        rows = [(p, pos.offset - OFFSET_BASE, pos.ordinal, value) for p, pos, value in made["records"]]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps({"events": made["events"], "sent": rows}))
        tmp.replace(path)
    return path


def _fetches(sent: Sent) -> list[dict[int, list[tuple[int, int, bytes]]]]:
    """The records in fetches of `CUSTOMERS_FETCH` (the consumer loop's ``max_records``), by partition."""
    from streams.customer_loop import CUSTOMERS_FETCH

    out: list[dict[int, list[tuple[int, int, bytes]]]] = []
    for i in range(0, len(sent), CUSTOMERS_FETCH):
        fetch: dict[int, list[tuple[int, int, bytes]]] = {}
        for p, offset, ordinal, value in sent[i : i + CUSTOMERS_FETCH]:
            fetch.setdefault(p, []).append((offset, ordinal, value))
        out.append(fetch)
    return out


def _timed(cpu: dict[str, float], part: str, fn: Callable[[], Any]) -> Any:
    t0 = time.process_time()
    out = fn()
    cpu[part] += time.process_time() - t0
    return out


def run(sent: Sent, events: int, flush_every: int) -> dict[str, Any]:
    """Apply every partition's records as a `CustomerPartition` would; CPU seconds and an output digest per part."""
    from resolver.effect_feed import PartitionFeed, Position, decode_position, encode_position, unbatch
    from streams.codec import encode_resolved
    from streams.customer_state import snapshot_records
    from streams.mirror import _partition_profiles
    from streams.readmodel import _ops
    from streams.web.journal import JournalFeed

    journal = JournalFeed()
    cpu = dict.fromkeys(PARTS, 0.0)
    digest = {part: hashlib.sha256() for part in PARTS}
    feeds: dict[int, PartitionFeed] = {}
    records = 0
    for n, fetch in enumerate(_fetches(sent)):
        for p, rows in fetch.items():
            feed = feeds.setdefault(p, PartitionFeed())
            # the records' headers, as the ordered stage sends them
            headers = [(encode_position(Position(offset, ordinal)), value) for offset, ordinal, value in rows]
            items = _timed(cpu, "decode", lambda: [e for h, v in headers for e in unbatch(decode_position(h), v)])  # noqa: B023
            published = _timed(cpu, "apply", lambda: feed.apply(items))  # noqa: B023
            encoded = _timed(cpu, "avro", lambda: [encode_resolved(r, TOPIC) for r in published])  # noqa: B023
            _timed(cpu, "journal", lambda: journal.record(published))  # noqa: B023
            for blob in encoded:
                digest["avro"].update(blob)
            digest["apply"].update(json.dumps(published, sort_keys=True, default=str).encode())
            records += len(published)
        if (n + 1) % flush_every == 0:
            for p in fetch:
                digest["mirror"].update(_mirror(cpu, feeds[p], _partition_profiles, _ops))
    for p in sorted(feeds):
        digest["mirror"].update(_mirror(cpu, feeds[p], _partition_profiles, _ops))
        snap = _timed(cpu, "snapshot", lambda: snapshot_records(p, 0, feeds[p].snapshot(), None))  # noqa: B023
        for key, val in snap[1]:
            digest["snapshot"].update(key + (val or b""))
    return {
        "events": events,
        "records": records,
        "cpu_us_per_event": {part: round(cpu[part] / events * 1e6, 2) for part in PARTS},
        "total_us_per_event": round(sum(cpu.values()) / events * 1e6, 2),
        "digests": {part: digest[part].hexdigest()[:16] for part in PARTS},
    }


def run_partitions(sent: Sent, events: int) -> dict[str, Any]:
    """The same records through `streams.customers.CustomerPartition.apply` (fetches as `run`'s, fake ports
    that publish nothing, the journal fed, no mirror): the shell's CPU per event with every part above but
    the mirror and the snapshot."""
    import asyncio

    from resolver.effect_feed import Position, encode_position
    from streams.customers import CustomerPartition, CustomerPorts, EffectRecord
    from streams.web.journal import JournalFeed

    async def nothing(*_args: Any) -> Any:
        return None

    ports = CustomerPorts(
        read_state=nothing,
        send_state=nothing,
        publish=nothing,
        commit=nothing,
        committed=nothing,
    )
    stats: dict[str, Any] = {"effects_applied": 0, "customer_records_published": 0, "erased_resent": 0}
    journal = JournalFeed()
    parts: dict[int, CustomerPartition] = {}
    fetches = [
        {
            p: [EffectRecord(i, encode_position(Position(o, n)), v) for i, (o, n, v) in enumerate(rows)]
            for p, rows in f.items()
        }
        for f in _fetches(sent)
    ]
    offsets = dict.fromkeys(range(64), 0)

    async def drive() -> None:
        for fetch in fetches:
            for p, recs in fetch.items():
                part = parts.get(p)
                if part is None:
                    part = parts[p] = CustomerPartition(p, ports, TOPIC, stats, on_published=journal.record)
                base = offsets[p]
                offsets[p] += len(recs)
                await part.apply([EffectRecord(base + r.offset, r.position, r.value) for r in recs])

    t0 = time.process_time()
    asyncio.run(drive())
    cpu = time.process_time() - t0
    return {"partition_us_per_event": round(cpu / events * 1e6, 2), "published": stats["customer_records_published"]}


def _mirror(cpu: dict[str, float], feed: Any, profiles: Callable[..., Any], ops: Callable[..., Any]) -> bytes:
    def work() -> list[str]:
        touched, removed = feed.stage.take_changes()
        out: list[str] = ops(profiles(feed.stage, touched), removed, ())
        return out

    return "\x00".join(_timed(cpu, "mirror", work)).encode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--flush-every",
        type=int,
        default=1,
        help="fetches between mirror flushes (one: about 3,300 events, 0.4 s at 8k events/s)",
    )
    ap.add_argument("--tree", type=Path, action="append", default=[], help="another source tree to alternate with")
    ap.add_argument("--profile", type=Path, help="cProfile one run into this file (and print its top)")
    ap.add_argument(
        "--gc-young",
        type=int,
        default=50_000,
        help="the young generation's threshold (`streams.gcpolicy.YOUNG`, as the per-customer child since s38; "
        "700: CPython's default, as before)",
    )
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    path = effects_file(args.customers, args.seed)
    if args.inner or args.profile:
        import gc

        gc.set_threshold(args.gc_young, *gc.get_threshold()[1:])
        data = pickle.loads(path.read_bytes())
        for _ in range(args.runs):
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
            got = run(data["sent"], data["events"], args.flush_every)
            got.update(run_partitions(data["sent"], data["events"]))
            if args.profile:
                prof.disable()
                prof.dump_stats(args.profile)
                pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(35)
            print("RESULT " + json.dumps(got), flush=True)
        return 0
    base = ["--inner", "--customers", str(args.customers), "--seed", str(args.seed)]
    base += ["--flush-every", str(args.flush_every), "--gc-young", str(args.gc_young), "--runs", "1"]
    trees: list[tuple[str, Path | None]] = [("this", None), *((str(t), t) for t in args.tree)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
    for r in range(args.runs):
        for name, tree in trees if r % 2 == 0 else trees[::-1]:
            spawned = spawn_results("bench.customer_work", "streams.customers", tree, base)
            results[name].extend(spawned)
            print(f"{name}: " + json.dumps(spawned[-1]), flush=True)
    for name, runs in results.items():
        med = {part: statistics.median(g["cpu_us_per_event"][part] for g in runs) for part in PARTS}
        total = statistics.median(g["total_us_per_event"] for g in runs)
        digests = {json.dumps(g["digests"], sort_keys=True) for g in runs}
        shell = statistics.median(g["partition_us_per_event"] for g in runs)
        print(
            f"{name}: {total:.1f} CPU us per event; CustomerPartition.apply with fake ports {shell:.1f} ("
            + ", ".join(f"{part} {med[part]:.1f}" for part in PARTS)
            + f"), medians of {len(runs)}; outputs {'same in every run' if len(digests) == 1 else 'DIFFER'}"
        )
    if len(trees) > 1:
        same = len({json.dumps(runs[0]["digests"], sort_keys=True) for runs in results.values()}) == 1
        print("outputs of the trees: " + ("the same bytes" if same else "DIFFERENT"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
