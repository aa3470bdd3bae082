"""The review queue's pairs: customers that came close but were kept apart, read off the graph.

Nothing here is stored: each pair is found from what the core keeps anyway, so the queue is
a function of the state (a snapshot load or a replay gives the same queue).

* ``household``: an identifier carried by evidence of both, used by people with different
  names (`resolver.households`: a shared phone, or one split per person);
* ``hub``: an identifier carried by both that stopped linking (seen with too many people);
* ``near-phone``: two phones one digit apart whose link does not hold (names do not agree
  strongly, emails conflict) or was refused by a limit (`resolver.nearlinks`);
* ``limit``: a link of one customer's evidence to an identifier of the other, refused by a
  limit (the note on the evidence, `resolver.reresolution`).

Left out: pairs an operator decided (kept apart by a split's ban, or by a block), and pairs
an operator dismissed (`Graph.dismissed`, applied by `resolver.resolver.Resolver.review`).
Work is bounded per identifier: at most `PER_KEY` customers are paired through one key (a
hub can be carried by thousands), looked up among its first `SCAN_PER_KEY` pieces of evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from resolver.cold import peek
from resolver.graph import OK, Graph, holder_of
from resolver.identifiers import kind_of, mask
from resolver.limits import refusal

__all__ = ["PER_KEY", "SCAN_PER_KEY", "ReviewPair", "evidence_pairs", "key_pairs"]

#: Customers paired through one identifier at most (so at most 6 pairs per key).
PER_KEY = 4
#: Pieces of evidence of one identifier looked at to find them.
SCAN_PER_KEY = 64


@dataclass(frozen=True, slots=True)
class ReviewPair:
    """Two live customers kept apart (``a < b``), the rule that did it and the identifier it is about.

    ``identifier`` is a resolver key (personal data: the shell masks it for read callers);
    ``reason`` is masked already.
    """

    a: str
    b: str
    rule: str
    identifier: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "identifier": self.identifier, "reason": self.reason}


def _customers_carrying(g: Graph, key: str) -> list[str]:
    out: list[str] = []
    node = peek(g.nodes, key)
    assert node is not None
    for vid in node.vids()[:SCAN_PER_KEY]:
        ev = peek(g.evidence, vid)
        cid = None if ev is None else g.customer_of(ev)
        if cid is not None and cid not in out:
            out.append(cid)
            if len(out) == PER_KEY:
                break
    return out


def _decided(g: Graph, a: str, b: str) -> bool:
    """True when an operator's split keeps `a` and `b` apart."""
    one, other = g.cust[a], g.cust[b]
    return refusal(g.config, 0, 0, [*one.bars.items(), *other.bars.items()]) is not None


def _pair(g: Graph, a: str, b: str, rule: str, key: str, reason: str) -> ReviewPair | None:
    if a == b or a not in g.cust or b not in g.cust or _decided(g, a, b):
        return None
    lo, hi = (a, b) if a < b else (b, a)
    return ReviewPair(lo, hi, rule, key, reason)


def key_pairs(g: Graph, keys: Iterable[str]) -> list[ReviewPair]:
    """The pairs kept apart by the household, hub and near-phone rules at `keys` (unknown keys skipped)."""
    out: list[ReviewPair] = []
    nodes = g.nodes
    for key in keys:
        node = peek(nodes, key)  # a scan of all nodes: read, never thaw
        if node is None or key[0] not in "pet" or holder_of(key) != key:
            continue
        if node.status == "quarantined" or node.shared or node.groups is not None:
            if node.status == "quarantined":
                rule, reason = "hub", f"{kind_of(key)} {mask(key)} is seen with too many people: it stops linking"
            elif node.status != OK:
                continue  # blocked or cut: an operator's decision
            elif key[0] == "t":
                rule = "household"
                reason = f"account {mask(key)} is used by another person with a phone or email of their own"
            elif node.groups is None and key[0] == "e":  # shared, not split: typed for walk-ins
                rule, reason = "household", f"email {mask(key)} is typed at a kiosk for several people without names"
            elif node.groups is None:  # a shared phone, not split by names
                rule = "household"
                reason = (
                    f"phone {mask(key)} is shared (emails under different names, or typed at a kiosk for "
                    "several people without names): its email links are kept apart"
                )
            else:
                rule, reason = "household", f"{kind_of(key)} {mask(key)} is used by people with different names"
            for a, b in combinations(_customers_carrying(g, key), 2):
                found = _pair(g, a, b, rule, key, reason)
                if found is not None:
                    out.append(found)
        if node.near and node.status == OK:
            mine = g.by_root.get(g.uf.find(key))
            for other, used in sorted(node.near.items()):
                partner = peek(nodes, other)
                if other < key or partner is None or partner.status != OK or mine is None:
                    continue
                theirs = g.by_root.get(g.uf.find(other))
                if theirs is None:
                    continue
                why = "refused by a limit" if used else "names do not agree strongly, or emails conflict"
                reason = f"phones {mask(key)} and {mask(other)} are one digit apart: {why}"
                found = _pair(g, mine, theirs, "near-phone", key, reason)
                if found is not None:
                    out.append(found)
    return out


def evidence_pairs(g: Graph, vids: Iterable[str]) -> list[ReviewPair]:
    """The pairs kept apart by a limit: evidence whose link to another customer's identifier was refused."""
    out: list[ReviewPair] = []
    for vid in vids:
        ev = peek(g.evidence, vid)  # a scan of all evidence: read, never thaw
        if ev is None or ev.note is None:
            continue
        mine = g.customer_of(ev)
        if mine is None:
            continue
        seen: set[str] = {mine}
        for key in ev.keys:
            if key not in g.uf or (node := peek(g.nodes, key)) is None or node.status != OK:
                continue
            theirs = g.by_root.get(g.uf.find(key))
            if theirs is None or theirs in seen:
                continue
            seen.add(theirs)
            found = _pair(g, mine, theirs, "limit", key, ev.note)
            if found is not None:
                out.append(found)
    return out
