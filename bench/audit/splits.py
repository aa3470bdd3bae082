"""Why each split person of the audit is split: unlinkable parts, or the rule that refused the link.

    python -m bench.audit.splits --data /tmp/s39-audit/d [--show 3]

Replays the audit's events as `tests/unit/test_quality_audit.py` does (arrival order, the Dubai
kiosks read as UAE numbers, a fixed clock), then for every pair of resolved customers holding
parts of one real person classifies the pair, by what the person's own events on the two sides
share (`bench.quality.classify_missed`, with the audit's finer labels):

* ``direct: <rule>/<own|shared>/<kind>``: an identifier key on both sides, and the rule that
  stops it linking them (``names-split``: a phone or email split by names, `resolver.households`;
  ``shared-phone``; ``hub``; ``other``), with the names on the two sides of a ``names-split``
  (a WhatsApp profile name, a spelling...);
* ``chain``: no key on both sides, but a third part of the person joins them;
* ``rejected-value``: they share only a value the parser refused (invalid in the default region,
  junk, masked); ``region: <why>``: a phone read as another country's number (a number without a
  country code read in the default region: ``055 389 7720`` in India is invalid, in the UAE a
  mobile another part holds; ``07464 962482`` read as an Indian number beside its UK ``+44``);
* ``near-phone``: phones one digit apart, nothing shared;
* ``nothing-shared: <what the smaller side carries>``: unlinkable (an anonymous cookie, a CRM row
  with a name only, a loyalty card seen once, the other phone of a household).

Prints a table: people, part pairs and event pairs lost per class. An instrument, not a test.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import phonenumbers

from bench.quality import Run, _classify_pair, _own_components, key_users
from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.evaluation import evaluate
from resolver.evidence import Evidence
from resolver.interaction import InvalidInteraction, Limits, fields_of, from_json
from resolver.linking import evidence_name

#: As `tests/unit/test_quality_audit.py`: a fixed day after the data's last events.
NOW_MS = 1_798_761_600_000


def replay(data: Path) -> Run:
    """The audit resolved as its quality test resolves it."""
    resolver = Resolver(ResolverConfig(phone_regions=(("KIOSK", "dxb-", "AE"),)), track_changes=False)
    parsed = []
    for line in (data / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            event = from_json(json.loads(line), Limits(now_ms=NOW_MS))
        except (ValueError, InvalidInteraction):
            continue
        resolver.apply(event)
        parsed.append(event)
    with (data / "truth.csv").open(encoding="utf-8") as f:
        truth = {row[0]: row[1] for row in csv.reader(f) if row and row[0] != "event_id"}
    g = resolver._g  # an instrument may read the core's state
    assignments: dict[str, str] = {}
    evidence_of: dict[str, Evidence] = {}
    for event in parsed:
        _, touchpoint, _, source_id, phone, email, name = fields_of(event)
        keys, rejected = g.parser.extract_fields(touchpoint, source_id, phone, email)
        source = g.parser.source_of(touchpoint, source_id)
        ev = g.by_content.get((touchpoint, source, evidence_name(g.parser.junk, name, touchpoint), keys, rejected))
        if ev is None or event.event_id in evidence_of:
            continue
        evidence_of[event.event_id] = ev
        cid = g.customer_of(ev)
        if cid is not None:
            assignments[event.event_id] = cid
    ev_all = evaluate(truth, assignments)
    return Run(0, [], truth, assignments, evidence_of, g, ev_all, ev_all, 0.0, set(assignments))


def _national(key: str) -> str | None:
    try:
        return str(phonenumbers.parse(key[2:].partition("#")[0]).national_number)
    except phonenumbers.NumberParseException:
        return None


def _region_label(r: Run, side_a: list[str], side_b: list[str]) -> str | None:
    """``region: ...`` when the two sides hold one number read as two countries' (or one refused)."""
    phones = [{k for e in side for k in r.evidence_of[e].keys if k[0] == "p"} for side in (side_a, side_b)]
    invalid = [
        {x.split(":", 2)[2] for e in side for x in r.evidence_of[e].rejected if x.startswith("phone:invalid:")}
        for side in (side_a, side_b)
    ]
    national = [{n for k in ks if (n := _national(k))} for ks in phones]
    if national[0] & national[1] and phones[0].isdisjoint(phones[1]):
        return "region: one national number read with two country codes (07... read as Indian beside +44 7...)"
    for mine, theirs in ((0, 1), (1, 0)):
        digits = {"".join(ch for ch in v if ch.isdigit()) for v in invalid[mine]}
        if any(n and any(d.endswith(n) for d in digits) for n in national[theirs]):
            return "region: phone invalid in the default region, another part's number in its own (UAE 05x)"
    return None


def classify(r: Run) -> tuple[Counter[str], Counter[str], dict[str, set[str]], dict[str, list[str]]]:
    """(event pairs, part pairs, people, examples) per class."""
    g = r.graph
    users = key_users(r)
    parts_of: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    all_events: dict[str, list[str]] = defaultdict(list)
    for eid, who in r.truth.items():
        if eid in r.evidence_of:
            all_events[who].append(eid)
        if eid in r.assignments:
            parts_of[who][r.assignments[eid]].append(eid)
    pairs: Counter[str] = Counter()
    part_pairs: Counter[str] = Counter()
    people: dict[str, set[str]] = defaultdict(set)
    examples: dict[str, list[str]] = defaultdict(list)
    for who, parts in sorted(parts_of.items()):
        if len(parts) < 2:
            continue
        comp = _own_components(r, all_events[who])
        cids = sorted(parts)
        for i, a in enumerate(cids):
            for b in cids[i + 1 :]:
                label = _classify_pair(r, g, users, comp, parts[a], parts[b], who)
                if label.startswith(("nothing-shared", "rejected-value", "near-phone")):
                    label = _region_label(r, parts[a], parts[b]) or label
                names = [sorted({r.evidence_of[e].name or "-" for e in parts[x]}) for x in (a, b)]
                pairs[label] += len(parts[a]) * len(parts[b])
                part_pairs[label] += 1
                people[label].add(who)
                examples[label].append(f"{who}: {names[0]} | {names[1]}")
    return pairs, part_pairs, people, examples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--show", type=int, default=0, help="examples printed per class")
    args = parser.parse_args(argv)
    r = replay(args.data)
    e = r.carrying
    print(f"precision {e.precision:.4f} recall {e.recall:.4f} (all events, as irl evaluate)")
    pairs, part_pairs, people, examples = classify(r)
    split = set().union(*people.values()) if people else set()
    print(f"{len(split)} people split; missed event pairs {sum(pairs.values())}")
    print(f"{'people':>6} {'parts':>5} {'pairs':>6}  class")
    for label, n in pairs.most_common():
        print(f"{len(people[label]):>6} {part_pairs[label]:>5} {n:>6}  {label}")
        for line in examples[label][: args.show]:
            print(f"{'':>21}e.g. {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
