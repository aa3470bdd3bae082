"""A quick, repeatable check of the core's per-event cost: `irl replay` beside the reference, and the core in process.

Not part of `make bench` (whose figures stay in `bench/offline.py` and `bench/streaming.py`):
this is the tool for one change at a time, measured beside its baseline in the same run.

``replay FILE [--runs N] [--tree DIR ...]``
    Alternates, N times: `irl replay` of this checkout, of every other source tree given
    (a copy of an older commit, e.g. ``git archive <rev> | tar -x -C DIR``; it runs with this
    environment's packages), and `bench/reference_replay.py`. Prints each one's median
    resolve rate (what `irl replay` reports: reading and resolving, not writing outputs),
    its median wall time and its ratio to the reference. With ``--compare`` the outputs of
    every tree are compared byte for byte with this checkout's.

``core FILE [--runs N] [--tree DIR ...]``
    In one interpreter per source tree (alternating, N times): the file's lines parsed to
    fields once, then timed separately:
    reading (`jsontext.loads` + `plain_fields`), `Resolver.ingest` over the fields,
    `Resolver.apply` over built `Interaction` values, and `Pipeline.on_events` (apply plus
    the batcher) followed by the ticks that publish every window (changelog, Avro; 5-s
    windows, a tick after every 500 events). Rates are per CPU second of this process
    (`time.process_time`), medians of the N runs.

``profile FILE [--what ingest|apply|pipeline|read]``
    cProfile of one `core` part, the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import filecmp
import gc
import json
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import BIN, ROOT, median

__all__ = ["main"]

_RATE = re.compile(r"events_per_s=([\d.]+)")

#: Runs `streams.cli` from another source tree (argv[1]) with this environment's packages.
_TREE_MAIN = (
    "import sys; tree = sys.argv.pop(1); "
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    "sys.path.insert(0, tree); "
    "import streams.cli; assert streams.cli.__file__.startswith(tree), streams.cli.__file__; "
    "sys.argv[0] = 'irl'; sys.exit(streams.cli.main())"
)


#: Runs one `core` pass with `resolver` and `streams` from another source tree (argv[1]).
_TREE_CORE = (
    "import sys; tree, root = sys.argv.pop(1), sys.argv.pop(1); "
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    "sys.path.insert(0, tree); import resolver.resolver, streams.pipeline; "
    "assert streams.pipeline.__file__.startswith(tree), streams.pipeline.__file__; "
    "sys.path.insert(0, root); from bench.core_profile import main; sys.exit(main())"
)


def _replay_argv(tree: Path | None, events: Path, out: Path) -> list[str]:
    args = ["replay", str(events), "--assignments", str(out / "a.csv")]
    args += ["--profiles", str(out / "p.jsonl"), "--rejects", str(out / "r.jsonl")]
    if tree is None:
        return [str(BIN / "irl"), *args]
    return [str(BIN / "python"), "-c", _TREE_MAIN, str(tree), *args]


def _timed(argv: list[str]) -> tuple[float, float, float, str]:
    """(reported rate, wall seconds, CPU seconds, output) of one child.

    CPU seconds (user + system, from the children's rusage) of the whole run: on a machine
    shared with others they move much less than wall time, which counts time spent waiting
    for a core.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = proc.stdout + proc.stderr
    return float(_RATE.findall(text)[-1]), wall, cpu, text


def replay_ab(events: Path, runs: int, trees: list[Path], compare: bool) -> None:
    names = ["this", *(str(t) for t in trees), "reference"]
    rates: dict[str, list[float]] = {n: [] for n in names}
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="irl-core-") as tmp:
        outs = {n: Path(tmp) / str(i) for i, n in enumerate(names)}
        for path in outs.values():
            path.mkdir()
        for _ in range(runs):
            for name, tree in [("this", None), *((str(t), t) for t in trees)]:
                rate, wall, cpu, _ = _timed(_replay_argv(tree, events, outs[name]))
                rates[name].append(rate)
                walls[name].append(wall)
                cpus[name].append(cpu)
            rate, wall, cpu, _ = _timed([str(BIN / "python"), str(ROOT / "bench" / "reference_replay.py"), str(events)])
            rates["reference"].append(rate)
            walls["reference"].append(wall)
            cpus["reference"].append(cpu)
        ref = median(rates["reference"])
        print("resolve rate: as each reports it (wall clock, reading and resolving); CPU: the whole run's CPU seconds")
        for name in names:
            print(
                f"{name:>30}: {median(rates[name]):>8.0f} events/s x{median(rates[name]) / ref:5.2f} of the reference"
                f" (best {max(rates[name]):>6.0f}/s)  wall {median(walls[name]):6.2f} s"
                f"  CPU {median(cpus[name]):6.2f} s"
                f"  samples {[round(r) for r in rates[name]]}"
            )
        if compare:
            for name in names[1:-1]:
                files = ("a.csv", "p.jsonl", "r.jsonl")
                same = all(filecmp.cmp(outs["this"] / f, outs[name] / f, shallow=False) for f in files)
                print(f"outputs of {name} {'byte-identical' if same else 'DIFFER'} to this checkout's")


