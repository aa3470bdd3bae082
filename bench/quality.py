"""Where resolution quality is lost: the missed and the false pairs of the quality test, classified.

    python -m bench.quality [--customers 10000] [--seeds 1 2 3] [--examples 3]

For each seed, the resolver runs over `streams.synthetic.generate(customers, seed)` as the
quality test runs it (`tests/unit/test_quality.py`), and prints precision, recall and the
confidence AUC on the events that carry a personal identifier (the test's figures), and on
*identifiable* events (`resolver.evaluation.identifiable_events`: those sharing a loosely
normalised identifier value with another event).

Then a table of the **missed pairs** (two events of one true customer resolved apart), one
row per pair of resolved customers holding parts of one true customer, classified by what
joins the two parts in the person's own events:

* ``direct: <rule>``: some identifier key is carried on both sides; the rule is what stops
  that key linking them (``hub`` quarantined, ``names-split`` a per-person split of a shared
  phone or email, ``shared-phone`` a phone whose email links are kept apart, ``cut`` a limit,
  ``other``), and whether the key is the person's own or also used by other people;
* ``chain``: no key on both sides, but a chain of the person's own events joins them (through
  a third part);
* ``rejected-value``: the two sides share only a value the parser refused (junk, mask, invalid);
* ``near-phone``: phones one digit apart (a typo), nothing shared;
* ``nothing-shared``: no identifier value in common at all, by what the smaller side carries.

And a table of the **false pairs** (two true customers in one resolved customer), classified
by the keys their events share inside it. Not a test: an instrument for issue 18.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.evaluation import Evaluation, carries_identifier, confidences, evaluate, identifiable_events
from resolver.evidence import Evidence
from resolver.graph import OK, Graph, holder_of
from resolver.interaction import fields_of, from_json
from resolver.linking import evidence_name
from streams.synthetic import generate

__all__ = ["Run", "classify_false", "classify_missed", "key_users", "main", "run"]


@dataclass
class Run:
    """One seed's resolution: the events, truth, assignments and evaluations."""

    seed: int
    events: list[dict[str, Any]]
    truth: dict[str, str]
    assignments: dict[str, str]
    evidence_of: dict[str, Evidence]
    graph: Graph
    carrying: Evaluation
    identifiable: Evaluation
    seconds: float
    identified: set[str] = field(default_factory=set)


#: Profile names people choose on WhatsApp that are not their names (`--whatsapp-nicknames`).
NICKNAMES = (
    "Bunty", "Pinky", "Chotu", "Babu", "Dolly", "Khushi", "Raja Ji", "Happy Life", "Jai Mata Di",
    "Radhe Radhe", "Om Sai Ram", "Sharma Traders", "Busy", "Hello", "Mom", "\U0001f64f",
)  # fmt: skip


def with_whatsapp_nicknames(events: list[dict[str, Any]], truth: dict[str, str], share: float, seed: int) -> None:
    """Give `share` of the people a WhatsApp profile name that is not their name (in place, deterministic)."""
    rng = random.Random(f"nicknames:{seed}")
    chosen: dict[str, str | None] = {}
    for event in events:
        if event["touchpoint"] == "WHATSAPP" and event.get("name"):
            person = truth[event["event_id"]]
            if person not in chosen:
                chosen[person] = rng.choice(NICKNAMES) if rng.random() < share else None
            nickname = chosen[person]
            if nickname is not None:
                event["name"] = nickname


def run(customers: int, seed: int, config: ResolverConfig | None = None, nicknames: float = 0.0) -> Run:
    """Resolve one generated data set as the quality test does, and evaluate it both ways."""
    events, truth_rows = generate(customers, seed)
    if nicknames:
        with_whatsapp_nicknames(events, dict(truth_rows), nicknames, seed)
    started = time.perf_counter()
    resolver = Resolver(config or ResolverConfig(), track_changes=False)
    parsed = [from_json(obj) for obj in events]
    for event in parsed:
        resolver.apply(event)
    g: Graph = resolver._g  # an instrument may read the core's state
    assignments: dict[str, str] = {}
    evidence_of: dict[str, Evidence] = {}
    for event in parsed:
        _, touchpoint, _, source_id, phone, email, name = fields_of(event)
        keys, rejected = g.parser.extract_fields(touchpoint, source_id, phone, email)
        stripped = evidence_name(g.parser.junk, name, touchpoint)
        ev = g.by_content.get((touchpoint, source_id.strip(), stripped, keys, rejected))
        if ev is None:
            continue
        evidence_of[event.event_id] = ev
        cid = g.customer_of(ev)
        if cid is not None:
            assignments[event.event_id] = cid
    seconds = time.perf_counter() - started
    truth = dict(truth_rows)
    confidence = confidences(resolver)
    identified = {obj["event_id"] for obj in events if carries_identifier(obj)}
    identifiable = identifiable_events(events)
    return Run(
        seed,
        events,
        truth,
        assignments,
        evidence_of,
        g,
        evaluate(truth, assignments, confidence=confidence, only=identified),
        evaluate(truth, assignments, confidence=confidence, only=identifiable),
        seconds,
        identified,
    )


