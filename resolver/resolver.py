"""The resolver facade: events in, stable customers out, with evidence for every decision.

Pure: no I/O, no clock. The state is `resolver.graph.Graph`: identifier nodes, distinct
evidence (`resolver.evidence`) and customers. Each job lives in its own module:

* taking in an event: `resolver.linking` (repeats move counters; new evidence links),
  duplicates within a horizon of event time: `resolver.horizon`;
* re-resolving a component from its evidence: `resolver.reresolution`, with the limits of
  `resolver.limits`, hubs and households of `resolver.households`, near phones of
  `resolver.nearlinks`;
* operator actions: `resolver.actions` (block, split, merge, erase, dismiss); profiles and
  confidence: `resolver.profile`; lookups and explanations: `resolver.explain`; the review
  queue's pairs: `resolver.review`; state records: `resolver.records`.

The partition is a function of the SET of distinct evidence plus operator actions, so any
order of the same events gives the same customers, and repeating events under new ids
never changes who is who (only counts). Ids: a new customer's id is derived from its
earliest event id; the survivor of a merge is the customer with the oldest first seen
(ties: smallest id); re-resolution keeps each old id on the part holding its oldest evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from resolver import actions, compaction, explain, records, review
from resolver import snapshot as snapshots
from resolver.config import ResolverConfig
from resolver.effects import CustomerInput, Effect, EffectLog, input_of
from resolver.evidence_table import interactions
from resolver.explain import Explanation, Lookup
from resolver.graph import Graph
from resolver.horizon import still_remembered
from resolver.identifiers import kind_of, mask
from resolver.interaction import Fields, Interaction
from resolver.linking import Found, add, add_content, content_id, evidence_name
from resolver.node_table import statuses
from resolver.outcome import Merged, Outcome, Step, touched_one
from resolver.profile import Profile
from resolver.review import ReviewPair
from resolver.summary import Summary

__all__ = ["Ingested", "Resolver"]

#: What `Resolver.ingest` did with an event.
Ingested = Literal["applied", "duplicate", "suppressed", "conflict"]

#: Profiles memoised at most (the memo is cleared when full, so memory stays flat).
_PROFILE_MEMO = 100_000


class Resolver:
    """Streaming identity resolution over `Interaction` events. Pure: no I/O, no clock."""

    def __init__(self, config: ResolverConfig | None = None, *, track_changes: bool = True) -> None:
        self.config = config if config is not None else ResolverConfig()
        self._g = Graph(self.config, track_changes=track_changes)
        #: while effects are watched (`flush_effects`): the evidence id of the last `apply` when it
        #: was taken in place (a repeat, or evidence re-seeing one customer's identifiers), else None
        self.in_place: str | None = None

    @property
    def merges(self) -> int:
        return self._g.merges

    # ---------------------------------------------------------------- events

    def apply(self, event: Interaction) -> Outcome:
        """Resolve one event. A repeated id within the horizon is a no-op (``duplicate``; ``conflict`` too
        when its content differs from the first's: another event reusing the id); an erased person is dropped."""
        eid = event.event_id
        seen = self._g.recent.vid_of(eid)
        if seen is not None:
            seen = self._still_remembered(eid, event.occurred_at)
        if seen is not None:
            self.in_place = None
            if seen != content_id(self._g, event.touchpoint, event.source_id, event.phone, event.email, event.name):
                return Outcome(eid, duplicate=True, conflict=True)
            ev = self._g.evidence.get(seen)
            return Outcome(eid, duplicate=True, customer_id=None if ev is None else self._g.customer_of(ev))
        step = add(
            self._g, eid, event.touchpoint, event.occurred_at, event.source_id, event.phone, event.email, event.name
        )
        return self._applied(eid, step)

    def apply_found(self, event: Interaction, found: Found) -> Outcome:
        """`apply` of an event whose identifiers, name and evidence id were found by parsing
        (`resolver.linking.found_of`, with a parser of this resolver's configuration, perhaps in
        another process: the worker's triage): the same state change and the same `Outcome`,
        without normalising or digesting the event's values again."""
        eid = event.event_id
        keys, rejected, name, vid = found
        g = self._g
        seen = g.recent.vid_of(eid)
        if seen is not None:
            seen = self._still_remembered(eid, event.occurred_at)
        if seen is not None:
            self.in_place = None
            if seen != vid:
                return Outcome(eid, duplicate=True, conflict=True)
            ev = g.evidence.get(seen)
            return Outcome(eid, duplicate=True, customer_id=None if ev is None else g.customer_of(ev))
        content = (event.touchpoint, g.parser.source_of(event.touchpoint, event.source_id), name, keys, rejected)
        return self._applied(eid, add_content(g, eid, event.occurred_at, content, vid, foreign=True))

    def _applied(self, eid: str, step: Step | None) -> Outcome:
        """The `Outcome` of a new event `eid` taken in as `step` (None: suppressed, an erased person's)."""
        if self._g.shown is not None:
            self.in_place = None if step is None or not step.in_place else self._in_place(eid)
        if step is None:
            return Outcome(eid, suppressed=True)
        return self._outcome(eid, step)

    def _in_place(self, eid: str) -> str | None:
        return self._g.recent.vid_of(eid)

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

        Takes the fields of a valid event (`resolver.interaction.Fields`). "conflict": a duplicate
        whose id was remembered with other content (`content_id`): another event reusing the id.
        """
        seen = self._g.recent.vid_of(event_id)
        if seen is not None:
            seen = self._still_remembered(event_id, occurred_at)
        if seen is not None:
            same = seen == content_id(self._g, touchpoint, source_id, phone, email, name)
            return "duplicate" if same else "conflict"
        return self._took(add(self._g, event_id, touchpoint, occurred_at, source_id, phone, email, name))

    def ingest_found(self, fields: Fields, found: Found) -> Ingested:
        """`ingest` of an event whose identifiers, name and evidence id were found by parsing
        (`resolver.linking.found_of`, with a parser of this resolver's configuration, perhaps in
        another process): the same state change, without normalising or digesting again."""
        event_id, touchpoint, occurred_at, source_id = fields[0], fields[1], fields[2], fields[3]
        keys, rejected, name, vid = found
        seen = self._g.recent.vid_of(event_id)
        if seen is not None:
            seen = self._still_remembered(event_id, occurred_at)
        if seen is not None:
            return "duplicate" if seen == vid else "conflict"
        content = (touchpoint, self._g.parser.source_of(touchpoint, source_id), name, keys, rejected)
        return self._took(add_content(self._g, event_id, occurred_at, content, vid, foreign=True))

    def _took(self, step: Step | None) -> Ingested:
        if step is None:
            return "suppressed"
        if self._g.profiles:
            self._forget_profiles(step)
        return "applied"

    def _still_remembered(self, event_id: str, at: int) -> str | None:
        """The evidence id of remembered `event_id` once the event's own time `at` has moved the
        watermark (`resolver.horizon.still_remembered`): an id taken in again beyond the horizon
        of its first sighting is a new event, whichever order the events in between came in."""
        return still_remembered(self._g.recent, event_id, at, self.advance_watermark)

    def advance_watermark(self, at: int) -> None:
        """Let the duplicate horizon's watermark reach `at`, as events applied elsewhere moved it.

        For one shard of a log resolved in several (`resolver.shards`): called with the one
        log's watermark before each of this shard's events, the duplicate rule decides here
        as it decides in one process.
        """
        g = self._g
        before = g.recent.watermark
        for gone in g.recent.advance(at):
            g.mark("h", gone)
        if g.recent.watermark != before:
            g.mark("m", "watermark")

    def source_of(self, touchpoint: str, source_id: str) -> str:
        """The source id an event's touchpoint record is listed under (`IdentifierParser.source_of`)."""
        return self._g.parser.source_of(touchpoint, source_id)

    def customer_of_fields(self, fields: Fields) -> str | None:
        """The customer an event with these fields (`resolver.interaction.Fields`) belongs to now.

        Found by its evidence (the event id is not needed); None when erased or never seen.
        """
        _, touchpoint, _, source_id, phone, email, name = fields
        g = self._g
        keys, rejected = g.parser.extract_fields(touchpoint, source_id, phone, email)
        name = evidence_name(g.parser.junk, name, touchpoint)
        ev = g.by_content.get((touchpoint, g.parser.source_of(touchpoint, source_id), name, keys, rejected))
        return None if ev is None else g.customer_of(ev)

    def customer_of_found(self, fields: Fields, found: Found) -> str | None:
        """`customer_of_fields` of an event parsed already (`ingest_found`), without normalising again."""
        keys, rejected, name, vid = found
        ev = self._g.by_content.get(
            (fields[1], self._g.parser.source_of(fields[1], fields[3]), name, keys, rejected), vid
        )
        return None if ev is None else self._g.customer_of(ev)

    # ---------------------------------------------------------------- operator actions

    def identifier_key(self, ref: str) -> str | None:
        """The node key a raw identifier (phone, email, ``TOUCHPOINT:id``) or a key names; None for a
        customer, event or evidence id, or an identifier the state does not hold."""
        ref = ref.strip()
        g = self._g
        if ref.startswith("c_") or g.evidence_of(ref) is not None:
            return None
        key = explain.resolve_ref(g, ref)[0]
        return key if key is not None and key in g.nodes else None

    def evidence_keys(self, customer_id: str) -> list[str]:
        """Every identifier key a customer's evidence carries, linking or not (blocked, cut by a split), sorted."""
        cid = self._g.current_id(customer_id)
        if cid is None:
            return []
        return sorted({k for ev in self._g.customer_evidence(self._g.cust[cid]) for k in ev.keys})

    def block(self, identifier: str) -> Outcome:
        """Quarantine an identifier (raw phone/email/``TOUCHPOINT:id`` or key) and re-resolve."""
        step = Step()
        actions.block(self._g, identifier, step)
        return self._outcome(None, step)

    def split(self, customer_id: str, identifier: str) -> Outcome:
        """Recompute a customer without an identifier (or evidence's links); bar the parts from re-merging."""
        step = Step()
        actions.split(self._g, customer_id, identifier, step)
        return self._outcome(None, step)

    def merge(self, customer_id: str, other_id: str) -> Merged:
        """Join two customers for good (an operator's must-link), or say why not (`merge_refusal`).

        The must-link is state: it survives snapshots, records and replay, and every later
        re-resolution honours it. The younger customer is absorbed (MERGED/ABSORBED for the CRM).
        """
        step = Step()
        refused = actions.merge(self._g, customer_id, other_id, step)
        outcome = self._outcome(None, step)
        if refused is not None:
            return Merged(False, refused, None, outcome)
        return Merged(True, None, self._g.current_id(customer_id), outcome)

    def merge_refusal(self, customer_id: str, other_id: str) -> str | None:
        """Why `merge` would refuse these two now (unknown, erased, one already, limits, a split, a block), or None."""
        return actions.merge_refusal(self._g, customer_id, other_id)[0]

    def dismiss(self, customer_id: str, other_id: str | None = None) -> Outcome:
        """Mark a review item reviewed (a pair, or one customer's low confidence); it stays off the queue."""
        step = Step()
        actions.dismiss(self._g, customer_id, other_id, step)
        return self._outcome(None, step)

    def dismissed(self) -> set[tuple[str, str]]:
        """Dismissed review items by the live ids they name now (one id twice for one customer)."""
        out: set[tuple[str, str]] = set()
        for a, b in self._g.dismissed:
            ca, cb = self._g.current_id(a), self._g.current_id(b)
            if ca is not None and cb is not None:
                out.add((ca, cb) if ca <= cb else (cb, ca))
        return out

    def review_scan(self, chunk: int = 2000) -> Iterator[list[ReviewPair]]:
        """Pairs of live customers kept apart (`resolver.review`), a chunk of the state at a time.

        A generator over a copy of the node keys, then of the evidence ids: the caller may do
        other work between chunks (the state may change meanwhile; each chunk reads it as it
        is). Dismissed pairs are included: filter with `dismissed`.
        """
        g = self._g
        keys = list(g.nodes)
        for start in range(0, len(keys), chunk):
            yield review.key_pairs(g, keys[start : start + chunk])
        vids = list(g.evidence)
        for start in range(0, len(vids), chunk):
            yield review.evidence_pairs(g, vids[start : start + chunk])

    def erase(self, customer_id: str) -> Outcome:
        """Forget a customer's evidence and identifiers; suppress them so a replay cannot bring them back."""
        step = Step()
        actions.erase(self._g, customer_id, step)
        return self._outcome(None, step)

    # ---------------------------------------------------------------- queries

    def customer_of_event(self, event_id: str) -> str | None:
        """The customer of an event (remembered within the horizon) or evidence id; None if unknown."""
        ev = self._g.evidence_of(event_id)
        return None if ev is None else self._g.customer_of(ev)

    def current_id(self, customer_id: str) -> str | None:
        """Follow the absorbed-into chain to a live id; None when unknown or erased."""
        return self._g.current_id(customer_id)

    def absorbed_into(self, customer_id: str) -> list[str]:
        """The ids whose absorbed-into chain ends at live ``customer_id`` (at any depth), sorted.

        O(absorbed ids): meant for rare actions (an erasure: each of these ids' effects partitions
        held the person's data while it was live, `resolver.effects.EffectLog.note`).
        """
        g = self._g
        if customer_id not in g.cust:
            return []
        into: dict[str, list[str]] = {}
        for gone, survivor in g.absorbed.items():
            into.setdefault(survivor, []).append(gone)
        out: list[str] = []
        todo = [customer_id]
        while todo:
            for gone in into.get(todo.pop(), ()):
                out.append(gone)
                todo.append(gone)
        return sorted(out)

    def aliases(self) -> list[tuple[str, str]]:
        """Every absorbed id whose absorbed-into chain ends at a live customer, with the id it was
        absorbed into (one hop, as `Outcome.absorbed` named it), sorted: what a read model keeps as
        aliases. An id absorbed into an erased customer (at any depth) has none: it went with her.

        For a full rebuild of a read model: each chain followed by `Graph.current_id`.
        """
        g = self._g
        return [
            (gone, into)
            for gone, into in sorted(g.absorbed.items())
            if gone not in g.cust and g.current_id(gone) is not None
        ]

    def customer_ids(self) -> list[str]:
        """Live customer ids, sorted: O(n log n) (use `customer_count` for how many)."""
        return sorted(self._g.cust)

    def minted_ids(self) -> set[str]:
        """Every customer id this resolver has handed out: live, absorbed or erased (ids are never freed)."""
        g = self._g
        return {*g.cust, *g.absorbed, *g.erased}

    def customer_count(self) -> int:
        """How many live customers, O(1)."""
        return len(self._g.cust)

    def event_ids(self) -> list[str]:
        """Ids of the events remembered within the duplicate horizon (not erased), sorted."""
        return [e for e, _, _ in self._g.recent.items()]

    def quarantined(self) -> list[str]:
        """Masked keys of quarantined (hub) and blocked identifiers, sorted by key."""
        return [f"{self._g.nodes[k].status}:{kind_of(k)}:{mask(k)}" for k in self.quarantined_keys()]

    def quarantined_keys(self) -> list[str]:
        """The raw keys behind `quarantined()` (for operators; contains PII)."""
        return sorted(k for k, status, _ in statuses(self._g.nodes) if status in ("quarantined", "blocked"))

    def stats(self) -> dict[str, int]:
        g = self._g
        return {
            "events": interactions(g.evidence),
            "evidence": len(g.evidence),
            "identifiers": len(g.nodes),
            "customers": len(g.cust),
            "merges": g.merges,
            "quarantined": sum(1 for _, status, _ in statuses(g.nodes) if status == "quarantined"),
            "shared_phones": sum(1 for _, _, shared in statuses(g.nodes) if shared),
        }

    def profile(self, customer_id: str, *, memo: bool = True) -> Profile | None:
        """The profile of a live customer id (None for absorbed, erased or unknown ids).

        Memoised per customer as a summary (`resolver.summary`; ``memo=False`` neither reads
        nor fills the memo, for one-off sweeps). The memo is dropped for every customer a step
        touches, creates or absorbs, and for every customer a status change shows on; a
        repeat, or new evidence that only re-sees one customer's identifiers, updates it in
        place. So a memoised profile always equals a fresh one
        (`resolver.profile.profile_from_scratch`).
        """
        g = self._g
        cust = g.cust.get(customer_id)
        if cust is None:
            return None
        if not memo:
            return Summary.build(g, cust).profile(customer_id, cust)
        summary: Summary | None = g.profiles.get(customer_id)
        if summary is None:
            if len(g.profiles) >= _PROFILE_MEMO:
                g.profiles.clear()
            summary = g.profiles[customer_id] = Summary.build(g, cust)
        return summary.profile(customer_id, cust)

    def profile_input(self, customer_id: str) -> CustomerInput | None:
        """What a live customer's profile is made of (`resolver.effects`), None for any other id."""
        return input_of(self._g, customer_id)

    def flush_effects(self, log: EffectLog) -> list[Effect]:
        """The effects of what ``log`` noted (`EffectLog.flush`); the first call starts watching status changes.

        Call it once before the steps it is to describe (and again after a snapshot load): a
        status change shows on customers no outcome names, and only a watching graph names them.
        """
        g = self._g
        if g.shown is None:
            EffectLog.watch(g)
        return log.flush(g)

    def flushing_effects(self, log: EffectLog) -> Iterator[Effect]:
        """`flush_effects`, lazily (`EffectLog.flushing`): take them all before the next change."""
        g = self._g
        if g.shown is None:
            EffectLog.watch(g)
        return log.flushing(g)

    def pending_effects(self, log: EffectLog) -> dict[str, Any]:
        """What ``log`` noted and has not flushed (`EffectLog.pending`): for a snapshot between two flushes."""
        return log.pending(self._g)

    def lookup(self, raw: str, kind: str) -> Lookup:
        """Where `raw` (a phone, email or ``TOUCHPOINT:source_id``) leads, or why nowhere."""
        return explain.lookup(self._g, raw, kind)

    def explain(self, customer_id: str) -> Explanation:
        """The evidence graph of a customer, with its evidence and counts. Contains PII: operators only."""
        return explain.explain(self._g, customer_id)

    def why(self, a: str, b: str) -> dict[str, Any]:
        """The chain of evidence joining `a` and `b` if they are one customer (JSON-able)."""
        return explain.why(self._g, a, b)

    def why_not(self, a: str, b: str) -> dict[str, Any]:
        """Why `a` and `b` are apart: their statuses and the evidence that was refused (JSON-able)."""
        return explain.why_not(self._g, a, b)

    # ---------------------------------------------------------------- persistence

    def drain_changes(self) -> dict[str, str | None]:
        """State records changed since the last drain (`resolver.records`). O(changes)."""
        return records.drain(self._g)

    @classmethod
    def restore(cls, config: ResolverConfig, state: Iterable[tuple[str, str]]) -> Resolver:
        """Rebuild from the union of drained records (latest value per key, deletions removed)."""
        self = cls(config)
        self._g = records.restore(config, state)
        return self

    def snapshot(self) -> bytes:
        """The whole core state as one compact binary value (`resolver.snapshot`).

        Drain changes first (`drain_changes`): a loaded copy starts with nothing to drain.
        """
        return snapshots.dump(self._g)

    def compact_if(self, cadence: compaction.Cadence, events: int = 1) -> bool:
        """`compact` when `cadence` calls for it after `events` more (O(1) when it does not); True when it did."""
        if not cadence.look(events) or not cadence.ripe(*compaction.hot_rows(self._g)):
            return False
        compaction.compact(self._g)
        return True

    def compact(self) -> None:
        """Make the state as compact as a loaded one, in place: the same answers, future and snapshot
        (`resolver.compaction.compact`; O(state), so call it at a `resolver.compaction.Cadence`)."""
        compaction.compact(self._g)

    @classmethod
    def from_snapshot(cls, config: ResolverConfig, data: bytes, *, track_changes: bool = True) -> Resolver:
        """Rebuild from `snapshot()` bytes written with the same `config`.

        Raises:
            resolver.snapshot.SnapshotError: not a snapshot, another format version, or damaged.
        """
        self = cls(config, track_changes=track_changes)
        self._g = snapshots.load(config, data, track_changes=track_changes)
        return self

    # ---------------------------------------------------------------- outcomes

    def _forget_profiles(self, step: Step) -> None:
        if step.in_place:
            return  # the core brought the memo up to date (`resolver.summary`)
        memo = self._g.profiles
        for cid in step.touched:
            memo.pop(cid, None)
        for cid in step.created:
            memo.pop(cid, None)
        for gone, survivor in step.absorbed.items():
            memo.pop(gone, None)
            memo.pop(survivor, None)

    def _outcome(self, eid: str | None, step: Step) -> Outcome:
        g = self._g
        if g.profiles:
            self._forget_profiles(step)
        if eid is not None and not step.absorbed and not step.notes and len(step.touched) == 1:
            # The common case (one customer re-seen, or created by this event), built faster.
            created = step.created
            if not created:
                (only,) = step.touched
                return touched_one(eid, only, ())
            if len(created) == 1 and created[0] in step.touched:
                return touched_one(eid, created[0], (created[0],))
        live = {c for c in step.touched if c in g.cust}
        customer = None if eid is None else self.customer_of_event(eid)
        return Outcome(
            eid,
            customer_id=customer,
            touched=tuple(sorted(live)),
            absorbed=tuple(sorted(step.absorbed.items())),
            created=tuple(sorted(c for c in step.created if c in g.cust)),
            notes=tuple(step.notes),
        )
