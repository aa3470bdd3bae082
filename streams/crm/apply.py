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
  erased instead;
* ERASED: the row, its touchpoint records, its redirect, and every id redirected into it
  are deleted; of its applied log only the erasure itself is kept, so that an old record
  delivered later cannot bring the data back.

Claims are ordered by `window_end` because records of different customer ids arrive in any
order (they live on different partitions): without it, an old record of one customer
arriving after a newer record of another would take a touchpoint record back. A record let
go (lost without a new holder yet, or erased) leaves only a digest of its ref with the
window of the claim let go (`released_records`), so that an older claim cannot revive it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.crm.model import AppliedChange, CustomerRow, Outcome, SourceRef, TouchpointRecord
from streams.crm.store import CrmStore, CrmView
from streams.crm.writes import (
    ClaimRecord,
    DeleteCustomer,
    DropRedirect,
    MarkApplied,
    PruneApplied,
    PutCustomer,
    PutRedirect,
    ReleaseRecord,
    Write,
)

__all__ = ["CHANGES", "Plan", "apply_batch", "apply_change", "plan_change"]

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
        erased = _erase_ids(view, cid, keep_from=version)
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


def _stored_version(view: CrmView, customer_id: str) -> int:
    latest = view.latest_change(customer_id)
    row = view.customer(customer_id)
    return max(latest.version if latest else 0, row.version if row else 0)


def _upsert(view: CrmView, record: Mapping[str, Any]) -> list[Write]:
    cid: str = record["customer_id"]
    end: int = record["window_end"]
    wanted = sorted({SourceRef(s["touchpoint"], s["source_id"]) for s in record.get("source_ids") or ()})
    writes: list[Write] = [PutCustomer(CustomerRow.from_record(record))]
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
        elif held.window_end < end or (held.window_end == end and held.customer_id != cid):
            writes.append(ClaimRecord(ref, cid, end))
    keep = set(wanted)
    writes.extend(_release(view, r) for r in view.records_of(cid) if r.ref not in keep and r.window_end <= end)
    return writes


def _absorb(view: CrmView, record: Mapping[str, Any], mark: MarkApplied) -> Plan:
    cid: str = record["customer_id"]
    end: int = record["window_end"]
    target = _live(view, record["survivor_id"])
    if target == cid:
        return Plan(Outcome.INVALID, reason="survivor redirects back to the absorbed id")
    if _erased(view, target):
        # The survivor was erased after this merge: what this id held belongs to the erased person.
        erased = _erase_ids(view, cid, keep_from=mark.change.version)
        return Plan(Outcome.APPLIED, (*erased, mark), reason="survivor erased")
    writes: list[Write] = []
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


def _erase_ids(view: CrmView, customer_id: str, keep_from: int) -> list[Write]:
    """Delete a customer and every id redirected into it; keep only each id's last applied change."""
    writes: list[Write] = []
    todo, seen = [customer_id], {customer_id}
    while todo:
        cid = todo.pop()
        writes.extend(_release(view, r) for r in view.records_of(cid))
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
    return writes


def _release(view: CrmView, held: TouchpointRecord) -> ReleaseRecord:
    # Stamped with the window of the claim let go, not of the record that lets it go: the move
    # to a new holder happened somewhere after that claim, and the new holder's claim is newer.
    return ReleaseRecord(held.ref, max(held.window_end, view.released_at(held.ref) or 0))


def _live(view: CrmView, customer_id: str) -> str:
    """Follow redirects from `customer_id` to an id with a row, or to the end of the chain."""
    cur, seen = customer_id, set()
    while cur not in seen:
        seen.add(cur)
        if view.customer(cur) is not None:
            return cur
        nxt = view.redirect(cur)
        if nxt is None:
            return cur
        cur = nxt
    return cur


def _erased(view: CrmView, customer_id: str) -> bool:
    latest = view.latest_change(customer_id)
    return view.customer(customer_id) is None and latest is not None and latest.change == "ERASED"