def _key_rule(g: Graph, key: str) -> str:
    node = g.nodes.get(key)
    if node is None:
        return "unknown"
    if node.status != OK:
        return "hub" if node.status == "quarantined" else node.status
    if node.groups is not None:
        return "names-split"
    if node.shared:
        return "shared-phone"
    return "other"


def _raw_values(ev: Evidence) -> set[str]:
    return {r.split(":", 2)[2] for r in ev.rejected if r.count(":") >= 2 and r.split(":", 2)[2]}


def _near(a: str, b: str) -> bool:
    return a[0] == b[0] == "p" and len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def key_users(r: Run) -> dict[str, set[str]]:
    """Identifier key -> the true customers whose events carry it."""
    users: dict[str, set[str]] = defaultdict(set)
    for eid, ev in r.evidence_of.items():
        for key in ev.keys:
            users[key].add(r.truth[eid])
    return users


def classify_missed(r: Run, only: set[str]) -> tuple[Counter[str], dict[str, list[str]]]:
    """Missed pairs by class (see the module docstring), with a few examples of each."""
    g = r.graph
    users = key_users(r)
    per_person: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    all_events: dict[str, list[str]] = defaultdict(list)
    for eid, who in r.truth.items():
        all_events[who].append(eid)
        if eid in only and eid in r.assignments:
            per_person[who][r.assignments[eid]].append(eid)
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for who, parts in per_person.items():
        if len(parts) < 2:
            continue
        comp = _own_components(r, all_events[who])
        cids = sorted(parts)
        for i, a in enumerate(cids):
            for b in cids[i + 1 :]:
                n = len(parts[a]) * len(parts[b])
                label = _classify_pair(r, g, users, comp, parts[a], parts[b], who)
                counts[label] += n
                if len(examples[label]) < 6:
                    examples[label].append(_describe(r, parts[a][:3]) + "  ||  " + _describe(r, parts[b][:3]))
    return counts, examples


