"""The straightforward reference for benchmarks: what a first script would do.

Per event: `json.loads`, a fresh `phonenumbers.parse` + `is_valid_number` +
`format_number(E164)` (no cache), a trimmed lower-cased email, and a plain dict union-find
keyed by identifier strings. No validation, junk rules, hubs or evidence: it is the floor the
real core (`irl replay`) is compared with, not a resolver to trust.

Usage: ``python bench/reference_replay.py EVENTS.jsonl [--assignments A.csv]``. Prints
``events=N seconds=S events_per_s=R`` on stdout; writes nothing else unless asked.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time

import phonenumbers

__all__ = ["main", "resolve"]


def _find(parent: dict[str, str], key: str) -> str:
    root = key
    while parent[root] != root:
        root = parent[root]
    while parent[key] != root:  # path compression, as any tutorial shows
        parent[key], key = root, parent[key]
    return root


def _union(parent: dict[str, str], a: str, b: str) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _phone(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "IN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def resolve(path: str) -> tuple[int, dict[str, str]]:
    """Events read and event_id -> root identifier of its component."""
    parent: dict[str, str] = {}
    anchors: dict[str, str] = {}
    count = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            event = json.loads(line)
            count += 1
            touchpoint = str(event["touchpoint"]).upper()
            keys = [f"t:{touchpoint}:{event['source_id']}"]
            if touchpoint == "WHATSAPP":
                wa = _phone("+" + str(event["source_id"]))
                if wa:
                    keys.append("p:" + wa)
            if event.get("phone"):
                phone = _phone(event["phone"])
                if phone:
                    keys.append("p:" + phone)
            if event.get("email"):
                keys.append("e:" + event["email"].strip().lower())
            for key in keys:
                parent.setdefault(key, key)
            for key in keys[1:]:
                _union(parent, keys[0], key)
            anchors[event["event_id"]] = keys[0]
    return count, {eid: _find(parent, key) for eid, key in anchors.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The straightforward reference replay (benchmarks).")
    parser.add_argument("events")
    parser.add_argument("--assignments", help="write event_id,customer_id CSV here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    count, assignments = resolve(args.events)
    seconds = time.perf_counter() - started
    rate = count / seconds if seconds > 0 else 0.0
    print(f"events={count} seconds={seconds:.2f} events_per_s={rate:.0f}")
    if args.assignments:
        with open(args.assignments, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["event_id", "customer_id"])
            # Roots are identifier strings (raw phones, emails): publish a digest, never the PII.
            for eid, root in sorted(assignments.items()):
                writer.writerow([eid, "r_" + hashlib.sha256(root.encode("utf-8")).hexdigest()[:20]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
