"""How one ResolvedCustomer record changes the CRM: a pure plan from (view, record) to writes.

`plan_change` reads the CRM through `CrmView` and returns the writes; it writes nothing.
`apply_change` executes the plan, `apply_batch` does so for a batch in one transaction.

Rules (the contract of docs/crm-connector.md):

* idempotency: a record whose change_id is applied, or whose version is not above the
  highest version applied for its customer id (or stored in its row), changes nothing;
* CREATED / UPDATED / MERGED / SPLIT: upsert the row; the customer's touchpoint records
  become exactly the record's source_ids: each is claimed (moved from whoever had it),
  each record it had and lost is let go, unless a claim from a newer window holds it;
* ABSORBED: the absorbed id's touchpoint records move to the survivor (followed through
  redirects to a live id; an empty placeholder row is created when the survivor's own
  record has not arrived yet) unless the survivor's record of that window is already
  applied (it claimed what it holds: the rest is let go); the absorbed row is deleted; a
  redirect is recorded. If the survivor has been erased meanwhile, the absorbed id is
  erased instead, its records let go without an erasure digest (the survivor's erasure
  digested what it brought in; what a split gave to another customer is that one's);
* ERASED: the row, its touchpoint records, its redirect, and every id redirected into it
  are deleted; of its applied log only the erasure itself is kept, so that an old record
  delivered later cannot bring the data back. Its interactions are deleted too (those
  `owners.doomed` names in the CRM as it is after the erasure), and digests of the touchpoint
  records it and the ids erased with it list or hold are kept (`erased_records`) so that an
  interaction arriving later is not kept;
* every full-state record also sets the customer's source ids (`customer_sources`): the
  `source_ids` of its latest record, a record shared by several customers listed under each.

Interactions (`plan_interaction`) are kept as published, upserted by event id; who holds
one is decided at read time (`streams.crm.owners`), so the two topics may interleave in any
order. An interaction of an erased customer is not kept (Outcome.ERASED).

Claims are ordered by `window_end` because records of different customer ids arrive in any
order (they live on different partitions): without it, an old record of one customer
arriving after a newer record of another would take a touchpoint record back. Two claims of
one window (a record several customers share) go to the smaller customer id, not to the
last to arrive. A record let go (lost without a new holder yet, or erased) leaves only a
digest of its ref with the window of the claim let go (`released_records`), so that an
older claim cannot revive it; a newer claim removes the digest. So the tables are a function
of the records applied, not of the order the partitions interleave in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.crm.model import AppliedChange, CustomerRow, InteractionRow, Outcome, SourceRef, TouchpointRecord
from streams.crm.owners import doomed, erased_end, live
from streams.crm.store import CrmStore, CrmView
from streams.crm.writes import (
    ClaimRecord,
    DeleteCustomer,
    DropRedirect,
    EraseEvent,
    EraseRecord,
    MarkApplied,
    PruneApplied,
    PutCustomer,
    PutInteraction,
    PutRedirect,
    ReleaseRecord,
    SetSources,
    Write,
)

__all__ = [
    "CHANGES",
    "Plan",
    "apply_batch",
    "apply_change",
    "apply_interaction",
    "apply_records",
    "plan_change",
    "plan_interaction",
]

#: Every change the contract defines; the first four carry the customer's full state.
CHANGES = frozenset({"CREATED", "UPDATED", "MERGED", "SPLIT", "ABSORBED", "ERASED"})


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of one record and the writes that realise it (empty unless APPLIED)."""

    outcome: Outcome
    writes: tuple[Write, ...] = ()
    reason: str = ""


