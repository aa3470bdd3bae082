"""Snapshots: a generated data set's core state written as one binary value and loaded back, beside today's restore.

The state is built offline, in this process: `resolver.replay.replay` of `bench.common.dataset(N)`
into a `Resolver(track_changes=True)`, as `irl replay` does. Then, from that one state:

* its state records are drained (`resolver.records.drain`, what the worker publishes) and
  the snapshot is written (`resolver.snapshot.dump`, timed here);
* `records.restore` of those records and `snapshot.load` of the snapshot are timed each in a
  fresh interpreter (``python -m bench.snapshot restore|load FILE``), as a restarting worker
  would run them: the input already in memory, nothing else on the heap. Runs alternate, so
  noise from other users of the machine lands on both;
* the first loading child also writes the loaded graph's snapshot again and compares the bytes.

Each child reports wall and CPU seconds (`time.process_time`): on a shared machine the CPU
figure is the steadier one, and the target is read on wall time.

Memory: the RSS growth of building the state (the replay: state, its change set not yet
drained, and the parser's caches) and the RSS growth of loading the snapshot in the child
(the state alone, once the load's freed heap is given back as the worker does:
`streams.heap.release_freed`), each divided by the number of identifiers.
"""

from __future__ import annotations

import argparse
import gc
import json
import marshal
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BIN, ROOT, dataset, median

__all__ = ["LOAD_TARGET", "MEMORY_TARGET", "build_state", "load_timed", "rss", "snapshot_run"]

#: `records.restore` seconds over `snapshot.load` seconds, at least (issue 14: at 1M identifiers).
LOAD_TARGET = 10.0
#: Core memory per identifier at 1M identifiers, at most (bytes).
MEMORY_TARGET = 300


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_state(events: Path, track_changes: bool = True, cadence: Any = None) -> tuple[Any, float, int]:
    """(resolver, replay seconds, RSS growth bytes) of replaying `events` into a fresh resolver.

    `cadence`: a `resolver.compaction.Cadence` the replay compacts at.
    """
    from resolver.config import ResolverConfig
    from resolver.replay import replay
    from resolver.resolver import Resolver

    gc.collect()
    before = rss()
    resolver = Resolver(ResolverConfig(), track_changes=track_changes)
    t0 = time.perf_counter()
    with events.open(encoding="utf-8") as handle:
        replay(((str(events), n, line) for n, line in enumerate(handle, 1)), resolver, cadence=cadence)
    seconds = time.perf_counter() - t0
    return resolver, seconds, rss() - before


