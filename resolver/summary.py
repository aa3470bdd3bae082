"""Customer summaries: what a profile is computed from, kept up to date as evidence joins.

A `Summary` holds, for one live customer, everything its profile and confidence are made
of: the counters (`resolver.profile.Tally`), what its identifiers say (phones, emails, a
shared phone, near links, the letters of its email addresses) and running totals over its
distinct evidence (name keys, corroborating, refused and near-quarantined evidence, phone
sources, touchpoint ids, effective keys, sources and touchpoints). `Resolver` memoises one
per customer in `Graph.profiles`:

* built from scratch in one pass over the customer's identifiers and evidence (`build`);
* a repeat moves its counters (`see_again`);
* new evidence that only re-sees the customer's own identifiers (no new identifier, no
  merge, no status change: the common case of `resolver.linking`) is added to it
  (`joined`), O(the evidence's keys);
* any other step drops it, and the next read builds it from scratch: `Resolver` drops every
  customer a step touches, creates or absorbs; a status change, a new per-person split or
  a near link that flips drops every customer holding the key or evidence that carries it
  (`Graph.forget_profiles`, before the change), whatever the step then reports; an
  operator's split or erasure drops them all.

Invariant: ``summary.profile(cid, cust) == profile_from_scratch(g, cid, cust)`` for a
memoised summary at any time between steps (tests/unit/test_profile_oracle.py). Summaries are
derived state: snapshots and state records never store them. Name grouping and scoring are
memoised per process (`functools.lru_cache`): pure functions of their arguments, so the
memos hold for any graph and any config.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from resolver.confidence import Features, score
from resolver.evidence import Evidence
from resolver.graph import OK, PERSON, Customer, Graph, holder_of, other_account, shared_line
from resolver.names import name_groups, unread
from resolver.nearlinks import near_links
from resolver.profile import (
    Profile,
    Tally,
    email_letters,
    name_tokens,
    profile_of,
    recurring_accounts,
    weak_bridges,
)

__all__ = ["FeatureKey", "Summary", "clear_memos", "grouped_names", "joined", "scored", "see_again"]

#: The features key (`Features` in field order) and the name-key weights memoised at most.
_MEMO = 1 << 16


def member_identifiers(g: Graph, members: Iterable[str]) -> tuple[set[str], set[str], int, bool, bool]:
    """What a customer's keys say: (phone keys, email keys, how many phone and email keys, a
    shared phone among them (`shared_line`), any key with a near link). A person's part of a
    shared phone counts on its own and shows as the phone's key."""
    nodes = g.nodes
    phones: set[str] = set()
    emails: set[str] = set()
    shared = any_near = False
    strong = 0
    for key in members:
        kind = key[0]
        node = nodes[key]
        if node.near:
            any_near = True
        if kind == "p":
            strong += 1
            phones.add(holder_of(key) if PERSON in key else key)
            if shared_line(key, node):
                shared = True
        elif kind == "e":
            strong += 1
            emails.add(holder_of(key) if PERSON in key else key)
    return phones, emails, strong, shared, any_near


