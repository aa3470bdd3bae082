"""Offline figures: `irl replay` beside the reference script, and the phone normaliser beside bare phonenumbers.

Each tool reports its own processing rate (reading and resolving, not writing outputs); the
peak RSS is the child's own (wait4). Runs alternate (replay, reference, replay, ...) so that
noise from other users of the machine lands on both.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BIN, ROOT, count_lines, dataset, median, run_measured

__all__ = ["offline_core", "phones"]

_RATE = re.compile(r"events_per_s=([\d.]+)")
_SECONDS = re.compile(r"seconds=([\d.]+)")


def _replay_once(events: Path) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="irl-bench-") as tmp:
        t = Path(tmp)
        _, err, _, rss = run_measured(
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
            ]
        )
    return float(_RATE.findall(err)[-1]), float(_SECONDS.findall(err)[-1]), rss


def _reference_once(events: Path) -> tuple[float, float, int]:
    out, _, _, rss = run_measured([str(BIN / "python"), str(ROOT / "bench" / "reference_replay.py"), str(events)])
    return float(_RATE.findall(out)[-1]), float(_SECONDS.findall(out)[-1]), rss


def offline_core(sizes: list[tuple[int, int]]) -> dict[str, Any]:
    """sizes: (customers, runs). Returns per-size medians, ratios and the per-event slope."""
    rows: list[dict[str, Any]] = []
    for customers, runs in sizes:
        events = dataset(customers)
        n = count_lines(events)
        irl_rates, irl_secs, irl_rss, ref_rates, ref_secs, ref_rss = [], [], [], [], [], []
        for _ in range(runs):
            r, s, m = _replay_once(events)
            irl_rates.append(r)
            irl_secs.append(s)
            irl_rss.append(m)
            r, s, m = _reference_once(events)
            ref_rates.append(r)
            ref_secs.append(s)
            ref_rss.append(m)
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
                "samples": {"replay": irl_rates, "reference": ref_rates},
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