def _child(mode: str, path: Path, *options: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [str(BIN / "python"), "-m", "bench.snapshot", mode, str(path), *options],
        cwd=ROOT,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.snapshot {mode} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def snapshot_run(customers: int, runs: int = 3, restore_runs: int = 1) -> dict[str, Any]:
    """Build the state of `customers` generated customers, then time dump, load and restore.

    Medians over `runs` (dump and load) and `restore_runs` (restore, the slow one).
    """
    from resolver import records, snapshot

    events = dataset(customers)
    resolver, replay_s, build_growth = build_state(events)
    g = resolver._g
    stats = resolver.stats()
    state = [(k, v) for k, v in records.drain(g).items() if v is not None]
    dumps: list[float] = []
    data = b""
    for _ in range(runs):
        t0 = time.perf_counter()
        data = snapshot.dump(g)
        dumps.append(time.perf_counter() - t0)
    loads: list[float] = []
    restores: list[float] = []
    load_cpu: list[float] = []
    restore_cpu: list[float] = []
    loaded: dict[str, Any] = {}
    rss_growth: list[float] = []
    with tempfile.TemporaryDirectory(prefix="irl-bench-snap-") as tmp:
        snap_file, records_file = Path(tmp) / "state.snap", Path(tmp) / "records.marshal"
        snap_file.write_bytes(data)
        records_file.write_bytes(marshal.dumps(state))
        for i in range(max(runs, restore_runs)):
            if i < runs:
                got = _child("load", snap_file, *(("--check",) if i == 0 else ()))
                loaded = loaded or got  # the first: with the round trip
                loads.append(got["load_s"])
                load_cpu.append(got["load_cpu_s"])
                rss_growth.append(got["rss_growth"])
            if i < restore_runs:
                restored = _child("restore", records_file)
                restores.append(restored["restore_s"])
                restore_cpu.append(restored["restore_cpu_s"])
    # A replay that compacts as the worker does with IRL_COMPACT_GROWTH set, in a fresh interpreter (its
    # RSS alone); and the same with glibc's malloc for Python's objects (``PYTHONMALLOC=malloc``),
    # which gives back the pages a compaction frees where pymalloc keeps each 1-MiB arena that holds
    # any live object (`resolver.compaction`).
    compacted = _child("compacted", events)
    compacted_malloc = _child("compacted", events, env={"PYTHONMALLOC": "malloc"})
    identifiers = stats["identifiers"]
    load_s, restore_s = median(loads), median(restores)
    return {
        "customers": customers,
        "events": stats["events"],
        "evidence": stats["evidence"],
        "identifiers": identifiers,
        "state_customers": stats["customers"],
        "state_records": len(state),
        "records_bytes": sum(len(k) + len(v) for k, v in state),
        "snapshot_bytes": len(data),
        "snapshot_bytes_per_identifier": len(data) / identifiers,
        "replay_s": replay_s,
        "dump_s": median(dumps),
        "load_s": load_s,
        "restore_s": restore_s,
        "restore_over_load": restore_s / load_s,
        # CPU seconds of the same children: steadier than wall time on a shared machine.
        "load_cpu_s": median(load_cpu),
        "restore_cpu_s": median(restore_cpu),
        "restore_over_load_cpu": median(restore_cpu) / median(load_cpu),
        "load_target": LOAD_TARGET,
        "build_bytes_per_identifier": build_growth / identifiers,
        "loaded_bytes_per_identifier": median(rss_growth) / identifiers,
        "compacted_bytes_per_identifier": compacted["rss_growth"] / compacted["identifiers"],
        "compacted": compacted,
        "compacted_malloc_bytes_per_identifier": compacted_malloc["rss_growth"] / compacted_malloc["identifiers"],
        "compacted_malloc": compacted_malloc,
        "memory_target": MEMORY_TARGET,
        "roundtrip_equal": loaded["roundtrip_equal"],
        "samples": {"dump_s": dumps, "load_s": loads, "restore_s": restores, "load_cpu_s": load_cpu},
    }


def _load_child(path: Path, check: bool) -> dict[str, Any]:
    return load_timed(path, check)[1]


def load_timed(path: Path, check: bool = True) -> tuple[Any, dict[str, Any]]:
    """The graph of the snapshot in `path`, and its load's seconds, CPU seconds, RSS growth and (`check`) round trip.

    As the worker loads (`streams.pipeline.Pipeline.from_snapshot`): `resolver.snapshot.load`, then
    the C heap's freed memory given back (`streams.heap.release_freed`), both timed. ``rss_growth``
    is the RSS growth after both (what the worker holds), ``rss_growth_untrimmed`` before the second.
    """
    from resolver.config import ResolverConfig
    from resolver.snapshot import dump, load
    from streams.heap import release_freed

    data = path.read_bytes()
    gc.collect()
    release_freed()  # so that the growth counts none of what was free before the load
    before = rss()
    t0, c0 = time.perf_counter(), time.process_time()
    g = load(ResolverConfig(), data)
    untrimmed = rss() - before
    release_freed()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    growth = rss() - before
    same = dump(g) == data if check else None
    return g, {
        "load_s": seconds,
        "load_cpu_s": cpu,
        "rss_growth": growth,
        "rss_growth_untrimmed": untrimmed,
        "nodes": len(g.nodes),
        "roundtrip_equal": same,
    }


def _compacted_child(events: Path) -> dict[str, Any]:
    """RSS growth and CPU of a replay of `events` that compacts as the worker does with
    ``IRL_COMPACT_GROWTH`` set (`resolver.compaction.Cadence` at its default growth, untracked),
    compacted once more at the end, the freed heap given back (as the worker does after a
    compaction). ``allocator``: ``PYTHONMALLOC`` (``pymalloc`` when unset)."""
    from resolver.compaction import DEFAULT_GROWTH, Cadence
    from streams.heap import release_freed

    gc.collect()
    release_freed()
    before = rss()
    c0 = time.process_time()
    cadence = Cadence(DEFAULT_GROWTH)
    resolver, seconds, growth = build_state(events, track_changes=False, cadence=cadence)
    c1 = time.process_time()
    resolver.compact()
    release_freed()
    return {
        "allocator": os.environ.get("PYTHONMALLOC") or "pymalloc",
        "replay_s": seconds,
        "replay_cpu_s": c1 - c0,
        "final_compact_cpu_s": time.process_time() - c1,
        "rss_growth_built": growth,
        "rss_growth": rss() - before,
        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "identifiers": len(resolver._g.nodes),
        "growth": DEFAULT_GROWTH,
    }


def _restore_child(path: Path) -> dict[str, Any]:
    from resolver import records
    from resolver.config import ResolverConfig

    state = marshal.loads(path.read_bytes())
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    g = records.restore(ResolverConfig(), state)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"restore_s": seconds, "restore_cpu_s": cpu, "identifiers": len(g.nodes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time one snapshot load or records restore (a bench child)")
    parser.add_argument("mode", choices=("load", "restore", "compacted"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--check", action="store_true", help="load: write the snapshot again and compare the bytes")
    args = parser.parse_args(argv)
    if args.mode == "compacted":
        result = _compacted_child(args.path)
    else:
        result = _load_child(args.path, args.check) if args.mode == "load" else _restore_child(args.path)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