class Summary:
    """One customer's profile inputs; `profile` is its profile (cached until something moves).

    Identifier-side fields (``phones``, ``emails``, ``letters``, ``strong``, ``shared``,
    ``near``, ``keys``) are fixed for the summary's life: it is dropped whenever the
    customer's identifiers change. Evidence-side fields only grow (`extend`).
    """

    __slots__ = (
        "bridges", "cached", "classes", "corroborating", "effs", "emails", "keys", "kiosk_phone", "letters", "linked",
        "named", "near", "near_q", "other_phone", "phones", "placed", "recurring", "refused", "seen_ids", "shared",
        "sources", "strong", "tally", "tokens", "tps", "verified",
    )  # fmt: skip

    def __init__(self, g: Graph, cust: Customer) -> None:
        """The identifier side of a customer; no evidence yet (`build` adds it)."""
        members = g.uf.members(cust.root)
        phones, emails, strong, shared, any_near = member_identifiers(g, members)
        self.phones = tuple(sorted(k[2:] for k in phones))
        self.emails = tuple(sorted(k[2:] for k in emails))
        self.letters = tuple(email_letters(k) for k in emails)
        self.strong = strong
        self.shared = shared
        self.near = len(near_links(g, members)) if g.near_on and any_near else 0
        # A bridge needs phones/emails on both sides: most customers have one or none.
        self.keys: set[str] | None = set(members) if strong >= 2 else None
        self.effs: list[list[str]] | None = [] if strong >= 2 else None
        self.tally = Tally(())
        self.classes: dict[str, int] = {}
        self.verified = False
        self.corroborating = self.near_q = self.refused = self.recurring = 0
        # Where its linked phones came from: a kiosk, anywhere else (kiosk-only phones).
        self.kiosk_phone = self.other_phone = False
        #: evidence linking a person's part of another person's account (`other_account`)
        self.placed = False
        #: whether any of its evidence links an identifier (not its own ``x:`` key alone)
        self.linked = False
        self.seen_ids: dict[str, int] = {}
        self.sources: tuple[tuple[str, str], ...] = ()
        self.tps: tuple[str, ...] = ()
        self.bridges: tuple[int, int] | None = None
        self.named: tuple[int, int, int] | None = None
        self.tokens: frozenset[str] | None = None
        self.cached: Profile | None = None

    @classmethod
    def build(cls, g: Graph, cust: Customer) -> Summary:
        """A customer's summary from scratch: its identifiers, then all its evidence."""
        summary = cls(g, cust)
        summary.extend(g, _evidence(g, cust))
        return summary

    def extend(self, g: Graph, evidence: list[Evidence]) -> None:
        """Add distinct evidence newly anchored in this customer (each piece once)."""
        nodes = g.nodes
        class_of = g.class_of
        effective = g.effective
        classes = self.classes
        seen_ids = self.seen_ids
        effs = self.effs
        sources = set(self.sources)
        tps = set(self.tps)
        named = False  # whether any of it has a name key (name groups can only move then)
        self.tally.extend(evidence)
        for ev in evidence:
            tp = ev.tp
            tps.add(tp)
            eff = effective(ev)
            if eff[0][0] != "x":
                self.linked = True
            sources.add((tp, ev.src))
            if effs is not None:
                effs.append(eff)
            cls = class_of(ev.name)
            if cls is not None:
                classes[cls] = classes.get(cls, 0) + 1
                named = True
            has_phone = quarantined = False
            for key in ev.keys:
                kind = key[0]
                if kind == "p":
                    has_phone = True
                elif kind == "t":
                    n = seen_ids[key] = seen_ids.get(key, 0) + 1
                    if n == 2:
                        self.recurring += 1
                if nodes[key].status != OK:
                    quarantined = True
            if quarantined:
                self.near_q += 1
            if has_phone and tp == "WHATSAPP" and ev.name is not None:
                # The phone's own chat, under a name (see `resolver.profile._features`).
                self.verified = True
            if len(eff) >= 2:
                self.corroborating += 1
            if not self.placed and other_account(eff):
                self.placed = True
            if ev.note:
                self.refused += 1
            for key in eff:
                if key[0] == "p":
                    if tp == "KIOSK":
                        self.kiosk_phone = True
                    else:
                        self.other_phone = True
                    break
        if len(sources) != len(self.sources):
            self.sources = tuple(sorted(sources))
        if len(tps) != len(self.tps):
            self.tps = tuple(sorted(tps))
        if evidence:
            # any new piece may move them: a link, a second piece, a key seen again (a lone part
            # becomes a record of its own: `weak_bridges`)
            self.bridges = None
        if named:
            self.named = self.tokens = None
        self.cached = None

    def profile(self, customer_id: str, cust: Customer) -> Profile:
        """The customer's profile (built once per change of the summary)."""
        cached = self.cached
        if cached is not None:
            return cached
        named = self.named
        if named is None:
            named = self.named = _names(self.classes)
        groups, minority, foreign = named
        bridges = self.bridges
        if bridges is None:
            keys, effs = self.keys, self.effs
            bridges = self.bridges = (0, 0) if keys is None or effs is None else weak_bridges(keys, effs)
        unnamed = 0
        if self.letters and self.classes:
            tokens = self.tokens
            if tokens is None:
                tokens = self.tokens = name_tokens(self.classes)
            for letters in self.letters:
                if tokens and not any(t in letters for t in tokens):
                    unnamed += 1
        tally = self.tally
        value, reasons = _score(
            (
                tally.count,
                cust.phones,
                cust.emails,
                groups,
                minority,
                self.verified,
                self.corroborating,
                bridges[0],
                self.near_q,
                self.refused,
                self.shared,
                self.kiosk_phone and not self.other_phone,
                self.near,
                recurring_accounts(self.seen_ids) if self.recurring else 0,
                unnamed,
                self.placed,
                bridges[1],
                foreign,
                not self.linked,
                len(self.phones),
                len(self.emails),
            )
        )
        cached = self.cached = profile_of(
            customer_id,
            self.phones,
            self.emails,
            self.sources,
            tally.name(),
            tally.first,
            tally.last,
            tally.count,
            self.tps,
            value,
            reasons,
        )
        return cached


