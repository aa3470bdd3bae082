"""Per-customer effects: what one step of the ordered stage did, as records a partition can apply alone.

The ordered stage decides who is who; the per-customer stage (`resolver.customer_stage`)
builds profiles, confidence and the changelog's records, partitioned by customer id
(`resolver.effect_codec.partition_of`, which also puts them on the wire). What the ordered
stage hands over, in log order:

* `Replaced` (cid, `CustomerInput`): the whole profile input of a live customer whose
  profile may have moved in the step (touched, created, a survivor, or shown a status
  change of a key its evidence carries: `Graph.forget_profiles` names those). The input is
  what `resolver.profile` reads beyond the customer's own evidence, resolved: each piece of
  evidence with its effective keys and whether a key it carries is not OK, the customer's
  phones and emails, how many near links and whether a phone is shared. So a partition
  builds the profile with no graph (`profile_from_input`), equal to `Resolver.profile`.
* `Seen` (cid, `Facts`): one piece of a customer's evidence as it is now, instead of the
  whole input, when every change to the customer since the last flush was one the resolver
  took in place (a repeat, or evidence re-seeing its identifiers: the summary's own in-place
  paths, `resolver.summary`); a partition puts it in place of the piece with its evidence id.
* `Patched` (cid, head, facts, gone): what moved in a live customer's input since the ordered
  stage last sent it (the identifier side if it moved, the pieces of evidence new or changed,
  the evidence ids that left), instead of `Replaced`, when the ordered stage still holds what it
  sent (`EffectLog`'s memory of sent inputs, bounded, not part of any snapshot: after a restart
  or once forgotten the customer is sent whole). One effect per customer either way, so positions
  do not depend on it; applied to what the partition holds, it gives the same input as `Replaced`.
* `Removed` (cid, survivor): the id was absorbed; `Erased` (cid): erased. The partition drops
  the customer's input. Both go to the partition of ``cid`` (the absorbed id's, never the
  survivor's), which keeps ``survivor`` as the id's alias until an `Erased` or a `Replaced` of
  it (`CustomerStage.aliases`). An erasure sends `Erased` for the erased id and for every id
  absorbed into it before (`Resolver.absorbed_into`): each of them had effects of its own while
  it was live, in its own partition, and a partition that applies an `Erased` deletes the
  effects before it (`streams.customers`) and the id's alias.
* `Planned` (`resolver.changelog`): a record of a closed window, decided by the ordered stage
  (kind, version, survivor, merged_from) and filled by the partition with the profile
  (`resolver.changelog.record_of`).
* `Tick` (now): sent to every partition.
* `Reset`: sent to every partition before anything else when the ordered stage starts over
  Kafka from a state written with the stage off (a snapshot without an effect log): a
  partition drops every input and alias it holds (it may hold customers that left while the
  stage was off, and an erased person's), and every live customer is sent whole right after
  it, and every alias (`Resolver.aliases`) as a `Removed`.

Why the ordered stage still decides the records (and keeps `Batcher` and the versions): a
survivor's ``merged_from`` lists the absorbed ids the CRM saw (their versions, other
partitions' state), and an absorbed id's record names where its chain ends at the close
(a later merge or erasure of its survivor, elsewhere). Both are facts of the whole log that
no partition has; deciding them costs set operations and a counter per record (no
profile, no hash, no Avro). Whole inputs, or whole pieces of evidence (`Seen`), never
increments: each effect says what a value is now, so applying one again changes nothing, and
a partition's input equals `input_of` at every flush (tests/unit/test_customer_stage.py);
`bench.effects` measures what they cost.

Effects are sent when the ordered stage flushes (`EffectLog.flush`: at every action and every
tick that closes a window, before the windows' records are planned), so a window's records
are filled with the profiles as of the offset the window closed at, as `streams.pipeline.Pipeline`
builds them in one process.

Pure: standard library only. Keys and names travel as they are (the effects hold personal
data, as the links log does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

from resolver.changelog import Planned
from resolver.evidence import Evidence
from resolver.graph import OK, PERSON, Graph, holder_of, other_account
from resolver.nearlinks import near_links
from resolver.outcome import Outcome
from resolver.profile import Profile, Tally, email_letters, name_tokens, profile_of, recurring_accounts, weak_bridges
from resolver.summary import grouped_names, member_identifiers, scored

__all__ = [
    "CustomerInput",
    "Effect",
    "EffectLog",
    "Erased",
    "Facts",
    "Head",
    "Patched",
    "Removed",
    "Replaced",
    "Reset",
    "Seen",
    "Tick",
    "head_of",
    "input_of",
    "patch",
    "profile_from_input",
]


class Facts:
    """One piece of a customer's evidence as its profile reads it (attribute names as `Evidence`'s).

    A plain slots class (one is built per piece of evidence of every customer sent), equal by value.
    """

    __slots__ = (
        "at", "cls", "count", "eff", "last", "name", "phone", "quarantined", "refused", "src", "tkeys", "tp", "vid"
    )  # fmt: skip

    def __init__(
        self,
        vid: str,
        tp: str,
        src: str,
        name: str | None,
        cls: str | None,
        at: int,
        last: int,
        count: int,
        eff: tuple[str, ...],
        tkeys: tuple[str, ...],
        phone: bool,
        quarantined: bool,
        refused: bool,
    ) -> None:
        #: its evidence id (`Evidence.vid`): what a `Seen` effect replaces it by
        self.vid = vid
        self.tp = tp
        self.src = src
        self.name = name
        #: its name key (`Graph.class_of`)
        self.cls = cls
        self.at = at
        self.last = last
        self.count = count
        #: the keys it links now (`Graph.effective`)
        self.eff = eff
        #: the touchpoint id keys it carries
        self.tkeys = tkeys
        #: it carries a phone key
        self.phone = phone
        #: a key it carries is not OK (quarantined, blocked, cut)
        self.quarantined = quarantined
        #: a link of it was refused (``Evidence.note``)
        self.refused = refused

    def values(self) -> tuple[Any, ...]:
        """Every field, in the constructor's order."""
        return (
            self.vid,
            self.tp,
            self.src,
            self.name,
            self.cls,
            self.at,
            self.last,
            self.count,
            self.eff,
            self.tkeys,
            self.phone,
            self.quarantined,
            self.refused,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Facts) and self.values() == other.values()

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        return f"Facts{self.values()!r}"


