"""CPU seconds of writing a snapshot (`resolver.snapshot.dump`), of a built, a loaded or a loaded and thawed state.

* ``warm EVENTS OUT``: replay `EVENTS` into `Resolver(track_changes=True)` (as `bench.snapshot`),
  drain its records, dump it ``--runs`` times and write the snapshot to `OUT`;
* ``cold SNAP``: load `SNAP` and dump it (after a restart: every table cold, its keys as loaded);
* ``thawed SNAP``: load `SNAP`, thaw every piece, node and customer, then dump (objects, as a
  built state holds them, in the loaded tables).

Prints one JSON line: each dump's CPU seconds (`time.process_time`, steadier than wall time on
a shared machine), the snapshot's size and MD5, and (cold, thawed) whether it is the loaded
bytes again. To compare trees, run it alternating on the same file with each tree's code: in
this tree ``python -m bench.snapshot_dump cold /tmp/x.snap``, and for another tree (say main, which
may not have this file) ``cd /work/main && PYTHONPATH=. .venv/bin/python /path/to/bench/snapshot_dump.py
cold /tmp/x.snap`` (that tree's `resolver` and `bench` are imported).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CPU seconds of snapshot dumps")
    parser.add_argument("mode", choices=("warm", "cold", "thawed"))
    parser.add_argument("path", type=Path, help="warm: an events file; else a snapshot")
    parser.add_argument("out", type=Path, nargs="?", help="warm: where to write the snapshot")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    from resolver import records, snapshot
    from resolver.config import ResolverConfig

    data = b""
    if args.mode == "warm":
        from bench.snapshot import build_state

        resolver, _, _ = build_state(args.path)
        g = resolver._g
        records.drain(g)
    else:
        data = args.path.read_bytes()
        g = snapshot.load(ResolverConfig(), data)
        if args.mode == "thawed":
            tables: list[Any] = [g.evidence, g.nodes, g.cust]
            for table in tables:
                table.thaw_all()
    gc.collect()
    cpu: list[float] = []
    written = b""
    for _ in range(args.runs):
        c0 = time.process_time()
        written = snapshot.dump(g)
        cpu.append(round(time.process_time() - c0, 3))
    if args.out is not None:
        args.out.write_bytes(written)
    result: dict[str, Any] = {
        "mode": args.mode,
        "dump_cpu_s": cpu,
        "identifiers": len(g.nodes),
        "evidence": len(g.evidence),
        "bytes": len(written),
        "md5": hashlib.md5(written).hexdigest(),
    }
    if data:
        result["same_bytes"] = written == data
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
