"""A customer's profile and the evidence features its confidence is scored on.

Built from the customer's distinct evidence (`Graph.customer_evidence`), so its cost grows
with what is known about the customer, not with how often it was seen: interaction counts
weigh in as counts. `Resolver` memoises profiles and drops a memo whenever a step touches
the customer (or any status changes), so a memoised profile always equals a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from resolver.confidence import Features, score
from resolver.evidence import Evidence
from resolver.graph import OK, PERSON, Customer, Graph
from resolver.households import name_groups
from resolver.nearlinks import near_links

__all__ = ["Profile", "build_profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """A live customer, field names as in ResolvedCustomer v1."""

    customer_id: str
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    source_ids: tuple[tuple[str, str], ...]
    name: str | None
    first_seen: int | None
    last_seen: int | None
    event_count: int
    touchpoints: tuple[str, ...]
    confidence: float
    confidence_reasons: tuple[str, ...]

    def to_record(self) -> dict[str, Any]:
        """The ResolvedCustomer field subset this profile fills (JSON-able)."""
        return {
            "customer_id": self.customer_id,
            "phones": list(self.phones),
            "emails": list(self.emails),
            "source_ids": [{"touchpoint": t, "source_id": s} for t, s in self.source_ids],
            "name": self.name,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "event_count": self.event_count,
            "touchpoints": list(self.touchpoints),
            "confidence": self.confidence,
            "confidence_reasons": list(self.confidence_reasons),
        }


def build_profile(g: Graph, customer_id: str, cust: Customer) -> Profile:
    members = g.uf.members(cust.root)
    evidence = g.customer_evidence(cust)
    phones = sorted({k[2:].partition(PERSON)[0] for k in members if k[0] == "p"})
    emails = sorted(k[2:] for k in members if k[0] == "e")
    names: dict[str, list[int]] = {}
    for ev in evidence:
        if ev.name:
            entry = names.setdefault(ev.name, [0, 0])
            entry[0] += ev.count
            entry[1] = max(entry[1], ev.last)
    name = min(names, key=lambda n: (-names[n][0], -names[n][1], n)) if names else None
    value, reasons = score(_features(g, cust, members, evidence))
    return Profile(
        customer_id=customer_id,
        phones=tuple(phones),
        emails=tuple(emails),
        source_ids=tuple(sorted({(ev.tp, ev.src) for ev in evidence})),
        name=name,
        first_seen=evidence[0].at if evidence else None,
        last_seen=max(ev.last for ev in evidence) if evidence else None,
        event_count=sum(ev.count for ev in evidence),
        touchpoints=tuple(sorted({ev.tp for ev in evidence})),
        confidence=value,
        confidence_reasons=reasons,
    )


def _features(g: Graph, cust: Customer, members: list[str], evidence: list[Evidence]) -> Features:
    nodes = g.nodes
    effs: list[tuple[list[str], int]] = []
    counts: dict[str, int] = {}
    verified = False
    corroborating = near_q = refused = total = 0
    phone_sources: set[str] = set()
    for ev in evidence:
        n = ev.count
        total += n
        eff = g.effective(ev)
        effs.append((eff, n))
        cls = g.class_of(ev.name)
        if cls is not None:
            counts[cls] = counts.get(cls, 0) + n
        if any(nodes[k].status != OK for k in ev.keys):
            near_q += n
        carries_phone = any(k[0] == "p" for k in ev.keys)
        if ev.tp == "WHATSAPP" and carries_phone:
            verified = True
        if len(eff) >= 2:
            corroborating += n
        if ev.note:
            refused += n
        if any(k[0] == "p" for k in eff):
            phone_sources.add(ev.tp)
    label = name_groups(counts)
    totals: dict[str, int] = {}
    for cls, n in counts.items():
        totals[label[cls]] = totals.get(label[cls], 0) + n
    main = min(totals, key=lambda grp: (-totals[grp], grp)) if totals else None
    minority = sum(n for grp, n in totals.items() if grp != main)
    strong = sum(1 for k in members if k[0] in "pe")
    near = len(near_links(g, members)) if g.near_on and any(nodes[k].near for k in members) else 0
    return Features(
        events=total,
        phones=cust.phones,
        emails=cust.emails,
        name_groups=len(totals),
        minority_names=minority,
        verified_phone=verified,
        corroborating_events=corroborating,
        # A bridge needs phones/emails on both sides: most customers have one or none.
        weak_bridges=_weak_bridges(set(members), effs) if strong >= 2 else 0,
        near_quarantined=near_q,
        refused_merges=refused,
        shared_phone=any(nodes[k].shared for k in members if k[0] == "p"),
        kiosk_only_phone=phone_sources == {"KIOSK"},
        near_phones=near,
    )


def _weak_bridges(members: set[str], effs: Iterable[tuple[list[str], int]]) -> int:
    """Count links made by a single interaction whose removal separates phones/emails on both sides."""
    adj: dict[str, dict[str, int]] = {}
    for eff, n in effs:
        for key in eff[1:]:
            if key in members and eff[0] in members:
                a, b = eff[0], key
                adj.setdefault(a, {})[b] = adj.setdefault(a, {}).get(b, 0) + n
                adj.setdefault(b, {})[a] = adj.setdefault(b, {}).get(a, 0) + n
    strong = {k for k in adj if k[0] in "pe"}
    if len(strong) < 2:
        return 0
    total = len(strong)
    disc: dict[str, int] = {}
    low: dict[str, int] = {}
    sub: dict[str, int] = {}
    count = 0
    for start in sorted(adj):
        if start in disc:
            continue
        disc[start] = low[start] = len(disc)
        sub[start] = 1 if start in strong else 0
        stack: list[tuple[str, str | None, Iterable[str]]] = [(start, None, iter(sorted(adj[start])))]
        while stack:
            node, parent, it = stack[-1]
            advanced = False
            for nxt in it:
                if nxt == parent:
                    continue
                if nxt in disc:
                    low[node] = min(low[node], disc[nxt])
                else:
                    disc[nxt] = low[nxt] = len(disc)
                    sub[nxt] = 1 if nxt in strong else 0
                    stack.append((nxt, node, iter(sorted(adj[nxt]))))
                    advanced = True
                    break
            if advanced:
                continue
            stack.pop()
            if parent is not None:
                low[parent] = min(low[parent], low[node])
                sub[parent] += sub[node]
                if low[node] > disc[parent] and adj[parent][node] == 1 and 0 < sub[node] < total:
                    count += 1
    return count
