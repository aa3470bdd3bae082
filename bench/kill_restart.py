"""Fresh events after kill -9, repeated: the distribution of `make bench`'s ``fresh_after_kill_s``.

Each run is the streaming bench's recovery measure on its own topics: load the file, one
worker resolves it all (every window published), wait ``delay`` seconds, kill -9, start the
worker again at once and send 300 fresh events timed at the kill; seconds until all are on
the resolved topic. The delays vary the moment the kill lands (before, during or after the
idle snapshot). The restarted worker's log (at info) is kept under bench/.data/run/, and
its timing lines (restore, catch-up) are printed.

    .venv/bin/python -m bench.kill_restart --runs 5 --customers 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

from bench.common import Worker, bench_env, dataset
from bench.restart_phases import PHASES, format_phases, worker_phases
from bench.streaming import _drive, _fresh_after_kill, _r, cleanup, load

#: Log lines of the restarted worker worth printing (timing of the restart).
_MARKS = ("restored", "caught up", "snapshot at", "rebuilt", "quiet", "assigned", "Worker]: Ready")


def _one(customers: int, delay: float, tag: str = "benchk") -> tuple[float, dict[str, Any]]:
    """One kill -9 and restart: seconds until the fresh events are published, and the restart's phases."""
    prefix = tag + uuid.uuid4().hex[:6]
    env = bench_env(prefix)
    events = dataset(customers)
    with events.open(encoding="utf-8") as fh:
        templates = [json.loads(next(fh)) for _ in range(2000)]
    w = Worker(env, f"{prefix}-w0")
    try:
        got = load(events, prefix, env)
        w.start()
        _drive([w], got["events"], 1200, 0, prefix)
        time.sleep(delay)
        at = w.log.stat().st_size if w.log.exists() else 0
        print(f"    kill at {time.strftime('%H:%M:%S', time.localtime())}.{int(time.time() * 1000) % 1000:03d}")
        marks: dict[str, Any] = {}
        took = asyncio.run(_fresh_after_kill(w, env, templates, marks))
        time.sleep(1.0)
        with w.log.open("rb") as fh:
            fh.seek(at)
            lines = fh.read().decode(errors="replace").splitlines()
        for line in lines:
            if any(m in line for m in _MARKS):
                print("   ", line[:220])
        phases = {**worker_phases(lines, marks["kill_wall"]), **marks}
        print("    phases (s after the kill):", format_phases(phases))
        return took, phases
    finally:
        w.stop()
        r = _r()
        for key in r.scan_iter(match=f"{prefix}*", count=1000):
            r.delete(key)
        cleanup(prefix)


def _settings_shown() -> dict[str, str]:
    """The IRL_ settings of this run that the restart depends on (as given to the bench)."""
    return {k: v for k, v in os.environ.items() if k in ("IRL_CUSTOMER_PROCESSES", "IRL_TRIAGE_PROCESSES")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--prefix", default="benchk", help="topic prefix and app id stem (a random suffix is added)")
    p.add_argument("--json", help="append one JSON line per run (figure, phases, settings) to this file")
    p.add_argument("--delays", default="0,0.5,1,2,3", help="seconds after the backlog before each kill (cycled)")
    args = p.parse_args(argv)
    os.environ.setdefault("IRL_BENCH_LOG_LEVEL", "info")
    delays = [float(d) for d in args.delays.split(",")]
    out: list[float] = []
    seen: list[dict[str, Any]] = []
    for i in range(args.runs):
        delay = delays[i % len(delays)]
        took, phases = _one(args.customers, delay, args.prefix)
        out.append(took)
        seen.append(phases)
        print(f"run {i + 1}: kill {delay:.1f}s after the backlog: fresh events after {took:.2f}s", flush=True)
    print(
        f"fresh_after_kill_s: median {statistics.median(out):.2f}, min {min(out):.2f}, max {max(out):.2f}, "
        f"all {[round(x, 2) for x in out]}"
    )
    for name in PHASES:
        got = [p[name] for p in seen if isinstance(p.get(name), int | float)]
        if got:
            print(f"  {name:>20}: median {statistics.median(got):+.2f} s, all {[round(x, 2) for x in got]}")
    late = sum(1 for p in seen if p.get("fresh_late"))
    print(f"  fresh events late for their window (taken by the next one): {late} of {len(seen)}")
    if args.json:
        with open(args.json, "a", encoding="utf-8") as fh:
            for took, phases in zip(out, seen, strict=True):
                fh.write(json.dumps({"fresh_after_kill_s": took, "phases": phases, "env": _settings_shown()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
