"""Offline figures: `irl replay` beside the reference script, and the phone normaliser beside bare phonenumbers.

Each tool reports its own processing rate (reading and resolving, not writing outputs); the
peak RSS is the child's own (wait4). Runs alternate (replay, replay --sequential, reference,
floors, replay, ...) so that noise from other users of the machine lands on all of them.
`irl replay` runs as many shards as there are cores by default (`streams.replay_shards`);
``--workers 1`` (parsing in a child, resolving in one process) and ``--sequential`` (one
process) show what it does without them. The whole command's wall time, outputs written, is
kept too: the rates stop when resolving ends.

The *floor* is what no Python resolver can beat: a loop that only reads the file and calls
`json.loads` on each line (``json_only``), and the same plus reading the fields the reference
touches, without phonenumbers (``json_fields``). Each runs in its own interpreter like the
others (``python -m bench.offline floor EVENTS [--fields]``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BIN, ROOT, count_lines, dataset, median, run_measured

__all__ = ["floor_loop", "offline_core", "phones"]

_RATE = re.compile(r"events_per_s=([\d.]+)")
_SECONDS = re.compile(r"seconds=([\d.]+)")


def _replay_once(events: Path, *flags: str) -> tuple[float, float, int, float]:
    """(events/s, resolve seconds, peak RSS, wall seconds of the whole command, outputs written)."""
    with tempfile.TemporaryDirectory(prefix="irl-bench-") as tmp:
        t = Path(tmp)
        _, err, wall, rss = run_measured(
            [
                str(BIN / "irl"),
                "replay",
                str(events),
                "--assignments",
                str(t / "a.csv"),
                "--profiles",
                str(t / "p.jsonl"),
                "--rejects",
                str(t / "r.jsonl"),
                *flags,
            ]
        )
    return float(_RATE.findall(err)[-1]), float(_SECONDS.findall(err)[-1]), rss, wall


def _reference_once(events: Path) -> tuple[float, float, int]:
    out, _, _, rss = run_measured([str(BIN / "python"), str(ROOT / "bench" / "reference_replay.py"), str(events)])
    return float(_RATE.findall(out)[-1]), float(_SECONDS.findall(out)[-1]), rss


def _floor_once(events: Path, fields: bool) -> tuple[float, float]:
    argv = [str(BIN / "python"), "-m", "bench.offline", "floor", str(events)]
    out, _, _, _ = run_measured([*argv, "--fields"] if fields else argv)
    return float(_RATE.findall(out)[-1]), float(_SECONDS.findall(out)[-1])


def floor_loop(path: str, fields: bool = False) -> tuple[int, float]:
    """(events, seconds) of the cheapest loop over the file: read each line, `json.loads` it.

    With `fields`, also read what the reference reads of each event and do its string work
    (touchpoint key, WhatsApp id, phone, lower-cased email, event id), without phonenumbers
    and without a union-find: the part of the reference's cost that is not its own choice.
    """
    loads = json.loads
    count = 0
    started = time.perf_counter()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            event = loads(line)
            count += 1
            if fields:
                touchpoint = str(event["touchpoint"]).upper()
                keys = [f"t:{touchpoint}:{event['source_id']}"]
                if touchpoint == "WHATSAPP":
                    keys.append("+" + str(event["source_id"]))
                if event.get("phone"):
                    keys.append(event["phone"])
                if event.get("email"):
                    keys.append("e:" + event["email"].strip().lower())
                keys.append(event["event_id"])
    return count, time.perf_counter() - started


def _floor_figures(name: str, rates: list[float], secs: list[float], n: int, reference: float) -> dict[str, Any]:
    return {
        f"{name}_events_per_s": median(rates),
        f"{name}_us_per_event": 1e6 * median(secs) / n,
        f"{name}_vs_reference": median(rates) / reference,
    }


def offline_core(sizes: list[tuple[int, int]]) -> dict[str, Any]:
    """sizes: (customers, runs). Returns per-size medians, ratios, the floor and the per-event slope.

    Each size row has a ``floor`` dict: ``json_only_*`` and ``json_fields_*`` (``events_per_s``,
    ``us_per_event``, ``vs_reference``: rate / reference rate), ``target_3x_events_per_s`` /
    ``target_3x_us_per_event``: what 3x the reference (issue 14's done-criterion) means in the
    same run, and ``target_5x_*`` the same for 5x (the goal beyond that issue).
    """
    rows: list[dict[str, Any]] = []
    for customers, runs in sizes:
        events = dataset(customers)
        n = count_lines(events)
        irl_rates, irl_secs, irl_rss, ref_rates, ref_secs, ref_rss = [], [], [], [], [], []
        only_rates, only_secs, fields_rates, fields_secs, seq_rates = [], [], [], [], []
        two_rates: list[float] = []
        walls: dict[str, list[float]] = {"sharded": [], "two_process": [], "sequential": []}
        for _ in range(runs):
            r, s, m, w = _replay_once(events)
            irl_rates.append(r)
            irl_secs.append(s)
            irl_rss.append(m)
            walls["sharded"].append(w)
            r, _, _, w = _replay_once(events, "--workers", "1")
            two_rates.append(r)
            walls["two_process"].append(w)
            r, _, _, w = _replay_once(events, "--sequential")
            seq_rates.append(r)
            walls["sequential"].append(w)
            r, s, m = _reference_once(events)
            ref_rates.append(r)
            ref_secs.append(s)
            ref_rss.append(m)
            r, s = _floor_once(events, fields=False)
            only_rates.append(r)
            only_secs.append(s)
            r, s = _floor_once(events, fields=True)
            fields_rates.append(r)
            fields_secs.append(s)
        reference = median(ref_rates)
        floor = {
            **_floor_figures("json_only", only_rates, only_secs, n, reference),
            **_floor_figures("json_fields", fields_rates, fields_secs, n, reference),
            "target_3x_events_per_s": 3 * reference,
            "target_3x_us_per_event": 1e6 / (3 * reference),
            "target_5x_events_per_s": 5 * reference,
            "target_5x_us_per_event": 1e6 / (5 * reference),
        }
        rows.append(
            {
                "customers": customers,
                "events": n,
                "runs": runs,
                "replay_events_per_s": median(irl_rates),
                "replay_us_per_event": 1e6 * median(irl_secs) / n,
                "replay_peak_rss_mb": max(irl_rss) / 2**20,
                "reference_events_per_s": median(ref_rates),
                "reference_us_per_event": 1e6 * median(ref_secs) / n,
                "reference_peak_rss_mb": max(ref_rss) / 2**20,
                "ratio": median(irl_rates) / median(ref_rates),
                # The default: `--workers` = the cores (N shards; `streams.replay_shards`).
                "workers": len(os.sched_getaffinity(0)),
                # One process: what the core and the parsing cost together, without a second core.
                "replay_sequential_events_per_s": median(seq_rates),
                "sequential_ratio": median(seq_rates) / median(ref_rates),
                # Parsing in a child, resolving in one process (`--workers 1`, the default before shards).
                "replay_two_process_events_per_s": median(two_rates),
                "two_process_ratio": median(two_rates) / median(ref_rates),
                # The whole command, outputs written (the rates above stop when resolving ends).
                "wall_seconds": {name: median(values) for name, values in walls.items()},
                "floor": floor,
                "samples": {
                    "replay": irl_rates,
                    "replay_sequential": seq_rates,
                    "replay_two_process": two_rates,
                    "reference": ref_rates,
                    "json_only": only_rates,
                    "json_fields": fields_rates,
                },
            }
        )
    result: dict[str, Any] = {"sizes": rows}
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        result["slope"] = {
            "from_events": a["events"],
            "to_events": b["events"],
            # >1 means each event costs more as the state grows; 1.0 is perfectly flat.
            "replay_cost_ratio": b["replay_us_per_event"] / a["replay_us_per_event"],
            "reference_cost_ratio": b["reference_us_per_event"] / a["reference_us_per_event"],
            # Marginal cost of the extra events (us per event between the two sizes).
            "replay_marginal_us": (b["replay_us_per_event"] * b["events"] - a["replay_us_per_event"] * a["events"])
            / (b["events"] - a["events"]),
        }
    return result


def _phone_column(events: Path, limit: int) -> list[str]:
    phones: list[str] = []
    with events.open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj.get("phone"):
                phones.append(obj["phone"])
            if str(obj.get("touchpoint", "")).upper() == "WHATSAPP":
                phones.append("+" + str(obj["source_id"]))
            if len(phones) >= limit:
                break
    return phones


def _bare(raw: str) -> str | None:
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, "IN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _rate(fn: Any, items: list[str]) -> float:
    t0 = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - t0)


def phones(customers: int, limit: int, runs: int) -> dict[str, Any]:
    """Phones/s: normaliser cold (every string distinct, fresh cache), warm (the file's real repeats), bare library."""
    from resolver.phones import PhoneNormaliser

    column = _phone_column(dataset(customers), limit)
    distinct = list(dict.fromkeys(column))
    cold, real, bare_cold, bare_real = [], [], [], []
    for _ in range(runs):
        cold.append(_rate(PhoneNormaliser("IN").normalise, distinct))
        real.append(_rate(PhoneNormaliser("IN").normalise, column))
        bare_cold.append(_rate(_bare, distinct))
        bare_real.append(_rate(_bare, column))
    return {
        "phones": len(column),
        "distinct": len(distinct),
        "repeat_rate": 1 - len(distinct) / max(1, len(column)),
        "runs": runs,
        "normaliser_cold_per_s": median(cold),
        "normaliser_real_per_s": median(real),
        "bare_cold_per_s": median(bare_cold),
        "bare_real_per_s": median(bare_real),
        "ratio_cold": median(cold) / median(bare_cold),
        "ratio_real": median(real) / median(bare_real),
    }


def main(argv: list[str] | None = None) -> int:
    """``floor EVENTS [--fields]``: run `floor_loop` and print its rate as the reference does."""
    parser = argparse.ArgumentParser(description="The floor loop of the offline benchmark (one run).")
    parser.add_argument("what", choices=["floor"])
    parser.add_argument("events")
    parser.add_argument("--fields", action="store_true", help="also read the fields the reference reads")
    args = parser.parse_args(argv)
    count, seconds = floor_loop(args.events, fields=args.fields)
    rate = count / seconds if seconds > 0 else 0.0
    print(f"events={count} seconds={seconds:.4f} events_per_s={rate:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
