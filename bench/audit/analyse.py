"""Read an audit run: which resolved customers mix people (and the events that join them), which
people are split (and across what), by hard case.

    python -m bench.audit.analyse --data /tmp/s39-audit/d --assignments a.csv [--profiles p.jsonl]
    python -m bench.audit.analyse --data D --assignments a.csv --compare other.csv   # replay vs stream
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

FIELDS = ("event_id", "touchpoint", "occurred_at", "source_id", "interaction", "phone", "email", "name")


def _read_csv(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        return {r[0]: r[1] for r in rows if len(r) >= 2}


def _partition(assign: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for e, c in assign.items():
        groups[c].add(e)
    return {frozenset(g) for g in groups.values()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--assignments", type=Path, required=True)
    ap.add_argument("--profiles", type=Path)
    ap.add_argument("--compare", type=Path, help="another assignments CSV: are the groupings equal?")
    ap.add_argument("--show", type=int, default=40)
    args = ap.parse_args()
    truth = _read_csv(args.data / "truth.csv")
    assign = _read_csv(args.assignments)
    events: dict[str, dict[str, Any]] = {}
    for line in (args.data / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.get("event_id"):
            events.setdefault(ev["event_id"], ev)
    cases = json.loads((args.data / "cases.json").read_text(encoding="utf-8"))
    case_of: dict[str, str] = {}
    for name, c in cases.items():
        if name in ("duplicates", "late"):
            continue
        for p in c["people"]:
            case_of.setdefault(p, name)
    conf: dict[str, tuple[float | None, list[str]]] = {}
    if args.profiles:
        for line in args.profiles.read_text(encoding="utf-8").splitlines():
            pr = json.loads(line)
            conf[pr["customer_id"]] = (pr.get("confidence"), pr.get("confidence_reasons") or [])

    if args.compare:
        other = _read_csv(args.compare)
        missing = sorted(set(assign) - set(other))
        extra = sorted(set(other) - set(assign))
        pa = _partition({e: c for e, c in assign.items() if e in other})
        pb = _partition({e: c for e, c in other.items() if e in assign})
        same_ids = sum(1 for e in assign if other.get(e) == assign[e])
        print(f"events: {len(assign)} vs {len(other)}; only in first {len(missing)}, only in second {len(extra)}")
        print(f"groupings equal: {pa == pb}; same customer id for {same_ids} of {len(assign)} events")
        only_a = pa - pb
        only_b = pb - pa
        print(f"groups only in first {len(only_a)}, only in second {len(only_b)}")
        for g in sorted(only_a, key=len, reverse=True)[: args.show]:
            print("  first:", sorted(g)[:8], len(g))
        for g in sorted(only_b, key=len, reverse=True)[: args.show]:
            print("  second:", sorted(g)[:8], len(g))
        for e in missing[:20]:
            print("  missing from second:", e)
        return

    by_cust: dict[str, list[str]] = defaultdict(list)
    by_person: dict[str, list[str]] = defaultdict(list)
    for e, c in assign.items():
        by_cust[c].append(e)
        if e in truth:
            by_person[truth[e]].append(e)
    mixed = {c: es for c, es in by_cust.items() if len({truth.get(e) for e in es if e in truth}) > 1}
    print(f"== {len(mixed)} customers mixing people")
    for c, es in sorted(mixed.items(), key=lambda kv: -len(kv[1])):
        people = defaultdict(list)
        for e in es:
            people[truth.get(e, "?")].append(e)
        cf: tuple[float | None, list[str]] = conf.get(c, (None, []))
        print(
            f"-- {c} conf={cf[0]} people="
            + ", ".join(f"{p}({len(v)},{case_of.get(p, '-')})" for p, v in people.items())
        )
        for r in cf[1]:
            print(f"     reason: {r}")
        for p, v in people.items():
            for e in sorted(v, key=lambda x: str(events.get(x, {}).get("occurred_at")))[:6]:
                ev = events.get(e, {})
                shown_fields = {k: ev.get(k) for k in FIELDS if ev.get(k) is not None}
                print(f"     {p} {json.dumps(shown_fields, ensure_ascii=False)}")
    split = {p: es for p, es in by_person.items() if len({assign[e] for e in es}) > 1}
    by_case: dict[str, int] = defaultdict(int)
    for p in split:
        by_case[case_of.get(p, "ordinary")] += 1
    print(f"\n== {len(split)} people split over several customers; by case: {dict(by_case)}")
    for p, es in sorted(split.items())[: args.show]:
        parts: dict[str, list[str]] = defaultdict(list)
        for e in es:
            parts[assign[e]].append(e)
        print(f"-- {p} ({case_of.get(p, 'ordinary')}): {len(parts)} customers")
        for c, v in sorted(parts.items(), key=lambda kv: -len(kv[1])):
            ex = events.get(v[0], {})
            summ = sorted({(events.get(e, {}).get("touchpoint"), events.get(e, {}).get("source_id")) for e in v})[:4]
            print(
                f"     {c} {len(v)} ev conf={conf.get(c, (None,))[0]} e.g. {summ} "
                f"phone={ex.get('phone')!r} email={ex.get('email')!r} name={ex.get('name')!r}"
            )


if __name__ == "__main__":
    main()
