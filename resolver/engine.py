"""The identity resolver: events in, stable customers out, with evidence for every decision.

Model
-----
Nodes are identifier keys (see `resolver.identifiers`): ``p:`` phones, ``e:`` emails, ``t:``
touchpoint identities, plus ``x:<event_id>`` for an event with nothing linkable. An event
links its *effective* keys together; a customer is a set of nodes joined by those links, and
every event belongs to the customer of its anchor (its highest-priority effective key:
phone, then email, then touchpoint identity).

The partition is a pure function of the SET of events (plus operator actions), which is what
makes any order of the same events give the same customers:

1. Node status is a set function. A key seen with more than ``hub_threshold`` distinct people
   (distinct names, emails, phones: ``hub_signals``) is *quarantined*: it stops linking and
   the merges made through it are recomputed away. Operators can *block* or *cut* keys.
2. Household rule (chosen and measured): a phone is *shared* when two of its events carry
   different emails AND dissimilar names (`resolver.names`). A shared phone then no longer
   links events that carry an email, so each person keeps their own customer, while
   events with only the phone still attach to it. When the phone is also split by names
   (per-person groups, `_name_groups`), an email event whose name belongs to one person's group links that person's
   part of the phone instead. One person with two emails and one name (or a typo of it)
   is not affected. Households where one member never gives an email or
   name cannot be told apart and stay merged (their confidence shows the name conflict).
3. Raw components are the connected components of the effective links. A raw component
   that fits the limits (``max_phones``, ``max_emails``, split barriers) is one customer.
   Otherwise it is resolved greedily in canonical order (``occurred_at``, ``event_id``), each
   refused link recorded on its event with the reason.
4. Near phones (`resolver.near`): two phones one digit apart (substituted or swapped) whose
   events carry strongly agreeing names and no conflicting emails are joined by a weaker
   ``near-phone`` link between the two phone nodes. Whether the link holds is a function of
   the two phones' events, re-evaluated whenever either gains an event; it is recorded in
   explanations and lowers the confidence a little.

Incrementally, an event that joins customers within the limits is a plain union; anything
else (a new hub, a shared phone, a limit, a split barrier, a near link appearing or going)
recomputes the affected raw component from the stored evidence (`_reresolve`).

Ids: a new customer's id is derived from the hash of its first event id. The survivor of a
merge is the customer with the oldest ``first_seen`` (ties: smallest id); recomputation
keeps each old id on the part holding its oldest event. Ids disappear only by absorption
(or erasure).

Persistence: every piece of state is a record ``key -> compact JSON``; `drain_changes`
returns the records changed since the last drain (O(changes)), `Resolver.restore` rebuilds
an identical resolver from the union of all drained records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from resolver.confidence import Features, score
from resolver.config import ResolverConfig
from resolver.identifiers import IdentifierParser, kind_of, mask, touchpoint_key
from resolver.interaction import Interaction
from resolver.jsontext import loads
from resolver.names import name_class, name_parts, names_similar
from resolver.near import NEAR_RULE, NearIndex, near_allowed
from resolver.unionfind import DisjointSet

__all__ = ["Explanation", "Ingested", "Lookup", "Outcome", "Profile", "Resolver", "customer_id_for"]

#: What `Resolver.ingest` did with an event.
Ingested = Literal["applied", "duplicate", "suppressed"]

_OK = "ok"
#: Profiles memoised at most (the memo is cleared when full, so memory stays flat).
_PROFILE_MEMO = 100_000
#: Separates a shared phone from the name group of one of its people (``p:+91...#kavita``).
_PERSON = "#"


def _people(sig: list[str]) -> int:
    """The most distinct people any one signal kind shows (names: similar spellings count once)."""
    counts: dict[str, int] = {}
    names: list[str] = []
    for value in sig:
        if value[0] == "n":
            names.append(value[2:])
        else:
            counts[value[0]] = counts.get(value[0], 0) + 1
    best = max(counts.values(), default=0)
    if len(names) > best:
        best = max(best, len(set(_similarity_groups(names).values())))
    return best


def _similarity_groups(classes: list[str]) -> dict[str, str]:
    """Name class -> the smallest class of its group (similarity, transitively): order-free."""
    classes = sorted(classes)
    label = {c: c for c in classes}
    for i, a in enumerate(classes):
        for b in classes[i + 1 :]:
            if label[a] != label[b] and names_similar(a, b):
                old, new = max(label[a], label[b]), min(label[a], label[b])
                for c in classes:
                    if label[c] == old:
                        label[c] = new
    return label


def _name_groups(key: str, names: dict[str, int]) -> dict[str, str] | None:
    """How a phone is split between people with different names; None when it is not.

    Name classes are grouped by similarity (transitively, so the grouping is a function of
    the set of classes). Groups seen on at least two events are solid; with two or more solid
    groups the phone is shared: the largest group (ties: smallest class) keeps the phone key,
    every other solid group links ``key#<its smallest class>`` instead. Classes outside the
    solid groups are not in the mapping: their events are ambiguous (see `Resolver._eff`).
    """
    if len(names) < 2:
        return None  # one name class is one group: never shared
    classes = sorted(names)
    label = _similarity_groups(classes)
    totals: dict[str, int] = {}
    for c in classes:
        totals[label[c]] = totals.get(label[c], 0) + names[c]
    solid = sorted((g for g, n in totals.items() if n >= 2), key=lambda g: (-totals[g], g))
    if len(solid) < 2:
        return None
    return {c: key if label[c] == solid[0] else f"{key}{_PERSON}{label[c]}" for c in classes if label[c] in solid}


def customer_id_for(event_id: str, salt: int = 0) -> str:
    """The deterministic id of a customer created by `event_id` (``salt`` resolves collisions)."""
    text = event_id if salt == 0 else f"{event_id}#{salt}"
    return "c_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _digest(text: str) -> str:
    return hashlib.sha256(("irl-suppress:" + text).encode("utf-8")).hexdigest()[:32]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one step did. `notes` are masked (no raw PII)."""

    event_id: str | None
    duplicate: bool = False
    suppressed: bool = False
    customer_id: str | None = None
    touched: tuple[str, ...] = ()
    absorbed: tuple[tuple[str, str], ...] = ()
    created: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


# The frozen dataclass __init__ sets each field through object.__setattr__ (~2 us); the one
# outcome built for almost every event is filled through its slot descriptors instead.
_NEW = object.__new__
_SET_EID, _SET_DUP, _SET_SUP, _SET_CID, _SET_TOUCHED, _SET_ABSORBED, _SET_CREATED, _SET_NOTES = (
    Outcome.__dict__[name].__set__
    for name in ("event_id", "duplicate", "suppressed", "customer_id", "touched", "absorbed", "created", "notes")
)


def _touched_one(eid: str, cid: str, created: tuple[str, ...] = ()) -> Outcome:
    """``Outcome(eid, customer_id=cid, touched=(cid,), created=created)``, built faster (equal in every way)."""
    out: Outcome = _NEW(Outcome)
    _SET_EID(out, eid)
    _SET_DUP(out, False)
    _SET_SUP(out, False)
    _SET_CID(out, cid)
    _SET_TOUCHED(out, (cid,))
    _SET_ABSORBED(out, ())
    _SET_CREATED(out, created)
    _SET_NOTES(out, ())
    return out


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


@dataclass(frozen=True, slots=True)
class Lookup:
    """Where a raw identifier leads: a customer id, or why none (invalid, junk, quarantined...)."""

    kind: str
    key: str | None
    status: str  # "linked" | "invalid" | "junk" | "unknown" | "quarantined" | "blocked" | "cut" | "shared"
    customer_id: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "status": self.status,
            "customer_id": self.customer_id,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """The evidence graph of one customer: identifier nodes, event edges, refusals."""

    customer_id: str
    nodes: tuple[dict[str, Any], ...] = ()
    edges: tuple[dict[str, Any], ...] = ()
    events: tuple[str, ...] = ()
    absorbed_ids: tuple[str, ...] = ()
    found: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "found": self.found,
            "nodes": list(self.nodes),
            "edges": list(self.edges),
            "events": list(self.events),
            "absorbed_ids": list(self.absorbed_ids),
        }


