"""A customer's profile and the evidence features its confidence is scored on: the definition.

Built from the customer's distinct evidence (`Graph.customer_evidence`), so its cost grows
with what is known about the customer, not with how often it was seen. Confidence is a
function of distinct evidence alone (a bot repeating itself cannot raise or lower it); the
counters (``event_count``, first and last seen, the most frequent name) come from a `Tally`.

`profile_from_scratch` is the plain definition of every field and feature, kept as the
oracle: `Resolver` serves profiles from per-customer summaries (`resolver.summary`), built
in one pass and then kept up to date as evidence joins, and property tests hold them equal
to this function after any operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from resolver.confidence import Features, score
from resolver.display_name import display_name, preferred_name, typed_name
from resolver.evidence import Evidence
from resolver.generations import bare
from resolver.graph import OK, Customer, Graph, holder_of, other_account, shared_line
from resolver.interaction import UNKNOWN_TIME_MS
from resolver.names import KEY_JOIN, name_groups, unread
from resolver.nearlinks import near_links

__all__ = [
    "Profile",
    "Tally",
    "email_letters",
    "name_of",
    "name_tokens",
    "profile_from_scratch",
    "profile_of",
    "recurring_accounts",
    "weak_bridges",
]


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


# The frozen dataclass __init__ sets each field through object.__setattr__; `profile_of`, which
# builds the profile of every published record, fills the slots through their descriptors instead.
(_SET_ID, _SET_PHONES, _SET_EMAILS, _SET_SOURCES, _SET_NAME, _SET_FIRST, _SET_LAST, _SET_COUNT, _SET_TPS, _SET_VALUE,
 _SET_REASONS) = (vars(Profile)[name].__set__ for name in (
    "customer_id", "phones", "emails", "source_ids", "name", "first_seen", "last_seen", "event_count", "touchpoints",
    "confidence", "confidence_reasons",
))  # fmt: skip


def profile_of(
    customer_id: str,
    phones: tuple[str, ...],
    emails: tuple[str, ...],
    source_ids: tuple[tuple[str, str], ...],
    name: str | None,
    first_seen: int | None,
    last_seen: int | None,
    event_count: int,
    touchpoints: tuple[str, ...],
    confidence: float,
    confidence_reasons: tuple[str, ...],
) -> Profile:
    """``Profile(...)`` of the same arguments, built faster (equal in every way)."""
    out: Profile = Profile.__new__(Profile)
    _SET_ID(out, customer_id)
    _SET_PHONES(out, phones)
    _SET_EMAILS(out, emails)
    _SET_SOURCES(out, source_ids)
    _SET_NAME(out, name)
    _SET_FIRST(out, first_seen)
    _SET_LAST(out, last_seen)
    _SET_COUNT(out, event_count)
    _SET_TPS(out, touchpoints)
    _SET_VALUE(out, confidence)
    _SET_REASONS(out, confidence_reasons)
    return out


class Counted(Protocol):
    """What a `Tally` reads of a piece of evidence (an `Evidence`, or its facts in an effect)."""

    @property
    def count(self) -> int: ...
    @property
    def at(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def name(self) -> str | None: ...


class Tally:
    """A customer's counters: interactions, first and last seen, interactions and latest time per name."""

    __slots__ = ("count", "first", "last", "names")

    def __init__(self, evidence: Iterable[Counted]) -> None:
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None
        self.names: dict[str, list[int]] = {}
        self.extend(evidence)

    def extend(self, evidence: Iterable[Counted]) -> None:
        """Count evidence not counted yet (all its interactions).

        A time `UNKNOWN_TIME_MS` (an event whose producer did not know when it happened) moves
        neither first nor last: evidence seen at it and later starts at its latest time.
        """
        for ev in evidence:
            self.count += ev.count
            at, end = ev.at, ev.last
            if at == UNKNOWN_TIME_MS:
                at = end  # seen at an unknown time and (perhaps) later: from its latest
            if at != UNKNOWN_TIME_MS and (self.first is None or at < self.first):
                self.first = at
            if end != UNKNOWN_TIME_MS and (self.last is None or end > self.last):
                self.last = end
            if ev.name:
                entry = self.names.setdefault(ev.name, [0, 0])
                entry[0] += ev.count
                entry[1] = max(entry[1], ev.last)

    def see(self, name: str | None, at: int) -> None:
        """One more interaction (at `at`, with `name`) of evidence already counted."""
        self.count += 1
        if at != UNKNOWN_TIME_MS:
            if self.first is None or at < self.first:
                self.first = at
            if self.last is None or at > self.last:
                self.last = at
        if name:
            entry = self.names.setdefault(name, [0, 0])
            entry[0] += 1
            entry[1] = max(entry[1], at)

    def name(self) -> str | None:
        """The name to show: `resolver.display_name.preferred_name` of the names counted."""
        return name_of(self.names)