def plan_change(view: CrmView, record: Mapping[str, Any]) -> Plan:
    """The writes that apply `record` (a decoded ResolvedCustomer) to the CRM seen through `view`."""
    bad = _invalid(record)
    if bad:
        return Plan(Outcome.INVALID, reason=bad)
    cid: str = record["customer_id"]
    version = int(record["version"])
    if view.is_applied(record["change_id"]):
        return Plan(Outcome.DUPLICATE, reason="change_id already applied")
    stored = _stored_version(view, cid)
    if version <= stored:
        return Plan(Outcome.STALE, reason=f"version {version} <= stored {stored}")
    mark = MarkApplied(AppliedChange(record["change_id"], cid, version, record["change"]))
    if record["change"] == "ABSORBED":
        return _absorb(view, record, mark)
    if record["change"] == "ERASED":
        erased = _erase_ids(view, cid, mark.change)
        return Plan(Outcome.APPLIED, (*erased, mark))
    return Plan(Outcome.APPLIED, (*_upsert(view, record), mark))


def apply_change(store: CrmStore, record: Mapping[str, Any]) -> Outcome:
    """Plan and execute one record (call inside `store.transaction()` for atomicity)."""
    plan = plan_change(store, record)
    store.execute(plan.writes)
    return plan.outcome