class CustomerInput(NamedTuple):
    """Everything a live customer's profile is made of (`profile_from_input`), read off the graph."""

    customer_id: str
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    #: phone and email keys (a person's part of a shared phone counts on its own)
    strong: int
    shared: bool
    near: int
    #: the customer's keys, sorted, when ``strong >= 2`` (weak bridges need them); else None
    keys: tuple[str, ...] | None
    #: `Customer.phones`, `Customer.emails`
    phone_count: int
    email_count: int
    #: sorted by (first seen, evidence id): a partition keeps the same order as pieces join (`with_facts`)
    evidence: tuple[Facts, ...]

    def with_facts(self, facts: Facts) -> CustomerInput:
        """This input with ``facts`` in place of the piece of the same evidence id, or added (`Seen`)."""
        rest = [f for f in self.evidence if f.vid != facts.vid]
        rest.append(facts)
        rest.sort(key=_facts_order)
        return self._replace(evidence=tuple(rest))


@dataclass(frozen=True, slots=True)
class Replaced:
    """A live customer's profile input as it is now (replaces what the partition held)."""

    customer_id: str
    input: CustomerInput


@dataclass(frozen=True, slots=True)
class Seen:
    """One piece of a live customer's evidence as it is now (new, or seen again); the rest of its input as it was.

    Sent instead of `Replaced` when every change to the customer since the last flush was one
    the resolver's own summary takes in place (`resolver.summary`: a repeat, or new evidence
    that only re-sees the customer's identifiers, no status moved).
    """

    customer_id: str
    facts: Facts