class _Event:
    __slots__ = ("anchor", "at", "cut", "eid", "keys", "name", "note", "rejected", "src", "tp")

    def __init__(
        self,
        eid: str,
        at: int,
        tp: str,
        src: str,
        name: str | None,
        keys: tuple[str, ...],
        rejected: tuple[str, ...],
    ) -> None:
        self.eid = eid
        self.at = at
        self.tp = tp
        self.src = src
        self.name = name
        self.keys = keys
        self.rejected = rejected
        self.anchor = ""
        self.cut = False
        self.note: str | None = None

    def record(self) -> list[Any]:
        return [
            self.at,
            self.tp,
            self.src,
            self.name,
            list(self.keys),
            list(self.rejected),
            self.anchor,
            int(self.cut),
            self.note,
        ]


class _Node:
    __slots__ = ("bars", "events", "groups", "names", "near", "pairs", "shared", "sig", "status")

    def __init__(self) -> None:
        self.status = _OK
        self.events: list[str] = []
        self.sig: list[str] | None = []
        self.pairs: list[tuple[str, str]] | None = None
        self.shared = False
        self.bars: tuple[tuple[int, int], ...] = ()
        # Phones only: events per name class, and (when people with different names share the
        # phone) name class -> the per-person phone key its events link instead.
        self.names: dict[str, int] | None = None
        self.groups: dict[str, str] | None = None
        # Phones only: phone keys one digit away -> whether the near link holds now.
        self.near: dict[str, bool] | None = None

    def record(self, key: str, parent: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"k": key}
        if self.status != _OK:
            out["s"] = self.status
        if parent is not None:
            out["p"] = parent
        if self.sig:
            out["g"] = list(self.sig)
        if self.pairs:
            out["h"] = [list(p) for p in self.pairs]
        if self.shared:
            out["sh"] = 1
        if self.names:
            out["nm"] = sorted([c, n] for c, n in self.names.items())
        if self.bars:
            out["b"] = [list(b) for b in self.bars]
        if self.near:
            out["nr"] = sorted([k, int(v)] for k, v in self.near.items())
        return out


class _Customer:
    __slots__ = ("bars", "cid", "constrained", "emails", "first", "phones", "root")

    def __init__(self, cid: str, root: str, first: int) -> None:
        self.cid = cid
        self.root = root
        self.first = first
        self.phones = 0
        self.emails = 0
        self.bars: dict[int, int] = {}
        self.constrained = False

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"r": self.root, "f": self.first, "np": self.phones, "ne": self.emails}
        if self.bars:
            out["b"] = sorted([k, v] for k, v in self.bars.items())
        if self.constrained:
            out["k"] = 1
        return out


class _Step:
    """What one step changed (a plain slots class: built once per event, so kept cheap)."""

    __slots__ = ("absorbed", "created", "notes", "touched")

    def __init__(self) -> None:
        self.touched: set[str] = set()
        self.absorbed: dict[str, str] = {}
        self.created: list[str] = []
        self.notes: list[str] = []


