"""Copies: `irl replay` and the reference on one copy and on many copies of the same customers' events.

The many-copy file is `irl generate --copies N --copy-gap-days D` (the same events again under
new ids, each copy D days after the one before: see `streams.copies`), so it teaches nothing
new about who is who. A core whose state grows with identities, not with events, keeps its
peak RSS nearly flat from one copy to many (target: 16 copies within 1.5x of one copy).

Runs alternate (replay and reference on one copy, then on the copies, then again) so that
noise from other users of the machine lands on all of them. Each tool reports its own
resolve rate; peak RSS is the child's own (`bench.common.run_measured`, wait4).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from bench.common import BIN, DATA, ROOT, count_lines, dataset, irl, median, run_measured

__all__ = ["RSS_TARGET", "copies_dataset", "copies_run"]

#: Peak RSS of the many-copy replay over the one-copy replay, at most.
RSS_TARGET = 1.5

_RATE = re.compile(r"events_per_s=([\d.]+)")
_CUSTOMERS = re.compile(r"customers=(\d+)")


def copies_dataset(customers: int, copies: int, gap_days: int = 30, seed: int = 1) -> Path:
    """The events of `irl generate --customers N --seed S --copies C --copy-gap-days D`, cached under bench/.data/.

    One copy is `bench.common.dataset` itself (the same cached file as the offline part).
    """
    if copies == 1:
        return dataset(customers, seed)
    out = DATA / f"c{customers}-s{seed}-x{copies}-g{gap_days}"
    if not (out / ".complete").exists():
        out.mkdir(parents=True, exist_ok=True)
        irl(
            "generate",
            *("--customers", str(customers), "--seed", str(seed), "--out", str(out)),
            *("--copies", str(copies), "--copy-gap-days", str(gap_days)),
        )
        (out / ".complete").write_text("ok\n")
    return out / "events.jsonl"


def _replay(events: Path) -> tuple[float, int, int]:
    """(events/s, peak RSS bytes, customers) of one `irl replay`."""
    with tempfile.TemporaryDirectory(prefix="irl-bench-") as tmp:
        t = Path(tmp)
        outputs = ("--assignments", str(t / "a.csv"), "--profiles", str(t / "p.jsonl"), "--rejects", str(t / "r.jsonl"))
        _, err, _, rss = run_measured([str(BIN / "irl"), "replay", str(events), *outputs])
    return float(_RATE.findall(err)[-1]), rss, int(_CUSTOMERS.findall(err)[-1])


def _reference(events: Path) -> tuple[float, int]:
    """(events/s, peak RSS bytes) of one run of `bench/reference_replay.py`."""
    out, _, _, rss = run_measured([str(BIN / "python"), str(ROOT / "bench" / "reference_replay.py"), str(events)])
    return float(_RATE.findall(out)[-1]), rss


def copies_run(customers: int, runs: int, copies: int = 16, gap_days: int = 30) -> dict[str, Any]:
    """One row per size (1 copy, `copies` copies) and the RSS ratios of the many-copy run over the one-copy run.

    Rates are medians over `runs`; peak RSS is the largest of the runs. ``irl_rss_ratio`` is
    the figure with a target (`RSS_TARGET`); the reference's ratio stands beside it.
    """
    files = {n: copies_dataset(customers, n, gap_days) for n in (1, copies)}
    samples: dict[int, dict[str, list[float]]] = {
        n: {"irl": [], "irl_rss": [], "customers": [], "reference": [], "reference_rss": []} for n in files
    }
    for _ in range(runs):
        for n, events in files.items():
            rate, rss, found = _replay(events)
            samples[n]["irl"].append(rate)
            samples[n]["irl_rss"].append(rss)
            samples[n]["customers"].append(found)
            rate, rss = _reference(events)
            samples[n]["reference"].append(rate)
            samples[n]["reference_rss"].append(rss)
    sizes: list[dict[str, Any]] = []
    for n, events in files.items():
        s = samples[n]
        sizes.append(
            {
                "copies": n,
                "events": count_lines(events),
                "runs": runs,
                "irl_events_per_s": median(s["irl"]),
                "irl_peak_rss_mb": max(s["irl_rss"]) / 2**20,
                "irl_customers": int(s["customers"][-1]),
                "reference_events_per_s": median(s["reference"]),
                "reference_peak_rss_mb": max(s["reference_rss"]) / 2**20,
                "ratio": median(s["irl"]) / median(s["reference"]),
                "samples": {"irl": s["irl"], "reference": s["reference"]},
            }
        )
    one, many = sizes[0], sizes[-1]
    irl_ratio = many["irl_peak_rss_mb"] / one["irl_peak_rss_mb"]
    return {
        "customers": customers,
        "copies": copies,
        "gap_days": gap_days,
        "sizes": sizes,
        "irl_rss_ratio": irl_ratio,
        "reference_rss_ratio": many["reference_peak_rss_mb"] / one["reference_peak_rss_mb"],
        "rss_target": RSS_TARGET,
        "met": irl_ratio <= RSS_TARGET,
    }
