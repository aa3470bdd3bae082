"""CPU seconds of each phase of a sharded replay (`streams.replay_shards`), and what they give on free cores.

``python -m bench.shard_phases EVENTS N``: parse in N workers, plan here, resolve N shards;
prints each phase's CPU (the workers' and shards' from wait4, this process's own; ``plan_tail_cpu_s``:
this process's CPU after the workers' last chunk, the plan pass that cannot overlap parsing) and the
wall a replay would take on N free cores by these figures: max((parse + plan - tail) / N, plan -
tail) (the plan pass runs beside the workers) + tail + packing + the slowest shard's resolving. On a shared
machine wall times say little (the kernel shares the cores between sessions); CPU per phase
holds.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from resolver.config import ResolverConfig
from resolver.shards import Planner
from streams.gcpolicy import for_state
from streams.replay_shards import parse_and_plan, resolve_sharded

__all__ = ["main", "phases"]


def _cpu() -> tuple[float, float]:
    """(this process's CPU seconds, its reaped children's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _dump(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def phases(events: Path, shards: int) -> dict[str, Any]:
    """The CPU of each phase of one sharded replay of `events` in `shards` shards (no outputs written)."""
    for_state()
    config = ResolverConfig()
    with tempfile.TemporaryDirectory(prefix="irl-phases-") as tmp:
        out = Path(tmp)
        planner = Planner(config.duplicate_horizon_ms)
        c0 = _cpu()
        t0 = time.perf_counter()
        last_chunk = [0.0]

        def on_chunk(_: int) -> None:
            last_chunk[0] = time.process_time()

        parsed, rejects, blank = parse_and_plan(
            (events,), config, shards, out, planner, lambda _: None, on_chunk=on_chunk, sizes=False
        )
        plan_tail = time.process_time() - last_chunk[0]
        c1 = c2 = _cpu()
        parse_wall = time.perf_counter() - t0
        started = time.perf_counter()
        done = resolve_sharded(out, parsed, planner, rejects, config, shards, _dump, blank=blank)
        c3 = _cpu()
    if done is None:
        raise SystemExit("a customer id was minted in two shards: no sharded figures")
    parse_cpu = c1[1] - c0[1]
    plan_cpu = c1[0] - c0[0]  # the pass, mostly while the workers parse
    pack_cpu = c3[0] - c2[0]  # packing and forking: after them
    lines = done.counts.lines
    # On free cores: the workers and this process share them while parsing, then packing, then the shards.
    # (the plan pass is one process: it cannot end before its own CPU time has passed).
    # The plan tail (after the last chunk) runs alone, after the workers.
    beside = plan_cpu - plan_tail
    ideal = max((parse_cpu + beside) / shards, beside) + plan_tail + pack_cpu + max(done.resolve_cpu)
    return {
        "events": lines,
        "shards": shards,
        "parse_cpu_s": parse_cpu,
        "plan_cpu_s": plan_cpu,
        "plan_tail_cpu_s": plan_tail,
        "pack_cpu_s": pack_cpu,
        "parse_and_plan_wall_s": parse_wall,
        "resolve_cpu_s": done.resolve_cpu,
        "shards_cpu_with_outputs_s": c3[1] - c2[1],
        "resolved_after_s": done.resolved_at - started,
        "free_cores_resolve_s": ideal,
        "free_cores_events_per_s": lines / ideal if ideal > 0 else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CPU of each phase of a sharded replay.")
    parser.add_argument("events", type=Path)
    parser.add_argument("shards", type=int)
    args = parser.parse_args(argv)
    print(json.dumps(phases(args.events, args.shards), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