def name_of(names: dict[str, list[int]]) -> str | None:
    """`resolver.display_name.preferred_name` of names counted as `Tally.names` holds them (None: no name)."""
    if len(names) == 1:  # most customers go by one name
        for only in names:
            return display_name(only) or typed_name(only)
    if not names:
        return None
    return preferred_name(names)


def profile_from_scratch(g: Graph, customer_id: str, cust: Customer) -> Profile:
    """A fresh profile of a live customer, every field computed from its evidence as defined here."""
    members = g.uf.members(cust.root)
    evidence = g.customer_evidence(cust)
    phones = sorted({holder_of(k)[2:] for k in members if k[0] == "p"})
    emails = sorted({holder_of(k)[2:] for k in members if k[0] == "e"})
    tally = Tally(evidence)
    value, reasons = score(_features(g, cust, members, evidence, tally.count))
    profile = Profile(
        customer_id=customer_id,
        phones=tuple(phones),
        emails=tuple(emails),
        # every event's touchpoint record, an order placed on another person's account too: the CRM
        # gives an interaction to the customer that lists its record (docs/crm-connector.md)
        source_ids=tuple(sorted({(ev.tp, ev.src) for ev in evidence})),
        name=tally.name(),
        first_seen=tally.first,
        last_seen=tally.last,
        event_count=tally.count,
        touchpoints=tuple(sorted({ev.tp for ev in evidence})),
        confidence=value,
        confidence_reasons=reasons,
    )
    return profile


def _features(g: Graph, cust: Customer, members: list[str], evidence: list[Evidence], events: int) -> Features:
    """Evidence features; each distinct piece of evidence counts once, however often it was seen."""
    nodes = g.nodes
    effs: list[list[str]] = []
    counts: dict[str, int] = {}
    verified = False
    corroborating = near_q = refused = 0
    phone_sources: set[str] = set()
    seen_ids: dict[str, int] = {}
    for ev in evidence:
        eff = g.effective(ev)
        effs.append(eff)
        cls = g.class_of(ev.name)
        if cls is not None:
            counts[cls] = counts.get(cls, 0) + 1
        if any(nodes[k].status != OK for k in ev.keys):
            near_q += 1
        if ev.tp == "WHATSAPP" and ev.name is not None and any(k[0] == "p" for k in ev.keys):
            # The phone's own chat, under a name: who holds the number is confirmed (a chat
            # without a name confirms only that someone does).
            verified = True
        if len(eff) >= 2:
            corroborating += 1
        if ev.note:
            refused += 1
        if any(k[0] == "p" for k in eff):
            phone_sources.add(ev.tp)
        for k in ev.keys:
            if k[0] == "t":
                seen_ids[k] = seen_ids.get(k, 0) + 1
    label = name_groups(counts)
    placed = any(other_account(eff) for eff in effs)
    totals: dict[str, int] = {}
    for cls, n in counts.items():
        totals[label[cls]] = totals.get(label[cls], 0) + n
    main = min(totals, key=lambda grp: (-totals[grp], grp)) if totals else None
    minority = sum(n for grp, n in totals.items() if grp != main)
    strong = sum(1 for k in members if k[0] in "pe")
    bridges, lone = weak_bridges(set(members), effs) if strong >= 2 else (0, 0)
    near = len(near_links(g, members)) if g.near_on and any(nodes[k].near for k in members) else 0
    return Features(
        events=events,
        phones=cust.phones,
        emails=cust.emails,
        name_groups=len(totals),
        minority_names=minority,
        verified_phone=verified,
        corroborating_events=corroborating,
        # A bridge needs phones/emails on both sides: most customers have one or none.
        weak_bridges=bridges,
        near_quarantined=near_q,
        refused_merges=refused,
        shared_phone=any(shared_line(k, nodes[k]) for k in members if k[0] == "p"),
        kiosk_only_phone=phone_sources == {"KIOSK"},
        near_phones=near,
        accounts=recurring_accounts(seen_ids),
        unnamed_emails=_unnamed_emails(members, counts),
        other_account=placed,
        lone_parts=lone,
        unread_names=unread(counts),
        lone_evidence=all(eff[0][0] == "x" for eff in effs),
        phone_numbers=len({holder_of(k) for k in members if k[0] == "p"}),
        email_addresses=len({holder_of(k) for k in members if k[0] == "e"}),
    )


def _unnamed_emails(members: list[str], names: dict[str, int]) -> int:
    """Emails whose address holds none of the names' tokens (three letters or more); 0 without names.

    Most addresses are made of their owner's names (``asha.rao``, ``arao``, ``rao.family``):
    one that holds none of a customer's names often belongs to someone merged in.
    """
    tokens = name_tokens(names)
    if not tokens:
        return 0
    out = 0
    for key in {holder_of(k) for k in members if k[0] == "e"}:
        local = email_letters(key)
        if not any(t in local for t in tokens):
            out += 1
    return out


