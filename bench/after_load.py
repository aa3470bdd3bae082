"""The core's cost per event after a snapshot load: part of a file replayed, written, loaded, the rest applied.

``python -m bench.after_load EVENTS [--fraction 0.7] [--runs 5] [--tree DIR ...]``

For this checkout and each source tree given (another commit's checkout, run read-only with
its own code), one process per tree replays the first `fraction` of the file's lines into
a `Resolver(track_changes=False)` (as the worker holds it) and writes its snapshot to a
temporary file, with that tree's format. Then, `runs` times, alternating trees, a fresh
interpreter loads the snapshot and replays the rest of the file into the loaded resolver:
the rest's CPU microseconds per event (`time.process_time`) measure what a worker pays after a
restart, where each customer's first read thaws its cold rows (`resolver.cold`). Prints the
median load and per-event figures per tree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BIN, ROOT

__all__ = ["main"]

_CHILD = """
import json, sys, time
from pathlib import Path
from resolver.config import ResolverConfig
from resolver.replay import replay
from resolver.resolver import Resolver
mode, events, fraction, path = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
cut = int(len(lines) * fraction)
if mode == "build":
    r = Resolver(ResolverConfig(), track_changes=False)
    replay(((str(events), n, line) for n, line in enumerate(lines[:cut], 1)), r)
    path.write_bytes(r.snapshot())
else:
    data = path.read_bytes()
    c0 = time.process_time()
    r = Resolver.from_snapshot(ResolverConfig(), data, track_changes=False)
    c1 = time.process_time()
    replay(((str(events), n, line) for n, line in enumerate(lines[cut:], cut + 1)), r)
    c2 = time.process_time()
    print(json.dumps({"load_cpu_s": c1 - c0, "rest_cpu_s": c2 - c1, "rest_events": len(lines) - cut}))
"""


def _run(tree: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "python"), "-c", _CHILD, *args], cwd=tree, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stderr[-2000:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--fraction", type=float, default=0.7)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to run beside")
    args = parser.parse_args(argv)
    events = args.events.resolve()
    trees = [ROOT, *(t.resolve() for t in args.tree)]
    got: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    with tempfile.TemporaryDirectory(prefix="irl-after-load-") as tmp:
        snaps = {t: Path(tmp) / f"{i}.snap" for i, t in enumerate(trees)}
        for tree in trees:
            _run(tree, "build", str(events), str(args.fraction), str(snaps[tree]))
        for _ in range(args.runs):
            for tree in trees:
                got[tree].append(json.loads(_run(tree, "run", str(events), str(args.fraction), str(snaps[tree]))))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {events}, first {args.fraction:.0%} loaded")
    for tree, runs in got.items():
        load = statistics.median(r["load_cpu_s"] for r in runs)
        per_event = statistics.median(r["rest_cpu_s"] / r["rest_events"] for r in runs) * 1e6
        print(f"  {tree}: load {load:.3f} CPU s, rest {per_event:.1f} CPU us/event ({runs[0]['rest_events']} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