def _read(events: Path) -> tuple[list[Any], list[str]]:
    from resolver.interaction import fields_of, from_json, plain_fields
    from resolver.jsontext import loads

    fields: list[Any] = []
    lines = events.read_text(encoding="utf-8").splitlines()
    for text in lines:
        if not text.strip():
            continue
        obj = loads(text)
        f = plain_fields(obj)
        fields.append(f if f is not None else fields_of(from_json(obj)))
    return fields, lines


def _interactions(lines: list[str]) -> list[Any]:
    from resolver.interaction import from_json
    from resolver.jsontext import loads

    return [from_json(loads(t)) for t in lines if t.strip()]


def _time(fn: Callable[[], Any]) -> float:
    """CPU seconds of `fn()` in this process: on a shared machine, steadier than wall time."""
    # As `irl replay` and the worker do: long-lived state out of the collector's generations.
    gc.collect()
    gc.freeze()
    started = time.process_time()
    fn()
    seconds = time.process_time() - started
    gc.unfreeze()
    return seconds


def _parts(events: Path) -> dict[str, Callable[[], Any]]:
    from resolver.config import ResolverConfig
    from resolver.engine import Resolver
    from resolver.interaction import plain_fields
    from resolver.jsontext import loads

    fields, lines = _read(events)
    interactions = _interactions(lines)
    config = ResolverConfig()

    def read() -> None:
        for text in lines:
            plain_fields(loads(text))

    def ingest() -> None:
        r = Resolver(config, track_changes=False)
        for f in fields:
            r.ingest(*f)

    def apply() -> None:
        r = Resolver(config, track_changes=False)
        for e in interactions:
            r.apply(e)

    def pipeline() -> None:
        from streams.pipeline import Pipeline

        p = Pipeline(config, 5_000, 1_000)
        batch = 500
        last = 0
        for i in range(0, len(interactions), batch):
            chunk = interactions[i : i + batch]
            p.on_events(i, chunk)
            last = max(last, max(e.occurred_at for e in chunk))
            for _ in p.on_tick(i, last):
                pass
        for _ in p.on_tick(len(interactions), last + 10_000_000):
            pass

    return {"read": read, "ingest": ingest, "apply": apply, "pipeline": pipeline, "_n": lambda: len(interactions)}


def core_once(events: Path) -> dict[str, float]:
    """Seconds of each part, once, in this interpreter (with the collector paced as `irl worker` paces it)."""
    try:
        from streams import gcpolicy
    except ImportError:  # an older tree: its worker left CPython's thresholds
        pass
    else:
        gcpolicy.for_state()
    parts = _parts(events)
    n = parts.pop("_n")()
    out = {name: _time(fn) for name, fn in parts.items()}
    out["_n"] = n
    return out


def core(events: Path, runs: int, trees: list[Path]) -> None:
    names = ["this", *(str(t) for t in trees)]
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    n = 0
    for _ in range(runs):
        for name, tree in [("this", None), *((str(t), t) for t in trees)]:
            head = [str(BIN / "python"), "-m", "bench.core_profile"]
            if tree is not None:
                head = [str(BIN / "python"), "-c", _TREE_CORE, str(tree), str(ROOT)]
            out = subprocess.run(
                [*head, "core-once", str(events)], capture_output=True, text=True, check=True, cwd=ROOT
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            n = int(result.pop("_n"))
            for part, secs in result.items():
                samples[name].setdefault(part, []).append(secs)
    for part in samples["this"]:
        for name in names:
            secs = samples[name][part]
            s = median(secs)
            print(
                f"{part:>9} {name:>30}: {n / s:>9.0f} events/s  {1e6 * s / n:7.2f} us/event  "
                f"(best {n / min(secs):>9.0f}/s)  samples {[round(x, 3) for x in secs]}"
            )


def profile(events: Path, what: str, top: int) -> None:
    fn = _parts(events)[what]
    prof = cProfile.Profile()
    prof.runcall(fn)
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["replay", "core", "core-once", "profile"])
    parser.add_argument("events", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another source tree (replay, core)")
    parser.add_argument("--compare", action="store_true", help="compare the trees' outputs byte for byte")
    parser.add_argument("--what", default="ingest", choices=["read", "ingest", "apply", "pipeline"])
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args(argv)
    if args.mode == "replay":
        replay_ab(args.events, args.runs, args.tree, args.compare)
    elif args.mode == "core":
        core(args.events, args.runs, args.tree)
    elif args.mode == "core-once":
        print(json.dumps(core_once(args.events)))
    else:
        profile(args.events, args.what, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