def see_again(g: Graph, customer_id: str, name: str | None, at: int) -> None:
    """Bring a memoised summary up to date with one more interaction of its known evidence."""
    summary: Summary | None = g.profiles.get(customer_id)
    if summary is not None:
        summary.tally.see(name, at)
        summary.cached = None


def joined(g: Graph, customer_id: str, ev: Evidence) -> None:
    """Add new evidence to a memoised summary.

    Only for evidence now anchored in the customer whose effective keys were all its own
    already: no identifier joined, none left, no status changed (`resolver.linking`).
    """
    summary: Summary | None = g.profiles.get(customer_id)
    if summary is not None:
        summary.extend(g, [ev])


def _evidence(g: Graph, cust: Customer) -> list[Evidence]:
    """The evidence anchored in a customer, in no particular order (`Graph.customer_evidence`, unsorted)."""
    out: list[Evidence] = []
    evidence = g.evidence
    nodes = g.nodes
    for key in g.uf.members(cust.root):
        holder = holder_of(key) if PERSON in key else key
        for vid in nodes[holder].vids():
            ev = evidence.get(vid)
            if ev is not None and ev.anchor == key:
                out.append(ev)
    return out


def _names(classes: dict[str, int]) -> tuple[int, int, int]:
    """(name groups, evidence outside the largest group, evidence whose name is not compared:
    `resolver.names.unread`) of name-key weights, as in `resolver.profile._features`."""
    if len(classes) < 2:
        return len(classes), 0, 0
    return _grouped(tuple(sorted(classes.items())))


@lru_cache(maxsize=_MEMO)
def _grouped(weights: tuple[tuple[str, int], ...]) -> tuple[int, int, int]:
    """`_names` of two or more name keys, memoised: a pure function of the weights."""
    counts = dict(weights)
    label = name_groups(counts)
    totals: dict[str, int] = {}
    for cls, n in weights:
        totals[label[cls]] = totals.get(label[cls], 0) + n
    main = min(totals, key=lambda grp: (-totals[grp], grp))
    return len(totals), sum(n for grp, n in totals.items() if grp != main), unread(counts)


#: `Features` in field order.
FeatureKey = tuple[
    int, int, int, int, int, bool, int, int, int, int, bool, bool, int, int, int, bool, int, int, bool, int, int
]


@lru_cache(maxsize=_MEMO)
def _score(key: FeatureKey) -> tuple[float, tuple[str, ...]]:
    """`resolver.confidence.score` of `Features(*key)`, memoised: a pure function of few distinct values."""
    return score(Features(*key))


def clear_memos() -> None:
    """Empty the memos of name groups and scores (pure functions of their keys; `resolver.compaction`)."""
    _grouped.cache_clear()
    _score.cache_clear()


#: (name groups, evidence outside the largest group) of name-key weights, memoised (`resolver.effects`).
grouped_names = _names
#: `resolver.confidence.score` of `Features(*key)`, memoised (`resolver.effects`).
scored = _score
