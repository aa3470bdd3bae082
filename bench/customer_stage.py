"""The ordered stage's ceiling with the per-customer stage over Kafka against without it, alternating runs.

    python -m bench.customer_stage --customers 20000 --runs 2

Each run fills a links log first (as triage writes it, `bench.streaming.ordered_ceiling`; its
ticks' clock moves one window and its grace per tick by default, so the same windows close at
the same ticks in both modes and every run: about a record per event) and times one worker
applying it (events/s from the first applied event to the last), then until
its changelog's records stop coming (seconds from the first applied event): ``default``
builds every record in the ordered stage; ``kafka`` (``IRL_CUSTOMER_STAGE=kafka``) sends
effects instead, and the worker's own per-customer consumer (a task in the same process, this
step) builds the records. Also the CPU the worker's own process (the ordered stage; not its
triage and per-customer children) spent per event, which the machine's other load does not move,
and the same with the children it forked and reaped (the Redis mirror's writes of a backlog and
the snapshots' dumps).
"""

from __future__ import annotations

import argparse
import json

from bench.common import dataset, median
from bench.streaming import ordered_ceiling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--clock-step-ms",
        type=int,
        default=6000,
        help="the filled ticks' clock moves by this much per tick (6000: each closes the window before it; "
        "0: none closes until the worker's own clock does; -1: the wall clock as the fill goes, as make bench)",
    )
    parser.add_argument("--only", choices=["default", "kafka"], help="one mode only")
    args = parser.parse_args()
    step = None if args.clock_step_ms < 0 else args.clock_step_ms
    events = dataset(args.customers)
    rates: dict[str, list[float]] = {"default": [], "kafka": []}
    out: dict[str, list[float]] = {"default": [], "kafka": []}
    cpu: dict[str, list[float]] = {"default": [], "kafka": []}
    forks: dict[str, list[float]] = {"default": [], "kafka": []}
    for _ in range(args.runs):
        modes: tuple[tuple[str, dict[str, str]], ...] = (("default", {}), ("kafka", {"IRL_CUSTOMER_STAGE": "kafka"}))
        for mode, extra in modes:
            if args.only is not None and mode != args.only:
                continue
            got = ordered_ceiling(events, extra=extra, settle=True, clock_step_ms=step)
            forks[mode].append(got["worker_cpu_with_forks_us_per_event"])
            rates[mode].append(got["ordered_events_per_s"])
            out[mode].append(got["records_out_s"])
            cpu[mode].append(got["worker_cpu_us_per_event"])
            print(json.dumps({"mode": mode, **got}), flush=True)
    print(json.dumps({mode: round(median(r)) for mode, r in rates.items() if r}))
    print(json.dumps({f"{mode} records out (s)": round(median(r), 2) for mode, r in out.items() if r}))
    print(json.dumps({f"{mode} worker CPU us/event": round(median(r), 1) for mode, r in cpu.items() if r}))
    print(json.dumps({f"{mode} with its forks us/event": round(median(r), 1) for mode, r in forks.items() if r}))


if __name__ == "__main__":
    main()