def _own_components(r: Run, eids: list[str]) -> dict[str, int]:
    """event -> component of one person's events joined by shared keys (any key)."""
    parent = {e: e for e in eids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[str, str] = {}
    for e in eids:
        ev = r.evidence_of.get(e)
        if ev is None:
            continue
        for key in ev.keys:
            if key in first:
                parent[find(e)] = find(first[key])
            else:
                first[key] = e
    roots = {find(e) for e in eids}
    index = {root: i for i, root in enumerate(sorted(roots))}
    return {e: index[find(e)] for e in eids}


def _classify_pair(
    r: Run,
    g: Graph,
    users: dict[str, set[str]],
    comp: dict[str, int],
    side_a: list[str],
    side_b: list[str],
    who: str,
) -> str:
    keys_a = {k for e in side_a for k in r.evidence_of[e].keys}
    keys_b = {k for e in side_b for k in r.evidence_of[e].keys}
    common = keys_a & keys_b
    if common:
        rules = sorted({f"{_key_rule(g, k)}/{'own' if users[k] == {who} else 'shared'}/{k[0]}" for k in common})
        return "direct: " + ", ".join(rules)
    if {comp[e] for e in side_a} & {comp[e] for e in side_b}:
        return "chain"
    raw_a = {v for e in side_a for v in _raw_values(r.evidence_of[e])}
    raw_b = {v for e in side_b for v in _raw_values(r.evidence_of[e])}
    if raw_a & raw_b:
        return "rejected-value"
    if any(_near(x, y) for x in keys_a for y in keys_b):
        return "near-phone"
    small = side_a if len(side_a) <= len(side_b) else side_b
    return "nothing-shared: " + _carries(r, small)


def _carries(r: Run, eids: Iterable[str]) -> str:
    kinds: set[str] = set()
    for e in eids:
        ev = r.evidence_of[e]
        kinds |= {k[0] if k[0] != "t" else "t-" + k.split(":")[1] for k in ev.keys}
        kinds |= {x.split(":")[0] + "-" + x.split(":")[1] for x in ev.rejected}
    return "+".join(sorted(kinds)) or "none"


def _describe(r: Run, eids: list[str]) -> str:
    out = []
    for e in eids:
        ev = r.evidence_of[e]
        out.append(f"[{ev.tp} {ev.src[:14]} n={ev.name!r} k={list(ev.keys)} rej={list(ev.rejected)}]")
    return " ".join(out)


def classify_false(r: Run, only: set[str]) -> tuple[Counter[str], dict[str, list[str]]]:
    """False pairs by the keys the two true customers' events share inside one resolved customer."""
    g = r.graph
    clusters: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for eid, cid in r.assignments.items():
        if eid in only:
            clusters[cid][r.truth[eid]].append(eid)
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for people in clusters.values():
        if len(people) < 2:
            continue
        whos = sorted(people)
        for i, a in enumerate(whos):
            for b in whos[i + 1 :]:
                n = len(people[a]) * len(people[b])
                ka = {holder_of(k) for e in people[a] for k in g.effective_uncut(r.evidence_of[e])}
                kb = {holder_of(k) for e in people[b] for k in g.effective_uncut(r.evidence_of[e])}
                common = ka & kb
                label = (
                    "shares " + ", ".join(sorted({f"{k[0]}:{_key_rule(g, k)}" for k in common}))
                    if common
                    else "via a third customer or a near phone"
                )
                counts[label] += n
                if len(examples[label]) < 6:
                    examples[label].append(_describe(r, people[a][:3]) + "  ||  " + _describe(r, people[b][:3]))
    return counts, examples


def _by_class(counts: Counter[str]) -> Counter[str]:
    """The classes of `classify_missed` without their detail (what the smaller side carries)."""
    out: Counter[str] = Counter()
    for label, n in counts.items():
        head = label.split(":")[0] if label.startswith("nothing-shared") else label
        if label.startswith("direct:"):
            head = "direct: " + " + ".join(sorted({part.strip().split("/")[0] for part in label[7:].split(",")}))
        out[head] += n
    return out


def _table(title: str, counts: Counter[str], total: int) -> None:
    print(f"\n{title} (pairs; share of all such pairs)")
    for label, n in counts.most_common():
        print(f"  {n:>8}  {n / total:6.1%}  {label}")


def _figures(name: str, e: Evaluation) -> str:
    auc = f"{e.confidence_auc:.3f}" if e.confidence_auc is not None else "-"
    return (
        f"{name:<13} events={e.events:>6} P={e.precision:.4f} R={e.recall:.4f} AUC={auc}"
        f" true_pairs={e.pairs.true_pairs} missed={e.pairs.true_pairs - e.pairs.common_pairs}"
        f" false={e.pairs.predicted_pairs - e.pairs.common_pairs}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--examples", type=int, default=0, help="examples printed per class")
    parser.add_argument("--figures-only", action="store_true")
    parser.add_argument(
        "--whatsapp-nicknames",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="give this share of the people a WhatsApp profile name that is not their name",
    )
    args = parser.parse_args(argv)
    for seed in args.seeds:
        r = run(args.customers, seed, nicknames=args.whatsapp_nicknames)
        print(f"\n=== seed {seed}: {args.customers} customers, resolved in {r.seconds:.1f} s")
        print(_figures("carrying", r.carrying))
        print(_figures("identifiable", r.identifiable))
        if args.figures_only:
            continue
        missed, mex = classify_missed(r, r.identified)
        _table("missed pairs, events carrying an identifier, by class", _by_class(missed), sum(missed.values()))
        _table("missed pairs, events carrying an identifier", missed, sum(missed.values()))
        false, fex = classify_false(r, r.identified)
        _table("false pairs", false, max(1, sum(false.values())))
        for title, ex in (("missed", mex), ("false", fex)):
            for label, lines in ex.items():
                for line in lines[: args.examples]:
                    print(f"  {title} e.g. {label}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
