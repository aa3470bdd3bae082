"""`python -m bench.run [--quick]`: run the benchmarks, print the table, write results and BENCHMARKS.md.

Full run (`make bench`, about 10-15 minutes): bench/results/full.json and BENCHMARKS.md.
Quick run (`make bench-quick`, about a minute): bench/results/quick.json only; BENCHMARKS.md
is left alone unless ``--doc`` is given, so it always shows a full run.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import copies, customer_scale, offline, recovery, report, snapshot, streaming
from bench.common import ROOT, dataset, machine

__all__ = ["main"]

_PARTS = ("offline", "copies", "snapshot", "phones", "stream", "latency", "scale", "customers", "recovery")


def _plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "offline": [(20_000, 1)],
            "copies": {"customers": 2_000, "copies": 16, "gap_days": 30, "runs": 1},
            "snapshot": {"customers": 20_000, "runs": 3, "restore_runs": 3},
            "phones": {"customers": 20_000, "limit": 50_000, "runs": 1},
            "stream": {"customers": 4_000, "bare_runs": 1, "recovery": False},
            "latency": {"rate": 200, "seconds": 15},
            "scale": None,
            "customers": None,
            "recovery": None,
        }
    # 200k customers are about 1M events (generated once, about 6 minutes, cached under bench/.data/).
    return {
        "offline": [(20_000, 3), (200_000, 1)],
        "copies": {"customers": 10_000, "copies": 16, "gap_days": 30, "runs": 3},
        # 320k customers (1.6M events, the file recovery uses): 999k identifiers, the size issue 14
        # names; about 4 minutes (the replay 100 s, one restore from records about 30 s).
        "snapshot": {"customers": 320_000, "runs": 3, "restore_runs": 1},
        "phones": {"customers": 20_000, "limit": 200_000, "runs": 3},
        "stream": {"customers": 20_000, "bare_runs": 3, "recovery": True},
        "latency": {"rate": 200, "seconds": 60},
        "scale": {"customers": 8_000, "workers": (1, 2, 3), "profile_s": 20},
        # The per-customer stage (IRL_CUSTOMER_STAGE=kafka) alone on a filled effects topic: about 3 minutes.
        "customers": {"customers": 20_000, "workers": (1, 2, 3)},
        "recovery": 320_000,  # about 1M identifiers: the size issue 15 names
    }


def _command(quick: bool, only: str | None, name: str | None) -> str:
    """The command that made a results file: the make target for a whole run, else the module's own."""
    if not only and not name:
        return "make bench-quick" if quick else "make bench"
    options = (" --quick" if quick else "") + (f" --only {only}" if only else "") + (f" --name {name}" if name else "")
    return "python -m bench.run" + options