def apply_batch(store: CrmStore, records: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """Apply records in order in ONE transaction; all or nothing. Returns each record's outcome."""
    with store.transaction():
        return [apply_change(store, r) for r in records]


def plan_interaction(view: CrmView, record: Mapping[str, Any]) -> Plan:
    """The writes that keep `record` (a decoded ResolvedInteraction): an upsert by event id, or nothing.

    Not kept: an interaction of an erased customer (ERASED), a copy already held (DUPLICATE).
    Copies of one event id naming different customers (sent again after the duplicate horizon)
    keep the smallest customer id, so that the order they arrive in does not matter.
    """
    bad = _invalid_interaction(record)
    if bad:
        return Plan(Outcome.INVALID, reason=bad)
    row = InteractionRow.from_record(record)
    if doomed(view, row):
        # A copy kept under another id goes with it: whichever copy arrives first, none stays.
        return Plan(Outcome.ERASED, (EraseEvent(row.event_id),), reason="its customer is erased")
    held = view.interaction(row.event_id)
    if held == row or (held is not None and held.customer_id < row.customer_id):
        return Plan(Outcome.DUPLICATE, reason="event id already held")
    return Plan(Outcome.APPLIED, (PutInteraction(row),))


def apply_interaction(store: CrmStore, record: Mapping[str, Any]) -> Outcome:
    """Plan and execute one interaction (call inside `store.transaction()` for atomicity)."""
    plan = plan_interaction(store, record)
    store.execute(plan.writes)
    return plan.outcome


def apply_records(
    store: CrmStore, changes: Sequence[Mapping[str, Any]], interactions: Sequence[Mapping[str, Any]]
) -> tuple[list[Outcome], list[Outcome]]:
    """Apply changelog records, then interactions, in ONE transaction; all or nothing. Returns their outcomes."""
    with store.transaction():
        return [apply_change(store, r) for r in changes], [apply_interaction(store, r) for r in interactions]


# -- the rules ---------------------------------------------------------------------------------


def _invalid(record: Mapping[str, Any]) -> str:
    for key in ("customer_id", "change_id"):
        if not isinstance(record.get(key), str) or not record[key]:
            return f"{key} missing"
    if record.get("change") not in CHANGES:
        return "unknown change"
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return "version must be a positive integer"
    if not isinstance(record.get("window_end"), int):
        return "window_end missing"
    if record["change"] == "ABSORBED":
        survivor = record.get("survivor_id")
        if not isinstance(survivor, str) or not survivor:
            return "ABSORBED without survivor_id"
        if survivor == record["customer_id"]:
            return "ABSORBED into itself"
    for ref in record.get("source_ids") or ():
        if not isinstance(ref, Mapping) or not all(isinstance(ref.get(k), str) for k in ("touchpoint", "source_id")):
            return "malformed source_ids"
    return ""


def _invalid_interaction(record: Mapping[str, Any]) -> str:
    for key in ("event_id", "customer_id", "touchpoint", "source_id"):
        if not isinstance(record.get(key), str) or not record[key]:
            return f"{key} missing"
    if not isinstance(record.get("interaction"), str):
        return "interaction missing"
    occurred = record.get("occurred_at")
    if not isinstance(occurred, int) or isinstance(occurred, bool):
        return "occurred_at missing"
    attributes = record.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        return "malformed attributes"
    return ""


def _stored_version(view: CrmView, customer_id: str) -> int:
    latest = view.latest_change(customer_id)
    row = view.customer(customer_id)
    return max(latest.version if latest else 0, row.version if row else 0)


def _upsert(view: CrmView, record: Mapping[str, Any]) -> list[Write]:
    cid: str = record["customer_id"]
    end: int = record["window_end"]
    wanted = sorted({SourceRef(s["touchpoint"], s["source_id"]) for s in record.get("source_ids") or ()})
    writes: list[Write] = [PutCustomer(CustomerRow.from_record(record)), SetSources(cid, tuple(wanted))]
    if view.redirect(cid) is not None:
        # A live record for an id once absorbed: it is a customer again, not an alias.
        writes.append(DropRedirect(cid))
    for ref in wanted:
        held = view.record(ref)
        if held is None:
            released = view.released_at(ref)
            # Let go (lost or erased) after a claim of window `released`: only a newer claim revives it.
            if released is None or released < end:
                writes.append(ClaimRecord(ref, cid, end))
        elif _outranks(end, cid, held):
            writes.append(ClaimRecord(ref, cid, end))
    keep = set(wanted)
    writes.extend(_release(view, r) for r in view.records_of(cid) if r.ref not in keep and r.window_end <= end)
    writes.extend(_orphaned(view, cid, set(view.sources_of(cid)) - keep))
    return writes


def _outranks(end: int, customer_id: str, held: TouchpointRecord) -> bool:
    """Whether a claim of window `end` by `customer_id` takes a record from its holder: the newer window
    wins, and of two claims of one window (a record several customers list, such as a household's
    number) the smaller customer id, so that the holder does not depend on which arrived last."""
    return (end, held.customer_id) > (held.window_end, customer_id)


def _orphaned(view: CrmView, customer_id: str, lost: set[SourceRef]) -> list[Write]:
    """Interactions that `customer_id` no longer listing `lost` leaves with an erased person's record and
    no live customer listing it (`owners.doomed`): an erasure that came while this customer's older
    record still listed it kept them."""
    writes: list[Write] = []
    for ref in sorted(lost):
        if view.is_erased_record(ref) and not [h for h in view.holders(ref) if h != customer_id]:
            writes.extend(EraseEvent(r.event_id) for r in view.interactions_at(ref))
    return writes


def _absorb(view: CrmView, record: Mapping[str, Any], mark: MarkApplied) -> Plan:
    cid: str = record["customer_id"]
    end: int = record["window_end"]
    target = live(view, record["survivor_id"])
    if target == cid:
        return Plan(Outcome.INVALID, reason="survivor redirects back to the absorbed id")
    if erased_end(view, target):
        # The survivor was erased after this merge (or went into a customer erased since): this id is
        # erased with it. What it brought in, the survivor's record of this window listed (its erasure
        # digested that); what it lists besides, a split gave to another customer: no digest of its own.
        erased = _erase_ids(view, cid, mark.change, digest_own=False)
        return Plan(Outcome.APPLIED, (*erased, mark), reason="survivor erased")
    # Its source ids go: the survivor's own record lists what it holds (until then a placeholder
    # holds none, and the interactions published with this id reach it through the redirect).
    writes: list[Write] = [SetSources(cid, ()), *_orphaned(view, cid, set(view.sources_of(cid)))]
    survivor = view.customer(target)
    if survivor is None:
        writes.append(PutCustomer(CustomerRow.placeholder(target)))
    if survivor is not None and survivor.version > 0 and (survivor.updated_window_end or 0) >= end:
        # The survivor's record of this window (or a later one) is in: it claimed what it holds,
        # so what this id still holds went elsewhere or is gone.
        writes.extend(_release(view, r) for r in view.records_of(cid))
    else:
        # Moved with the stamp of the claim they carry, not this window's: the survivor may lose
        # some of them in this very window, and its own record will say so.
        writes.extend(ClaimRecord(r.ref, target, r.window_end) for r in view.records_of(cid))
    writes.append(DeleteCustomer(cid))
    writes.append(PutRedirect(cid, target))
    # Ids absorbed into this one earlier now point at where their data went.
    writes.extend(PutRedirect(old, target) for old in view.redirected_to(cid))
    return Plan(Outcome.APPLIED, (*writes, mark))


def _erase_ids(view: CrmView, customer_id: str, change: AppliedChange, *, digest_own: bool = True) -> list[Write]:
    """Delete a customer and every id redirected into it, and their interactions; keep only each
    id's last applied change (`change`, about to be marked, for `customer_id`).

    `digest_own=False` (an ABSORBED whose survivor is already erased): the records `customer_id`
    holds or lists are let go without an erasure digest. What it brought into the survivor, the
    survivor's record of that window listed, so the survivor's erasure digested it; what it
    listed and a split gave to another customer since is that customer's. Had the ABSORBED
    arrived before the erasure, it would have handed its records over and digested none: so
    `erased_records` holds the erased ids' own latest listings whichever arrived first.
    """
    writes: list[Write] = []
    keep_from = change.version
    todo, seen = [customer_id], {customer_id}
    refs: set[SourceRef] = set()
    let_go: set[SourceRef] = set()
    while todo:
        cid = todo.pop()
        held = view.records_of(cid)
        mine = refs if digest_own or cid != customer_id else let_go
        mine.update(r.ref for r in held)
        mine.update(view.sources_of(cid))
        writes.append(SetSources(cid, ()))
        writes.extend(_release(view, r) for r in held)
        if view.customer(cid) is not None:
            writes.append(DeleteCustomer(cid))
        if view.redirect(cid) is not None:
            writes.append(DropRedirect(cid))
        if cid == customer_id:
            # change_id hashes the record content, personal data included: keep only the erasure.
            writes.append(PruneApplied(cid, keep_from))
        else:
            latest = view.latest_change(cid)
            if latest is not None:
                writes.append(PruneApplied(cid, latest.version))
        for old in view.redirected_to(cid):
            if old not in seen:
                seen.add(old)
                todo.append(old)
    writes.extend(EraseRecord(ref) for ref in sorted(refs))
    # Which interactions go is judged in the CRM as it will be after the erasure, by the very rule
    # that turns away one arriving later: the two orders end alike.
    after = _AfterErasure(view, seen, change, refs)
    candidates = {r.event_id: r for r in view.interactions_of(sorted(seen))}
    for ref in sorted(refs | let_go):
        candidates.update((r.event_id, r) for r in view.interactions_at(ref))
    writes.extend(EraseEvent(eid) for eid, row in sorted(candidates.items()) if doomed(after, row))
    return writes


class _AfterErasure:
    """The CRM seen as it will be once an erasure's writes are executed (for `owners.doomed`)."""

    def __init__(self, view: CrmView, erased: set[str], change: AppliedChange, refs: set[SourceRef]) -> None:
        self._view, self._erased, self._change, self._refs = view, erased, change, refs

    def customer(self, customer_id: str) -> CustomerRow | None:
        return None if customer_id in self._erased else self._view.customer(customer_id)

    def redirect(self, old_id: str) -> str | None:
        return None if old_id in self._erased else self._view.redirect(old_id)

    def holders(self, ref: SourceRef) -> list[str]:
        return [cid for cid in self._view.holders(ref) if cid not in self._erased]

    def latest_change(self, customer_id: str) -> AppliedChange | None:
        return self._change if customer_id == self._change.customer_id else self._view.latest_change(customer_id)

    def is_erased_record(self, ref: SourceRef) -> bool:
        return ref in self._refs or self._view.is_erased_record(ref)

    def is_erased_event(self, event_id: str) -> bool:
        return self._view.is_erased_event(event_id)


def _release(view: CrmView, held: TouchpointRecord) -> ReleaseRecord:
    # Stamped with the window of the claim let go, not of the record that lets it go: the move
    # to a new holder happened somewhere after that claim, and the new holder's claim is newer.
    return ReleaseRecord(held.ref, max(held.window_end, view.released_at(held.ref) or 0))