#: Touchpoints whose records of one person are expected to be several: a CRM's own duplicates
#: are what it imports its contacts (`irl import`) for us to find, not a sign of a wrong merge.
_MANY_RECORDS_EXPECTED = frozenset({"CRM"})


def name_tokens(names: Iterable[str]) -> frozenset[str]:
    """The tokens of three letters or more of name keys: what an email address is searched for."""
    # Addresses are ASCII: a name in another script (``सुनीता``) says nothing about one.
    # A generation (``james_clark~jr``) is no part of an address.
    return frozenset(t for key in names for t in bare(key).split(KEY_JOIN) if len(t) >= 3 and t.isascii())


def email_letters(key: str) -> str:
    """The letters of an email key's local part (``e:asha.rao1@x.in`` -> ``asharao``)."""
    return "".join(ch for ch in key[2:].partition("@")[0] if ch.isalpha())


def recurring_accounts(seen_ids: dict[str, int]) -> int:
    """The most touchpoint ids of one touchpoint that recur (on two or more pieces of evidence).

    Touchpoints of `_MANY_RECORDS_EXPECTED` are not counted.
    """
    per: dict[str, int] = {}
    for key, n in seen_ids.items():
        if n >= 2:
            tp = key[2 : key.index(":", 2)]
            if tp in _MANY_RECORDS_EXPECTED:
                continue
            per[tp] = per.get(tp, 0) + 1
    return max(per.values(), default=0)


def weak_bridges(members: set[str], effs: Iterable[Sequence[str]]) -> tuple[int, int]:
    """Links made by a single piece of evidence whose removal separates phones or emails: (bridges, lone).

    A bridge joins two parts of a customer that each have a phone or email and evidence of their
    own besides that piece: two records held together by one event. A *lone* part is made of the
    linking piece's own identifiers alone (a signup's email, never seen again): one person typed
    both and nothing was joined, a weaker doubt. Nothing on a customer of one piece of
    evidence. Counted within each connected part of the evidence: an operator's merge joins
    parts no evidence links, and is no single-event link.
    """
    adj: dict[str, dict[str, int]] = {}
    carried: dict[str, int] = {}  # pieces of evidence carrying each key
    pieces = 0
    for eff in effs:
        pieces += 1
        first = eff[0]
        if first in members:
            carried[first] = carried.get(first, 0) + 1
        for key in eff[1:]:
            if key in members:
                carried[key] = carried.get(key, 0) + 1
                if first in members:
                    adj.setdefault(first, {})[key] = adj.setdefault(first, {}).get(key, 0) + 1
                    adj.setdefault(key, {})[first] = adj.setdefault(key, {}).get(first, 0) + 1
    strong = {k for k in adj if k[0] in "pe"}
    if len(strong) < 2 or pieces < 2:
        return 0, 0
    bridges = lone = 0
    seen: set[str] = set()
    for start in sorted(adj):
        if start in seen:
            continue
        part = _component(adj, start)
        seen.update(part)
        b, n = _part_bridges(adj, start, part & strong, {k for k in part if carried.get(k, 0) >= 2})
        bridges += b
        lone += n
    return bridges, lone


def _component(adj: dict[str, dict[str, int]], start: str) -> set[str]:
    part = {start}
    todo = [start]
    while todo:
        for nxt in adj[todo.pop()]:
            if nxt not in part:
                part.add(nxt)
                todo.append(nxt)
    return part


def _part_bridges(adj: dict[str, dict[str, int]], start: str, strong: set[str], repeated: set[str]) -> tuple[int, int]:
    """`weak_bridges` within the connected part of `start` (Tarjan's bridges, iteratively): a link
    made by one piece with a phone or email (`strong`, the part's) on each side; a bridge when a key
    carried by another piece (`repeated`, the part's) is on each side too, else a lone part."""
    total = len(strong)
    total_rep = len(repeated)
    if total < 2:
        return 0, 0
    disc: dict[str, int] = {start: 0}
    low: dict[str, int] = {start: 0}
    sub: dict[str, int] = {start: 1 if start in strong else 0}
    rep: dict[str, int] = {start: 1 if start in repeated else 0}
    bridges = lone = 0
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
                rep[nxt] = 1 if nxt in repeated else 0
                stack.append((nxt, node, iter(sorted(adj[nxt]))))
                advanced = True
                break
        if advanced:
            continue
        stack.pop()
        if parent is not None:
            low[parent] = min(low[parent], low[node])
            sub[parent] += sub[node]
            rep[parent] += rep[node]
            if low[node] > disc[parent] and adj[parent][node] == 1 and 0 < sub[node] < total:
                if 0 < rep[node] < total_rep:
                    bridges += 1
                else:
                    lone += 1
    return bridges, lone