#: `CustomerInput`'s fields before its evidence: the customer's identifier side (`Patched.head`)
Head = tuple[tuple[str, ...], tuple[str, ...], int, bool, int, "tuple[str, ...] | None", int, int]


@dataclass(frozen=True, slots=True)
class Patched:
    """What moved in a live customer's input since the last `Replaced` or `Patched` of it (`patch` applies it).

    ``head``: the identifier side (`CustomerInput`'s fields before ``evidence``) when it moved, else
    None; ``facts``: the pieces of evidence new or changed (in input order); ``gone``: the evidence
    ids no longer the customer's.
    """

    customer_id: str
    head: Head | None
    facts: tuple[Facts, ...]
    gone: tuple[str, ...]


def head_of(inp: CustomerInput) -> Head:
    return inp[1:9]


def patch(inp: CustomerInput, p: Patched) -> CustomerInput:
    """``inp`` with `Patched` ``p`` applied (the customer's input as the ordered stage had it)."""
    if p.facts or p.gone:
        pieces = {f.vid: f for f in inp.evidence}
        for vid in p.gone:
            pieces.pop(vid, None)
        for f in p.facts:
            pieces[f.vid] = f
        evidence = tuple(sorted(pieces.values(), key=_facts_order))
    else:
        evidence = inp.evidence
    if p.head is None:
        return inp._replace(evidence=evidence)
    return CustomerInput(inp.customer_id, *p.head, evidence)


def _delta(held: _Held, now: CustomerInput) -> Replaced | Patched:
    """The smaller of `Replaced` and `Patched` taking what the partition ``held`` to ``now`` (the same customer)."""
    head_before, before = held
    changed: list[Facts] = []
    kept = 0
    for f in now.evidence:
        b = before.get(f.vid)
        if b is None:
            changed.append(f)
        else:
            kept += 1
            if b is not f and b != f:
                changed.append(f)
    gone: tuple[str, ...] = ()
    if kept != len(before):
        now_vids = {f.vid for f in now.evidence}
        gone = tuple(v for v in before if v not in now_vids)
    if len(changed) == len(now.evidence) and not gone:
        return Replaced(now.customer_id, now)
    head = head_of(now)
    return Patched(now.customer_id, None if head == head_before else head, tuple(changed), gone)


#: What `EffectLog` remembers of a customer it sent: its head and its pieces of evidence by evidence id
_Held = tuple[Head, dict[str, Facts]]


@dataclass(frozen=True, slots=True)
class Removed:
    """``customer_id`` was absorbed into ``survivor_id`` (as of the step)."""

    customer_id: str
    survivor_id: str