class Resolver:
    """Streaming identity resolution over `Interaction` events. Pure: no I/O, no clock."""

    def __init__(self, config: ResolverConfig | None = None, *, track_changes: bool = True) -> None:
        self.config = config if config is not None else ResolverConfig()
        self._parser = IdentifierParser(self.config)
        self._events: dict[str, _Event] = {}
        self._nodes: dict[str, _Node] = {}
        self._uf = DisjointSet()
        self._cust: dict[str, _Customer] = {}
        self._by_root: dict[str, str] = {}
        self._absorbed: dict[str, str] = {}
        self._erased: set[str] = set()
        self._suppressed: set[str] = set()
        self._split_seq = 0
        self._names: dict[str, str] = {}
        self._name_cache: dict[str, str | None] = {}
        self._name_values: dict[str, str] = {}
        self._signals = frozenset(s[0] if s != "touchpoint" else "t" for s in self.config.hub_signals)
        self._track = track_changes
        self._dirty: set[str] = set()
        self._regroup: dict[str, dict[str, str] | None] = {}
        self._near = self.config.near_phones
        self._household = self.config.household_rule
        self._parts_cache: dict[str, tuple[str, str | None] | None] = {}
        self._profiles: dict[str, Profile] = {}
        self._near_index = NearIndex()
        self._near_memo: dict[tuple[str, str], tuple[tuple[int, int], bool]] = {}
        self.merges = 0

    # ------------------------------------------------------------------ ingest

    def apply(self, event: Interaction) -> Outcome:
        """Resolve one event. Idempotent per event_id; a suppressed (erased) person is dropped."""
        eid = event.event_id
        known = self._events.get(eid)
        if known is not None:
            return Outcome(eid, duplicate=True, customer_id=self._customer_of(known))
        step = self._add(
            eid, event.touchpoint, event.occurred_at, event.source_id, event.phone, event.email, event.name
        )
        if step is None:
            return Outcome(eid, suppressed=True)
        return self._outcome(eid, step)

    def ingest(
        self,
        event_id: str,
        touchpoint: str,
        occurred_at: int,
        source_id: str,
        phone: str | None,
        email: str | None,
        name: str | None,
    ) -> Ingested:
        """`apply` for callers that only count (offline replay): the same state change, no `Outcome`.

        Takes the fields of a valid event (`resolver.interaction.Fields`); returns whether the
        event was applied, a duplicate, or suppressed.
        """
        if event_id in self._events:
            return "duplicate"
        step = self._add(event_id, touchpoint, occurred_at, source_id, phone, email, name)
        if step is None:
            return "suppressed"
        if self._profiles:
            self._forget_profiles(step)
        return "applied"

    def _add(
        self,
        eid: str,
        touchpoint: str,
        at: int,
        source_id: str,
        phone: str | None,
        email: str | None,
        name: str | None,
    ) -> _Step | None:
        """Add a new event (not held yet) and resolve it; None when it is suppressed."""
        keys, rejected = self._parser.extract_fields(touchpoint, source_id, phone, email)
        if self._suppressed and (
            _digest("ev:" + eid) in self._suppressed or any(_digest(k) in self._suppressed for k in keys)
        ):
            return None
        name = (name.strip() or None) if name else None
        ev = _Event(eid, at, touchpoint, source_id.strip(), name, keys, rejected)
        self._events[eid] = ev
        step = _Step()
        nodes = self._nodes
        track = self._track
        cls = self._class_of(name) if name is not None else None
        pending: list[tuple[str, str]] = []
        new_keys: list[str] = []
        signals = self._signals
        values = [k for k in keys if k[0] in signals]
        if cls is not None and "n" in signals:
            values.append(self._name_values.get(cls) or self._name_values.setdefault(cls, "n:" + cls))
        near_check = False
        for key in keys:
            node = nodes.get(key)
            if node is None:
                node = nodes[key] = _Node()
                self._uf.add(key)
                new_keys.append(key)
                if track:
                    self._dirty.add("n/" + key)
                if key[0] == "p":
                    near_check = True
            elif node.near:
                near_check = True
            node.events.append(eid)
            if node.status == _OK:
                change = self._observe(key, node, ev, cls, values)
                if change is not None:
                    pending.append((key, change))
        # Near candidates of a new phone are found whatever else happens (the lookup is symmetric).
        near_flip = near_check and self._near and self._near_changed(keys, new_keys)
        if pending:
            seeds = [k for k in keys if nodes[k].status == _OK]
            events = self._raw_events(seeds)
            events.add(eid)
            for key, change in pending:
                self._set_status(key, change, step)
            self._reresolve(self._closure(events), step)
        elif near_flip:
            events = self._raw_events([k for k in keys if nodes[k].status == _OK])
            events.add(eid)
            self._reresolve(self._closure(events), step)
        else:
            self._link(ev, new_keys, step)
        if track:
            self._dirty.add("e/" + eid)
        return step

    # ------------------------------------------------------------------ near phones

    def _near_changed(self, keys: tuple[str, ...], new_keys: list[str]) -> bool:
        """Find near candidates of new phones; True when a near link of these phones must flip."""
        nodes = self._nodes
        changed = False
        for key in keys:
            if key[0] != "p":
                continue
            node = nodes[key]
            if new_keys and key in new_keys:
                found = self._near_index.near(key)
                self._near_index.add(key)
                for other in found:
                    partner = nodes.get(other)
                    if partner is not None:
                        if node.near is None:
                            node.near = {}
                        node.near[other] = False
                        if partner.near is None:
                            partner.near = {}
                        partner.near[key] = False
                        if self._track:
                            self._dirty.add("n/" + key)
                        if self._track:
                            self._dirty.add("n/" + other)
            near = node.near
            if near:
                for other, used in near.items():
                    if self._near_holds(key, other) != used:
                        changed = True
        return changed

    def _near_holds(self, a: str, b: str) -> bool:
        """Whether the near link between phones `a` and `b` holds (a function of their events)."""
        na, nb = self._nodes.get(a), self._nodes.get(b)
        if na is None or nb is None:
            return False
        for node in (na, nb):
            if node.status != _OK or node.shared or node.groups is not None:
                return False
        # The answer depends only on the two phones' events, which are only ever appended
        # (erase clears this memo): equal event counts mean an equal answer.
        pair = (a, b) if a < b else (b, a)
        counts = (len(na.events), len(nb.events)) if a < b else (len(nb.events), len(na.events))
        memo = self._near_memo.get(pair)
        if memo is not None and memo[0] == counts:
            return memo[1]
        names_a, emails_a = self._near_side(na)
        names_b, emails_b = self._near_side(nb)
        holds = near_allowed(names_a, names_b, emails_a, emails_b)
        self._near_memo[pair] = (counts, holds)
        return holds

    def _near_side(self, node: _Node) -> tuple[list[tuple[str, str | None]], set[str]]:
        names: list[tuple[str, str | None]] = []
        emails: set[str] = set()
        cache = self._parts_cache
        for eid in node.events:
            ev = self._events.get(eid)
            if ev is None:
                continue
            if ev.name is not None:
                parts = cache.get(ev.name)
                if parts is None and ev.name not in cache:
                    if len(cache) >= 200_000:
                        cache.clear()
                    parts = cache[ev.name] = name_parts(ev.name)
                if parts is not None:
                    names.append(parts)
            for key in ev.keys:
                if key[0] == "e":
                    emails.add(key)
        return names, emails

    def _near_links(self, members: Iterable[str]) -> list[tuple[str, str]]:
        """The near links in force between `members` (each pair once, sorted)."""
        inside = set(members)
        out: list[tuple[str, str]] = []
        for key in sorted(inside):
            near = self._nodes[key].near if key in self._nodes else None
            if near:
                out.extend((key, o) for o, used in sorted(near.items()) if used and key < o and o in inside)
        return out

    def _link(self, ev: _Event, new_keys: list[str], step: _Step) -> None:
        eff = self._eff(ev)
        uf = self._uf
        by_root = self._by_root
        anchor = eff[0]
        for key in eff:
            if key[0] == "x" or _PERSON in key:
                self._ensure_pseudo(key)
        roots = uf.roots_of(eff)
        if len(roots) == 1 and not new_keys:
            cid = by_root.get(roots[0])
            if cid is not None:
                # The common case: an event that only re-sees one customer's identifiers.
                ev.anchor = anchor
                cust = self._cust[cid]
                if ev.at < cust.first:
                    cust.first = ev.at
                    if self._track:
                        self._dirty.add("c/" + cid)
                step.touched.add(cid)
                return
        custs: list[_Customer] = []
        fresh: list[str] = []
        constrained = False
        for r in roots:
            held = by_root.get(r)
            if held is None:
                fresh.append(r)
            else:
                cust = self._cust[held]
                custs.append(cust)
                constrained = constrained or cust.constrained
        if constrained or not self._fits(custs, fresh):
            events = self._raw_events([k for k in eff if not k.startswith("x:")])
            events.add(ev.eid)
            self._reresolve(events, step)
            return
        ev.anchor = anchor
        if not custs:
            self._ensure_pseudo(anchor)
            root = anchor
            for key in eff[1:]:
                root = self._union(root, key)
            cid = self._new_id(ev.eid)
            cust = _Customer(cid, root, ev.at)
            self._count_into(cust, eff)
            self._cust[cid] = cust
            by_root[root] = cid
            if self._track:
                self._dirty.add("c/" + cid)
            step.created.append(cid)
            step.touched.add(cid)
            return
        survivor = custs[0] if len(custs) == 1 else min(custs, key=lambda c: (c.first, c.cid))
        for c in custs:
            if c is not survivor:
                self._absorb(c, survivor, step)
        root = survivor.root
        for r in roots:
            root = self._union(root, r)
        for r in fresh:
            self._count_into(survivor, [r])
            for bar in self._nodes[r].bars:
                survivor.bars[bar[0]] = bar[1]
        if root != survivor.root:
            del by_root[survivor.root]
            survivor.root = root
        by_root[root] = survivor.cid
        survivor.first = min(survivor.first, ev.at)
        if self._track:
            self._dirty.add("c/" + survivor.cid)
        step.touched.add(survivor.cid)

    def _absorb(self, gone: _Customer, survivor: _Customer, step: _Step) -> None:
        del self._cust[gone.cid]
        del self._by_root[gone.root]
        self._absorbed[gone.cid] = survivor.cid
        survivor.phones += gone.phones
        survivor.emails += gone.emails
        survivor.bars.update(gone.bars)
        survivor.first = min(survivor.first, gone.first)
        step.absorbed[gone.cid] = survivor.cid
        step.touched.discard(gone.cid)
        self.merges += 1
        if self._track:
            self._dirty.add("c/" + gone.cid)
        if self._track:
            self._dirty.add("a/" + gone.cid)

    def _union(self, a: str, b: str) -> str:
        root, gone = self._uf.union(a, b)
        if gone is not None and self._track:
            self._dirty.add("n/" + gone)
        return root

    def _count_into(self, cust: _Customer, keys: Iterable[str]) -> None:
        for key in keys:
            if key[0] == "p":
                cust.phones += 1
            elif key[0] == "e":
                cust.emails += 1

    def _fits(self, custs: list[_Customer], fresh: list[str]) -> bool:
        """True when joining these customers and fresh roots respects limits and barriers."""
        phones = emails = 0
        bars: dict[int, int] = {}
        for c in custs:
            phones += c.phones
            emails += c.emails
            for k, v in c.bars.items():
                if bars.setdefault(k, v) != v:
                    return False
        nodes = self._nodes
        for r in fresh:
            if r[0] == "p":
                phones += 1
            elif r[0] == "e":
                emails += 1
            for k, v in nodes[r].bars:
                if bars.setdefault(k, v) != v:
                    return False
        return phones <= self.config.max_phones and emails <= self.config.max_emails

    def _observe(self, key: str, node: _Node, ev: _Event, cls: str | None, values: list[str]) -> str | None:
        """Record what this event says about `key`; return "quarantined"/"shared" on a change.

        `values` are the event's hub signals (``n:<name class>`` and co-occurring keys).
        """
        sig = node.sig
        if sig is not None:
            added = False
            for value in values:
                if value != key and value not in sig:
                    sig.append(value)
                    added = True
            if added:
                if self._track:
                    self._dirty.add("n/" + key)
                limit = self.config.hub_threshold
                if len(sig) > limit and _people(sig) > limit:
                    return "quarantined"
        if key[0] != "p" or cls is None or not self._household:
            return None
        regroup = self._observe_name(key, node, cls)
        if not node.shared:
            email = None
            for k in ev.keys:
                if k[0] == "e":
                    email = k
                    break
            if email is not None:
                pairs = node.pairs
                if pairs is None:
                    pairs = node.pairs = []
                pair = (email, cls)
                if pair not in pairs:
                    conflict = False
                    for e, n in pairs:  # a loop, not any(): no generator per visit
                        if e != email and not names_similar(n, cls):
                            conflict = True
                            break
                    pairs.append(pair)
                    if self._track:
                        self._dirty.add("n/" + key)
                    if conflict:
                        return "shared"
        return "regroup" if regroup else None

    def _observe_name(self, key: str, node: _Node, cls: str) -> bool:
        """Count `cls` on phone `key`; True when the per-person split of the phone changes."""
        names = node.names
        if names is None:
            names = node.names = {}
        count = names[cls] = names.get(cls, 0) + 1
        if self._track:
            self._dirty.add("n/" + key)
        # Only a new class, a class becoming solid, or a shift of counts on an already split
        # phone can change the grouping; the common repeat visit skips the recomputation.
        if len(names) < 2 or (count > 2 and node.groups is None):
            return False
        groups = _name_groups(key, names)
        if groups == node.groups:
            return False
        self._regroup[key] = groups
        return True

    def _set_status(self, key: str, change: str, step: _Step) -> None:
        # A status shows on every customer holding an event with this key: drop all profiles.
        self._profiles.clear()
        node = self._nodes[key]
        if key in self._regroup:
            # Whatever else changed, a new per-person split of the phone applies too.
            node.groups = self._regroup.pop(key)
            if node.groups is not None:
                step.notes.append(f"household: phone {mask(key)} is used by people with different names")
        if change == "regroup":
            pass
        elif change == "shared":
            node.shared = True
            node.pairs = None
            step.notes.append(f"household: phone {mask(key)} is shared; its email links are kept apart")
        else:
            node.status = change
            node.sig = None
            node.pairs = None
            step.notes.append(f"{change}: {kind_of(key)} {mask(key)} stops linking")
        self._mark("n/" + key)

    def _class_of(self, name: str | None) -> str | None:
        """Name class, cached: most names repeat, and folding them is the costly part."""
        if name is None:
            return None
        cache = self._name_cache
        if name in cache:
            return cache[name]
        if len(cache) >= 200_000:
            cache.clear()
        value = cache[name] = self._intern(name_class(name))
        return value

    def _intern(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._names.setdefault(value, value)

    # ------------------------------------------------------------------ graph

    def _eff(self, ev: _Event) -> list[str]:
        """The keys this event links now (non-empty: a lone event gets its own ``x:`` key)."""
        nodes = self._nodes
        keys = ev.keys
        for key in keys:
            node = nodes[key]
            if node.status != _OK or node.shared or node.groups is not None:
                break
        else:
            # Every key links plainly (the common case): the rules below keep them all.
            if not keys:
                return ["x:" + ev.eid]
            return [keys[0]] if ev.cut else list(keys)
        out: list[str] = []
        has_email = False
        for key in ev.keys:
            if key[0] == "e" and nodes[key].status == _OK:
                has_email = True
                break
        ambiguous: str | None = None
        for key in ev.keys:
            node = nodes[key]
            groups = node.groups
            if node.status != _OK or (node.shared and has_email and groups is None):
                continue
            if groups is not None:
                # A phone shared by people with different names: each name group links its own
                # key (so an email event of a shared phone joins its own person's part); an
                # event without a known name links it only when it has nothing else.
                person = groups.get(self._class_of(ev.name) or "") if ev.name is not None else None
                if person is None:
                    if not (node.shared and has_email):
                        ambiguous = key
                    continue
                key = person
            out.append(key)
            if ev.cut:
                break
        if not out:
            out.append(ambiguous or "x:" + ev.eid)
        return out

    def _ensure_pseudo(self, key: str) -> None:
        """Create the node of a lone event (``x:``) or of one person on a shared phone (``p:..#``)."""
        if (key[0] == "x" or _PERSON in key) and key not in self._nodes:
            node = self._nodes[key] = _Node()
            node.sig = None
            if key[0] == "x":
                node.events.append(key[2:])
            self._uf.add(key)
            self._mark("n/" + key)

    def _raw_events(self, seeds: Iterable[str]) -> set[str]:
        """All events of the raw components (current links, any customer) of the seed keys."""
        seen_nodes: set[str] = set()
        seen_events: set[str] = set()
        stack: list[str] = []
        for seed in seeds:
            if seed in self._nodes and seed not in seen_nodes:
                seen_nodes.add(seed)
                stack.append(seed)
        while stack:
            key = stack.pop()
            node = self._nodes[key]
            if node.status != _OK:
                continue
            if _PERSON in key and key[0] == "p":
                # One person's part of a shared phone: its events are those of the phone.
                base = key.partition(_PERSON)[0]
                if base not in seen_nodes and base in self._nodes:
                    seen_nodes.add(base)
                    stack.append(base)
            if node.near:
                # Near candidates belong to the component whether or not their link holds now.
                for other in node.near:
                    if other not in seen_nodes and other in self._nodes:
                        seen_nodes.add(other)
                        stack.append(other)
            # Members of the customer are part of the component even if refused links hide them.
            root = self._uf.find(key)
            if root in self._by_root:
                for member in self._uf.members(root):
                    if member not in seen_nodes:
                        seen_nodes.add(member)
                        stack.append(member)
            for eid in node.events:
                if eid in seen_events:
                    continue
                ev = self._events.get(eid)
                if ev is None:
                    continue
                keys = self._eff_all(ev)
                if key not in keys and not key.startswith("x:") and node.groups is None:
                    continue
                seen_events.add(eid)
                for other in keys:
                    if other not in seen_nodes and other in self._nodes:
                        seen_nodes.add(other)
                        stack.append(other)
        return seen_events

    def _closure(self, events: set[str]) -> set[str]:
        """Grow `events` (raw components under the old links) to whole components under the new ones.

        A status change can also ADD links: quarantining an email lets a household phone link
        that email's events again. So after a change we expand until nothing new is reached.
        """
        while True:
            keys = {k for e in events for k in self._events[e].keys}
            more = self._raw_events(sorted(keys))
            if more <= events:
                return events
            events = events | more

    def _eff_all(self, ev: _Event) -> list[str]:
        """Effective keys ignoring a cut event (a cut event still belongs to its raw component)."""
        if not ev.cut:
            return self._eff(ev)
        ev.cut = False
        try:
            return self._eff(ev)
        finally:
            ev.cut = True

    def _reresolve(self, eids: set[str], step: _Step) -> None:
        """Recompute the customers of `eids` (a union of whole raw components) from evidence."""
        events = sorted((self._events[e] for e in eids), key=lambda ev: (ev.at, ev.eid))
        uf = self._uf
        old_cid: dict[str, str] = {}
        old_nodes: set[str] = set()
        seen_roots: set[str] = set()
        for ev in events:
            if ev.anchor and ev.anchor in uf:
                root = uf.find(ev.anchor)
                cid = self._by_root.get(root)
                if cid is not None:
                    old_cid[ev.eid] = cid
                    if root not in seen_roots:
                        seen_roots.add(root)
                        old_nodes.update(uf.members(root))
        homes: dict[str, str] = {}
        for ev in events:
            cid = old_cid.get(ev.eid)
            if cid is not None and cid not in homes:
                homes[cid] = ev.eid
        effs: dict[str, list[str]] = {}
        for ev in events:
            eff = self._eff(ev)
            effs[ev.eid] = eff
            for key in eff:
                self._ensure_pseudo(key)
                old_nodes.add(key)
        near_edges: list[tuple[str, str]] = []
        if self._near:
            near_edges = self._near_refresh(old_nodes, {k for eff in effs.values() for k in eff})
        # Old customers of these events are rebuilt; their ids are reassigned below.
        for cid in sorted(set(old_cid.values())):
            cust = self._cust.pop(cid)
            self._by_root.pop(cust.root, None)
        uf.reset(old_nodes)
        for key in old_nodes:
            self._mark("n/" + key)
        # Raw components (unconditional links), then per component: whole or greedy.
        raw = DisjointSet()
        for ev in events:
            eff = effs[ev.eid]
            raw.add(eff[0])
            for key in eff[1:]:
                raw.add(key)
                raw.union(eff[0], key)
        for a, b in near_edges:
            raw.union(a, b)
        groups: dict[str, list[_Event]] = {}
        for ev in events:
            groups.setdefault(raw.find(effs[ev.eid][0]), []).append(ev)
        near_of: dict[str, list[tuple[str, str]]] = {}
        for a, b in near_edges:
            near_of.setdefault(raw.find(a), []).append((a, b))
        parts: dict[str, list[_Event]] = {}
        constrained: set[str] = set()
        for group_root, members in groups.items():
            keys = {k for ev in members for k in effs[ev.eid]}
            whole = self._group_fits(keys)
            roots_before: set[str] = set()
            for ev in members:
                eff = effs[ev.eid]
                note: str | None = None
                if whole:
                    for key in eff[1:]:
                        uf.union(eff[0], key)
                else:
                    for key in eff[1:]:
                        reason = self._refusal(eff[0], key)
                        if reason is None:
                            uf.union(eff[0], key)
                        else:
                            note = f"refused {kind_of(key)} link: {reason}"
                if ev.anchor != eff[0] or ev.note != note:
                    ev.anchor = eff[0]
                    ev.note = note
                    self._mark("e/" + ev.eid)
                if note is not None:
                    step.notes.append(f"event {ev.eid}: {note}")
            # Near links are the weakest evidence: applied last, so a limit refuses them first.
            for a, b in near_of.get(group_root, ()):
                reason = None if whole else self._refusal(a, b)
                if reason is None:
                    uf.union(a, b)
                else:
                    step.notes.append(f"refused near phone link {mask(a)} ~ {mask(b)}: {reason}")
            for ev in members:
                root = uf.find(ev.anchor)
                parts.setdefault(root, []).append(ev)
                roots_before.add(root)
            if len(roots_before) > 1:
                constrained.update(roots_before)
        # Ids: each old id stays with the part holding its oldest event.
        for root in sorted(parts, key=lambda r: (parts[r][0].at, parts[r][0].eid)):
            evs = parts[root]
            inside = {ev.eid for ev in evs}
            claimants = sorted(
                (c for c, home in homes.items() if home in inside),
                key=lambda c: (self._events[homes[c]].at, c),
            )
            if claimants:
                cid = claimants[0]
                for other in claimants[1:]:
                    self._absorbed[other] = cid
                    step.absorbed[other] = cid
                    step.touched.discard(other)
                    self.merges += 1
                    self._mark("a/" + other)
                    self._mark("c/" + other)
            else:
                cid = self._new_id(evs[0].eid)
                step.created.append(cid)
            cust = _Customer(cid, root, evs[0].at)
            part_keys = self._uf.members(root)
            self._count_into(cust, part_keys)
            for key in part_keys:
                for k, v in self._nodes[key].bars:
                    cust.bars[k] = v
            cust.constrained = root in constrained
            self._cust[cid] = cust
            self._by_root[root] = cid
            self._mark("c/" + cid)
            step.touched.add(cid)

    def _near_refresh(self, nodes: set[str], linked: set[str]) -> list[tuple[str, str]]:
        """Re-evaluate the near links of `nodes`; return those that hold between `linked` keys."""
        out: list[tuple[str, str]] = []
        for key in sorted(nodes):
            node = self._nodes.get(key)
            near = None if node is None else node.near
            if not near:
                continue
            for other in sorted(near):
                holds = self._near_holds(key, other)
                if near[other] != holds:
                    near[other] = holds
                    self._profiles.clear()
                    self._mark("n/" + key)
                partner = self._nodes.get(other)
                if partner is not None and partner.near is not None and partner.near.get(key) != holds:
                    partner.near[key] = holds
                    self._profiles.clear()
                    self._mark("n/" + other)
                if holds and key < other and key in linked and other in linked:
                    out.append((key, other))
        return out

    def _group_fits(self, keys: set[str]) -> bool:
        phones = sum(1 for k in keys if k[0] == "p")
        emails = sum(1 for k in keys if k[0] == "e")
        if phones > self.config.max_phones or emails > self.config.max_emails:
            return False
        bars: dict[int, int] = {}
        for key in keys:
            for k, v in self._nodes[key].bars:
                if bars.setdefault(k, v) != v:
                    return False
        return True

    def _refusal(self, a: str, b: str) -> str | None:
        """Why joining the sets of `a` and `b` (during greedy recomputation) is refused, or None."""
        ra, rb = self._uf.find(a), self._uf.find(b)
        if ra == rb:
            return None
        keys = self._uf.members(ra) + self._uf.members(rb)
        phones = sum(1 for k in keys if k[0] == "p")
        emails = sum(1 for k in keys if k[0] == "e")
        if phones > self.config.max_phones:
            return f"more than {self.config.max_phones} phones"
        if emails > self.config.max_emails:
            return f"more than {self.config.max_emails} emails"
        bars: dict[int, int] = {}
        for key in keys:
            for k, v in self._nodes[key].bars:
                if bars.setdefault(k, v) != v:
                    return f"kept apart by split {k}"
        return None

    def _new_id(self, eid: str) -> str:
        salt = 0
        while True:
            cid = customer_id_for(eid, salt)
            if cid not in self._cust and cid not in self._absorbed and cid not in self._erased:
                return cid
            salt += 1

    def _customer_of(self, ev: _Event) -> str | None:
        if not ev.anchor or ev.anchor not in self._uf:
            return None
        return self._by_root.get(self._uf.find(ev.anchor))

    def _forget_profiles(self, step: _Step) -> None:
        """Drop the memoised profiles of every customer `step` touched, created or absorbed."""
        memo = self._profiles
        for cid in step.touched:
            memo.pop(cid, None)
        for cid in step.created:
            memo.pop(cid, None)
        for gone, survivor in step.absorbed.items():
            memo.pop(gone, None)
            memo.pop(survivor, None)

    def _outcome(self, eid: str | None, step: _Step) -> Outcome:
        if self._profiles:
            self._forget_profiles(step)
        if eid is not None and not step.absorbed and not step.notes and len(step.touched) == 1:
            # The common case (one customer re-seen, or created by this event), built faster. The
            # event belongs to a customer the step touched, so to the only one.
            created = step.created
            if not created:
                (only,) = step.touched
                return _touched_one(eid, only, ())
            if len(created) == 1 and created[0] in step.touched:
                return _touched_one(eid, created[0], (created[0],))
        live = {c for c in step.touched if c in self._cust}
        customer = None
        if eid is not None and eid in self._events:
            customer = self._customer_of(self._events[eid])
        return Outcome(
            eid,
            customer_id=customer,
            touched=tuple(sorted(live)),
            absorbed=tuple(sorted(step.absorbed.items())),
            created=tuple(sorted(c for c in step.created if c in self._cust)),
            notes=tuple(step.notes),
        )

    def _mark(self, record: str) -> None:
        if self._track:
            self._dirty.add(record)

    # ------------------------------------------------------------------ queries

    def customer_of_event(self, event_id: str) -> str | None:
        """The current customer id of an event (after merges); None if unknown or erased."""
        ev = self._events.get(event_id)
        return None if ev is None else self._customer_of(ev)

    def current_id(self, customer_id: str) -> str | None:
        """Follow the absorbed-into chain to a live id; None when unknown or erased."""
        seen = 0
        cid: str | None = customer_id
        while cid is not None and cid not in self._cust:
            cid = self._absorbed.get(cid)
            seen += 1
            if seen > 10_000:
                return None
        return cid

    def customer_ids(self) -> list[str]:
        return sorted(self._cust)

    def event_ids(self) -> list[str]:
        """Ids of the events held (not erased, not suppressed), sorted."""
        return sorted(self._events)

    def quarantined(self) -> list[str]:
        """Masked keys of quarantined (hub) and blocked identifiers, sorted by key."""
        return [
            f"{node.status}:{kind_of(k)}:{mask(k)}"
            for k, node in sorted(self._nodes.items())
            if node.status in ("quarantined", "blocked")
        ]

    def quarantined_keys(self) -> list[str]:
        """The raw keys behind `quarantined()` (for operators; contains PII)."""
        return sorted(k for k, node in self._nodes.items() if node.status in ("quarantined", "blocked"))

    def stats(self) -> dict[str, int]:
        return {
            "events": len(self._events),
            "identifiers": len(self._nodes),
            "customers": len(self._cust),
            "merges": self.merges,
            "quarantined": sum(1 for n in self._nodes.values() if n.status == "quarantined"),
            "shared_phones": sum(1 for n in self._nodes.values() if n.shared),
        }

    def _customer_events(self, cust: _Customer) -> list[_Event]:
        out: list[_Event] = []
        for key in self._uf.members(cust.root):
            holder = key.partition(_PERSON)[0] if key[0] == "p" else key
            for eid in self._nodes[holder].events:
                ev = self._events.get(eid)
                if ev is not None and ev.anchor == key:
                    out.append(ev)
        out.sort(key=lambda ev: (ev.at, ev.eid))
        return out

    def profile(self, customer_id: str, *, memo: bool = True) -> Profile | None:
        """The profile of a live customer id (None for absorbed, erased or unknown ids).

        Memoised per customer (``memo=False`` neither reads nor fills the memo, for one-off
        sweeps). The memo is dropped for every customer a step touches, creates or absorbs,
        and entirely on any status change (hub, household, block, split, erase, near link),
        so a memoised profile always equals a fresh one.
        """
        cust = self._cust.get(customer_id)
        if cust is None:
            return None
        if not memo:
            return self._build_profile(customer_id, cust)
        hit = self._profiles.get(customer_id)
        if hit is None:
            if len(self._profiles) >= _PROFILE_MEMO:
                self._profiles.clear()
            hit = self._profiles[customer_id] = self._build_profile(customer_id, cust)
        return hit

    def _build_profile(self, customer_id: str, cust: _Customer) -> Profile:
        members = self._uf.members(cust.root)
        events = self._customer_events(cust)
        phones = sorted({k[2:].partition(_PERSON)[0] for k in members if k[0] == "p"})
        emails = sorted(k[2:] for k in members if k[0] == "e")
        sources = sorted({(ev.tp, ev.src) for ev in events})
        names: dict[str, list[int]] = {}
        for ev in events:
            if ev.name:
                entry = names.setdefault(ev.name, [0, 0])
                entry[0] += 1
                entry[1] = max(entry[1], ev.at)
        name = min(names, key=lambda n: (-names[n][0], -names[n][1], n)) if names else None
        value, reasons = score(self._features(cust, members, events))
        return Profile(
            customer_id=customer_id,
            phones=tuple(phones),
            emails=tuple(emails),
            source_ids=tuple(sources),
            name=name,
            first_seen=events[0].at if events else None,
            last_seen=max(ev.at for ev in events) if events else None,
            event_count=len(events),
            touchpoints=tuple(sorted({ev.tp for ev in events})),
            confidence=value,
            confidence_reasons=reasons,
        )

    def _features(self, cust: _Customer, members: list[str], events: list[_Event]) -> Features:
        nodes = self._nodes
        effs: list[list[str]] = []
        counts: dict[str, int] = {}
        verified = False
        corroborating = near_q = refused = 0
        phone_sources: set[str] = set()
        # One pass over the events: this runs for every changed customer.
        for ev in events:
            eff = self._eff(ev)
            effs.append(eff)
            if ev.name is not None:
                cls = self._class_of(ev.name)
                if cls is not None:
                    counts[cls] = counts.get(cls, 0) + 1
            carries_phone = False
            for k in ev.keys:
                if k[0] == "p":
                    carries_phone = True
                if nodes[k].status != _OK:
                    near_q += 1
                    break
            if not verified and ev.tp == "WHATSAPP" and (carries_phone or any(k[0] == "p" for k in ev.keys)):
                verified = True
            if len(eff) >= 2:
                corroborating += 1
            if ev.note:
                refused += 1
            if eff[0][0] == "p" or any(k[0] == "p" for k in eff):
                phone_sources.add(ev.tp)
        groups: list[list[str]] = []
        # Initials last: "A." fits "Arjun" and "Anil" alike, so it must not bridge them.
        for cls in sorted(counts, key=lambda c: (len(c) == 1, -counts[c], c)):
            for group in groups:
                if any(names_similar(cls, other) for other in group):
                    group.append(cls)
                    break
            else:
                groups.append([cls])
        minority = sum(counts[c] for g in groups[1:] for c in g)
        shared = any(nodes[k].shared for k in members if k[0] == "p")
        kiosk_only = phone_sources == {"KIOSK"}
        strong = sum(1 for k in members if k[0] in "pe")
        near = len(self._near_links(members)) if self._near and any(nodes[k].near for k in members) else 0
        return Features(
            events=len(events),
            phones=cust.phones,
            emails=cust.emails,
            name_groups=len(groups),
            minority_names=minority,
            verified_phone=verified,
            corroborating_events=corroborating,
            # A bridge needs phones/emails on both sides: most customers have one or none.
            weak_bridges=self._weak_bridges(set(members), effs) if strong >= 2 else 0,
            near_quarantined=near_q,
            refused_merges=refused,
            shared_phone=shared,
            kiosk_only_phone=kiosk_only,
            near_phones=near,
        )

    def _weak_bridges(self, members: set[str], effs: list[list[str]]) -> int:
        """Count single-event links whose removal separates phones/emails on both sides."""
        adj: dict[str, dict[str, int]] = {}
        for eff in effs:
            for key in eff[1:]:
                if key in members and eff[0] in members:
                    a, b = eff[0], key
                    adj.setdefault(a, {})[b] = adj.setdefault(a, {}).get(b, 0) + 1
                    adj.setdefault(b, {})[a] = adj.setdefault(b, {}).get(a, 0) + 1
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

    # ------------------------------------------------------------------ lookups and explanations

    def _key_of(self, raw: str, kind: str) -> tuple[str | None, str]:
        """(key, status) for a raw identifier of `kind`; status "ok" when it could link."""
        if kind == "phone":
            phone = self._parser.phones.normalise(raw)
            return "p:" + phone.e164, "ok" if phone.linkable else phone.status
        if kind == "email":
            email = self._parser.emails.normalise(raw)
            return "e:" + email.address, "ok" if email.linkable else email.status
        if kind == "touchpoint":
            touchpoint, _, source = raw.partition(":")
            touchpoint = touchpoint.strip().upper()
            if touchpoint == "WHATSAPP":
                phone = self._parser.phones.international(source)
                if phone.linkable:
                    return "p:" + phone.e164, "ok"
            if self._parser.junk.source_id(source):
                return None, "junk"
            return touchpoint_key(touchpoint, source), "ok"
        raise ValueError(f"unknown identifier kind {kind!r}")

    def lookup(self, raw: str, kind: str) -> Lookup:
        """Where `raw` (a phone, email or ``TOUCHPOINT:source_id``) leads, or why nowhere."""
        key, status = self._key_of(raw, kind)
        shown = None if key is None else mask(key)
        if status != "ok":
            return Lookup(kind, shown, status, None, f"{kind} is {status}: never linked")
        assert key is not None
        node = self._nodes.get(key)
        if node is None:
            return Lookup(kind, shown, "unknown", None, "never seen")
        if node.status != _OK:
            return Lookup(kind, shown, node.status, None, f"{node.status}: this {kind} does not link customers")
        cid = self._by_root.get(self._uf.find(key))
        if cid is None:
            reason = "shared household phone: events with emails are kept apart" if node.shared else "unlinked"
            return Lookup(kind, shown, "shared" if node.shared else "unknown", None, reason)
        return Lookup(kind, shown, "linked", cid, "shared household phone" if node.shared else "linked")

    def _resolve_ref(self, ref: str) -> tuple[str | None, str | None]:
        """(node key, customer id) of a reference: customer id, event id, key, or raw identifier."""
        ref = ref.strip()
        if ref.startswith("c_"):
            cid = self.current_id(ref)
            return (None if cid is None else self._cust[cid].root), cid
        if ref in self._events:
            ev = self._events[ref]
            return ev.anchor or None, self._customer_of(ev)
        key: str | None
        if ref[:2] in ("p:", "e:", "t:") and ref in self._nodes:
            key = ref
        elif "@" in ref:
            key = self._key_of(ref, "email")[0]
        elif ref.lstrip("+(").strip()[:1].isdigit():
            key = self._key_of(ref, "phone")[0]
        else:
            key = self._key_of(ref, "touchpoint")[0]
        if key is None or key not in self._nodes:
            return key, None
        return key, self._by_root.get(self._uf.find(key))

    def explain(self, customer_id: str) -> Explanation:
        """The evidence graph of a customer (JSON-able via `to_dict`). Contains PII: operators only.

        Edges are event links (``same-event:...``), refusals and rejected values, and near-phone
        links (rule `resolver.near.NEAR_RULE`, ``weak``, ``event_id`` empty: the link rests on
        the names of both phones' events, not on one event), refused ones with their reason.
        """
        cid = self.current_id(customer_id)
        if cid is None:
            return Explanation(customer_id, found=False)
        cust = self._cust[cid]
        members = set(self._uf.members(cust.root))
        events = self._customer_events(cust)
        nodes = [
            {"id": k, "kind": kind_of(k), "status": self._nodes[k].status, "shared": self._nodes[k].shared}
            for k in sorted(members)
        ]
        extra: set[str] = set()
        edges: list[dict[str, Any]] = []
        for ev in events:
            eff = self._eff(ev)
            for key in ev.keys:
                if key not in members:
                    extra.add(key)
            for key in ev.keys:
                if key == eff[0]:
                    continue
                edge: dict[str, Any] = {
                    "event_id": ev.eid,
                    "from": eff[0],
                    "to": key,
                    "rule": f"same-event:{kind_of(eff[0])}+{kind_of(key)}",
                    "weak": len(eff) < 2,
                    "refused": key not in members or key not in eff,
                }
                if key not in eff:
                    edge["reason"] = self._why_not_linking(key, ev)
                elif key not in members:
                    edge["reason"] = ev.note or "refused"
                edges.append(edge)
            for rejected in ev.rejected:
                kind, status, value = rejected.split(":", 2)
                edges.append(
                    {
                        "event_id": ev.eid,
                        "from": eff[0],
                        "to": f"{kind}:{status}:{mask(value)}",
                        "rule": "rejected",
                        "weak": True,
                        "refused": True,
                        "reason": f"{kind} {status}",
                    }
                )
        for a, b in self._near_links(members):
            edges.append({"event_id": "", "from": a, "to": b, "rule": NEAR_RULE, "weak": True, "refused": False})
        for key in sorted(members):
            near = self._nodes[key].near
            for other, used in sorted((near or {}).items()):
                if other not in members and key[0] == "p" and other in self._nodes:
                    reason = "refused by a limit" if used else "names do not agree strongly, or emails conflict"
                    edges.append(
                        {
                            "event_id": "",
                            "from": key,
                            "to": other,
                            "rule": NEAR_RULE,
                            "weak": True,
                            "refused": True,
                            "reason": reason,
                        }
                    )
        for key in sorted(extra):
            nodes.append({"id": key, "kind": kind_of(key), "status": self._nodes[key].status, "outside": True})
        absorbed = sorted(a for a in self._absorbed if self.current_id(a) == cid)
        return Explanation(cid, tuple(nodes), tuple(edges), tuple(ev.eid for ev in events), tuple(absorbed))

    def _why_not_linking(self, key: str, ev: _Event) -> str:
        node = self._nodes[key]
        if node.status != _OK:
            return f"{kind_of(key)} {node.status}"
        if node.shared:
            return "household phone shared with another person"
        if node.groups is not None:
            return "household phone used by people with different names: linked per person, or not at all"
        if ev.cut:
            return "event links cut by a split"
        return ev.note or "refused"

    def why(self, a: str, b: str) -> dict[str, Any]:
        """The chain of events joining `a` and `b` if they are one customer (JSON-able)."""
        ka, ca = self._resolve_ref(a)
        kb, cb = self._resolve_ref(b)
        if ca is None or cb is None or ca != cb or ka is None or kb is None:
            return {"joined": False, "customer_a": ca, "customer_b": cb, "path": []}
        cust = self._cust[ca]
        # Near links sort after event links ("~" > any event id): a path prefers shared identifiers.
        adj: dict[str, list[tuple[str, str]]] = {}
        for ev in self._customer_events(cust):
            eff = self._eff(ev)
            for key in eff[1:]:
                if self._uf.find(key) == cust.root:
                    adj.setdefault(eff[0], []).append((key, ev.eid))
                    adj.setdefault(key, []).append((eff[0], ev.eid))
        for x, y in self._near_links(self._uf.members(cust.root)):
            adj.setdefault(x, []).append((y, "~"))
            adj.setdefault(y, []).append((x, "~"))
        previous: dict[str, tuple[str, str] | None] = {ka: None}
        queue = [ka]
        for node in queue:
            if node == kb:
                break
            for nxt, eid in sorted(adj.get(node, []), key=lambda p: (p[1] == "~", p)):
                if nxt not in previous:
                    previous[nxt] = (node, eid)
                    queue.append(nxt)
        path: list[dict[str, Any]] = []
        cur = kb
        while previous.get(cur) is not None:
            prev, eid = previous[cur]  # type: ignore[misc]
            if eid == "~":
                path.append({"from": prev, "to": cur, "event_id": "", "rule": NEAR_RULE})
            else:
                path.append(
                    {"from": prev, "to": cur, "event_id": eid, "rule": f"same-event:{kind_of(prev)}+{kind_of(cur)}"}
                )
            cur = prev
        path.reverse()
        return {"joined": True, "customer_a": ca, "customer_b": cb, "path": path}

    def why_not(self, a: str, b: str) -> dict[str, Any]:
        """Why `a` and `b` are apart: their statuses and the evidence that was refused (JSON-able)."""
        ka, ca = self._resolve_ref(a)
        kb, cb = self._resolve_ref(b)
        reasons: list[dict[str, Any]] = []
        if ca is not None and ca == cb:
            return {"apart": False, "customer_a": ca, "customer_b": cb, "reasons": []}
        for ref, key in ((a, ka), (b, kb)):
            if key is None:
                reasons.append({"ref": ref, "reason": "not a linkable identifier"})
            elif key not in self._nodes:
                reasons.append({"ref": ref, "reason": "never seen"})
            elif self._nodes[key].status != _OK:
                reasons.append({"ref": ref, "reason": f"{self._nodes[key].status}: does not link"})
            elif self._nodes[key].shared:
                reasons.append({"ref": ref, "reason": "household phone shared with another person"})
        side_a = self._side(ka, ca)
        side_b = self._side(kb, cb)
        bars_a = {b for k in side_a for b in self._nodes[k].bars if k in self._nodes}
        bars_b = {b for k in side_b for b in self._nodes[k].bars if k in self._nodes}
        # Identifiers carried by events of both sides: each one says why it did not join them.
        for key in sorted(side_a & side_b):
            node = self._nodes.get(key)
            if node is None:
                continue
            if node.status != _OK:
                why = f"shared {kind_of(key)} {node.status}: it does not link"
            elif node.shared:
                why = "household phone shared by people with different emails and names"
            else:
                notes = sorted({ev.note for e in node.events if (ev := self._events.get(e)) and ev.note})
                why = "; ".join(notes) if notes else "a link through it was refused"
            reasons.append({"identifier": key, "reason": why})
        for key in sorted(side_a):
            near = self._nodes[key].near if key in self._nodes else None
            for other, used in sorted((near or {}).items()):
                if other in side_b:
                    why = (
                        "near phone link refused by a limit"
                        if used
                        else "near phone (one digit apart) not linked: names do not agree strongly, or emails conflict"
                    )
                    reasons.append({"identifier": key, "near": other, "rule": NEAR_RULE, "reason": why})
        for split_no in sorted({s for s, _ in bars_a} & {s for s, _ in bars_b}):
            reasons.append({"reason": f"kept apart by split {split_no}"})
        return {"apart": True, "customer_a": ca, "customer_b": cb, "reasons": reasons[:100]}

    def _side(self, key: str | None, cid: str | None) -> set[str]:
        """Every key the side's events carry (members and non-linking ones)."""
        if cid is not None:
            cust = self._cust[cid]
            out = set(self._uf.members(cust.root))
            for ev in self._customer_events(cust):
                out.update(ev.keys)
            return out
        return {key} if key is not None and key in self._nodes else set()

    # ------------------------------------------------------------------ operator actions

    def block(self, identifier: str) -> Outcome:
        """Quarantine an identifier (raw phone/email/``TOUCHPOINT:id`` or key) and re-resolve."""
        key, _ = self._resolve_ref(identifier)
        step = _Step()
        if key is None or key not in self._nodes or key.startswith("x:"):
            return Outcome(None, notes=("block: unknown identifier",))
        if self._nodes[key].status == "blocked":
            return Outcome(None, notes=(f"block: {mask(key)} already blocked",))
        events = self._raw_events([key])
        self._set_status(key, "blocked", step)
        self._reresolve(self._closure(events), step)
        return self._outcome(None, step)

    def split(self, customer_id: str, identifier: str) -> Outcome:
        """Recompute a customer without an identifier (or an event's links); bar the parts from re-merging."""
        cid = self.current_id(customer_id)
        if cid is None:
            return Outcome(None, notes=("split: unknown customer",))
        cust = self._cust[cid]
        members = set(self._uf.members(cust.root))
        own = {ev.eid for ev in self._customer_events(cust)}
        step = _Step()
        self._profiles.clear()
        target = identifier.strip()
        events = self._raw_events(sorted(members))
        if target in own:
            self._events[target].cut = True
            self._mark("e/" + target)
            label = f"event {target}"
        else:
            key, _ = self._resolve_ref(target)
            if key is None or key not in members:
                return Outcome(None, notes=("split: identifier not part of this customer",))
            self._nodes[key].status = "cut"
            self._nodes[key].sig = None
            self._mark("n/" + key)
            label = f"{kind_of(key)} {mask(key)}"
        self._reresolve(self._closure(events), step)
        parts = sorted({c for eid in own if (c := self.customer_of_event(eid)) is not None})
        if len(parts) > 1:
            self._split_seq += 1
            self._mark("m/split")
            for index, part in enumerate(parts):
                pc = self._cust[part]
                pc.bars[self._split_seq] = index
                self._mark("c/" + part)
                for key in self._uf.members(pc.root):
                    node = self._nodes[key]
                    node.bars = (*node.bars, (self._split_seq, index))
                    self._mark("n/" + key)
        step.notes.append(f"split {cid} without {label}: {len(parts)} part(s)")
        return self._outcome(None, step)

    def erase(self, customer_id: str) -> Outcome:
        """Forget a customer's events and identifiers; suppress them so a replay cannot bring them back."""
        cid = self.current_id(customer_id)
        if cid is None:
            return Outcome(None, notes=("erase: unknown customer",))
        cust = self._cust[cid]
        members = list(self._uf.members(cust.root))
        own = self._customer_events(cust)
        step = _Step()
        self._profiles.clear()
        self._near_memo.clear()
        events = self._raw_events(members)
        for ev in own:
            self._suppressed.add(_digest("ev:" + ev.eid))
            self._mark("s/" + _digest("ev:" + ev.eid))
            events.discard(ev.eid)
            del self._events[ev.eid]
            self._mark("e/" + ev.eid)
        gone = set(members)
        for key in members:
            if not key.startswith("x:"):
                self._suppressed.add(_digest(key))
                self._mark("s/" + _digest(key))
        # Identifiers of the person seen on other customers' events are removed from them too,
        # including events that carry one without linking it (a household phone, say).
        events.update(e for key in members for e in self._nodes[key].events if e in self._events)
        for eid in sorted(events):
            ev = self._events[eid]
            if any(k in gone for k in ev.keys):
                ev.keys = tuple(k for k in ev.keys if k not in gone)
                self._mark("e/" + eid)
        for key in members:
            node = self._nodes.pop(key)
            self._mark("n/" + key)
            if key[0] == "p" and _PERSON not in key:
                self._near_index.discard(key)
            for near_key in node.near or ():
                partner = self._nodes.get(near_key)
                if partner is not None and partner.near is not None:
                    partner.near.pop(key, None)
                    if not partner.near:
                        partner.near = None
                    self._mark("n/" + near_key)
            for eid in node.events:
                other = self._events.get(eid)
                if other is not None and other.anchor == key:
                    other.anchor = ""
        for key in {k for ev in own for k in ev.keys} - gone:
            kept = self._nodes.get(key)
            if kept is not None:
                kept.events = [e for e in kept.events if e in self._events]
                self._mark("n/" + key)
        del self._by_root[cust.root]
        del self._cust[cid]
        self._uf.reset(members)
        self._uf.remove(members)
        self._erased.add(cid)
        self._mark("c/" + cid)
        self._mark("d/" + cid)
        for absorbed, survivor in list(self._absorbed.items()):
            if survivor == cid:
                del self._absorbed[absorbed]
                self._erased.add(absorbed)
                self._mark("a/" + absorbed)
                self._mark("d/" + absorbed)
        if events:
            self._reresolve(self._closure(events), step)
        step.notes.append(f"erased {cid}: {len(own)} event(s), {len(members)} identifier(s)")
        return self._outcome(None, step)

    # ------------------------------------------------------------------ persistence

    def drain_changes(self) -> dict[str, str | None]:
        """Records changed since the last drain: key -> compact JSON (None = deleted). O(changes)."""
        out: dict[str, str | None] = {}
        for rec in self._dirty:
            # Node records are named by a digest of the key, so deletions leave no PII behind.
            name = "n/" + _digest(rec[2:]) if rec[0] == "n" else rec
            out[name] = self._record(rec)
        self._dirty.clear()
        return dict(sorted(out.items()))

    def _record(self, rec: str) -> str | None:
        kind, key = rec[0], rec[2:]
        value: Any = None
        if kind == "e":
            ev = self._events.get(key)
            value = None if ev is None else ev.record()
        elif kind == "n":
            node = self._nodes.get(key)
            if node is not None:
                # The root, not the stored parent: `find` compresses paths as a side effect of
                # whatever was looked up, so parent pointers differ between a resolver and its
                # restored copy while roots (union by size, ties by key) never do.
                root = self._uf.find(key) if key in self._uf else key
                value = node.record(key, None if root == key else root)
        elif kind == "c":
            cust = self._cust.get(key)
            value = None if cust is None else cust.record()
        elif kind == "a":
            value = self._absorbed.get(key)
        elif kind == "d":
            value = 1 if key in self._erased else None
        elif kind == "s":
            value = 1 if key in self._suppressed else None
        elif kind == "m":
            value = self._split_seq
        return None if value is None else _dumps(value)

    @classmethod
    def restore(cls, config: ResolverConfig, records: Iterable[tuple[str, str]]) -> Resolver:
        """Rebuild from the union of drained records (latest value per key, deletions removed)."""
        self = cls(config)
        parents: list[tuple[str, str]] = []
        customers: list[tuple[str, dict[str, Any]]] = []
        for rec, text in records:
            if text is None:
                continue
            value = loads(text)
            kind, key = rec[0], rec[2:]
            if kind == "e":
                at, tp, src, name, keys, rejected, anchor, cut, note = value
                ev = _Event(key, at, tp, src, name, tuple(keys), tuple(rejected))
                ev.anchor, ev.cut, ev.note = anchor, bool(cut), note
                self._events[key] = ev
            elif kind == "n":
                key = value["k"]
                node = _Node()
                node.status = value.get("s", _OK)
                node.sig = list(value.get("g", [])) if node.status == _OK and not key.startswith("x:") else None
                pairs = value.get("h")
                node.pairs = [(p[0], self._intern(p[1]) or p[1]) for p in pairs] if pairs else None
                node.shared = bool(value.get("sh"))
                named = value.get("nm")
                if named:
                    node.names = {self._intern(c) or c: int(n) for c, n in named}
                    node.groups = _name_groups(key, node.names)
                node.bars = tuple((b[0], b[1]) for b in value.get("b", []))
                near = value.get("nr")
                if near:
                    node.near = {k: bool(v) for k, v in near}
                self._nodes[key] = node
                parents.append((key, value.get("p", key)))
            elif kind == "c":
                customers.append((key, value))
            elif kind == "a":
                self._absorbed[key] = value
            elif kind == "d":
                self._erased.add(key)
            elif kind == "s":
                self._suppressed.add(key)
            elif kind == "m":
                self._split_seq = int(value)
        for eid in sorted(self._events):
            ev = self._events[eid]
            for key in ev.keys:
                self._nodes[key].events.append(eid)
            pseudo = self._nodes.get("x:" + eid)
            if pseudo is not None:
                pseudo.events.append(eid)
        self._uf = DisjointSet.from_parents(parents)
        if self._near:
            for key in sorted(self._nodes):
                if key[0] == "p" and _PERSON not in key:
                    self._near_index.add(key)
        for cid, value in customers:
            cust = _Customer(cid, value["r"], value["f"])
            cust.phones, cust.emails = value["np"], value["ne"]
            cust.bars = {int(k): int(v) for k, v in value.get("b", [])}
            cust.constrained = bool(value.get("k"))
            self._cust[cid] = cust
            self._by_root[cust.root] = cid
        self.merges = len(self._absorbed)
        self._dirty.clear()
        return self