def _step(name: str, fn: Callable[[], Any], errors: dict[str, str]) -> Any:
    t0 = time.monotonic()
    print(f"-- {name} ...", flush=True)
    try:
        value = fn()
    except Exception as exc:  # one broken part must not hide the others' figures
        errors[name] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        return None
    print(f"   {name} done in {time.monotonic() - t0:.0f}s", flush=True)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the one-minute check")
    parser.add_argument("--only", help=f"comma-separated parts of {','.join(_PARTS)}")
    parser.add_argument("--name", help="results file name (default: quick or full)")
    parser.add_argument("--doc", action="store_true", help="rewrite BENCHMARKS.md even after a quick run")
    parser.add_argument("--render", metavar="JSON", help="only rewrite BENCHMARKS.md from a results file")
    args = parser.parse_args(argv)
    if args.render:
        rendered = json.loads((ROOT / args.render).read_text(encoding="utf-8"))
        print(report.table(rendered))
        (ROOT / "BENCHMARKS.md").write_text(report.benchmarks_md(rendered), encoding="utf-8")
        return 0
    plan = _plan(args.quick)
    only = set(args.only.split(",")) if args.only else set(_PARTS)
    name = args.name or ("quick" if args.quick else "full")
    started = time.monotonic()
    errors: dict[str, str] = {}
    res: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": _command(args.quick, args.only, args.name),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "tick_s": 0.5,
    }
    if "offline" in only:
        res["offline"] = _step("offline core", lambda: offline.offline_core(plan["offline"]), errors)
    if "copies" in only:
        c = plan["copies"]
        res["copies"] = _step(
            f"copies (1 and {c['copies']} copies of {c['customers']} customers)",
            lambda: copies.copies_run(c["customers"], c["runs"], copies=c["copies"], gap_days=c["gap_days"]),
            errors,
        )
    if "snapshot" in only:
        sn = plan["snapshot"]
        res["snapshot"] = _step(
            f"snapshot ({sn['customers']} customers: dump, load, restore from records)",
            lambda: snapshot.snapshot_run(sn["customers"], sn["runs"], sn["restore_runs"]),
            errors,
        )
    if "phones" in only:
        p = plan["phones"]
        res["phones"] = _step("normalisation", lambda: offline.phones(p["customers"], p["limit"], p["runs"]), errors)
    if "stream" in only:
        s = plan["stream"]
        res["stream"] = _step(
            "streaming (1 worker, memory, recovery)",
            lambda: streaming.stream_run(dataset(s["customers"]), 1, bare_runs=s["bare_runs"], recovery=s["recovery"]),
            errors,
        )
        ceiling = _step("the ordered stage alone", lambda: streaming.ordered_ceiling(dataset(s["customers"])), errors)
        if res["stream"] is not None and ceiling is not None:
            res["stream"]["ordered_events_per_s"] = ceiling["ordered_events_per_s"]
    if "latency" in only:
        lat = plan["latency"]
        res["latency"] = _step(
            "batch latency", lambda: streaming.latency(dataset(20_000), lat["rate"], lat["seconds"]), errors
        )
    if "scale" in only and plan["scale"]:
        sc = plan["scale"]
        runs = []
        for n in sc["workers"]:
            got = _step(
                f"scale out ({n} workers)",
                functools.partial(
                    streaming.stream_run, dataset(sc["customers"]), n, profile_s=sc["profile_s"] if n == 1 else 0
                ),
                errors,
            )
            if got is not None:
                if "profile" in got:
                    res["profile"] = streaming.profile_split(got.pop("profile"))
                runs.append(got)
        res["scale"] = runs
    if "customers" in only and plan["customers"]:
        cu = plan["customers"]
        res["customers"] = _step(
            f"the per-customer stage ({', '.join(map(str, cu['workers']))} workers)",
            lambda: customer_scale.scale_run(cu["customers"], cu["workers"]),
            errors,
        )
        # One per-customer process per worker: the processes are the workers, so what more workers
        # give shows on this machine's two cores (with the default, one worker already has two).
        res["customers_one"] = _step(
            f"the per-customer stage, one process per worker ({', '.join(map(str, cu['workers']))} workers)",
            lambda: customer_scale.scale_run(cu["customers"], cu["workers"], processes=1),
            errors,
        )
    if "recovery" in only and plan["recovery"]:
        n = plan["recovery"]
        res["recovery"] = _step(
            f"recovery at scale ({n} customers)", lambda: recovery.recovery_at_scale(dataset(n)), errors
        )
    res = {k: v for k, v in res.items() if v is not None}
    res["errors"] = errors
    res["seconds"] = time.monotonic() - started
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print()
    print(report.table(res))
    if errors:
        print("\nparts that failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    if (not args.quick and not args.only) or args.doc:
        (ROOT / "BENCHMARKS.md").write_text(report.benchmarks_md(res), encoding="utf-8")
        print("\nwrote BENCHMARKS.md and " + str((out_dir / f"{name}.json").relative_to(ROOT)))
    else:
        print("\nwrote " + str((out_dir / f"{name}.json").relative_to(ROOT)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