@dataclass(frozen=True, slots=True)
class Erased:
    """``customer_id`` was erased."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class Tick:
    """A tick of the log (epoch ms), sent to every partition after the effects before it."""

    now: int


@dataclass(frozen=True, slots=True)
class Reset:
    """Every partition drops what it holds: the live customers are sent whole after it (a switch-over)."""


Effect = Replaced | Patched | Seen | Removed | Erased | Planned | Tick | Reset


# ---------------------------------------------------------------------------- inputs and profiles


def input_of(g: Graph, customer_id: str) -> CustomerInput | None:
    """The profile input of a live customer (None for any other id). The identifier side as `Summary`'s.

    Its evidence is `Graph.customer_evidence`'s, each piece read as `facts_of` reads it, ordered by
    (``at``, ``vid``): gathered and read in one pass, sorted once (the flush of the effect log reads
    every sent customer's input: `EffectLog.flushing`).
    """
    cust = g.cust.get(customer_id)
    if cust is None:
        return None
    members = g.uf.members(cust.root)
    phones, emails, strong, shared, any_near = member_identifiers(g, members)
    nodes = g.nodes
    evidence = g.evidence
    class_of = g.class_of
    effective = g.effective
    facts: list[Facts] = []
    for key in members:
        # `holder_of`: only a key holding `PERSON` can be a person's part
        for vid in nodes[key if PERSON not in key else holder_of(key)].vids():
            ev = evidence.get(vid)
            if ev is None or ev.anchor != key:
                continue
            # `facts_of`, inlined on purpose (s36: a call per piece was most of the flush's gain);
            # a change here goes there too (tests/unit compare the two)
            tkeys: list[str] = []
            phone = quarantined = False
            for k in ev.keys:
                kind = k[0]
                if kind == "t":
                    tkeys.append(k)
                elif kind == "p":
                    phone = True
                if nodes[k].status != OK:
                    quarantined = True
            name = ev.name
            facts.append(
                Facts(
                    ev.vid,
                    ev.tp,
                    ev.src,
                    name,
                    class_of(name),
                    ev.at,
                    ev.last,
                    ev.count,
                    tuple(effective(ev)),
                    tuple(tkeys),
                    phone,
                    quarantined,
                    bool(ev.note),
                )
            )
    facts.sort(key=_FACTS_ORDER)
    return CustomerInput(
        customer_id,
        _bare(phones),
        _bare(emails),
        strong,
        shared,
        len(near_links(g, members)) if g.near_on and any_near else 0,
        tuple(sorted(members)) if strong >= 2 else None,
        cust.phones,
        cust.emails,
        tuple(facts),
    )


def _bare(keys: set[str]) -> tuple[str, ...]:
    """``keys`` without their kind (``p:``, ``e:``), sorted; most customers have one or none."""
    if len(keys) < 2:
        return tuple([k[2:] for k in keys])
    return tuple(sorted([k[2:] for k in keys]))


def facts_of(g: Graph, ev: Evidence) -> Facts:
    """A piece of evidence as a profile reads it, now."""
    nodes = g.nodes
    tkeys: list[str] = []
    phone = quarantined = False
    for k in ev.keys:
        kind = k[0]
        if kind == "t":
            tkeys.append(k)
        elif kind == "p":
            phone = True
        if nodes[k].status != OK:
            quarantined = True
    name = ev.name
    return Facts(
        ev.vid,
        ev.tp,
        ev.src,
        name,
        g.class_of(name),
        ev.at,
        ev.last,
        ev.count,
        tuple(g.effective(ev)),
        tuple(tkeys),
        phone,
        quarantined,
        bool(ev.note),
    )


def _facts_order(f: Facts) -> tuple[int, str]:
    return f.at, f.vid


#: `_facts_order` as a C-level key (the same tuples)
_FACTS_ORDER = attrgetter("at", "vid")


def profile_from_input(inp: CustomerInput) -> Profile:
    """The customer's profile from its input alone: equal to `Resolver.profile` at the input's offset.

    The same features as `resolver.summary.Summary` (which reads them off the graph).
    """
    tally = Tally(inp.evidence)
    classes: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    effs: list[list[str]] = []
    sources: set[tuple[str, str]] = set()
    tps: set[str] = set()
    verified = kiosk_phone = other_phone = placed = False
    corroborating = near_q = refused = 0
    for f in inp.evidence:
        sources.add((f.tp, f.src))
        tps.add(f.tp)
        effs.append(list(f.eff))
        if f.cls is not None:
            classes[f.cls] = classes.get(f.cls, 0) + 1
        for key in f.tkeys:
            seen_ids[key] = seen_ids.get(key, 0) + 1
        if f.quarantined:
            near_q += 1
        if f.phone and f.tp == "WHATSAPP" and f.name is not None:
            verified = True
        if len(f.eff) >= 2:
            corroborating += 1
        if not placed and other_account(f.eff):
            placed = True
        if f.refused:
            refused += 1
        if any(key[0] == "p" for key in f.eff):
            if f.tp == "KIOSK":
                kiosk_phone = True
            else:
                other_phone = True
    groups, minority, foreign = grouped_names(classes)
    bridges = (0, 0) if inp.keys is None else weak_bridges(set(inp.keys), effs)
    unnamed = 0
    if inp.emails and classes:
        tokens = name_tokens(classes)
        for email in inp.emails:
            if tokens and not any(t in email_letters("e:" + email) for t in tokens):
                unnamed += 1
    value, reasons = scored(
        (
            tally.count,
            inp.phone_count,
            inp.email_count,
            groups,
            minority,
            verified,
            corroborating,
            bridges[0],
            near_q,
            refused,
            inp.shared,
            kiosk_phone and not other_phone,
            inp.near,
            recurring_accounts(seen_ids),
            unnamed,
            placed,
            bridges[1],
            foreign,
            all(f.eff[0][0] == "x" for f in inp.evidence),
            len(inp.phones),
            len(inp.emails),
        )
    )
    return profile_of(
        inp.customer_id,
        inp.phones,
        inp.emails,
        tuple(sorted(sources)),
        tally.name(),
        tally.first,
        tally.last,
        tally.count,
        tuple(sorted(tps)),
        value,
        reasons,
    )


# ---------------------------------------------------------------------------- the ordered stage's side


#: Customers whose last sent input `EffectLog` keeps (the rest are sent whole): about 1 kB each.
SENT_MEMORY = 65_536


class EffectLog:
    """Collects what steps of the ordered stage did to customers; `flush` turns it into effects.

    Feed it every outcome (`note`); call `flush` with the graph at the end of a step, and
    always before a window closes (a tick or an action), so that every partition holds each
    of its customers' input as of the close. The customers a status change showed on come
    from the graph (`Graph.shown`, which `watch` switches on).
    """

    def __init__(self, memory: int | None = None) -> None:
        #: customers to send (`Replaced` or `Patched`)
        self._dirty: set[str] = set()
        #: customer -> evidence ids changed in place (`Seen`), unless the customer is dirty by the flush
        self._seen: dict[str, set[str]] = {}
        self._removed: dict[str, str | None] = {}
        #: a `Reset` goes first at the next flush (`note_all` with ``reset``)
        self._reset = False
        #: the input each customer was last sent with (as its partition holds it), the least lately sent
        #: forgotten beyond `memory` customers: a customer in it is sent as a `Patched` against it.
        #: Never in a snapshot: a restored log sends each customer whole once (the same partition state)
        self._sent: dict[str, _Held] = {}
        self.memory = SENT_MEMORY if memory is None else memory

    @staticmethod
    def watch(g: Graph) -> None:
        """Make ``g`` name every customer a status change shows on (`Graph.forget_profiles`)."""
        if g.shown is None:
            g.shown = set()

    def note(self, outcome: Outcome, erased: Iterable[str] = (), in_place: str | None = None) -> None:
        """What an outcome touched, created, absorbed; ``erased``: the ids an erasure removed (with the ids
        absorbed into it before, whose partitions hold effects of the person: each is sent an `Erased`).

        ``in_place``: the evidence id of an event the resolver took in place (`Resolver.in_place`):
        its one customer is then sent that piece of evidence, not its whole input.
        """
        touched = outcome.touched
        if in_place is not None and len(touched) == 1 and not outcome.created and not outcome.absorbed:
            held = self._seen.get(touched[0])
            if held is None:
                self._seen[touched[0]] = {in_place}
            else:
                held.add(in_place)
            return
        dirty = self._dirty
        dirty.update(touched)
        dirty.update(outcome.created)
        for gone, survivor in outcome.absorbed:
            self._removed[gone] = survivor
            dirty.add(survivor)
        for gone in erased:
            self._removed[gone] = None

    def flush(self, g: Graph) -> list[Effect]:
        """The effects of what was noted since the last flush: removals first, then live customers' inputs.

        Sorted by customer id within each part (a customer's pieces by evidence id), so the same
        log gives the same effects.
        """
        return list(self.flushing(g))

    def flushing(self, g: Graph) -> Iterator[Effect]:
        """`flush`, lazily: each customer's input is read off ``g`` when its effect is taken.

        The log is empty (all noted taken) as soon as this is called; take every effect before
        ``g`` changes.
        """
        dirty, seen, removed = self._dirty, self._seen, self._removed
        shown = g.shown
        if shown:
            dirty |= shown
            shown.clear()
        self._dirty, self._seen, self._removed = set(), {}, {}
        sent = self._sent
        if self._reset:
            self._reset = False
            sent.clear()
            yield Reset()
        for cid, survivor in sorted(removed.items()):
            if cid in g.cust:
                continue  # live again (a re-resolution handed the id back): its input follows
            sent.pop(cid, None)
            yield Erased(cid) if survivor is None else Removed(cid, survivor)
        for cid in sorted(dirty.union(seen)):
            if cid not in dirty:
                pieces = self._pieces(g, cid, seen[cid])
                if pieces is not None:
                    held = sent.get(cid)
                    if held is not None:  # the partition puts each piece in place: so does the memory
                        for piece in pieces:
                            held[1][piece.facts.vid] = piece.facts
                    yield from pieces
                    continue
            inp = input_of(g, cid)
            if inp is not None:
                held = sent.pop(cid, None)
                sent[cid] = (head_of(inp), {f.vid: f for f in inp.evidence})
                if len(sent) > self.memory:
                    del sent[next(iter(sent))]  # the least lately sent: sent whole next time
                yield Replaced(cid, inp) if held is None else _delta(held, inp)

    def pending(self, g: Graph) -> dict[str, Any]:
        """What was noted and not flushed yet, as JSON-able values (a pipeline snapshot keeps it).

        The customers a status change showed on (``g.shown``) are among those to send whole,
        as `flush` sends them; `restore` gives a log whose next flush is this one's.
        """
        dirty = set(self._dirty)
        if g.shown:
            dirty |= g.shown
        pending: dict[str, Any] = {
            "dirty": sorted(dirty),
            "seen": {cid: sorted(vids) for cid, vids in sorted(self._seen.items())},
            "removed": dict(sorted(self._removed.items())),
        }
        if self._reset:  # only then: snapshots without one are as before
            pending["reset"] = True
        return pending

    @classmethod
    def restore(cls, pending: dict[str, Any]) -> EffectLog:
        """The log `pending` described. Raises KeyError or TypeError for anything else."""
        log = cls()
        log._dirty = {str(c) for c in pending["dirty"]}
        log._seen = {str(c): {str(v) for v in vids} for c, vids in pending["seen"].items()}
        log._removed = {str(c): None if s is None else str(s) for c, s in pending["removed"].items()}
        log._reset = pending.get("reset") is True
        return log

    def note_all(
        self, customer_ids: Iterable[str], *, reset: bool = False, aliases: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Send these customers whole at the next flush (a per-customer stage that holds none of them yet).

        ``reset``: a `Reset` goes first, so that the partitions drop whatever they held before (a
        switch-over from the stage off: customers that left meanwhile, an erased person's input).
        ``aliases`` (`Resolver.aliases`): each absorbed id is sent its `Removed` again, so that its
        partition, which dropped its alias at the `Reset`, holds it (`CustomerStage.aliases`).
        """
        self._dirty.update(customer_ids)
        self._reset = self._reset or reset
        for gone, survivor in aliases:
            self._removed[gone] = survivor

    @staticmethod
    def _pieces(g: Graph, cid: str, vids: set[str]) -> list[Seen] | None:
        """`Seen` of each piece, or None when one no longer belongs to the live customer (send it whole)."""
        out: list[Seen] = []
        for vid in sorted(vids):
            ev = g.evidence.get(vid)
            if ev is None or g.customer_of(ev) != cid:
                return None
            out.append(Seen(cid, facts_of(g, ev)))
        return out
