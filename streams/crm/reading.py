"""What the CRM holds, read back for `irl evaluate --crm URL`, `irl crm-sync --timeline`, the demo and tests."""

from __future__ import annotations

from typing import Any

from streams.crm.timeline import Timeline, event_owners, timeline
from streams.crm.url import open_store

__all__ = [
    "CRM_TOUCHPOINT",
    "assignments_from_crm",
    "crm_customers",
    "crm_duplicates",
    "crm_timeline",
    "event_assignments_from_crm",
]

#: The touchpoint of the CRM's own contacts, brought in by `irl import`.
CRM_TOUCHPOINT = "CRM"


def assignments_from_crm(url: str) -> dict[tuple[str, str], str]:
    """(touchpoint, source_id) -> the customer id whose CRM record holds that touchpoint record."""
    store = open_store(url)
    try:
        return {(r.ref.touchpoint, r.ref.source_id): r.customer_id for r in store.touchpoint_records()}
    finally:
        store.close()


def crm_customers(url: str) -> dict[str, dict[str, Any]]:
    """customer_id -> the row as a dict (`CustomerRow.to_dict()`), plus `source_ids`: its
    touchpoint records as sorted `{"touchpoint", "source_id"}` dicts.

    A row with version 0 is a placeholder: a survivor whose own record has not arrived yet.
    """
    store = open_store(url)
    try:
        out = {row.customer_id: {**row.to_dict(), "source_ids": []} for row in store.customers()}
        for r in store.touchpoint_records():
            if r.customer_id in out:
                out[r.customer_id]["source_ids"].append({"touchpoint": r.ref.touchpoint, "source_id": r.ref.source_id})
        return out
    finally:
        store.close()


def crm_duplicates(url: str) -> dict[str, list[str]]:
    """The CRM's own duplicates: customer id -> its CRM record ids (touchpoint CRM, sorted), for
    each customer holding two or more of them.

    Contacts imported with `irl import` come back as touchpoint records of the customer they
    resolved into; two of the CRM's records on one customer are one person: merge them in the CRM.
    """
    store = open_store(url)
    try:
        held: dict[str, list[str]] = {}
        for r in store.touchpoint_records():
            if r.ref.touchpoint == CRM_TOUCHPOINT:
                held.setdefault(r.customer_id, []).append(r.ref.source_id)
        return {cid: sorted(ids) for cid, ids in sorted(held.items()) if len(ids) >= 2}
    finally:
        store.close()


def event_assignments_from_crm(url: str) -> dict[str, str | None]:
    """event id -> the customer holding the interaction now (`streams.crm.owners.owner`), for every
    interaction the CRM keeps; None where the changelog has not told yet."""
    store = open_store(url)
    try:
        return event_owners(store)
    finally:
        store.close()


def crm_timeline(url: str, customer_id: str) -> Timeline:
    """One customer's interactions across touchpoints, oldest first (an absorbed id shows its survivor's)."""
    store = open_store(url)
    try:
        return timeline(store, customer_id)
    finally:
        store.close()
